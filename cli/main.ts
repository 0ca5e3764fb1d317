#!/usr/bin/env -S node --max-semi-space-size=32
import { readFileSync } from 'node:fs';
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../core/config/load.js';
import { fillFromEnvironment } from './environment.js';
import { initCommand } from './init.js';
import { deviceAddCommand } from './device.js';
import { tokenCreateCommand, tokenListCommand, tokenRevokeCommand } from './token.js';
import { startCommand, ingestCommand } from './start.js';
import { simulateCommand, parseSpeed, SCENARIO_HELP } from './simulate.js';
import { userAddCommand, userEnableCommand, userPasswordCommand } from './user.js';
import { auditVerifyCommand } from './audit.js';
import { backupCommand, restoreCommand } from './backup.js';
import { spoolDrainCommand } from './spool.js';
import { retentionShortenCommand, retentionShowCommand } from './retention.js';
import { checkCommand } from './check.js';
import { watchdogCommand } from './watchdog.js';
import { validateCommand } from './validate.js';
import { noteConfigEdit } from '../audit/config-changes.js';
import { loadConfig } from '../core/config/load.js';
import { configReference } from '../core/config/reference.js';
import { alertsListCommand, alertsSignCommand, alertsTestCommand } from './alerts.js';
import { reportEpcisCommand } from './epcis.js';
import { alertsPerformanceCommand, parseDays } from './alarm-performance.js';
import { calibrationCommands } from './calibration.js';
import { batchCommands } from './stability.js';
import { dashboardsExportCommand } from './dashboards.js';
import {
  reportExcursionCommand,
  reportRecordCommand,
  reportShipmentCommand,
  shipmentCreateCommand,
  shipmentCustodyCommand,
  shipmentDispositionCommand,
  shipmentListCommand,
} from './shipments.js';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('expected a port number 0-65535 (0 picks a free one)');
  return port;
}

/**
 * Secrets never come as option values, which every local user sees (ps, /proc/<pid>/cmdline):
 * they come from the environment or from a file (issue 12, item 16). The old flags stay only to
 * say so, without echoing the value.
 */
const SECRET_OPTIONS = [
  { key: 'token', flag: '--token', fileKey: 'tokenFile', fileFlag: '--token-file', env: 'COLDCHAIN_API_TOKEN' },
  { key: 'influxToken', flag: '--influx-token', fileKey: 'influxTokenFile', fileFlag: '--influx-token-file', env: 'COLDCHAIN_INFLUX_TOKEN' },
  { key: 'password', flag: '--password', fileKey: 'passwordFile', fileFlag: '--password-file', env: 'COLDCHAIN_BROKER_PASSWORD' },
] as const;
const refusedSecret = (flag: string) => new Option(`${flag} <secret>`).hideHelp();

/** The first line of a secret file, or of standard input for "-". */
function readSecretFile(file: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new Error(`${flag} ${file}: ${(err as Error).message}`);
  }
  const secret = text.split(/\r?\n/)[0]!.trim();
  if (!secret) throw new Error(`${flag} ${file}: the first line is empty`);
  return secret;
}

const configOption = () => new Option('-c, --config <file>', 'configuration file (default: ./coldchain.yaml or $COLDCHAIN_CONFIG)');

const program = new Command()
  .name('coldchain')
  .description('Cold-chain telemetry: MQTT broker, durable ingestion into InfluxDB, alerts and GSP records')
  .showHelpAfterError()
  .hook('preAction', (_program, action) => {
    const options = action.opts();
    for (const secret of SECRET_OPTIONS) {
      if (options[secret.key] !== undefined) {
        throw new Error(
          `${secret.flag} is no longer accepted: a secret on the command line is visible to every local user (ps, /proc/<pid>/cmdline); set $${secret.env} or pass ${secret.fileFlag} <file> (- reads standard input)`,
        );
      }
      if (options[secret.fileKey] !== undefined) action.setOptionValue(secret.key, readSecretFile(options[secret.fileKey] as string, secret.fileFlag));
    }
  });

program
  .command('init')
  .description('write a commented sample configuration (demo site) and its data directory')
  .option('--dir <dir>', 'where to write coldchain.yaml', '.')
  .option('--force', 'overwrite an existing coldchain.yaml')
  .addOption(configOption())
  .action(initCommand);

program
  .command('device')
  .description('manage devices in the registry')
  .command('add')
  .description('register a device; prints its MQTT token once (last line of stdout)')
  .argument('<id>', 'device id (MQTT username; topics are cc/v1/<id>/...)')
  .requiredOption('--location <id>', 'location the device measures')
  .option('--interval <duration>', 'reporting interval, e.g. 60s or 5m', '60s')
  .option('--name <name>', 'human-readable name')
  .addOption(configOption())
  .action(deviceAddCommand);

const tokens = program.command('token').description('manage HTTP API tokens');
tokens
  .command('create')
  .description('create an HTTP API token; prints it once (last line of stdout)')
  .addOption(new Option('--role <role>', 'what the token may do').choices(['admin', 'operator', 'qa', 'viewer']).makeOptionMandatory())
  .option('--id <id>', 'a name for the token (default: role and date)')
  .option(
    '--expires <duration>',
    'how long the token is valid, e.g. 30d (default 90d); "never" only for a service token an administrator creates, with --service',
  )
  .option('--service <what>', 'with --expires never: the service that uses the token (e.g. "prometheus scrape")')
  .addOption(configOption())
  .action(tokenCreateCommand);
tokens
  .command('list')
  .description('list API tokens: id, role, created, expires, state (active, expired, revoked); never the hash')
  .addOption(configOption())
  .action(tokenListCommand);
tokens
  .command('revoke')
  .description('revoke an API token: kept in the config as revoked (with when), refused by the service within a second')
  .argument('<id>', 'the token id (see coldchain token list)')
  .addOption(configOption())
  .action(tokenRevokeCommand);

const users = program.command('user').description('manage the people who acknowledge and sign');
users
  .command('add')
  .description('add a user; the password is read from stdin, or prompted for twice')
  .argument('<name>', 'login name')
  .addOption(new Option('--role <role>', 'what the user may sign').choices(['admin', 'operator', 'qa', 'viewer']).makeOptionMandatory())
  .requiredOption('--full-name <name>', 'printed name shown on e-signatures')
  .addOption(configOption())
  .action(userAddCommand);
users
  .command('password')
  .description('set a new password (stdin, or prompted for twice); none of the last 5 may be used again')
  .argument('<name>', 'login name')
  .addOption(configOption())
  .action(userPasswordCommand);
users
  .command('disable')
  .description('disable a user: no board sign-in, e-signature or MQTT login (kept in the config, audited)')
  .argument('<name>', 'login name')
  .addOption(configOption())
  .action((name: string, options: { config?: string }) => userEnableCommand(name, false, options));
users
  .command('enable')
  .description('enable a disabled user again')
  .argument('<name>', 'login name')
  .addOption(configOption())
  .action((name: string, options: { config?: string }) => userEnableCommand(name, true, options));

program
  .command('config')
  .description('the configuration')
  .command('reference')
  .description('print the configuration reference (every key, type, default and meaning) as Markdown, generated from the schemas')
  .action(() => {
    process.stdout.write(configReference());
  });
program
  .command('check')
  .description(
    'check the configuration against GSP: sensors per area and volume, refresh, SMS to 3 people, retention, backup, storage credentials; exit 1 on errors',
  )
  .addOption(configOption())
  .action(checkCommand);
const retention = program.command('retention').description('how long InfluxDB keeps records (the service must be stopped unless influx.url is set)');
retention.command('show').description("the database's retention against influx.retention and its floor").addOption(configOption()).action(retentionShowCommand);
retention
  .command('shorten')
  .description(
    "delete records older than a shorter retention: an admin's e-signature (password from stdin or prompted), audited, never below influx.retentionFloor",
  )
  .addOption(configOption())
  .requiredOption('--to <duration>', 'the new retention, e.g. 1830d')
  .requiredOption('--user <name>', 'the admin who signs')
  .requiredOption('--comment <text>', 'why')
  .action(retentionShortenCommand);
program
  .command('backup')
  .description(
    'back up the record (every InfluxDB point with its exact time, spool, audit trail, keys, config) with a manifest of SHA-256 digests; the service must be stopped unless influx.url is set',
  )
  .addOption(configOption())
  .requiredOption('--out <dir>', 'a new or empty directory')
  .action(backupCommand);
program
  .command('restore')
  .description('restore a verified backup onto an empty data directory and database')
  .addOption(configOption())
  .requiredOption('--from <dir>', 'a directory written by coldchain backup')
  .action(restoreCommand);
program
  .command('spool')
  .description("a node's spool: what it acknowledged and has not yet written to InfluxDB")
  .command('drain')
  .description("deliver a dead cluster node's spool into the shared InfluxDB (its data directory is locked meanwhile)")
  .argument('<dir>', 'the data directory of the node whose spool to deliver')
  .addOption(configOption())
  .option('--influx-url <url>', 'the shared InfluxDB (default: influx.url)')
  .option('--influx-db <name>', 'InfluxDB database (default: influx.database)')
  .action(spoolDrainCommand);
program
  .command('audit')
  .description('the hash-chained audit trail')
  .command('verify')
  .description('recompute the chain; exit 1 naming the first altered, inserted or removed entry')
  .addOption(configOption())
  .option('--data-dir <dir>', 'data directory (default: from the config)')
  .action(auditVerifyCommand);

const alerts = program.command('alerts').description('list, acknowledge and close alerts (through the running service)');
const apiOptions = (command: Command) =>
  command
    .addOption(configOption())
    .option('--url <url>', 'service URL (default: http://127.0.0.1:<http.port>)')
    .option('--token-file <file>', 'file whose first line is the API token (default: $COLDCHAIN_API_TOKEN; - reads standard input)')
    .addOption(refusedSecret('--token'));
apiOptions(
  alerts
    .command('list')
    .description('alerts, newest first')
    .option('--state <state>', 'active, acknowledged, cleared, closed or retracted')
    .option('--site <id>', 'one site'),
).action(alertsListCommand);
for (const [name, meaning] of [
  ['ack', 'acknowledged'],
  ['close', 'closed after review'],
] as const) {
  apiOptions(
    alerts
      .command(name)
      .description(`${name === 'ack' ? 'acknowledge' : 'close'} an alert with an electronic signature (password from stdin or prompted)`)
      .argument('<id>', 'alert id')
      .requiredOption('--user <name>', 'who signs')
      .option('--meaning <text>', 'meaning of the signature', meaning)
      .requiredOption('--comment <text>', 'what was done and why'),
  ).action((id: string, flags: Parameters<typeof alertsSignCommand>[2]) => alertsSignCommand(name, id, flags));
}
apiOptions(
  alerts
    .command('test')
    .description(
      'a test alarm through every channel and tier of a site (WHO TRS 961 Annex 9); each outcome goes to the audit trail; exit 1 when any channel failed',
    )
    .requiredOption('--site <id>', 'the site'),
).action(alertsTestCommand);
apiOptions(
  alerts
    .command('performance')
    .description('alarm performance against ANSI/ISA-18.2: rates, floods, top 10, chattering, stale, shelved, time to acknowledge')
    .option('--site <id>', 'one site')
    .option('--days <n>', 'the last n days', parseDays, 7)
    .option('--json', 'the API answer as JSON'),
).action(alertsPerformanceCommand);

const shipment = program.command('shipment').description('electronic waybills and their custody (through the running service)');
apiOptions(
  shipment
    .command('create')
    .description('create a waybill')
    .option('--id <id>', 'waybill number (default: generated)')
    .requiredOption('--product <text>', 'product name')
    .requiredOption('--profile <id>', 'product profile (range, MKT activation energy)')
    .requiredOption('--batch <lot>', 'batch / lot number')
    .option('--expiry <date>', 'expiry date, YYYY-MM-DD')
    .requiredOption('--quantity <n>', 'quantity')
    .option('--unit <unit>', 'unit of the quantity', 'cases')
    .requiredOption('--shipper <name>', 'shipper')
    .requiredOption('--consignee <name>', 'consignee (receiver)')
    .option('--consignee-email <address>', "the consignee's e-mail: told of excursions on this shipment (GDP 9.2)")
    .option('--consignee-phone <e164>', "the consignee's phone (E.164, SMS): told of excursions on this shipment"),
).action(shipmentCreateCommand);
apiOptions(
  shipment
    .command('custody')
    .description('record where the goods are now: stored, loaded, unloaded or delivered')
    .argument('<id>', 'shipment id')
    .addArgument(new Argument('<event>', 'custody event').choices(['stored', 'loaded', 'unloaded', 'delivered']))
    .option('--location <id>', 'location (required except for delivered)')
    .option('--at <time>', 'when (ISO 8601 with zone; default now)')
    .option('--by <name>', 'who handled the goods')
    .option('--corrects <eventId>', 'the custody event this one corrects')
    .option('--note <text>', 'a note'),
).action(shipmentCustodyCommand);
apiOptions(
  shipment
    .command('list')
    .description('shipments, newest first')
    .addOption(new Option('--state <state>').choices(['created', 'in_storage', 'in_transit', 'delivered']))
    .option('--from <time>')
    .option('--to <time>'),
).action(shipmentListCommand);
apiOptions(
  shipment
    .command('dispose')
    .description('QA disposition with an electronic signature (password from stdin or prompted)')
    .argument('<id>', 'shipment id')
    .addArgument(new Argument('<decision>').choices(['released', 'quarantined', 'rejected']))
    .requiredOption('--user <name>', 'who signs (role qa or admin)')
    .option('--meaning <text>', 'meaning of the signature', 'QA disposition after review')
    .requiredOption('--comment <text>', 'the reasoning'),
).action(shipmentDispositionCommand);
calibrationCommands(program, apiOptions);
batchCommands(program, apiOptions);

const report = program.command('report').description('QA reports: full-chain shipment report, GSP temperature record, excursion report');
const reportOptions = (command: Command) =>
  apiOptions(command)
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv', 'html', 'pdf']).default('pdf'))
    .option('--out <file>', 'write here (default: stdout, except PDF)')
    .addOption(new Option('--lang <lang>', 'label language (default: reports.lang)').choices(['en', 'zh-CN']))
    .option('--tz <zone>', 'time zone for times, e.g. Asia/Shanghai (default: reports.timeZone)');
reportOptions(
  report
    .command('shipment')
    .description('the full-chain (全程冷链) temperature record of one shipment')
    .argument('<id>', 'shipment id')
    .option('--signed', 'the report as the QA disposition was signed on it (same digest), not as it is now'),
).action(reportShipmentCommand);
reportOptions(
  report
    .command('record')
    .description('the GSP temperature/humidity record (温湿度记录) of one place')
    .requiredOption('--location <id>', 'location')
    .requiredOption('--from <time>', 'start (ISO 8601 or epoch ms)')
    .option('--to <time>', 'end (default now)'),
).action(reportRecordCommand);
apiOptions(
  report
    .command('epcis')
    .description('one shipment as a GS1 EPCIS 2.0 JSON-LD document (custody events with sensor data) for trading partners')
    .argument('<id>', 'shipment id')
    .option('--out <file>', 'write here (default: stdout)')
    .option('--tz <zone>', "time zone of the events' offsets, e.g. Asia/Shanghai (default: reports.timeZone)"),
).action(reportEpcisCommand);
reportOptions(report.command('excursion').description('one alert: chart, figures, notification trail, signatures').argument('<alertId>', 'alert id')).action(
  reportExcursionCommand,
);

program
  .command('dashboards')
  .description('Grafana dashboards as code')
  .command('export')
  .description('write Grafana provisioning (InfluxDB and Prometheus datasources, a dashboards provider) and the dashboards as JSON')
  .requiredOption('--out <dir>', 'output directory (provisioning/ and dashboards/ inside)')
  .option('--influx-url <url>', 'InfluxDB as Grafana reaches it (default: influx.url, else http://127.0.0.1:8086)')
  .option('--prometheus-url <url>', 'a Prometheus that scrapes /metrics', 'http://127.0.0.1:9090')
  .option('--dashboards-path <path>', 'where Grafana finds the JSON files', '/var/lib/grafana/dashboards/coldchain')
  .addOption(configOption())
  .action(dashboardsExportCommand);

program
  .command('validate')
  .description(
    'installation and operational qualification (IQ/OQ) against a running deployment: requirement-tagged checks, a traceability matrix as HTML, PDF and JSON; exit 1 naming each requirement not shown',
  )
  .requiredOption('--url <url>', 'the HTTP API, e.g. http://127.0.0.1:8080')
  .requiredOption('--mqtt-url <url>', 'the MQTT broker, e.g. mqtt://127.0.0.1:1883')
  .requiredOption('--credentials <file>', 'YAML: device {id, token} (the validation device), signer {user, password}, apiToken (see validation/README.md)')
  .requiredOption('--out <dir>', 'where the matrix is written')
  .option('--wait <seconds>', 'how long to wait for each outcome (stored, alarmed, notified)', '30')
  .option('--token-file <file>', 'file whose first line is the API token (default: apiToken in the credentials file, else $COLDCHAIN_API_TOKEN)')
  .addOption(refusedSecret('--token'))
  .addOption(configOption())
  .action(validateCommand);

program
  .command('watchdog')
  .description(
    'watch the service from a second host: polls /healthz; alarms by e-mail, webhook and SMS once it stays down (one alarm per outage, reminders), and when it answers again',
  )
  .requiredOption('--file <file>', "the watchdog's YAML file: interval, downAfter, remindEvery, smtp, sms, recipients (see watchdog/README.md)")
  .option('--url <url>', 'the service, e.g. https://coldchain.example.com:8080 (default: url in the file)')
  .action(watchdogCommand);

const serviceOptions = (command: Command) =>
  command
    .addOption(configOption())
    .option('--data-dir <dir>', 'data directory (spool, managed InfluxDB)')
    .option('--http-port <port>', 'HTTP port (0 = free port)', parsePort)
    .option('--influx-url <url>', 'use this InfluxDB (v1 API) instead of a managed influxd')
    .option('--influx-db <name>', 'InfluxDB database')
    .option('--influx-token-file <file>', 'file whose first line is the InfluxDB 2.x/3.x token (default: $COLDCHAIN_INFLUX_TOKEN; - reads standard input)')
    .addOption(refusedSecret('--influx-token'));

serviceOptions(
  program
    .command('start')
    .description('run everything: broker, ingestion, InfluxDB (managed unless --influx-url), HTTP API')
    .option('--mqtt-port <port>', 'MQTT TCP port (0 = free port)', parsePort)
    .option('--demo', "also run the demo scenario's simulated devices in real time (the quick start does)")
    .option(
      '--cluster <redis-url>',
      "run as one node of a cluster: aedes' sessions and messages shared through this Redis (password: $COLDCHAIN_REDIS_PASSWORD); needs --influx-url",
    )
    .option('--node-id <id>', "this node's name in the cluster (default: host name and process id)"),
).action(startCommand);

serviceOptions(
  program
    .command('ingest')
    .description('ingest from an existing broker (Mosquitto, EMQX) with a persistent QoS 1 session')
    .requiredOption('--broker <url>', 'e.g. mqtt://127.0.0.1:1883')
    .option('--client-id <id>', 'session client id (keep it stable: the broker queues for it)', 'coldchain-ingestor')
    .option('--username <name>', 'broker username')
    .option('--password-file <file>', 'file whose first line is the broker password (default: $COLDCHAIN_BROKER_PASSWORD; - reads standard input)')
    .addOption(refusedSecret('--password')),
).action(ingestCommand);

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
};

program
  .command('simulate')
  .description('simulated warehouses and reefer trucks publishing over MQTT as real devices do')
  .option('--scenario <name|file>', SCENARIO_HELP, 'demo')
  .addOption(configOption())
  .option('--broker <url>', 'MQTT broker (default: mqtt://127.0.0.1:<mqtt.port from the config>)')
  .option('--speed <n|max>', 'simulated seconds per real second; max = as fast as acknowledged', parseSpeed, 1)
  .option('--seed <seed>', 'same seed, same readings', '1')
  .option('--duration <duration>', "simulated duration (default: the scenario's; demo runs until stopped)")
  .option('--devices <n>', 'load scenario: number of devices', positiveInt)
  .option('--rate <r>', 'load scenario: total readings per second', (v) => {
    const r = Number(v);
    if (!(r > 0)) throw new InvalidArgumentError('expected a positive number of readings per second');
    return r;
  })
  .option('--ground-truth <file>', 'write the excursions the scenario injected as JSON')
  .option('--provision', "register the scenario's devices in the config and keep their tokens in the data directory")
  .action(simulateCommand);

// After the secret-file hook above: what is still unset comes from the environment.
program.hook('preAction', (_program, action) => fillFromEnvironment(action));
// Commands that edit the configuration note who runs them, for the service's audit entry of the change.
program.hook('preAction', (_program, action) => {
  const name = `${action.parent?.name() ?? ''} ${action.name()}`.trim();
  const edits =
    ['device add', 'token create', 'token revoke', 'user add', 'user password', 'user disable', 'user enable'].includes(name) ||
    (action.name() === 'simulate' && action.opts().provision);
  if (!edits) return;
  try {
    const loaded = loadConfig(action.opts().config as string | undefined);
    noteConfigEdit(loaded.dataDir, [name, ...action.args].join(' '));
  } catch {
    // No configuration yet: the command itself says so.
  }
});

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(1);
});
