import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { fsyncPath } from '../journal/fsync.js';
import { Journal } from '../journal/journal.js';
import type { JournalRecord, ReplayStats } from '../journal/record.js';
import { type Manifest, readManifest, writeManifest } from './manifest.js';
import {
  directoryFilePartition,
  type PartitionData,
  partitionFile,
  readEntryAt,
  readPartitionData,
  readPartitionDirectory,
  writePartitionFiles,
} from './partition-file.js';
import { type ByteRange, indexOf, lookup, type PartitionIndex } from './partition-index.js';
import { type DirectoryEntry, partitionOf, type ShardStore, type SnapshotEntry } from './shard-store.js';


/**
 * A shard's snapshots per partition (partition-file.ts), each file replaced atomically and
 * durably, and its records in a journal it may share with other shards of its host thread. The
 * manifest (manifest.ts), written last, is the commit point: it says from which journal segment
 * on this shard's records are not in the snapshot.
 *
 * Layout: `<data>/shards/NNNN/snapshot/…`; the journal's segments are wherever `journal` keeps
 * them (`<data>/journals/NNNN/`; a store made without one keeps its own in `dir`).
 */
export class FileShardStore implements ShardStore {
  readonly journal: Journal;
  private readonly shard: number;
  private readonly snapDir: string;
  private manifest: Manifest;
  /** Parsed partitions, most recently used first: a snapshot merges its changes into them. */
  private readonly dataCache = new LRUCache<number, PartitionData>({ max: 4 });
  /** Per partition, where each actor's entry is in the data file (absent for files without offsets). */
  private readonly offsets = new Map<number, PartitionIndex>();
  /** Reactivations read from an offset, and those that fell back to parsing the partition. */
  readsByOffset = 0;
  readsByPartition = 0;
  private readonly written = { bytes: 0 };
  /** Bytes written to snapshot files since start. */
  get bytesWritten(): number {
    return this.written.bytes;
  }

  constructor(
    readonly dir: string,
    /** For a new shard; an existing one keeps the count its manifest records. */
    public partitions = 256,
    onWarn: (msg: string) => void = () => {},
    /** The journal this shard writes to, shared with others; by default its own, in `dir`. */
    journal?: { shared: Journal; shard: number },
  ) {
    this.journal = journal?.shared ?? new Journal(dir, [0], () => 0, onWarn);
    this.shard = journal?.shard ?? 0;
    this.snapDir = join(dir, 'snapshot');
    this.manifest = { replayFrom: 1, partitions };
  }

  async recover(onDirectory: (key: string, e: DirectoryEntry) => void, onRecord: (rec: JournalRecord) => void): Promise<ReplayStats> {
    const m = await readManifest(this.snapDir);
    if (m) {
      this.partitions = m.partitions;
      this.manifest = m;
    }
    const names = await readdir(this.snapDir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[]; // no snapshot yet
      throw err;
    });
    for (const name of names) {
      const p = directoryFilePartition(name);
      if (p === null) continue;
      const located: [string, ByteRange][] = [];
      for (const [k, e] of Object.entries(await readPartitionDirectory(this.snapDir, p))) {
        onDirectory(k, e);
        if (e.d) located.push([k, e.d]);
      }
      if (located.length > 0) this.offsets.set(p, indexOf(located));
    }
    return this.journal.join(this.shard, this.manifest.replayFrom, onRecord);
  }

  private async partitionData(p: number): Promise<PartitionData> {
    let d = this.dataCache.get(p);
    if (!d) {
      d = await readPartitionData(this.snapDir, p);
      this.dataCache.set(p, d);
    }
    return d;
  }

  async loadActor(key: string): Promise<SnapshotEntry | undefined> {
    const p = partitionOf(key, this.partitions);
    const index = this.offsets.get(p);
    const range = index && lookup(index, key);
    if (range) {
      const entry = await readEntryAt(partitionFile(this.snapDir, p, 'data'), key, range);
      if (entry !== null) {
        this.readsByOffset++;
        return entry;
      }
    }
    // No offset (an entry of 16 MiB or more, a file written without offsets), or the file
    // changed under the read.
    this.readsByPartition++;
    const e = (await this.partitionData(p))[key];
    return e && structuredClone(e);
  }

  async readTail(key: string): Promise<JournalRecord[]> {
    const out: JournalRecord[] = [];
    await this.journal.scan(this.shard, this.manifest.replayFrom, (r) => {
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
    const dir = await readPartitionDirectory(this.snapDir, p);
    for (const [k, c] of changes) {
      if (c === null) {
        delete data[k];
        delete dir[k];
      } else {
        data[k] = c.data;
        dir[k] = c.dir;
      }
    }
    const located = await writePartitionFiles(this.snapDir, p, data, dir, this.written);
    this.dataCache.set(p, data);
    this.offsets.set(p, indexOf(located));
  }

  async commitSnapshot(rotationPoint: number): Promise<void> {
    // Every partition's rename durable before the commit point names them.
    await fsyncPath(this.snapDir);
    this.manifest = { replayFrom: rotationPoint, partitions: this.partitions };
    await writeManifest(this.snapDir, this.manifest);
    await this.journal.covered(this.shard, rotationPoint);
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
