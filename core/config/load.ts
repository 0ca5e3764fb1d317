import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { CORE_SCHEMA, load as loadYaml } from 'js-yaml';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'coldchain.yaml';

/** A config problem a person can fix: it names the file, line and key path. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
    what = 'configuration',
  ) {
    super(`${file}: invalid ${what}\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  file: string;
  config: Config;
  /** dataDir resolved against the config file's folder. */
  dataDir: string;
}

/** The config file: the one named (by `--config` or `$COLDCHAIN_CONFIG`, see cli/main.ts), else ./coldchain.yaml. */
export function resolveConfigPath(file?: string): string {
  return path.resolve(file ?? DEFAULT_CONFIG_FILE);
}

export function formatPath(keyPath: ReadonlyArray<PropertyKey>): string {
  return keyPath.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), '');
}

export function lineOf(doc: Document, lines: LineCounter, keyPath: ReadonlyArray<PropertyKey>): number | undefined {
  // Walk up until a node exists: a missing key is reported at its parent.
  for (let depth = keyPath.length; depth >= 0; depth--) {
    const node = doc.getIn(keyPath.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

export function describeIssues(issues: z.core.$ZodIssue[], doc: Document, lines: LineCounter): string[] {
  return issues.map((issue) => {
    const line = lineOf(doc, lines, issue.path);
    const where = issue.path.length ? formatPath(issue.path) : '(top level)';
    return `${line ? `line ${line}: ` : ''}${where}: ${issue.message}`;
  });
}

/** An anchor (`&name`) in the text, or something that looks like one inside a string. */
const MAY_HAVE_ANCHORS = /(^|[\s:[{,-])&[^\s]/m;

/**
 * Parses YAML (or JSON, a subset) against a schema; every error names the line and key path.
 *
 * A good file is read by js-yaml (YAML 1.2 core schema, duplicate keys refused, as `yaml` is
 * set up below): about ten times faster, which matters because the service reloads the whole file
 * on the event loop whenever it changes (a config of 3,200 devices took 7–10 s with `yaml`, 0.6–0.8 s
 * with js-yaml, on a loaded 2-core machine). Anything it or the schema refuses is read again by
 * `yaml`, whose document gives each error its line. A file with anchors always goes that way:
 * `yaml` bounds alias expansion, js-yaml does not.
 */
export function parseYamlWith<S extends z.ZodType>(schema: S, text: string, file: string, what = 'configuration'): z.output<S> {
  if (!MAY_HAVE_ANCHORS.test(text)) {
    let data: unknown;
    try {
      data = loadYaml(text, { schema: CORE_SCHEMA, filename: file });
    } catch {
      data = undefined;
    }
    if (data !== undefined) {
      const fast = schema.safeParse(data ?? {});
      if (fast.success) return fast.data;
    }
  }
  return parseYamlWithLines(schema, text, file, what);
}

function parseYamlWithLines<S extends z.ZodType>(schema: S, text: string, file: string, what: string): z.output<S> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `line ${e.linePos?.[0]?.line ?? '?'}: YAML syntax: ${e.message.split('\n')[0]}`),
      what,
    );
  }
  const result = schema.safeParse(doc.toJS() ?? {});
  if (!result.success) throw new ConfigError(file, describeIssues(result.error.issues, doc, lines), what);
  return result.data;
}

export function parseConfigText(text: string, file: string): Config {
  return parseYamlWith(configSchema, text, file);
}

export function loadConfig(file?: string): LoadedConfig {
  const resolved = resolveConfigPath(file);
  if (!existsSync(resolved)) {
    throw new ConfigError(resolved, [`file not found; create one with "coldchain init" or pass --config FILE`]);
  }
  const config = parseConfigText(readFileSync(resolved, 'utf8'), resolved);
  const relativeToFile = (p: string) => path.resolve(path.dirname(resolved), p);
  // Paths in the file mean "next to the file", wherever the service is started from.
  if (config.mqtt.tls) {
    const { cert, key, ca } = config.mqtt.tls;
    config.mqtt.tls = { ...config.mqtt.tls, cert: relativeToFile(cert), key: relativeToFile(key), ...(ca ? { ca: relativeToFile(ca) } : {}) };
  }
  if (config.http.tls) config.http.tls = { cert: relativeToFile(config.http.tls.cert), key: relativeToFile(config.http.tls.key) };
  return { file: resolved, config, dataDir: relativeToFile(config.dataDir) };
}

/** The certificate and key of `http.tls`, read once at start; a file that cannot be read is named. */
export function readTls(tls: { cert: string; key: string } | undefined): { cert: Buffer; key: Buffer } | undefined {
  if (!tls) return undefined;
  const read = (what: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(
        `http.tls.${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); coldchain init writes a self-signed pair under the data directory`,
      );
    }
  };
  return { cert: read('cert', tls.cert), key: read('key', tls.key) };
}
