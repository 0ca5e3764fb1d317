import { chmodSync } from 'node:fs';

// `npx coldchain` runs the package's bin, dist/cli/main.js, as a program: tsc writes a new file
// without the execute bit, and npx's cached link to a clone set it only the first time it ran there
// ("Permission denied" after a rebuild from scratch, or in a new clone at the same path).
chmodSync(new URL('../dist/cli/main.js', import.meta.url), 0o755);
