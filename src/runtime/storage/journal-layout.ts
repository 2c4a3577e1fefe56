import { rmdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type DataDirMeta, journalCount, journalDir, shardDir, writeDataDirMeta } from './data-dir.js';
import { replayPointOf } from './manifest.js';
import { ifAbsent, ignoring } from '../errors.js';
import { fsyncPath } from '../journal/fsync.js';
import { journalOf } from '../placement.js';
import { segmentName, segmentsIn } from '../journal/segmented-journal.js';

/**
 * The journal count of a data directory is chosen when it is created (one per host thread), and
 * the shards of one journal must live on one thread: so a runtime never starts more host threads
 * than there are journals. This changes the count, when it can be done without moving a record:
 * every journal holds nothing past the snapshot points of its shards (after a clean stop, whose
 * final snapshots cover everything). The new journals then start empty, and each shard keeps
 * its snapshot point: appends go to a segment at or past every point (see Journal).
 *
 * Returns the directory's description, changed or not, and whether it changed.
 */
export async function relayoutJournals(dataDir: string, meta: DataDirMeta, wanted: number): Promise<{ meta: DataDirMeta; changed: boolean }> {
  const S = meta.shards;
  const J = journalCount(meta);
  const target = Math.max(1, Math.min(wanted, S));
  if (target === J) return { meta, changed: false };
  const points = await Promise.all(Array.from({ length: S }, (_, s) => replayPointOf(shardDir(dataDir, s))));
  const old: { dir: string; segments: number[] }[] = [];
  for (let j = 0; j < J; j++) {
    const dir = journalDir(dataDir, j);
    const from = Math.min(...points.filter((_, s) => journalOf(s, J) === j));
    const segments = await segmentsIn(dir);
    for (const n of segments) {
      if (n < from) continue; // covered by the snapshots
      if ((await stat(join(dir, segmentName(n)))).size > 0) return { meta, changed: false }; // records to replay
    }
    old.push({ dir, segments });
  }
  // Removed before the commit point: every one of them is empty or covered by the snapshots, so
  // either layout is right without them; left behind, a covered one in a directory the new
  // layout reuses would hold records of shards that no longer write there.
  for (const { dir, segments } of old) {
    for (const n of segments) await unlink(join(dir, segmentName(n))).catch(ifAbsent(undefined));
    await fsyncPath(dir).catch(ifAbsent(undefined)); // a journal that never wrote has no directory
  }
  // The commit point: from here on the shards write to the new journals.
  const next: DataDirMeta = { ...meta, journals: target };
  await writeDataDirMeta(dataDir, next);
  // Journal directories the new layout does not use (it may reuse some: those are made again).
  for (const { dir } of old) await rmdir(dir).catch(ignoring(undefined, 'ENOENT', 'ENOTEMPTY'));
  return { meta: next, changed: true };
}
