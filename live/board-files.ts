import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Config } from '../core/config/schema.js';

/** Built by `vite build` into dist/board (beside dist/live, where this module runs from). */
export const BOARD_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'board');

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

export const boardBuilt = () => existsSync(path.join(BOARD_DIR, 'index.html'));

/** A file of the built board (a path under BOARD_DIR) and its content type; undefined when there is none. */
export async function boardFile(...parts: string[]): Promise<{ body: Buffer; type: string } | undefined> {
  const file = path.join(BOARD_DIR, ...parts);
  try {
    return { body: await readFile(file), type: TYPES[path.extname(file)] ?? 'application/octet-stream' };
  } catch {
    return undefined;
  }
}

/** What the board reads of the config: its map tiles (none: tracks on a blank map). */
export const boardSettingsSchema = z.object({ tileUrl: z.string().nullable(), tileAttribution: z.string() });
export type BoardSettings = z.infer<typeof boardSettingsSchema>;
export const boardSettings = ({ board }: Config): BoardSettings => ({ tileUrl: board.tileUrl ?? null, tileAttribution: board.tileAttribution });
