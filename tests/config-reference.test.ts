import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReference } from '../core/config/reference.js';

describe('the configuration reference', () => {
  it('docs/configuration.md is what the schemas say (regenerate: npx coldchain config reference > docs/configuration.md)', () => {
    const generated = configReference();
    expect(generated).toContain('| `alarms.maxShelve` | duration (30s, 5m, 2h, 1830d) | "24h" | Longest an operator may shelve an incident');
    expect(readFileSync('docs/configuration.md', 'utf8')).toBe(generated);
  });
});
