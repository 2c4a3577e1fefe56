import { type ObjectStore, Objm, StorageType } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { createBucket } from './bucket-create.js';
import { JournalStreamError } from './errors.js';
import type { JetStreamJournal } from './jetstream-journal.js';
import { snapshotBucket } from './names.js';

/** A snapshot blob and what it covers: every record of its journal's stream up to `covers`. */
export interface StoredSnapshot {
  data: Uint8Array;
  /** The last stream sequence whose records the snapshot holds. */
  covers: number;
  /** The epoch and node that wrote it. */
  epoch: number;
  writer: string;
}

const META_COVERS = 'ordo-covers';
const META_EPOCH = 'ordo-epoch';
const META_WRITER = 'ordo-writer';

/**
 * Snapshot blobs in the JetStream object store (bucket `<cluster>_snapshots`), one object per
 * name (a shard of a journal: `journal-<n>/shard-<s>`), each naming the stream sequence it
 * covers. The object store replaces an object whole: a reader sees the old blob or the new one.
 * Once every shard of a journal has a snapshot, `trimCovered` purges what all of them cover.
 *
 * The blob's format is the caller's (`JetStreamShardStore` writes a whole shard per blob).
 * A node that lost its journal between the check in `put` and the write can still write a
 * snapshot: shards' snapshots are therefore named by epoch (`epochKey`) and a reader takes the
 * newest epoch (`latest`), so a stale owner's late write never hides its successor's.
 */
export class JetStreamSnapshotStore {
  private constructor(
    private readonly os: ObjectStore,
    readonly bucket: string,
  ) {}

  static async open(nc: NatsConnection, cluster: string, replicas = 1): Promise<JetStreamSnapshotStore> {
    const bucket = snapshotBucket(cluster);
    const os = await createBucket(() => new Objm(nc).create(bucket, { storage: StorageType.File, replicas }));
    return new JetStreamSnapshotStore(os, bucket);
  }

  static key(journal: number, shard: number): string {
    return `journal-${journal}/shard-${shard}`;
  }

  /** A shard's snapshot written in `epoch`: `journal-<n>/shard-<s>/epoch-<e>`. */
  static epochKey(journal: number, shard: number, epoch: number): string {
    return `${JetStreamSnapshotStore.key(journal, shard)}/epoch-${epoch}`;
  }

  /** The epochs of a shard's snapshots in the bucket, ascending (deleted objects left out). */
  async epochsOf(journal: number, shard: number): Promise<number[]> {
    const prefix = `${JetStreamSnapshotStore.key(journal, shard)}/epoch-`;
    const out: number[] = [];
    for (const info of await this.os.list()) {
      if (info.deleted || !info.name.startsWith(prefix)) continue;
      const e = Number(info.name.slice(prefix.length));
      if (Number.isSafeInteger(e)) out.push(e);
    }
    return out.sort((a, b) => a - b);
  }

  /**
   * A shard's snapshot of the newest epoch below `before` (the reader's own epoch: a snapshot of
   * a newer one would mean the reader is already fenced), or null when it has none.
   */
  async latest(journal: number, shard: number, before: number): Promise<(StoredSnapshot & { name: string }) | null> {
    const epochs = (await this.epochsOf(journal, shard)).filter((e) => e < before);
    for (let i = epochs.length - 1; i >= 0; i--) {
      const name = JetStreamSnapshotStore.epochKey(journal, shard, epochs[i]!);
      const got = await this.get(name);
      if (got) return { name, ...got };
    }
    return null;
  }

  /** Stores (replaces) the snapshot `name`, written by `journal`'s owner; refused once the journal is lost. */
  async put(name: string, data: Uint8Array, covers: number, journal: JetStreamJournal): Promise<void> {
    if (journal.failed) throw journal.failed;
    if (!Number.isSafeInteger(covers) || covers < 0) throw new RangeError(`a snapshot covers a stream sequence, not ${covers}`);
    await this.os.putBlob(
      { name, metadata: { [META_COVERS]: String(covers), [META_EPOCH]: String(journal.epoch), [META_WRITER]: journal.writer } },
      data,
    );
  }

  async get(name: string): Promise<StoredSnapshot | null> {
    const info = await this.os.info(name);
    if (!info || info.deleted) return null;
    const data = await this.os.getBlob(name);
    if (!data) return null;
    return { data, ...this.metaOf(name, info.metadata) };
  }

  /** The sequence snapshot `name` covers, without reading it; `null` if there is none. */
  async covers(name: string): Promise<number | null> {
    const info = await this.os.info(name);
    if (!info || info.deleted) return null;
    return this.metaOf(name, info.metadata).covers;
  }

  private metaOf(name: string, meta: Record<string, string> | undefined): Omit<StoredSnapshot, 'data'> {
    const covers = Number(meta?.[META_COVERS]);
    if (!Number.isSafeInteger(covers)) throw new JournalStreamError(`snapshot ${name} in ${this.bucket} names no covered sequence`);
    return { covers, epoch: Number(meta?.[META_EPOCH] ?? 0), writer: meta?.[META_WRITER] ?? '' };
  }

  /**
   * Purges from `journal`'s stream what the snapshots `names` (every shard writing to it) all
   * cover; nothing while any of them has no snapshot. Returns the messages purged.
   */
  async trimCovered(journal: JetStreamJournal, names: readonly string[]): Promise<number> {
    let covered = Infinity;
    for (const n of names) {
      const c = await this.covers(n);
      if (c === null) return 0;
      covered = Math.min(covered, c);
    }
    return names.length === 0 ? 0 : journal.trim(covered);
  }

  async delete(name: string): Promise<void> {
    await this.os.delete(name);
  }
}
