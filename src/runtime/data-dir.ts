import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';

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
export async function openDataDir(dir: string, shardsIfNew: number): Promise<DataDirMeta> {
  await mkdir(join(dir, 'shards'), { recursive: true });
  const db = new Low<DataDirMeta | null>(new JSONFile(join(dir, 'meta.json')), null);
  await db.read();
  if (db.data) {
    if (db.data.format !== 1 || !Number.isInteger(db.data.shards) || db.data.shards < 1) {
      throw new Error(`${join(dir, 'meta.json')} is not an ordo data directory description`);
    }
    return db.data;
  }
  db.data = { format: 1, shards: shardsIfNew, createdAt: new Date().toISOString() };
  await db.write();
  return db.data;
}
