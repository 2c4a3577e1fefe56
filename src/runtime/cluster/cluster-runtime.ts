import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { CommandRuntime } from '../../gateway/command-runtime.js';
import type { HostStats } from '../../gateway/metrics.js';
import type { Logger } from '../../logger.js';
import type { Command } from '../../protocol/commands.js';
import type { ActorEvent, InternalCommand, Reply } from '../../protocol/messages.js';
import type { Order, Principal } from '../../protocol/model.js';
import { systemClock } from '../kernel/clock.js';
import { isEnvelope, type Output } from '../kernel/envelope.js';
import type { OrderQuery } from '../query/order-query.js';
import { journalOf, shardOf } from '../placement.js';
import { DEFAULTS } from '../../defaults.js';
import { type ClusterLayout, openClusterLayout } from './cluster-layout.js';
import { ActorMail } from './actor-mail.js';
import { JournalLostError } from './errors.js';
import { JournalHost } from './journal-host.js';
import { ReadGuard } from './read-guard.js';
import { eventsSubject, nodeSubject } from './names.js';
import { connectNats } from './nats-connection.js';
import { CommandRouter, type RouterNode } from './command-router.js';
import type { RoutedEnvelope } from './node-messages.js';
import { NodeLease } from './node-lease.js';
import { OwnerRecordKeeper } from './owner-record-keeper.js';
import { type OwnerRecord, OwnerRecords } from './owner-records.js';
import { OwnerRoutes } from './owner-routes.js';
import { OwnershipLoop } from './ownership-loop.js';
import { JetStreamSnapshotStore } from './snapshot-store.js';

export interface ClusterRuntimeOptions {
  /** NATS server URLs (comma-separated in `--nats`). */
  servers: string[];
  cluster: string;
  /** The layout a new cluster gets (an existing one keeps its own). */
  layout: ClusterLayout;
  log: Logger;
  replicas?: number;
  leaseTtlMs?: number;
  pollMs?: number;
  /** How long a command waits for its shard to have an owner before `UNAVAILABLE` (10 s, PROTOCOL.md). */
  unavailableAfterMs?: number;
  snapshotBytes?: number;
  maxActiveActors?: number;
  mailboxSoftLimit?: number;
  mailboxHardLimit?: number;
}

/**
 * A node of a cluster, as the gateway sees it (`CommandRuntime`): it joins (layout, lease,
 * ownership loop), takes and releases journals as members come and go, and serves those it owns.
 * Every command is taken here and run where its shard's journal is owned: in this process when
 * it is this node's, else on the owner over NATS request/reply (command-router.ts). Which node
 * owns what comes from the owner records (a KV watch, owner-routes.ts): a hint, since the owner
 * refuses (`moved`) what is not its own and the sender looks again, for up to
 * `unavailableAfterMs` before answering `UNAVAILABLE`.
 *
 * The journals this node owns change at run time (`OwnershipLoop`): each is a `JournalHost`
 * (fence, snapshot + tail, its shards on this thread). Messages between actors on different
 * nodes: actor-mail.ts; when memory may answer at all: read-guard.ts. Events go to every node on
 * one subject.
 */
export class ClusterRuntime implements CommandRuntime, RouterNode {
  state: 'recovering' | 'ready' | 'stopping' | 'stopped' = 'recovering';
  readonly hosts = new Map<number, JournalHost>();
  /** Who owns each journal, as its owner last recorded (a hint for routing). */
  readonly routes = new OwnerRoutes();
  private readonly listeners: ((e: ActorEvent) => void)[] = [];
  private subs: Subscription[] = [];
  private readonly mail = new ActorMail(this);
  private guard!: ReadGuard;
  private stopWatch: (() => void) | null = null;
  private loop!: OwnershipLoop;
  private lease!: NodeLease;
  private records!: OwnerRecords;
  private keeper: OwnerRecordKeeper | null = null;
  private snapshots!: JetStreamSnapshotStore;
  layout!: ClusterLayout;
  private readonly router: CommandRouter;
  /** Journals taken, released and lost since start. */
  taken = 0;
  released = 0;
  lost = 0;

  /** Owner records of journals served here that were found missing or stale and written again. */
  get ownerRecordsRewritten(): number {
    return this.keeper?.rewritten ?? 0;
  }

  /** The cluster's name (prefix of its streams, buckets and subjects). */
  get cluster(): string {
    return this.opts.cluster;
  }

  /** This node's name, unique in the cluster (set by `start`). */
  node = '';

  private constructor(
    readonly nc: NatsConnection,
    private readonly opts: ClusterRuntimeOptions,
  ) {
    this.router = new CommandRouter(this, opts.unavailableAfterMs ?? 10_000);
  }

  /** Commands and listings answered UNAVAILABLE since start. */
  get unavailable(): number {
    return this.router.unavailable;
  }

  /** Connects to NATS; the node stays `recovering` (not joined) until `start`. */
  static async connect(opts: ClusterRuntimeOptions): Promise<ClusterRuntime> {
    const nc = await connectNats(opts.servers, (m) => opts.log.warn(m), 'ordo');
    return new ClusterRuntime(nc, opts);
  }

  /** Connects and joins: `node` is this node's name, `url` its gateway's (announced in its lease). */
  static async start(opts: ClusterRuntimeOptions & { node: string; url: string }): Promise<ClusterRuntime> {
    const rt = await ClusterRuntime.connect(opts);
    await rt.start(opts.node, opts.url);
    return rt;
  }

  /** Joins the cluster: reads (or writes) its layout, announces the lease and starts the ownership loop. */
  async start(node: string, url: string): Promise<void> {
    this.node = node;
    const { nc, opts } = this;
    const replicas = opts.replicas ?? 1;
    this.layout = await openClusterLayout(nc, opts.cluster, opts.layout, replicas, (m) => opts.log.warn(m));
    this.snapshots = await JetStreamSnapshotStore.open(nc, opts.cluster, replicas);
    this.records = await OwnerRecords.open(nc, opts.cluster, replicas);
    this.stopWatch = await this.records.watch((j, r) => this.onRoute(j, r));
    this.subs.push(nc.subscribe(nodeSubject(opts.cluster, node), { callback: (err, msg) => {
          if (!err) void this.router.serve(msg);
        },
      }));
    this.subs.push(
      nc.subscribe(eventsSubject(opts.cluster), {
        callback: (err, msg) => {
          if (err) return;
          const e = JSON.parse(Buffer.from(msg.data).toString('utf8')) as ActorEvent;
          for (const l of this.listeners) l(e);
        },
      }),
    );
    this.lease = await NodeLease.open({ nc, cluster: opts.cluster, node, url, ttlMs: opts.leaseTtlMs, replicas, onWarn: (m) => opts.log.warn(m) });
    this.loop = new OwnershipLoop({
      lease: this.lease,
      journals: this.layout.journals,
      pollMs: opts.pollMs,
      take: (j) => this.take(j),
      release: (j) => this.release(j),
      check: async (j) => (await this.hosts.get(j)?.journal.stillOwner()) ?? false,
      onError: (err, j) => opts.log.warn({ err, journal: j }, 'ownership: a take, release or read failed (retried at a later poll)'),
      onView: (view) => opts.log.info({ members: view }, `members: ${view.join(', ') || 'none'}`),
      onCooldown: (j, until) => opts.log.info({ journal: j }, `journal ${j} lost to another node: not taken back for ${until - Date.now()} ms`),
    });
    this.loop.start();
    this.keeper = new OwnerRecordKeeper({
      records: this.records,
      everyMs: Math.max(1000, 2 * (opts.pollMs ?? DEFAULTS.cluster.pollMs)),
      served: () => [...this.hosts.values()].filter((h) => h.serving && !h.dropped).map((h) => ({ journal: h.journalNo, record: this.ownerRecordOf(h) })),
      onRewritten: (j, was) => opts.log.warn({ journal: j, was }, `owner record of journal ${j} was ${was ? `${was.node}@${was.epoch}` : 'missing'}: written again`),
      onError: (err, j) => opts.log.debug({ err, journal: j }, 'owner record check failed (retried at the next round)'),
    });
    this.keeper.start();
    this.guard = new ReadGuard(() => this.hosts.values(), this.lease, (h) => this.onFailed(h), opts.log);
    this.guard.start();
    this.state = 'ready';
  }

  /** The journals this node serves now, ascending. */
  get owned(): number[] {
    return [...this.hosts.values()].filter((h) => h.serving).map((h) => h.journalNo).sort((a, b) => a - b);
  }

  get members(): string[] {
    return this.loop.view;
  }

  // ---- ownership ----

  private async take(j: number): Promise<void> {
    const { opts } = this;
    const started = performance.now();
    opts.log.info({ journal: j }, `taking journal ${j}`);
    const host = await JournalHost.take({
      nc: this.nc,
      cluster: opts.cluster,
      node: this.node,
      journalNo: j,
      shardCount: this.layout.shards,
      journalCount: this.layout.journals,
      snapshots: this.snapshots,
      replicas: opts.replicas,
      clock: systemClock,
      log: opts.log,
      snapshotBytes: opts.snapshotBytes ?? DEFAULTS.snapshotBytes,
      maxActiveActorsPerShard: Math.max(16, Math.ceil((opts.maxActiveActors ?? DEFAULTS.maxActiveActors) / this.layout.shards)),
      mailboxSoftLimit: opts.mailboxSoftLimit,
      mailboxHardLimit: opts.mailboxHardLimit,
      output: (h, outputs) => this.onOutputs(h, outputs),
      onFailed: (h) => this.onFailed(h),
    }).catch((err: unknown) => {
      // Fenced by another node while it was replayed: not taken back at once, as after a loss.
      if (err instanceof JournalLostError) this.loop.lost(j);
      throw err;
    });
    this.hosts.set(j, host);
    host.start();
    this.taken++;
    const r = this.ownerRecordOf(host);
    this.onRoute(j, r);
    await this.records.put(j, r).catch((err: unknown) => opts.log.warn({ err, journal: j }, 'owner record not written'));
    const s = host.recovery!;
    opts.log.info(
      { journal: j, epoch: host.epoch, actors: s.actors, records: s.records, timers: s.timers, ms: Math.round(performance.now() - started) },
      `took journal ${j} (epoch ${host.epoch}): ${s.actors} actors, ${s.records} records replayed, ${s.timers} timers`,
    );
  }

  /** The record that names this node as `host`'s owner (written at the take, kept by the keeper). */
  private ownerRecordOf(host: JournalHost): OwnerRecord {
    return { node: this.node, epoch: host.epoch, since: host.since, sequence: host.journal.fenceSequence };
  }

  private async release(j: number): Promise<void> {
    const host = this.hosts.get(j);
    if (!host) return;
    await host.release();
    if (this.hosts.get(j) === host) this.hosts.delete(j);
    this.router.moved(j);
    this.released++;
    await this.records.clear(j, this.node, host.epoch).catch(() => false);
    this.opts.log.info({ journal: j, epoch: host.epoch }, `released journal ${j}`);
  }

  /** The journal was fenced by another node, or cannot be written: its actors stop now. */
  private onFailed(host: JournalHost): void {
    const j = host.journalNo;
    host.drop();
    if (this.hosts.get(j) !== host) return;
    this.hosts.delete(j);
    this.lost++;
    this.router.moved(j);
    this.loop.lost(j);
  }

  private onRoute(j: number, r: OwnerRecord | null): void {
    if (!this.routes.update(j, r)) return;
    // A new owner of j may not have what was sent to the old one: every unanswered request to
    // j's actors goes again (receivers ignore repeats), once what caused it is durable.
    for (const host of this.hosts.values()) {
      if (!host.serving) continue;
      host.whenDurable(() => {
        if (!host.serving) return;
        const again = host.unansweredRequests((key) => journalOf(shardOf(key, this.layout.shards), this.layout.journals) === j);
        for (const env of again) this.mail.route(env, host);
      });
    }
  }

  /** Whether this node may serve `host`'s shards now (read-guard.ts). */
  serves(host: JournalHost | undefined): host is JournalHost {
    return this.guard.serves(host);
  }

  // ---- outputs and actor messages ----

  private onOutputs(host: JournalHost, outputs: Output[]): void {
    for (const o of outputs) {
      if (isEnvelope(o)) this.mail.route(o, host);
      else if (o.t === 'evt') this.nc.publish(eventsSubject(this.opts.cluster), JSON.stringify(o.event));
      else this.router.settle(host, o);
    }
  }

  journalOfKey(key: string): number {
    return journalOf(shardOf(key, this.layout.shards), this.layout.journals);
  }

  // ---- CommandRuntime ----

  get inFlight(): number {
    return this.router.inFlight;
  }

  onEvent(listener: (e: ActorEvent) => void): void {
    this.listeners.push(listener);
  }

  execute(key: string, command: Command | InternalCommand, principal: Principal, traceparent?: string): Promise<Reply> {
    return this.router.execute(key, command, principal, traceparent);
  }

  listOrders(q: OrderQuery): Promise<{ orders: Order[]; next: string | null }> {
    return this.router.listOrders(q);
  }

  inspect(key: string): Promise<unknown> {
    return this.router.inspect(key);
  }

  // ---- RouterNode ----

  fresh(): boolean {
    return this.guard.fresh();
  }

  receiveMail(batch: RoutedEnvelope[]): Record<number, 'm' | 's'> {
    return this.mail.receive(batch);
  }

  /** For `/healthz`: this node, its members, its journals (epoch, since, sequence, suspect), those moving, and where it routes each. */
  health(): Record<string, unknown> {
    return {
      node: this.node,
      cluster: this.opts.cluster,
      members: this.loop?.view ?? [],
      journals: this.layout?.journals,
      owned: [...this.hosts.values()]
        .filter((h) => h.serving)
        .sort((a, b) => a.journalNo - b.journalNo)
        .map((h) => ({ journal: h.journalNo, epoch: h.epoch, since: h.since, sequence: h.journal.lastSequence, suspect: h.suspect })),
      moving: this.loop?.moving ?? [],
      routes: this.routes.view(this.layout?.journals ?? 0),
    };
  }

  async stats(): Promise<HostStats[]> {
    return [...this.hosts.values()].filter((h) => h.serving).map((h) => h.stats());
  }

  /** The SIGTERM hand-over: every journal released (drained, snapshotted), the lease deleted, then the connection closed. */
  async stop(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    await this.keeper?.stop();
    await this.loop.stop();
    this.stopWatch?.();
    this.guard?.stop();
    this.mail.stop();
    for (const s of this.subs) s.unsubscribe();
    this.state = 'stopped';
    await this.nc.drain().catch(() => {});
  }
}
