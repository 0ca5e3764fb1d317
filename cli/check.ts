import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { formatPath, lineOf, loadConfig } from '../core/config/load.js';
import { checkGsp } from '../core/config/compliance.js';

/** `coldchain check`: the configuration against the GSP profile; each finding with its line; exit 1 on errors. */
export function checkCommand(options: { config?: string }): void {
  const loaded = loadConfig(options.config);
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(loaded.file, 'utf8'), { lineCounter: lines });
  const findings = checkGsp(loaded.config);
  for (const f of findings) {
    const line = lineOf(doc, lines, f.path);
    process.stdout.write(`${f.level === 'error' ? 'ERROR  ' : 'warning'}  ${line ? `line ${line}: ` : ''}${formatPath(f.path)}: ${f.message}\n`);
  }
  const errors = findings.filter((f) => f.level === 'error').length;
  process.stdout.write(
    `${loaded.file}: ${errors} error${errors === 1 ? '' : 's'}, ${findings.length - errors} warning${findings.length - errors === 1 ? '' : 's'} against GSP (China, automatic temperature/humidity monitoring)\n`,
  );
  if (errors) process.exitCode = 1;
}
