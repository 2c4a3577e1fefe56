import { join } from 'node:path';
import { ManifestError } from '../errors.js';
import { readJsonFile, replaceFile } from './durable-file.js';

/** A shard's snapshot commit point, `<shard>/snapshot/manifest.json`: written last, after every partition. */
export interface Manifest {
  /** First journal segment not covered by the snapshots: recovery replays from here. */
  replayFrom: number;
  partitions: number;
}

export function manifestPath(snapDir: string): string {
  return join(snapDir, 'manifest.json');
}

/**
 * The manifest in `snapDir`, or null if there is none. A manifest that is not JSON counts as
 * absent: replaying from the journal's start is always safe (records set state absolutely). One
 * that parses but holds no valid point or partition count is damaged, and so is one that cannot
 * be read at all (a permission, an I/O error): recovery stops rather than guess.
 */
export async function readManifest(snapDir: string): Promise<Manifest | null> {
  const path = manifestPath(snapDir);
  let m: Partial<Manifest> | null;
  try {
    m = await readJsonFile<Partial<Manifest> | null>(path, null);
  } catch (err) {
    if (err instanceof SyntaxError) return null;
    throw new ManifestError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (m === null) return null;
  const valid = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1;
  if (typeof m !== 'object' || !valid(m.partitions) || !valid(m.replayFrom)) throw new ManifestError(`${path} is damaged`);
  return { replayFrom: m.replayFrom, partitions: m.partitions };
}

/** The commit point of a snapshot: replaces the manifest atomically and durably. */
export function writeManifest(snapDir: string, m: Manifest): Promise<void> {
  return replaceFile(manifestPath(snapDir), JSON.stringify(m));
}

/** From which journal segment on a shard's records are not in its snapshot (1: none are). */
export async function replayPointOf(shardDir: string): Promise<number> {
  return (await readManifest(join(shardDir, 'snapshot')))?.replayFrom ?? 1;
}
