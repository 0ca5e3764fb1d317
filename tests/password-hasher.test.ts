import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../core/secrets.js';

/** Nice values of this process's threads (Linux: field 19 of /proc/self/task/<tid>/stat). */
function threadNiceValues(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // The command name, in parentheses, may hold spaces: count fields after its closing one.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('password hashing (issue 12, items 2 and 9)', () => {
  it('hashes in a thread of its own at nice 10, so guessed passwords take CPU only when devices do not need it', async () => {
    const before = threadNiceValues().filter((n) => n === 10).length;
    const stored = await hashPassword('correct horse battery staple');
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$/);
    const [right, wrong] = await Promise.all([verifyPassword('correct horse battery staple', stored), verifyPassword('Tr0ub4dor&3', stored)]);
    expect([right, wrong]).toEqual([true, false]);
    expect(threadNiceValues().filter((n) => n === 10).length).toBe(before + 1);
  });

  it('refuses a stored value that is not an scrypt hash without hashing', async () => {
    expect(await verifyPassword('x', 'sha256:abc')).toBe(false);
  });
});
