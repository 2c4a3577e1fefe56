/**
 * Where an actor lives. A key hashes to one of a fixed number of shards (fixed when the data
 * directory is created, because each shard has its own snapshots); shards are spread over the
 * worker threads by journal. Every message for a key therefore reaches the same single-threaded mailbox.
 */
export function shardOf(key: string, shardCount: number): number {
  // FNV-1a, 32 bit: fast, stable across processes and versions (unlike any built-in hash).
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shardCount;
}

/**
 * The journal a shard writes to. The journal count is fixed when the data directory is created
 * (one per host thread by default): shards of one journal always live on the same thread.
 */
export function journalOf(shard: number, journalCount: number): number {
  return shard % journalCount;
}

/** Shards of one journal: a message between them is delivered at once, without the output gate. */
export function shareJournal(a: number, b: number, journalCount: number): boolean {
  return journalOf(a, journalCount) === journalOf(b, journalCount);
}

/** The worker thread of a shard: the one hosting its journal. */
export function workerOf(shard: number, workerCount: number, journalCount: number): number {
  return journalOf(shard, journalCount) % workerCount;
}

/**
 * Host threads when none are configured. On one or two cores, none: the shards run on the
 * gateway's own thread (`in-thread-host.ts`), as one thread running everything and syncing its
 * journal inline once per commit did best on two cores (docs/PERFORMANCE.md, "The fourth round
 * on issue 13": ~100 µs of CPU per placement against ~130 µs with one host thread). With more
 * cores, one per core but one, which the gateway's thread keeps (not measured here beyond two).
 */
export function defaultHostThreads(cores: number): number {
  return cores <= 2 ? 0 : cores - 1;
}
