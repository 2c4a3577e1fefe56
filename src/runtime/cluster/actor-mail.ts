import type { NatsConnection } from '@nats-io/transport-node';
import type { Envelope } from '../kernel/envelope.js';
import type { JournalHost } from './journal-host.js';
import { nodeSubject } from './names.js';
import { decode, encode, type NodeAnswer, type RoutedEnvelope } from './node-messages.js';
import type { OwnerRecord } from './owner-records.js';

/** What routing actor messages needs of its node. */
export interface ActorMailHost {
  readonly nc: NatsConnection;
  readonly cluster: string;
  readonly node: string;
  readonly hosts: ReadonlyMap<number, JournalHost>;
  /** Who owns each journal, as its owner last recorded (a hint: owner-routes.ts). */
  readonly routes: { get(journal: number): OwnerRecord | undefined };
  journalOfKey(key: string): number;
  /** Whether `host`'s shards may be served here now (read-guard.ts). */
  serves(host: JournalHost | undefined): host is JournalHost;
}

/** One request to another node waits at most this long for the node to say it took the batch. */
const SEND_TIMEOUT_MS = 4000;
/** Messages that found no owner are routed again after this. */
const PARK_RETRY_MS = 200;

/**
 * Messages between actors whose journals are on different nodes (or on none at the moment).
 * Released by a journal's group commit (so only once durable), each goes to the receiver's
 * journal: in this process when this node serves it, else batched per destination node per
 * event-loop turn into one NATS request, each message naming the sender's journal and epoch.
 * The receiver (`receive`) refuses a sender of an epoch older than the owner it knows of (a
 * stale owner) and answers `moved` for journals it does not serve; the sender parks those and
 * routes them again while it still owns the sending journal.
 *
 * Nothing is kept beyond that: outboxes are the durable record of what is owed, and when a
 * journal's owner changes every node re-sends its unanswered requests to it (cluster-runtime.ts).
 */
export class ActorMail {
  private readonly outbound = new Map<string, RoutedEnvelope[]>();
  private sendScheduled = false;
  private parked: { env: Envelope; from: JournalHost }[] = [];
  private parkTimer: NodeJS.Timeout | null = null;

  constructor(private readonly node: ActorMailHost) {}

  /** An actor message from one of this node's journals to wherever its receiver is served. */
  route(env: Envelope, from: JournalHost): void {
    if (from.dropped) return; // a stale owner sends nothing; the next owner re-sends its outboxes
    const { node } = this;
    const j = node.journalOfKey(env.to);
    const local = node.hosts.get(j);
    if (node.serves(local)) return local.deliver(env);
    const owner = node.routes.get(j)?.node;
    if (!owner || owner === node.node) return this.park(env, from);
    let q = this.outbound.get(owner);
    if (!q) this.outbound.set(owner, (q = []));
    q.push({ env, j: from.journalNo, e: from.epoch });
    if (!this.sendScheduled) {
      this.sendScheduled = true;
      setImmediate(() => this.send());
    }
  }

  /**
   * A batch from another node: each message delivered to the shard serving it here, or refused
   * (`m`: not served here, send again; `s`: the sender's epoch is stale, dropped). Indexed as sent.
   */
  receive(batch: RoutedEnvelope[]): Record<number, 'm' | 's'> {
    const refused: Record<number, 'm' | 's'> = {};
    batch.forEach((item, i) => {
      const known = this.node.routes.get(item.j)?.epoch ?? 0;
      if (item.e < known) return void (refused[i] = 's');
      const host = this.node.hosts.get(this.node.journalOfKey(item.env.to));
      if (this.node.serves(host)) host.deliver(item.env);
      else refused[i] = 'm';
    });
    return refused;
  }

  stop(): void {
    if (this.parkTimer) clearTimeout(this.parkTimer);
    this.parkTimer = null;
    this.parked = [];
  }

  /** No owner known for the receiver: try again shortly (its take is under way). */
  private park(env: Envelope, from: JournalHost): void {
    this.parked.push({ env, from });
    if (this.parkTimer) return;
    this.parkTimer = setTimeout(() => {
      this.parkTimer = null;
      const again = this.parked;
      this.parked = [];
      for (const p of again) this.route(p.env, p.from);
    }, PARK_RETRY_MS);
    this.parkTimer.unref?.();
  }

  /** One request per node per event-loop turn, carrying every message for it. */
  private send(): void {
    this.sendScheduled = false;
    for (const [to, batch] of this.outbound) {
      this.outbound.delete(to);
      void this.node.nc.request(nodeSubject(this.node.cluster, to), encode({ k: 'env', batch }), { timeout: SEND_TIMEOUT_MS }).then(
        (m) => {
          const a = decode<NodeAnswer>(m.data);
          const refused = 'refused' in a ? a.refused : {};
          batch.forEach((item, i) => {
            if (refused[i] === 'm') this.reroute(item);
          });
        },
        () => batch.forEach((item) => this.reroute(item)),
      );
    }
  }

  /** Sent again only while this node still owns the sending journal in the same epoch. */
  private reroute(item: RoutedEnvelope): void {
    const from = this.node.hosts.get(item.j);
    if (from && from.epoch === item.e) this.park(item.env, from);
  }
}
