import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread on one of the project's compiled scripts, `script` named from the project's root
 * without its extension (`core/password-worker`). Worker threads need JavaScript: running from
 * dist, the script is beside the rest of dist; running the TypeScript (tests), it is in dist/, so a
 * missing build is refused with how to make it rather than failing inside the thread.
 */
export function compiledWorker(script: string, name: string, options?: WorkerOptions): Worker {
  const here = fileURLToPath(import.meta.url);
  const root = here.endsWith('.js') ? path.resolve(path.dirname(here), '..') : path.resolve(path.dirname(here), '..', 'dist');
  const file = path.join(root, `${script}.js`);
  if (!existsSync(file)) throw new Error(`the ${name} ${file} is not built; run "npx tsc -p tsconfig.json"`);
  return new Worker(file, options);
}
