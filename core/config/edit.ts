import { readFileSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { parseDocument, isSeq, type Document } from 'yaml';
import { parseConfigText } from './load.js';
import type { Config } from './schema.js';

/**
 * Edits the YAML config in place, keeping the operator's comments and layout, and refuses to
 * write a result that would not validate. The file is replaced atomically.
 */
export function editConfig(file: string, mutate: (doc: Document, current: Config) => void): Config {
  const text = readFileSync(file, 'utf8');
  const current = parseConfigText(text, file);
  const doc = parseDocument(text);
  mutate(doc, current);
  const next = doc.toString({ lineWidth: 0 });
  const config = parseConfigText(next, file);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, next, { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
  return config;
}

/** Appends to a top-level list, creating it when the file has none yet. */
export function appendToList(doc: Document, key: string, item: Record<string, unknown>): void {
  const list = doc.get(key);
  if (isSeq(list)) {
    // "devices: []" from the sample is a flow list; grow it as a block list, one entry per item.
    list.flow = false;
    list.add(doc.createNode(item));
  } else doc.set(key, doc.createNode([item]));
}
