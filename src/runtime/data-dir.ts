import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { DataFile } from 'lowdb/node';
import { fsyncPath } from './journal.js';

/** What a data directory was created with. The shard count can never change afterwards: keys hash to shards. */
export interface DataDirMeta {
  format: 1;
  shards: number;
  createdAt: string;
}

/**
 * Opens (or creates) the data directory's `meta.json`. lowdb fits this: a small JSON document
 * written rarely, atomically (write to a temp file, rename). The adapter is used directly rather
 * than `JSONFilePreset`, which silently keeps everything in memory when NODE_ENV=test.
 */
export async function openDataDir(dir: string, shardsIfNew: number, opts: { create?: boolean } = {}): Promise<DataDirMeta> {
  const path = join(dir, 'meta.json');
  const db = new Low<DataDirMeta | null>(new DataFile(path, { parse: JSON.parse, stringify: (v) => JSON.stringify(v, null, 2) }), null);
  await db.read();
  if (db.data) {
    if (db.data.format !== 1 || !Number.isInteger(db.data.shards) || db.data.shards < 1) {
      throw new Error(`${join(dir, 'meta.json')} is not an ordo data directory description`);
    }
    return db.data;
  }
  if (opts.create === false) throw new Error(`${dir} is not an ordo data directory (no meta.json)`);
  await mkdir(join(dir, 'shards'), { recursive: true });
  db.data = { format: 1, shards: shardsIfNew, createdAt: new Date().toISOString() };
  await db.write();
  // The shard count decides where every key lives: it must survive a crash like the journals.
  await fsyncPath(path);
  await fsyncPath(dir);
  return db.data;
}
