import type { JournalRecord, ReplayStats } from './journal.js';
import { readFrame } from './journal-format.js';
import { PendingBatch } from './pending-batch.js';
import type { DirectoryEntry, JournalSink, ShardStore, SnapshotEntry } from './shard-store.js';

/** A ShardStore with its own journal, in memory, with the same semantics as the files: for tests without a disk. */
export class MemoryShardStore implements ShardStore, JournalSink {
  readonly partitions = 8;
  readonly pending = new PendingBatch();
  readonly segments = new Map<number, Buffer[]>([[1, []]]);
  private current = 1;
  private replayFrom = 1;
  readonly data = new Map<string, SnapshotEntry>();
  readonly directory = new Map<string, DirectoryEntry>();

  async recover(onDirectory: (key: string, e: DirectoryEntry) => void, onRecord: (rec: JournalRecord) => void): Promise<ReplayStats> {
    for (const [k, e] of this.directory) onDirectory(k, structuredClone(e));
    let records = 0;
    let bytes = 0;
    for (const [n, frames] of [...this.segments].sort((a, b) => a[0] - b[0])) {
      if (n < this.replayFrom) continue;
      for (const f of frames) {
        const r = readFrame(f, 0);
        if (r.kind !== 'frame') throw new Error('bad frame in memory');
        onRecord(JSON.parse(r.payload.toString('utf8')) as JournalRecord);
        records++;
        bytes += f.length;
      }
    }
    return { records, bytes, truncated: 0 };
  }

  async append(frames: Buffer[]): Promise<void> {
    this.segments.get(this.current)!.push(...frames);
  }

  async loadActor(key: string): Promise<SnapshotEntry | undefined> {
    const e = this.data.get(key);
    return e && structuredClone(e);
  }

  async readTail(key: string): Promise<JournalRecord[]> {
    const out: JournalRecord[] = [];
    await this.recoverTail((r) => {
      if (r.k === key) out.push(r);
    });
    return out;
  }

  private async recoverTail(onRecord: (rec: JournalRecord) => void): Promise<void> {
    for (const [n, frames] of [...this.segments].sort((a, b) => a[0] - b[0])) {
      if (n < this.replayFrom) continue;
      for (const f of frames) {
        const r = readFrame(f, 0);
        if (r.kind === 'frame') onRecord(JSON.parse(r.payload.toString('utf8')) as JournalRecord);
      }
    }
  }

  async beginSnapshot(): Promise<number> {
    this.current++;
    this.segments.set(this.current, []);
    return this.current;
  }

  async writePartition(_p: number, changes: Map<string, { data: SnapshotEntry; dir: DirectoryEntry } | null>): Promise<void> {
    for (const [k, c] of changes) {
      if (c === null) {
        this.data.delete(k);
        this.directory.delete(k);
      } else {
        this.data.set(k, structuredClone(c.data));
        this.directory.set(k, structuredClone(c.dir));
      }
    }
  }

  async commitSnapshot(rotationPoint: number): Promise<void> {
    this.replayFrom = rotationPoint;
    for (const n of this.segments.keys()) if (n < rotationPoint) this.segments.delete(n);
  }

  async close(): Promise<void> {}
}
