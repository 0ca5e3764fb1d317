import { scryptSync } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { lowerThisThreadPriority } from './low-priority.js';

/**
 * The password hasher's thread (password-hasher.ts): scrypt at a low priority, so a flood of
 * password guesses takes CPU only when the main thread does not want it.
 */
export interface HashRequest {
  id: number;
  password: string;
  salt: Uint8Array;
  N: number;
  r: number;
  p: number;
  keylen: number;
}
export type HashReply = { id: number; key: Uint8Array } | { id: number; error: string };

lowerThisThreadPriority();

parentPort?.on('message', ({ id, password, salt, N, r, p, keylen }: HashRequest) => {
  let reply: HashReply;
  try {
    reply = { id, key: scryptSync(password, salt, keylen, { N, r, p, maxmem: 64 * 1024 * 1024 }) };
  } catch (err) {
    reply = { id, error: (err as Error).message };
  }
  parentPort!.postMessage(reply);
});
