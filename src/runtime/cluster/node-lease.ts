import { type KV, Kvm } from '@nats-io/kv';
import { StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createBucket } from './bucket-create.js';
import { bucketKeys } from './kv-keys.js';
import { nodesBucket } from './names.js';

/** What a node announces about itself. */
export interface NodeInfo {
  node: string;
  /** Its gateway's URL, where clients (and later other nodes) reach it. */
  url: string;
  /** When this run of the node started (ms since the epoch, its own clock). */
  startedAt: number;
}

/** A live node as read from the bucket. */
export interface Member extends NodeInfo {
  /** Since its last renewal, by this node's clock against the server's timestamp (for display). */
  ageMs: number;
}

export interface NodeLeaseOptions {
  nc: NatsConnection;
  cluster: string;
  node: string;
  url: string;
  /**
   * How long a lease lives unrenewed when this call creates the bucket (a bucket that exists keeps
   * its own: 2.9 has only a bucket-wide max age, no per-key TTL). The server refuses under 100 ms.
   */
  ttlMs?: number;
  /** How often the lease is renewed (default a third of the bucket's TTL). */
  renewMs?: number;
  replicas?: number;
  onWarn?: (msg: string) => void;
}

export const DEFAULT_LEASE_TTL_MS = 5000;

/**
 * A node's lease in the KV bucket `<cluster>_nodes`: one key per node, its value {node, url,
 * startedAt}, renewed well inside the bucket's max age; the server drops a key not renewed within
 * it (measured on 2.9.10: ~1 ms late with a 1 s age). On `stop` the key is deleted, so the others
 * see the node gone at their next read rather than after the TTL.
 *
 * Liveness and discovery only, never safety: KV compare-and-set let two writers win on a
 * 2.9.10 cluster (nats-server#4320); the journals' fences are what keep two owners apart.
 * And a KV watch sends nothing when a key expires by age, so `members()` reads the bucket.
 */
export class NodeLease {
  readonly node: string;
  readonly info: NodeInfo;
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> = Promise.resolve();
  private lastAck: number;
  private stopped = false;
  private suspended = false;
  /** Renewals that failed (the key may still be there; it lapses only after the TTL). */
  failures = 0;

  private constructor(
    private readonly kv: KV,
    private readonly key: string,
    /** The bucket's max age: what the others wait before a silent node's key is gone. */
    readonly ttlMs: number,
    readonly renewMs: number,
    private readonly opts: NodeLeaseOptions,
  ) {
    this.node = opts.node;
    this.info = { node: opts.node, url: opts.url, startedAt: Date.now() };
    this.lastAck = 0;
  }

  /** Opens (or creates) the bucket, announces the node and starts renewing. */
  static async open(opts: NodeLeaseOptions): Promise<NodeLease> {
    const kv = await createBucket(() =>
      new Kvm(opts.nc).create(nodesBucket(opts.cluster), {
        ttl: opts.ttlMs ?? DEFAULT_LEASE_TTL_MS,
        history: 1,
        storage: StorageType.File,
        replicas: opts.replicas ?? 1,
      }),
    );
    const ttlMs = (await kv.status()).ttl;
    if (!(ttlMs > 0)) throw new RangeError(`bucket ${nodesBucket(opts.cluster)} has no max age: its leases would never lapse`);
    const renewMs = opts.renewMs ?? Math.max(20, Math.floor(ttlMs / 3));
    if (renewMs >= ttlMs) throw new RangeError(`a lease renewed every ${renewMs} ms lapses first (the bucket's TTL is ${ttlMs} ms)`);
    const lease = new NodeLease(kv, leaseKey(opts.node), ttlMs, renewMs, opts);
    // The first announcement must land: a node that cannot write its lease is not in the cluster.
    // A bucket several nodes just created at once can answer "no responders" for a moment (seen
    // here on 2.9.10 as "jetstream is not enabled"): retried for a bounded time.
    const deadline = Date.now() + Math.max(2000, ttlMs);
    for (let attempt = 0; ; attempt++) {
      const sentAt = Date.now();
      try {
        await kv.put(lease.key, JSON.stringify(lease.info));
        lease.lastAck = sentAt;
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** attempt, 250)));
      }
    }
    lease.schedule();
    return lease;
  }

  /**
   * The nodes whose lease is there now (this one included once announced), by name. Expired keys
   * are gone from the bucket; a key that lapses between the listing and its read is left out.
   */
  async members(): Promise<Member[]> {
    const keys = await bucketKeys(this.opts.nc, nodesBucket(this.opts.cluster));
    const now = Date.now();
    const entries = await Promise.all(keys.map((k) => this.kv.get(k)));
    const out: Member[] = [];
    for (const e of entries) {
      if (!e || e.operation !== 'PUT') continue;
      let v: Partial<NodeInfo>;
      try {
        v = e.json<Partial<NodeInfo>>();
      } catch {
        continue;
      }
      if (typeof v.node !== 'string' || leaseKey(v.node) !== e.key) continue;
      out.push({ node: v.node, url: String(v.url ?? ''), startedAt: Number(v.startedAt ?? 0), ageMs: Math.max(0, now - e.created.getTime()) });
    }
    return out.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  /**
   * True once no renewal has been acknowledged for the TTL: the others may already have seen the
   * key expire and taken this node's journals, so it must not count itself as a member.
   */
  get lapsed(): boolean {
    return this.stopped || Date.now() - this.lastAck >= this.ttlMs;
  }

  /**
   * Stops renewing without deleting the key: what a frozen process looks like to the others (the
   * key lapses after the TTL). For tests and for a node that knows it is stalling.
   */
  suspend(): void {
    this.suspended = true;
  }

  resume(): void {
    if (this.stopped || !this.suspended) return;
    this.suspended = false;
    void this.renew();
  }

  /** Stops renewing and deletes the key (the hand-over of a clean stop). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.renewing;
    await this.kv.delete(this.key).catch((err: Error) => this.opts.onWarn?.(`could not delete the lease of ${this.node}: ${err.message}`));
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.renew().finally(() => this.schedule());
    }, this.renewMs);
    this.timer.unref?.();
  }

  private renew(): Promise<void> {
    if (this.stopped || this.suspended) return this.renewing;
    const sentAt = Date.now();
    this.renewing = this.renewing
      .then(() => this.kv.put(this.key, JSON.stringify(this.info), { timeout: Math.max(100, this.renewMs) }))
      .then(
        () => {
          // Counted from when the put was sent: the server's clock started no earlier.
          this.lastAck = Math.max(this.lastAck, sentAt);
        },
        (err: Error) => {
          this.failures++;
          this.opts.onWarn?.(`could not renew the lease of ${this.node}: ${err.message}`);
        },
      );
    return this.renewing;
  }
}

/**
 * The key of a node's lease. KV keys allow only letters, digits and `-_=./`, and node names are
 * free text (`host:port` by default), so the name is base64url-encoded; the value holds it plainly.
 */
export function leaseKey(node: string): string {
  return `n_${Buffer.from(node, 'utf8').toString('base64url')}`;
}
