import { decodeRecord, type JournalRecord, type ReplayStats } from '../journal/record.js';
import { readFrame } from '../journal/frame.js';
import { PendingBatch } from '../journal/pending-batch.js';
import type { DirectoryEntry, JournalSink, ShardStore, SnapshotChange, SnapshotEntry } from '../storage/shard-store.js';

/**
 * A journal in memory, shared by the stores of one or more shards with the semantics of
 * Journal: numbered segments, one snapshot point per shard, a segment dropped once no
 * shard needs it. `crash` drops what was not yet appended, as a kill -9 would.
 */
export class MemoryJournal implements JournalSink {
  readonly pending = new PendingBatch();
  readonly segments = new Map<number, Buffer[]>([[1, []]]);
  private current = 1;
  private readonly points = new Map<number, number>();

  constructor(
    members: readonly number[],
    private readonly shardOfKey: (key: string) => number,
  ) {
    for (const s of members) this.points.set(s, 1);
  }

  async append(frames: Buffer[]): Promise<void> {
    this.segments.get(this.current)!.push(...frames);
  }

  /** A shard's records from its snapshot point on, in order. */
  records(shard: number): JournalRecord[] {
    const from = this.points.get(shard) ?? 1;
    const out: JournalRecord[] = [];
    for (const [n, frames] of [...this.segments].sort((a, b) => a[0] - b[0])) {
      if (n < from) continue;
      for (const f of frames) {
        const r = readFrame(f, 0);
        if (r.kind !== 'frame') throw new Error('bad frame in memory');
        const rec = decodeRecord(r.payload);
        if (this.shardOfKey(rec.k) === shard) out.push(rec);
      }
    }
    return out;
  }

  rotate(): number {
    this.current++;
    this.segments.set(this.current, []);
    return this.current;
  }

  covered(shard: number, point: number): void {
    this.points.set(shard, point);
    const oldest = Math.min(...this.points.values());
    for (const n of this.segments.keys()) if (n < oldest) this.segments.delete(n);
  }

  /** What a kill -9 loses: everything produced and not yet handed to the journal. */
  crash(): void {
    this.pending.take();
  }
}

/** A ShardStore in memory with the same semantics as the files, for tests without a disk. */
export class MemoryShardStore implements ShardStore {
  readonly partitions = 8;
  readonly data = new Map<string, SnapshotEntry>();
  readonly directory = new Map<string, DirectoryEntry>();
  readonly journal: MemoryJournal;
  private readonly shard: number;

  /** With no `journal`, the store has one of its own. */
  constructor(journal?: { shared: MemoryJournal; shard: number }) {
    this.journal = journal?.shared ?? new MemoryJournal([0], () => 0);
    this.shard = journal?.shard ?? 0;
  }

  get segments(): Map<number, Buffer[]> {
    return this.journal.segments;
  }

  async recover(onDirectory: (key: string, e: DirectoryEntry) => void, onRecord: (rec: JournalRecord) => void): Promise<ReplayStats> {
    for (const [k, e] of this.directory) onDirectory(k, structuredClone(e));
    const records = this.journal.records(this.shard);
    for (const rec of records) onRecord(rec);
    return { records: records.length, bytes: 0, truncated: 0 };
  }

  async loadActor(key: string): Promise<SnapshotEntry | undefined> {
    const e = this.data.get(key);
    return e && structuredClone(e);
  }

  async readTail(key: string): Promise<JournalRecord[]> {
    return this.journal.records(this.shard).filter((r) => r.k === key);
  }

  async beginSnapshot(): Promise<number> {
    this.staged.clear();
    return this.journal.rotate();
  }

  /** The round's partitions, readable only once committed (as the files' runs, which the manifest names at the commit). */
  private staged = new Map<string, SnapshotChange | null>();

  async writePartition(_p: number, changes: Map<string, SnapshotChange | null>): Promise<void> {
    for (const [k, c] of changes) this.staged.set(k, c);
  }

  async commitSnapshot(rotationPoint: number): Promise<void> {
    // A commit takes its time, as the files' fsyncs do: the actors go on running meanwhile.
    await new Promise((r) => setImmediate(r));
    for (const [k, c] of this.staged) {
      if (c === null) {
        this.data.delete(k);
        this.directory.delete(k);
      } else {
        this.data.set(k, JSON.parse(c.json) as SnapshotEntry);
        this.directory.set(k, structuredClone(c.dir));
      }
    }
    this.staged = new Map();
    this.journal.covered(this.shard, rotationPoint);
  }

  async close(): Promise<void> {}
}
