import type { JournalRecord, ReplayStats } from '../journal/record.js';
import type { DirectoryEntry, ShardStore, SnapshotChange, SnapshotEntry } from '../storage/shard-store.js';
import { JournalStreamError } from './errors.js';
import type { JetStreamJournal } from './jetstream-journal.js';
import { JetStreamSnapshotStore } from './snapshot-store.js';

export interface JetStreamShardStoreOptions {
  /** The journal (acquired: this node's epoch is set) the shard's records go to. */
  journal: JetStreamJournal;
  journalNo: number;
  shard: number;
  snapshots: JetStreamSnapshotStore;
  /** The shard of an actor key: a journal's stream holds the records of every shard of the journal. */
  shardOf(key: string): number;
  /**
   * A snapshot of this shard covering `covers` was stored: the journal host trims the stream
   * behind what every shard of the journal covers.
   */
  onCovered(shard: number, covers: number): Promise<void>;
}

/** One snapshot blob: the whole shard, every actor with durable state. */
interface ShardBlob {
  v: 1;
  shard: number;
  /** [key, snapshot entry, directory entry] */
  actors: [string, SnapshotEntry, DirectoryEntry][];
}

/**
 * The `ShardStore` of a shard in a cluster: its records go to its journal's JetStream stream
 * (through the group commit, as `JetStreamJournal` is the group's `JournalSink`), its snapshot is
 * one blob of the whole shard in the object store, named by the epoch of the node that wrote it
 * and by the stream sequence it covers.
 *
 * A whole-shard blob instead of the single-node store's runs: a cluster node keeps the snapshot
 * of its shards in memory (`actors`, as serialised entries) and writes all of it each round.
 * Simple and atomic (the object store replaces an object whole); its cost grows with the shard,
 * which is the known limit of this first cluster store (docs/ARCHITECTURE.md).
 *
 * Why epochs in the name: a node fenced out of the journal may still be finishing a snapshot
 * round. Writing under its own epoch's name, it cannot replace the snapshot of its successor
 * (a newer epoch, which a reader prefers); what it writes is only ever older state that is also
 * durable (a round writes only once its state is durable), so it is harmless if read.
 */
export class JetStreamShardStore implements ShardStore {
  /** Partitions only group the snapshotter's work: one blob holds them all. */
  readonly partitions = 16;
  private readonly actors = new Map<string, { data: string; dir: DirectoryEntry }>();
  /** The stream sequence the shard's snapshot covers (0: none yet, replay from the start). */
  covers = 0;
  /** Bytes of snapshot blobs written (for /metrics). */
  bytesWritten = 0;
  private olderDeleted = false;

  constructor(readonly opts: JetStreamShardStoreOptions) {}

  private get name(): string {
    return JetStreamSnapshotStore.epochKey(this.opts.journalNo, this.opts.shard, this.opts.journal.epoch);
  }

  async recover(onDirectory: (key: string, entry: DirectoryEntry) => void, onRecord: (rec: JournalRecord) => void): Promise<ReplayStats> {
    const { journal, journalNo, shard, snapshots, shardOf } = this.opts;
    if (journal.epoch === 0) throw new JournalStreamError(`shard ${shard}: recover before the journal was acquired`);
    const found = await snapshots.latest(journalNo, shard, journal.epoch);
    if (found) {
      const blob = JSON.parse(Buffer.from(found.data).toString('utf8')) as ShardBlob;
      if (blob.v !== 1 || blob.shard !== shard) throw new JournalStreamError(`snapshot ${found.name} is not shard ${shard}'s`);
      for (const [key, data, dir] of blob.actors) {
        this.actors.set(key, { data: JSON.stringify(data), dir });
        onDirectory(key, dir);
      }
      this.covers = found.covers;
    }
    const stats = await journal.replay(
      this.covers + 1,
      (rec) => {
        if (shardOf(rec.k) === shard) onRecord(rec);
      },
      { complete: true },
    );
    return { records: stats.records, bytes: stats.bytes, truncated: 0 };
  }

  async loadActor(key: string): Promise<SnapshotEntry | undefined> {
    const e = this.actors.get(key);
    return e && (JSON.parse(e.data) as SnapshotEntry);
  }

  async readTail(key: string): Promise<JournalRecord[]> {
    const out: JournalRecord[] = [];
    await this.opts.journal.replay(this.covers + 1, (rec) => {
      if (rec.k === key) out.push(rec);
    });
    return out;
  }

  /**
   * Called inside the group commit's `exclusive` (no append in flight): every record of this
   * shard acknowledged so far is at or before the journal's last sequence, which the snapshot covers.
   */
  async beginSnapshot(): Promise<number> {
    return this.opts.journal.lastSequence;
  }

  async writePartition(_partition: number, changes: Map<string, SnapshotChange | null>): Promise<void> {
    for (const [key, c] of changes) {
      if (c === null) this.actors.delete(key);
      else this.actors.set(key, { data: c.json, dir: c.dir });
    }
  }

  async commitSnapshot(rotationPoint: number): Promise<void> {
    const { journal, journalNo, shard, snapshots } = this.opts;
    const parts: string[] = [];
    for (const [key, e] of this.actors) parts.push(`[${JSON.stringify(key)},${e.data},${JSON.stringify(e.dir)}]`);
    const body = Buffer.from(`{"v":1,"shard":${shard},"actors":[${parts.join(',')}]}`);
    await snapshots.put(this.name, body, rotationPoint, journal);
    this.bytesWritten += body.length;
    this.covers = rotationPoint;
    // Older epochs' snapshots are superseded by this one: removed once per epoch.
    if (!this.olderDeleted) {
      this.olderDeleted = true;
      for (const e of await snapshots.epochsOf(journalNo, shard)) {
        if (e < journal.epoch) await snapshots.delete(JetStreamSnapshotStore.epochKey(journalNo, shard, e)).catch(() => {});
      }
    }
    await this.opts.onCovered(shard, rotationPoint);
  }

  async close(): Promise<void> {}
}
