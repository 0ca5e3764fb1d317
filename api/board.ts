import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Registry } from '../core/registry.js';
import type { ApiPlugin } from './zod.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
};

/** Built by `vite build` into dist/board (beside dist/api, where this module runs from). */
export const BOARD_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'board');

export const boardSettingsSchema = z.object({ tileUrl: z.string().nullable(), tileAttribution: z.string() });
export type BoardSettings = z.infer<typeof boardSettingsSchema>;

/**
 * Serves the live board: index.html for `/`, hashed assets under /assets/ (cached for good:
 * their names change with their content). The board's settings (map tiles) come from the config.
 */
export const boardRoutes: ApiPlugin<{ registry: () => Registry }> = async (app, deps) => {
  const send = async (file: string, reply: FastifyReply, cache: string) => {
    try {
      const body = await readFile(file);
      return reply
        .type(TYPES[path.extname(file)] ?? 'application/octet-stream')
        .header('Cache-Control', cache)
        .header('X-Content-Type-Options', 'nosniff')
        .send(body);
    } catch {
      return reply.code(404).send({ error: 'not_found', message: `no ${path.basename(file)}` });
    }
  };
  app.get('/', async (_request, reply) => {
    if (!existsSync(path.join(BOARD_DIR, 'index.html')))
      return reply.code(503).type('text/plain; charset=utf-8').send('The live board is not built: run "npm run build" (npm ci does it).\n');
    return send(path.join(BOARD_DIR, 'index.html'), reply, 'no-cache');
  });
  app.get('/assets/*', { schema: { params: z.object({ '*': z.string() }) } }, async (request, reply) => {
    const name = request.params['*'];
    if (!/^[\w.-]+$/.test(name)) return reply.code(404).send({ error: 'not_found', message: 'no such asset' });
    return send(path.join(BOARD_DIR, 'assets', name), reply, 'public, max-age=31536000, immutable');
  });
  app.get('/api/v1/board-settings', { schema: { response: { 200: boardSettingsSchema } } }, async () => {
    const { tileUrl, tileAttribution } = deps.registry().config.board;
    return { tileUrl: tileUrl ?? null, tileAttribution };
  });
};
