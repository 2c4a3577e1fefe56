import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { DataFile } from 'lowdb/node';
import { DataDirMetaError } from '../errors.js';
import { fsyncPath } from '../journal/fsync.js';

/**
 * The layout of journals and snapshots this code reads and writes. A change that an older
 * directory would be misread under (where journals live, a record's shape) bumps it: such a
 * directory is refused at start, never silently half-read. 2: journals in journals/NNNN,
 * adjustment ids kept with their delta. 3: snapshots as log-structured runs.
 */
export const DATA_FORMAT = 3;

/** What a data directory was created with. The shard count can never change afterwards: keys hash to shards. */
export interface DataDirMeta {
  format: typeof DATA_FORMAT;
  shards: number;
  /** Journals the shards share (shard s writes to journal s mod journals). */
  journals: number;
  createdAt: string;
}

/** The journal count of a data directory (see `DataDirMeta.journals`). */
export function journalCount(meta: DataDirMeta): number {
  return meta.journals;
}

/**
 * Opens (or creates) the data directory's `meta.json`. lowdb fits this: a small JSON document
 * written rarely, atomically (write to a temp file, rename). The adapter is used directly rather
 * than `JSONFilePreset`, which silently keeps everything in memory when NODE_ENV=test.
 */
export async function openDataDir(dir: string, shardsIfNew: number, opts: { create?: boolean; journalsIfNew?: number } = {}): Promise<DataDirMeta> {
  const path = join(dir, 'meta.json');
  const db = new Low<DataDirMeta | null>(new DataFile(path, { parse: JSON.parse, stringify: (v) => JSON.stringify(v, null, 2) }), null);
  try {
    await db.read();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new DataDirMetaError(`cannot read ${path}: ${e.code ? '' : 'not valid JSON: '}${e.message}`);
  }
  if (db.data) {
    if (Number.isInteger(db.data.format) && db.data.format !== DATA_FORMAT) {
      throw new DataDirMetaError(
        `${path} has data format ${db.data.format}; this ordo reads format ${DATA_FORMAT} only (no released ordo wrote another): start on a new data directory`,
      );
    }
    const j = db.data.journals;
    const badJournals = !Number.isInteger(j) || j < 1 || j > db.data.shards;
    if (!Number.isInteger(db.data.shards) || db.data.shards < 1 || badJournals) {
      throw new DataDirMetaError(`${path} is not an ordo data directory description`);
    }
    return db.data;
  }
  if (opts.create === false) throw new DataDirMetaError(`${dir} is not an ordo data directory (no meta.json)`);
  await mkdir(join(dir, 'shards'), { recursive: true });
  const journals = Math.max(1, Math.min(opts.journalsIfNew ?? shardsIfNew, shardsIfNew));
  const meta: DataDirMeta = { format: DATA_FORMAT, shards: shardsIfNew, journals, createdAt: new Date().toISOString() };
  await writeDataDirMeta(dir, meta);
  return meta;
}

/** Writes `meta.json` atomically (lowdb: temp file + rename), then makes it durable. */
export async function writeDataDirMeta(dir: string, meta: DataDirMeta): Promise<void> {
  const path = join(dir, 'meta.json');
  await new Low<DataDirMeta>(new DataFile(path, { parse: JSON.parse, stringify: (v) => JSON.stringify(v, null, 2) }), meta).write();
  // The shard and journal counts decide where every record lives: they must survive a crash like the journals.
  await fsyncPath(path);
  await fsyncPath(dir);
}

/** Where a shard's snapshots (and dead letters) live. */
export function shardDir(dataDir: string, shard: number): string {
  return join(dataDir, 'shards', String(shard).padStart(4, '0'));
}

/** Where a journal's segments live (also with as many journals as shards). */
export function journalDir(dataDir: string, journal: number): string {
  return join(dataDir, 'journals', String(journal).padStart(4, '0'));
}
