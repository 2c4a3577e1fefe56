import type { JournalRecord, OutboxEntry, ReplayStats } from '../journal/record.js';
import type { PendingBatch } from '../journal/pending-batch.js';

/**
 * Where the records of one or more shards go, in the order they were produced: a group commit
 * takes `pending` and appends its frames. On one machine: segment files shared by the shards of
 * a host thread (`Journal`); in tests: memory (`MemoryShardStore`); across machines it
 * would be a replicated log with one subject per journal.
 */
export interface JournalSink {
  readonly pending: PendingBatch;
  append(frames: Buffer[]): Promise<void>;
}

/**
 * The durable side of one shard, as the Shard sees it. On one machine: snapshot runs (only the
 * actors each round changed, merged in the background) plus the journal its records go to
 * (`FileShardStore`); in tests: memory (`MemoryShardStore`).
 */
export interface ShardStore {
  /** Number of snapshot partitions; an actor's partition is a hash of its key. */
  readonly partitions: number;
  /** Replays the directory (every snapshotted actor's summary) and then the journal tail. */
  recover(onDirectory: (key: string, entry: DirectoryEntry) => void, onRecord: (rec: JournalRecord) => void): Promise<ReplayStats>;
  /** An actor's snapshotted state, to reactivate it. */
  loadActor(key: string): Promise<SnapshotEntry | undefined>;
  /** An actor's journal records since its snapshot (to restart it from durable state after a fault). */
  readTail(key: string): Promise<JournalRecord[]>;
  /** Rotates the journal: records appended after this belong to the next snapshot. Returns the rotation point. */
  beginSnapshot(): Promise<number>;
  /** Adds one partition's changed actors to the snapshot under way (`null` deletes an actor). */
  writePartition(partition: number, changes: Map<string, SnapshotChange | null>): Promise<void>;
  /** Every partition handed over: writes the snapshot; the journal before `rotationPoint` is no longer needed. */
  commitSnapshot(rotationPoint: number): Promise<void>;
  close(): Promise<void>;
}

/** What recovery needs of every actor without loading it: summary, timers, unanswered requests. */
export interface DirectoryEntry {
  /** Behaviour summary (orders: [customerId, status, placedAt]) used by order.list. */
  i?: unknown;
  /** Armed timers: the shard's timer index is rebuilt from these without loading actors. */
  t?: Record<string, number>;
  /** Has unanswered requests: activated at start so they are re-sent. */
  busy?: true;
}

/**
 * One changed actor as a snapshot round hands it to the store: its entry already serialised
 * (`JSON.stringify` of a SnapshotEntry, taken in one turn, so it is one consistent state of the
 * actor whatever it does next), and its directory entry. Serialised once: the file store writes
 * the text as it is, instead of cloning the state and stringifying the clone again.
 */
export interface SnapshotChange {
  json: string;
  dir: DirectoryEntry;
}

/** An actor's state as records its behaviour's `restore` rebuilds it from, plus its outbox. */
export interface SnapshotEntry {
  r: unknown[];
  o?: OutboxEntry[];
  n: number;
}

export function partitionOf(key: string, partitions: number): number {
  // A different hash from shard placement (djb2 vs FNV) so partitions spread within a shard.
  let h = 5381;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 33) + key.charCodeAt(i)) | 0;
  return (h >>> 0) % partitions;
}
