import { join } from 'node:path';
import { ManifestError } from '../errors.js';
import { readJsonFile, replaceFile } from './durable-file.js';

/**
 * A shard's snapshot commit point, `<shard>/snapshot/manifest.json`: written last, after the run
 * files it names are durable. The runs it lists are the shard's snapshot; any other run file is
 * one a crash left behind (a round or a merge that did not commit), deleted at recovery.
 */
export interface Manifest {
  /** First journal segment not covered by the snapshots: recovery replays from here. */
  replayFrom: number;
  /** Snapshot partitions (a snapshot round serialises one partition's actors per event-loop turn). */
  partitions: number;
  /** The runs in use, newest first (see `run-file.ts`); a key's newest run holds its state. */
  runs: RunMeta[];
}

export interface RunMeta {
  id: number;
  /** 0 for a snapshot round's run; a merge of level-L runs is at L + 1 (see `compaction.ts`). */
  level: number;
  entries: number;
  /** File sizes, checked at recovery: a run that does not match is damaged, and recovery stops. */
  dataBytes: number;
  dirBytes: number;
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
  const runs = m.runs ?? [];
  const count = (n: unknown) => Number.isInteger(n) && (n as number) >= 0;
  const goodRun = (r: Partial<RunMeta> | null) =>
    typeof r === 'object' && r !== null && valid(r.id) && count(r.level) && count(r.entries) && count(r.dataBytes) && count(r.dirBytes);
  if (!Array.isArray(runs) || !runs.every(goodRun)) throw new ManifestError(`${path} is damaged (runs)`);
  return { replayFrom: m.replayFrom, partitions: m.partitions, runs };
}

/** The commit point of a snapshot: replaces the manifest atomically and durably. */
export function writeManifest(snapDir: string, m: Manifest): Promise<void> {
  return replaceFile(manifestPath(snapDir), JSON.stringify(m));
}

/** From which journal segment on a shard's records are not in its snapshot (1: none are). */
export async function replayPointOf(shardDir: string): Promise<number> {
  return (await readManifest(join(shardDir, 'snapshot')))?.replayFrom ?? 1;
}
