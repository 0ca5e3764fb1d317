import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { SAMPLE_CONFIG } from '../cli/sample-config.js';
import { ConfigError, parseConfigText, parseYamlWith } from '../core/config/load.js';
import { configSchema } from '../core/config/schema.js';

// parseYamlWith reads a good file with js-yaml (fast) and anything refused with `yaml` (lines in
// errors); both must mean the same file the same way.
const refusal = (text: string): string => {
  try {
    parseConfigText(text, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the config was accepted');
};

describe('config file parsing', () => {
  it('reads the sample config as the yaml library does', () => {
    expect(parseConfigText(SAMPLE_CONFIG, 'test.yaml')).toEqual(configSchema.parse(parse(SAMPLE_CONFIG)));
  });

  it('reads YAML 1.1 booleans, dates and octal-looking values as the YAML 1.2 core schema does, like yaml', () => {
    // In YAML 1.1 these would be true, a Date and 493.
    const text = 'word: yes\nday: 2026-01-01\nmode: 0755\nhex: 0x1F\nnothing: ~\n';
    const schema = z.object({ word: z.string(), day: z.string(), mode: z.number(), hex: z.number(), nothing: z.null() });
    expect(parseYamlWith(schema, text, 'test.yaml')).toEqual({ word: 'yes', day: '2026-01-01', mode: 755, hex: 31, nothing: null });
    expect(parseYamlWith(schema, text, 'test.yaml')).toEqual(parse(text));
  });

  it('refuses a duplicate key and names its line', () => {
    const text = 'dataDir: ./data\ndataDir: ./other\n';
    expect(refusal(text)).toMatch(/line 2: YAML syntax: Map keys must be unique/);
  });

  it('names the line and key of a value the schema refuses', () => {
    const text = SAMPLE_CONFIG.replace(/^( {2}port: )1883/m, '$1"one"');
    expect(refusal(text)).toMatch(/line \d+: mqtt\.port: Invalid input: expected number, received string/);
  });

  it('reads a file with anchors and aliases through the bounded parser, to the same result', () => {
    const anchored = SAMPLE_CONFIG.replace(/^dataDir: (.*)$/m, 'dataDir: &dir $1');
    expect(parseConfigText(anchored, 'test.yaml')).toEqual(parseConfigText(SAMPLE_CONFIG, 'test.yaml'));
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n`;
    expect(() => parseConfigText(`${SAMPLE_CONFIG}\n${bomb}`, 'test.yaml')).toThrow(/alias/i);
  });
});
