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
 * Host threads when none are configured: one per core. Measured on a 2-core VM, a trade-off:
 * one host thread gave better steady-state figures on the spread bench in three interleaved runs
 * (4.1–5.2k/s vs 3.4–4.5k/s, p99 26–33 ms vs 42–61 ms: the gateway keeps a core), but recovery is
 * CPU-bound and parallel over host threads: 1.1M orders after `kill -9` took 9.1–10.8 s on one
 * against 6.0–7.2 s on two. Restart time is the harder promise, so the default keeps every core;
 * `ORDO_WORKERS=1` is the choice for latency on a small machine.
 */
export function defaultHostThreads(cores: number): number {
  return Math.max(1, cores);
}
