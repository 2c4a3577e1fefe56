import { mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { Low } from 'lowdb';
import { DataFile } from 'lowdb/node';
import type { JournalRecord, ReplayStats } from '../journal/record.js';
import { fsyncPath } from '../journal/fsync.js';
import { Journal } from '../journal/journal.js';
import { type DirectoryEntry, partitionOf, type ShardStore, type SnapshotEntry } from './shard-store.js';

interface Manifest {
  /** First journal segment not covered by the snapshots: recovery replays from here. */
  replayFrom: number;
  partitions: number;
}

type PartitionData = Record<string, SnapshotEntry>;
/** A directory entry on disk also says where the actor's entry sits in the data file: [start, length] in bytes. */
type PartitionDirectory = Record<string, DirectoryEntry & { d?: [number, number] }>;

const compact = { parse: JSON.parse, stringify: (v: unknown) => JSON.stringify(v) };

/**
 * Where each actor's entry sits in its partition's data file, so a reactivation reads a few
 * hundred bytes instead of parsing the whole partition: keys sorted, with `start * 2^24 + length`
 * packed in one float each (16 bytes per actor; built at start, the key strings are the
 * directory's own; rebuilt by a snapshot, they are the partition file's copies).
 */
interface PartitionIndex {
  keys: string[];
  at: Float64Array;
}

const LENGTH_BITS = 2 ** 24;

function indexOf(all: [string, [number, number]][]): PartitionIndex {
  // An entry of 16 MiB or more does not fit the packing: it is read by parsing its partition.
  const entries = all.filter(([, [, length]]) => length < LENGTH_BITS);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const at = new Float64Array(entries.length);
  entries.forEach(([, [start, length]], i) => (at[i] = start * LENGTH_BITS + length));
  return { keys: entries.map(([k]) => k), at };
}

function lookup(index: PartitionIndex, key: string): [number, number] | undefined {
  let lo = 0;
  let hi = index.keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const k = index.keys[mid]!;
    if (k === key) {
      const v = index.at[mid]!;
      return [Math.floor(v / LENGTH_BITS), v % LENGTH_BITS];
    }
    if (k < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/**
 * A partition's data as lowdb reads it (one JSON object), laid out one actor per line so each
 * entry's byte range is known: `{`, then `"key":{…},` per actor, then `}`.
 */
function layOut(data: PartitionData): { text: string; where: Map<string, [number, number]> } {
  const where = new Map<string, [number, number]>();
  const parts: string[] = ['{\n'];
  let pos = 2;
  const keys = Object.keys(data);
  keys.forEach((k, i) => {
    const entry = `${JSON.stringify(k)}:${JSON.stringify(data[k])}`;
    const length = Buffer.byteLength(entry);
    where.set(k, [pos, length]);
    const separator = i < keys.length - 1 ? ',\n' : '\n';
    parts.push(entry + separator);
    pos += length + separator.length;
  });
  parts.push('}');
  return { text: parts.join(''), where };
}

/**
 * From which journal segment on a shard's records are not in its snapshot (1: none are). An
 * unreadable manifest counts as absent, as in `recover`: replaying from an earlier point is
 * always safe (records set state absolutely).
 */
export async function replayPointOf(shardDir: string): Promise<number> {
  const db = new Low<Manifest | null>(new DataFile<Manifest | null>(join(shardDir, 'snapshot', 'manifest.json'), compact), null);
  await db.read().catch(() => {});
  const point = db.data?.replayFrom;
  return Number.isInteger(point) && point! >= 1 ? point! : 1;
}

/**
 * A shard's snapshots per partition, written with lowdb (temp file + atomic rename), then
 * fsync'ed, file and directory, and its records in a journal it may share with other shards of
 * its host thread. Each partition has two files: `pNNN.dir.json` (what recovery reads for every
 * actor: summary, timers, unanswered requests) and `pNNN.data.json` (the actors' state, read only
 * when an actor is reactivated). The manifest, written last, is the commit point: it says from
 * which journal segment on this shard's records are not in the snapshot.
 *
 * Layout: `<data>/shards/NNNN/snapshot/…`; the journal's segments are wherever `journal` keeps
 * them (`<data>/journals/NNNN/` for a shared one, `<data>/shards/NNNN/` for a shard's own).
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

  private file(partition: number, kind: 'data' | 'dir'): string {
    return join(this.snapDir, `p${String(partition).padStart(3, '0')}.${kind}.json`);
  }

  private async readJson<T>(path: string, fallback: T): Promise<T> {
    const db = new Low<T>(new DataFile<T>(path, compact), fallback);
    await db.read();
    return db.data;
  }

  private async writeJson<T>(path: string, data: T, text?: string): Promise<void> {
    const db = new Low<T>(new DataFile<T>(path, text === undefined ? compact : { parse: JSON.parse, stringify: () => text }), data);
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
      const located: [string, [number, number]][] = [];
      for (const [k, e] of Object.entries(dir)) {
        onDirectory(k, e);
        if (e.d) located.push([k, e.d]);
      }
      if (located.length > 0) this.offsets.set(Number(name.slice(1, name.indexOf('.'))), indexOf(located));
    }
    return this.journal.join(this.shard, this.manifest.replayFrom, onRecord);
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
    const p = partitionOf(key, this.partitions);
    const index = this.offsets.get(p);
    const range = index && lookup(index, key);
    if (range) {
      const entry = await this.readEntry(p, key, range);
      if (entry !== null) {
        this.readsByOffset++;
        return entry;
      }
    }
    // No offsets (a file from before they existed), or the file changed under the read.
    this.readsByPartition++;
    const e = (await this.partitionData(p))[key];
    return e && structuredClone(e);
  }

  /**
   * One actor's entry, read at its offset. The entry names its key, so a read that raced a
   * snapshot replacing the file (offsets of the old file, bytes of the new) is recognised and
   * answered `null`; a key found at the right place in either file is that file's current entry.
   */
  private async readEntry(p: number, key: string, [start, length]: [number, number]): Promise<SnapshotEntry | null> {
    const buf = Buffer.allocUnsafe(length);
    let fh;
    try {
      fh = await open(this.file(p, 'data'), 'r');
      const { bytesRead } = await fh.read(buf, 0, length, start);
      if (bytesRead !== length) return null;
    } catch {
      return null;
    } finally {
      await fh?.close();
    }
    try {
      const parsed = JSON.parse(`{${buf.toString('utf8')}}`) as PartitionData;
      const keys = Object.keys(parsed);
      return keys.length === 1 && keys[0] === key ? parsed[key]! : null;
    } catch {
      return null;
    }
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
    const { text, where } = layOut(data);
    const located: [string, [number, number]][] = [];
    for (const [k, range] of where) {
      const e = dir[k];
      if (!e) continue;
      e.d = range;
      located.push([k, range]);
    }
    await this.writeJson(this.file(p, 'data'), data, text);
    await this.writeJson(this.file(p, 'dir'), dir);
    this.dataCache.set(p, data);
    this.offsets.set(p, indexOf(located));
  }

  async commitSnapshot(rotationPoint: number): Promise<void> {
    await fsyncPath(this.snapDir);
    this.manifest = { replayFrom: rotationPoint, partitions: this.partitions };
    await this.writeJson(join(this.snapDir, 'manifest.json'), this.manifest);
    await fsyncPath(this.snapDir);
    await this.journal.covered(this.shard, rotationPoint);
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
