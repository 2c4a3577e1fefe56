import { type KV, Kvm } from '@nats-io/kv';
import { StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createBucket } from './bucket-create.js';
import { bucketKeys } from './kv-keys.js';
import { ownersBucket } from './names.js';

/** Who took a journal, as its owner reported after its fence landed. */
export interface OwnerRecord {
  node: string;
  /** The epoch of the owner's fence. */
  epoch: number;
  /** When the owner took it (ms since the epoch, the owner's clock). */
  since: number;
  /** The stream sequence of the owner's fence. */
  sequence: number;
}

/**
 * Ownership records for operators (`ordo cluster status`): KV bucket `<cluster>_owners`, key
 * `journal-<n>`, written by a node after its `acquire()` of journal n and removed on release.
 *
 * Informational only. Nothing reads them to decide anything: a record can be stale (its node
 * died, or lost the journal without knowing yet) and two nodes can race to write one. What owns a
 * journal is the newest fence in its stream; the record only says who said so last.
 */
export class OwnerRecords {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    readonly bucket: string,
  ) {}

  static async open(nc: NatsConnection, cluster: string, replicas = 1): Promise<OwnerRecords> {
    const bucket = ownersBucket(cluster);
    const kv = await createBucket(() => new Kvm(nc).create(bucket, { history: 1, storage: StorageType.File, replicas }));
    return new OwnerRecords(nc, kv, bucket);
  }

  static key(journal: number): string {
    return `journal-${journal}`;
  }

  /**
   * Records that `r.node` took `journal` (call after the fence landed). A record of a newer epoch
   * is kept: a slow owner that was fenced right after its acquire must not overwrite its
   * successor's record, and a record of the same epoch is this one already. Returns whether this
   * one was written, and what it found there (null: no record).
   */
  async put(journal: number, r: OwnerRecord): Promise<{ written: boolean; was: OwnerRecord | null }> {
    const key = OwnerRecords.key(journal);
    let current: OwnerRecord | null = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      const e = await this.kv.get(key);
      current = e && e.operation === 'PUT' ? e.json<OwnerRecord>() : null;
      if (current && current.epoch >= r.epoch) return { written: false, was: current };
      try {
        if (e) await this.kv.update(key, JSON.stringify(r), e.revision);
        else await this.kv.create(key, JSON.stringify(r));
        return { written: true, was: current };
      } catch {
        // Another write came in between: look again.
      }
    }
    return { written: false, was: current };
  }

  async get(journal: number): Promise<OwnerRecord | null> {
    const e = await this.kv.get(OwnerRecords.key(journal));
    if (!e || e.operation !== 'PUT') return null;
    return e.json<OwnerRecord>();
  }

  /** Every record, by journal number. */
  async list(): Promise<Map<number, OwnerRecord>> {
    const out = new Map<number, OwnerRecord>();
    for (const k of await bucketKeys(this.nc, this.bucket)) {
      const n = /^journal-(\d+)$/.exec(k);
      if (!n) continue;
      const r = await this.get(Number(n[1]));
      if (r) out.set(Number(n[1]), r);
    }
    return new Map([...out].sort((a, b) => a[0] - b[0]));
  }

  /**
   * Calls `onRecord` with every record now and with every change after (`null`: removed), until
   * the returned stop is called. Nodes route to the owner a record names (cluster-runtime.ts):
   * a hint only, since a node that is not the owner refuses and the sender looks again.
   */
  async watch(onRecord: (journal: number, r: OwnerRecord | null) => void): Promise<() => void> {
    const it = await this.kv.watch();
    void (async () => {
      for await (const e of it) {
        const n = /^journal-(\d+)$/.exec(e.key);
        if (!n) continue;
        onRecord(Number(n[1]), e.operation === 'PUT' ? e.json<OwnerRecord>() : null);
      }
    })().catch(() => {});
    return () => it.stop();
  }

  /**
   * Removes `journal`'s record if it is still `node`'s at `epoch` (a release). Checked by revision
   * so a release does not erase the next owner's record in the usual case; the check is best-effort
   * (it is KV compare-and-set), which is all an informational record needs.
   */
  async clear(journal: number, node: string, epoch: number): Promise<boolean> {
    const e = await this.kv.get(OwnerRecords.key(journal));
    if (!e || e.operation !== 'PUT') return false;
    const r = e.json<OwnerRecord>();
    if (r.node !== node || r.epoch !== epoch) return false;
    try {
      await this.kv.delete(OwnerRecords.key(journal), { previousSeq: e.revision });
      return true;
    } catch {
      return false;
    }
  }
}
