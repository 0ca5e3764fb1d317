import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The board is built into dist/board, next to the compiled service that serves it.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: {
    outDir: fileURLToPath(new URL('../dist/board', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 400,
  },
  logLevel: 'warn',
});
