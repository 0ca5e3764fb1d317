import { type Command, InvalidArgumentError, Option } from 'commander';
import type { AddBackAnswer, BatchList } from '../api/stability.js';
import { parseDuration } from '../core/duration.js';
import { loadConfig } from '../core/config/load.js';
import { Formatter } from '../reports/render/i18n.js';
import type { Block } from '../reports/render/document.js';
import { stabilityBlocks } from '../reports/render/stability.js';
import type { ReportLanguage } from '../reports/schema.js';
import type { Ledger } from '../stability/schema.js';
import { endpoint, call, type ServiceFlags } from './service-client.js';
import { readSignature } from './prompt.js';

type ViewFlags = ServiceFlags & { lang?: ReportLanguage; tz?: string; json?: boolean };

/** The language and zone of the output: the flags, else the configuration's `reports` section. */
function formatter(flags: ViewFlags): Formatter {
  let reports = { lang: 'en' as ReportLanguage, timeZone: 'UTC' };
  try {
    reports = loadConfig(flags.config).config.reports;
  } catch {
    // No readable configuration here: English and UTC.
  }
  return new Formatter(flags.lang ?? reports.lang, flags.tz ?? reports.timeZone);
}

/** The report's stability section as plain text: the same blocks, so the CLI says what the report says. */
export function blocksAsText(blocks: Block[]): string {
  const lines: string[] = [];
  for (const block of blocks) {
    if (block.kind === 'fields') {
      if (block.heading) lines.push(block.heading);
      for (const [label, value] of block.rows) lines.push(`  ${label}: ${value}`);
    } else if (block.kind === 'table') {
      lines.push('', block.heading);
      if (!block.rows.length) lines.push(`  ${block.empty}`);
      else {
        lines.push(`  ${block.columns.join(' | ')}`);
        for (const row of block.rows) lines.push(`  ${row.join(' | ')}`);
      }
      if (block.note) lines.push(`  (${block.note})`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function stabilityShowCommand(batch: string, flags: ViewFlags): Promise<void> {
  const { base, headers } = endpoint(flags);
  const ledger = (await call(`${base}/api/v1/batches/${encodeURIComponent(batch)}/stability`, { headers })) as Ledger;
  if (flags.json) process.stdout.write(`${JSON.stringify(ledger, null, 2)}\n`);
  else process.stdout.write(blocksAsText(stabilityBlocks(ledger, formatter(flags))));
}

export async function batchListCommand(flags: ServiceFlags & { json?: boolean }): Promise<void> {
  const { base, headers } = endpoint(flags);
  const answer = (await call(`${base}/api/v1/batches`, { headers })) as BatchList;
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    return;
  }
  for (const b of answer.batches) process.stdout.write(`${b.batch}  ${b.product}  (${b.profileId})  ${b.shipments.join(', ')}\n`);
  process.stdout.write(`${answer.count} batch${answer.count === 1 ? '' : 'es'} / ${answer.count} 个批次\n`);
}

type AddBackFlags = ViewFlags & {
  allowance?: string;
  amount?: number;
  freezeEvents?: number;
  investigation: string;
  user: string;
  meaning: string;
  comment: string;
};

export async function stabilityAddBackCommand(batch: string, flags: AddBackFlags): Promise<void> {
  if (!flags.amount && !flags.freezeEvents) throw new Error('give back some time (--amount 2h) or some freeze events (--freeze-events 1)');
  const { base, headers } = endpoint(flags);
  const body = {
    ...(await readSignature(flags)),
    investigation: flags.investigation,
    ...(flags.allowance ? { allowance: flags.allowance } : {}),
    ...(flags.amount ? { amount: flags.amount } : {}),
    ...(flags.freezeEvents ? { freezeEvents: flags.freezeEvents } : {}),
  };
  const { addBack, ledger } = (await call(`${base}/api/v1/batches/${encodeURIComponent(batch)}/stability/add-backs`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  })) as AddBackAnswer;
  process.stdout.write(`add-back ${addBack.id} recorded, signed by ${addBack.printedName} / 已记录补回 ${addBack.id}，签名人 ${addBack.printedName}\n\n`);
  process.stdout.write(blocksAsText(stabilityBlocks(ledger, formatter(flags))));
}

const duration = (value: string): number => {
  const ms = parseDuration(value);
  if (!ms) throw new InvalidArgumentError(`"${value}" is not a duration; write e.g. 30m, 2h, 1h30m`);
  return ms;
};
const count = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number, 1 or more');
  return n;
};

/** `coldchain batch list|stability|add-back`, through the running service (its API, a token from a file or the environment). */
export function batchCommands(program: Command, apiOptions: (command: Command) => Command): void {
  const batch = program.command('batch').description('batches and their stability budget across every shipment and storage (through the running service)');
  const view = (command: Command) =>
    apiOptions(command)
      .addOption(new Option('--lang <lang>', 'label language (default: reports.lang)').choices(['en', 'zh-CN']))
      .option('--tz <zone>', 'IANA time zone (default: reports.timeZone)')
      .option('--json', 'the API answer as JSON');
  apiOptions(batch.command('list').description('batches named by shipments').option('--json', 'the API answer as JSON')).action(batchListCommand);
  view(
    batch
      .command('stability')
      .description("a batch's stability ledger: every excursion, what it consumed, what is left")
      .argument('<batch>', 'batch (lot) number'),
  ).action(stabilityShowCommand);
  view(
    batch
      .command('add-back')
      .description('give back stability budget after an investigation, with an electronic signature (password from stdin or prompted)')
      .argument('<batch>', 'batch (lot) number')
      .option('--allowance <id>', 'the allowance the time goes back to (default: the total only)')
      .option('--amount <duration>', 'time given back, e.g. 2h', duration)
      .option('--freeze-events <n>', 'freeze events given back', count)
      .requiredOption('--investigation <ref>', 'the investigation (deviation or CAPA number) the add-back rests on')
      .requiredOption('--user <name>', 'who signs (role qa or admin)')
      .option('--meaning <text>', 'meaning of the signature', 'stability budget given back after investigation')
      .requiredOption('--comment <text>', 'the investigation’s conclusion'),
  ).action(stabilityAddBackCommand);
}
