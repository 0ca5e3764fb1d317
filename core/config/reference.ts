import { z } from 'zod';
import { configSchema } from './schema.js';

type Json = {
  const?: unknown;
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, Json>;
  items?: Json;
  anyOf?: Json[];
  oneOf?: Json[];
  pattern?: string;
  additionalProperties?: Json | boolean;
};

function typeOf(node: Json): string {
  const options = node.anyOf ?? node.oneOf;
  if (options) {
    // durationMs: a number of milliseconds or text such as 30s, 5m, 2h.
    if (options.length === 2 && options.some((o) => o.type === 'integer') && options.some((o) => o.type === 'string')) return 'duration (30s, 5m, 2h, 1830d)';
    return [...new Set(options.map(typeOf))].join(' or ');
  }
  if (node.const !== undefined) return `\`${String(node.const)}\``;
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(' | ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'values'}`;
  if (node.type === 'object' && !node.properties) return 'map';
  return Array.isArray(node.type) ? node.type.join(' or ') : (node.type ?? 'any');
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function rows(node: Json, at: string, out: string[]): void {
  const options = node.anyOf ?? node.oneOf;
  const objects = options?.filter((o) => o.properties);
  // A choice of objects (an SMS provider): each one's keys, named by the choice.
  if (objects?.length) {
    for (const option of objects) rows(option, at, out);
    return;
  }
  if (node.properties) {
    for (const [key, child] of Object.entries(node.properties)) {
      const here = at ? `${at}.${key}` : key;
      const leaf = !child.properties && !(child.type === 'array' && child.items?.properties) && !(child.anyOf ?? child.oneOf)?.some((o) => o.properties);
      if (leaf || child.description) {
        const fallback = child.default === undefined ? '' : JSON.stringify(child.default);
        out.push(
          `| \`${here}\` | ${cell(leaf ? typeOf(child) : 'section')} | ${cell(leaf && fallback.length < 60 ? fallback : '')} | ${cell(child.description ?? '')} |`,
        );
      }
      if (!leaf) rows(child.type === 'array' ? child.items! : child, child.type === 'array' ? `${here}[]` : here, out);
    }
  }
}

/**
 * The configuration reference, generated from the zod schemas (their `.describe()` texts and
 * defaults), so the documentation cannot drift from the code: `docs/configuration.md` is this
 * output, and a test fails when it is not.
 */
export function configReference(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Json;
  const out = [
    '# Configuration reference',
    '',
    '<!-- Generated from the zod schemas by `coldchain config reference`; do not edit by hand. -->',
    '',
    'Every key of `coldchain.yaml`, its type, its default and what it does. Durations are written like `30s`, `5m`, `2h`, `1830d`.',
    '',
    '| key | type | default | meaning |',
    '|---|---|---|---|',
  ];
  rows(schema, '', out);
  return `${out.join('\n')}\n`;
}
