import type { Worker } from 'node:worker_threads';
import { compiledWorker } from './compiled-worker.js';
import type { HashReply, HashRequest } from './password-worker.js';

/**
 * scrypt off the libuv pool and at a low priority: in one worker thread whose nice value is 10
 * (Linux). Node's own crypto.scrypt runs on the libuv pool beside the spool's fsync and at the
 * main thread's priority, so on 2 cores every guessed password took CPU from devices' PUBACKs;
 * here the scheduler gives the main thread what it asks for first. One thread: hashes run one
 * at a time anyway (core/throttle.ts). The thread does not keep the process alive; the service
 * starts it with its HTTP API (`warmPasswordHashing` in secrets.ts: two throwaway hashes), so the
 * sign-ins after the first fraction of a second wait neither for the thread's module loading
 * (40–65 ms measured, issue 15 item 4) nor for the slow first hashes; the CLI starts it on first use.
 */
class PasswordHasher {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (key: Buffer) => void; reject: (err: Error) => void }>();

  hash(password: string, salt: Buffer, N: number, r: number, p: number, keylen: number): Promise<Buffer> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      let worker: Worker;
      try {
        worker = this.started();
      } catch (err) {
        reject(err as Error);
        return;
      }
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, password, salt, N, r, p, keylen } satisfies HashRequest);
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = compiledWorker('core/password-worker', 'password worker');
    worker.unref();
    worker.on('message', (reply: HashReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if ('key' in reply) waiting.resolve(Buffer.from(reply.key));
      else waiting.reject(new Error(reply.error));
    });
    const lost = (why: string) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiting of this.pending.values()) waiting.reject(new Error(why));
      this.pending.clear();
    };
    worker.on('error', (err) => lost(`the password worker failed: ${err.message}`));
    worker.on('exit', (code) => lost(`the password worker stopped (exit code ${code})`));
    this.worker = worker;
    return worker;
  }
}

/** Process-wide: one low-priority thread hashes every password. */
export const passwordHasher = new PasswordHasher();
