import { type ObjectResult, type ObjectStore, Objm, StorageType } from '@nats-io/obj';
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
  /** How often a read in progress looks whether its object is still the one named (`get`). */
  recheckMs = 250;

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

  /**
   * The snapshot `name` now, or null. The object may be replaced or deleted while it is read (a
   * previous owner finishing its hand-over, or a successor deleting older epochs): the object
   * store then purges the chunks being read, and its reader waits for them forever. So the object
   * is looked at again while a read lasts; once it names other chunks (or none), the read is
   * abandoned and the object read anew. Data and metadata come from the same version.
   */
  async get(name: string): Promise<StoredSnapshot | null> {
    for (;;) {
      const r = await this.os.get(name);
      if (!r) return null;
      const data = await this.readWhileCurrent(name, r);
      if (data) return { data, ...this.metaOf(name, r.info.metadata) };
    }
  }

  /** Reads `r` whole; null when its object was replaced or deleted meanwhile (its chunks purged). */
  private async readWhileCurrent(name: string, r: ObjectResult): Promise<Uint8Array | null> {
    const reader = r.data.getReader();
    const parts: Uint8Array[] = [];
    let size = 0;
    const reading = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        if (value?.length) {
          parts.push(value);
          size += value.length;
        }
      }
    })();
    // Settles once the reader stops: null after it ended well, the error after a failure.
    const ended = Promise.all([reading, r.error]).then(([, err]) => err, (err: unknown) => err);
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([ended.then(() => true), new Promise<false>((res) => (timer = setTimeout(() => res(false), this.recheckMs)))]);
      clearTimeout(timer);
      if (done) break;
      const now = await this.os.info(name);
      if (!now || now.deleted || now.nuid !== r.info.nuid) {
        // Stops the consumer; `ended` settles whenever it does (its outcome is handled there).
        await reader.cancel().catch(() => {});
        return null;
      }
    }
    const err = await ended;
    if (err) throw err;
    return Buffer.concat(parts, size);
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
