import { createInterface } from 'node:readline';

/** A secret from stdin when piped, otherwise typed at a prompt without echo. */
export async function readSecret(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    let data = '';
    for await (const chunk of process.stdin) data += chunk;
    const line = data.split(/\r?\n/)[0] ?? '';
    if (!line) throw new Error(`${question.replace(/:\s*$/, '')}: nothing on standard input`);
    return line;
  }
  process.stderr.write(question);
  const rl = createInterface({ input: process.stdin, terminal: true });
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return answer;
}

/** What an electronic signature sends: who signs, what it means and why, and the signer's password read as `readSecret` reads it. */
export async function readSignature(flags: { user: string; meaning: string; comment: string }) {
  const password = await readSecret(`password for ${flags.user} (electronic signature): `);
  return { user: flags.user, password, meaning: flags.meaning, comment: flags.comment };
}
