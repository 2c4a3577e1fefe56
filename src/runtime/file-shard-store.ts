import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { Low } from 'lowdb';
import { DataFile } from 'lowdb/node';
import type { JournalRecord, ReplayStats } from './journal.js';
import { fsyncPath } from './journal.js';
import { SegmentedJournal } from './segmented-journal.js';
import { type DirectoryEntry, partitionOf, type ShardStore, type SnapshotEntry } from './shard-store.js';

interface Manifest {
  /** First journal segment not covered by the snapshots: recovery replays from here. */
  replayFrom: number;
  partitions: number;
}

type PartitionData = Record<string, SnapshotEntry>;
type PartitionDirectory = Record<string, DirectoryEntry>;

const compact = { parse: JSON.parse, stringify: (v: unknown) => JSON.stringify(v) };

/**
 * Segment files plus snapshots per partition, written with lowdb (temp file + atomic rename),
 * then fsync'ed, file and directory. Each partition has two files: `pNNN.dir.json` (what recovery
 * reads for every actor: summary, timers, unanswered requests) and `pNNN.data.json` (the actors'
 * state, read only when an actor is reactivated). The manifest, written last, is the commit point.
 *
 * Layout: `<data>/shards/NNNN/segment-XXXXXXXX.log`, `<data>/shards/NNNN/snapshot/…`.
 */
export class FileShardStore implements ShardStore {
  readonly journal: SegmentedJournal;
  private readonly snapDir: string;
  private manifest: Manifest;
  /** Parsed partitions, most recently used first: reactivations come in bursts per partition. */
  private readonly dataCache = new LRUCache<number, PartitionData>({ max: 4 });

  constructor(
    readonly dir: string,
    /** For a new shard; an existing one keeps the count its manifest records. */
    public partitions = 256,
    onWarn: (msg: string) => void = () => {},
  ) {
    this.journal = new SegmentedJournal(dir, onWarn);
    this.snapDir = join(dir, 'snapshot');
    this.manifest = { replayFrom: 1, partitions };
  }

  get bytesSinceSnapshot(): number {
    return this.journal.bytesSinceRotation;
  }

  private file(partition: number, kind: 'data' | 'dir'): string {
    return join(this.snapDir, `p${String(partition).padStart(3, '0')}.${kind}.json`);
  }

  private async readJson<T>(path: string, fallback: T): Promise<T> {
    const db = new Low<T>(new DataFile<T>(path, compact), fallback);
    await db.read();
    return db.data;
  }

  private async writeJson<T>(path: string, data: T): Promise<void> {
    const db = new Low<T>(new DataFile<T>(path, compact), data);
    await db.write();
    await fsyncPath(path);
  }

  async recover(onDirectory: (key: string, e: DirectoryEntry) => void, onRecord: (rec: JournalRecord) => void): Promise<ReplayStats> {
    const m = await this.readJson<Manifest | null>(join(this.snapDir, 'manifest.json'), null).catch(() => null);
    if (m) {
      if (!Number.isInteger(m.partitions) || m.partitions < 1) throw new Error(`${this.snapDir}/manifest.json is damaged`);
      this.partitions = m.partitions;
      this.manifest = m;
    }
    const names = await readdir(this.snapDir).catch(() => [] as string[]);
    for (const name of names) {
      if (!/^p\d{3,}\.dir\.json$/.test(name)) continue;
      const dir = await this.readJson<PartitionDirectory>(join(this.snapDir, name), {});
      for (const [k, e] of Object.entries(dir)) onDirectory(k, e);
    }
    return this.journal.replay(this.manifest.replayFrom, onRecord);
  }

  append(frames: Buffer[]): Promise<void> {
    return this.journal.append(frames);
  }

  private async partitionData(p: number): Promise<PartitionData> {
    let d = this.dataCache.get(p);
    if (!d) {
      d = await this.readJson<PartitionData>(this.file(p, 'data'), {});
      this.dataCache.set(p, d);
    }
    return d;
  }

  async loadActor(key: string): Promise<SnapshotEntry | undefined> {
    const e = (await this.partitionData(partitionOf(key, this.partitions)))[key];
    return e && structuredClone(e);
  }

  async readTail(key: string): Promise<JournalRecord[]> {
    const out: JournalRecord[] = [];
    await this.journal.scan(this.manifest.replayFrom, (r) => {
      if (r.k === key) out.push(r);
    });
    return out;
  }

  async beginSnapshot(): Promise<number> {
    await mkdir(this.snapDir, { recursive: true });
    return this.journal.rotate();
  }

  async writePartition(p: number, changes: Map<string, { data: SnapshotEntry; dir: DirectoryEntry } | null>): Promise<void> {
    const data = { ...(await this.partitionData(p)) };
    // Read back rather than cached: a copy of every actor's directory entry in memory would cost
    // as much as the shard's directory itself.
    const dir = await this.readJson<PartitionDirectory>(this.file(p, 'dir'), {});
    for (const [k, c] of changes) {
      if (c === null) {
        delete data[k];
        delete dir[k];
      } else {
        data[k] = c.data;
        dir[k] = c.dir;
      }
    }
    await this.writeJson(this.file(p, 'data'), data);
    await this.writeJson(this.file(p, 'dir'), dir);
    this.dataCache.set(p, data);
  }

  async commitSnapshot(rotationPoint: number): Promise<void> {
    await fsyncPath(this.snapDir);
    this.manifest = { replayFrom: rotationPoint, partitions: this.partitions };
    await this.writeJson(join(this.snapDir, 'manifest.json'), this.manifest);
    await fsyncPath(this.snapDir);
    await this.journal.removeBefore(rotationPoint);
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
