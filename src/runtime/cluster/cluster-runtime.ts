import { randomUUID } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { CommandRuntime } from '../../gateway/command-runtime.js';
import type { HostStats } from '../../gateway/metrics.js';
import type { Logger } from '../../logger.js';
import type { Command } from '../../protocol/commands.js';
import { RefusedError, wireError } from '../../protocol/errors.js';
import { ActorKeys, type ActorEvent, type InternalCommand, type Reply } from '../../protocol/messages.js';
import type { Order, Principal } from '../../protocol/model.js';
import { systemClock } from '../kernel/clock.js';
import { type Envelope, isEnvelope, type Output, withTrace } from '../kernel/envelope.js';
import { fetchPage, mergePages, type OrderPage, type OrderQuery } from '../query/order-query.js';
import { journalOf, shardOf } from '../placement.js';
import { DEFAULTS } from '../../defaults.js';
import { type ClusterLayout, openClusterLayout } from './cluster-layout.js';
import { ActorMail } from './actor-mail.js';
import { JournalLostError } from './errors.js';
import { JournalHost } from './journal-host.js';
import { ReadGuard } from './read-guard.js';
import { eventsSubject, nodeSubject } from './names.js';
import { connectNats } from './nats-connection.js';
import { decode, encode, type NodeAnswer, type NodeRequest } from './node-messages.js';
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

/** Answered in place of a reply when the journal is not (or no longer) served where it was asked. */
const MOVED = Symbol('moved');
type Moved = typeof MOVED;

/** One attempt at the owner waits at most this long: a node that died with the request gets no more. */
const ATTEMPT_TIMEOUT_MS = 4000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A node of a cluster, as the gateway sees it (`CommandRuntime`): every command is taken here and
 * run where its shard's journal is owned, in this process when it is this node's, else on the
 * owner over NATS request/reply (`nodeSubject`). Which node owns what comes from the owner records
 * (a KV watch): a hint, since the owner refuses (`moved`) what is not its own and the sender looks
 * again, for up to `unavailableAfterMs` before answering `UNAVAILABLE`.
 *
 * The journals this node owns change at run time (`OwnershipLoop`): each is a `JournalHost`
 * (fence, snapshot + tail, its shards on this thread). Messages between actors on different
 * nodes: actor-mail.ts; when memory may answer at all: read-guard.ts. Events go to every node on
 * one subject.
 */
export class ClusterRuntime implements CommandRuntime {
  state: 'recovering' | 'ready' | 'stopping' | 'stopped' = 'recovering';
  readonly hosts = new Map<number, JournalHost>();
  /** Who owns each journal, as its owner last recorded (a hint for routing). */
  readonly routes = new OwnerRoutes();
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; journal: number }>();
  private nextCid = 1;
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
  /** Commands answered UNAVAILABLE; journals taken, released and lost since start. */
  unavailable = 0;
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
  ) {}

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

  private get unavailableAfterMs(): number {
    return this.opts.unavailableAfterMs ?? 10_000;
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
          if (!err) void this.onRequest(msg);
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
    this.answerMoved(j);
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
    this.answerMoved(j);
    this.loop.lost(j);
  }

  /** Commands waiting on a journal that left this node are asked again wherever it is now. */
  private answerMoved(j: number): void {
    for (const [cid, w] of this.waiting) {
      if (w.journal !== j) continue;
      this.waiting.delete(cid);
      w.resolve(MOVED);
    }
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

  private get log(): Logger {
    return this.opts.log;
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
      else {
        const w = this.waiting.get(o.cid);
        if (!w) continue;
        this.waiting.delete(o.cid);
        // A read answered from memory by a node that may have been frozen meanwhile: asked again where the journal is now.
        w.resolve(host.suspect || !this.guard.fresh() ? MOVED : o.t === 'result' ? o.reply : o.page);
      }
    }
  }

  journalOfKey(key: string): number {
    return journalOf(shardOf(key, this.layout.shards), this.layout.journals);
  }

  // ---- requests from other nodes ----

  private async onRequest(msg: Msg): Promise<void> {
    let req: NodeRequest;
    try {
      req = decode<NodeRequest>(msg.data);
    } catch {
      return;
    }
    const answer = (a: NodeAnswer) => msg.respond(encode(a));
    if (req.k === 'env') return void answer({ refused: this.mail.receive(req.batch) });
    if (req.k === 'cmd') {
      const host = this.hosts.get(this.journalOfKey(req.key));
      if (!this.serves(host)) return void answer({ moved: true });
      const r = await this.runLocal(host, req.key, req.command, req.principal, req.tp);
      return void answer(r === MOVED ? { moved: true } : { reply: r });
    }
    if (req.k === 'query') {
      const host = this.hosts.get(journalOf(req.shard, this.layout.journals));
      if (!this.serves(host)) return void answer({ moved: true });
      const page = await this.queryLocal(host, req.shard, req.query);
      return void answer(page === MOVED ? { moved: true } : { page });
    }
    if (req.k === 'inspect') {
      const host = this.hosts.get(this.journalOfKey(req.key));
      if (!this.serves(host)) return void answer({ moved: true });
      const shard = host.group.shards.get(shardOf(req.key, this.layout.shards));
      return void answer({ inspected: (await shard?.inspect(req.key)) ?? null });
    }
  }

  private runLocal(host: JournalHost, key: string, command: Command | InternalCommand, principal: Principal, tp?: string): Promise<Reply | Moved> {
    const cid = this.nextCid++;
    return new Promise((resolve) => {
      this.waiting.set(cid, { resolve: resolve as (v: unknown) => void, journal: host.journalNo });
      host.deliver(withTrace({ t: 'cmd', to: key, cid, command, principal }, tp));
    });
  }

  private queryLocal(host: JournalHost, shard: number, q: OrderQuery): Promise<OrderPage | Moved> {
    const cid = this.nextCid++;
    return new Promise((resolve) => {
      this.waiting.set(cid, { resolve: resolve as (v: unknown) => void, journal: host.journalNo });
      host.query(shard, cid, q);
    });
  }

  // ---- CommandRuntime ----

  get inFlight(): number {
    return this.waiting.size;
  }

  onEvent(listener: (e: ActorEvent) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Runs a command where its journal is owned; waits (retrying) while it has no owner, and
   * answers `UNAVAILABLE` after `unavailableAfterMs`. Retrying is safe by the accept table; an
   * `inventory.adjust` without `adjustmentId` is given one here, so a retry applies it once.
   */
  async execute(key: string, command: Command | InternalCommand, principal: Principal, traceparent?: string): Promise<Reply> {
    if (this.state !== 'ready') return { ok: false, error: wireError('OVERLOADED', `the node is ${this.state}`) };
    if (command.type === 'inventory.adjust' && command.adjustmentId === undefined) command = { ...command, adjustmentId: `gw-${randomUUID()}` };
    const j = this.journalOfKey(key);
    const r = await this.untilServed(j, async (deadline) => {
      const host = this.hosts.get(j);
      if (this.serves(host)) return this.runLocal(host, key, command, principal, traceparent);
      const a = await this.ask(j, { k: 'cmd', key, command, principal, tp: traceparent }, deadline);
      return a === MOVED || !('reply' in a) ? MOVED : a.reply;
    });
    return r === MOVED ? this.unavailableReply(j) : r;
  }

  private unavailableReply(j: number): Reply {
    this.unavailable++;
    return { ok: false, error: wireError('UNAVAILABLE', `no node served this shard (journal ${j}) within ${this.unavailableAfterMs} ms; retry`) };
  }

  /** Tries `attempt` until it gets an answer or the deadline passes (then MOVED). */
  private async untilServed<T>(j: number, attempt: (deadline: number) => Promise<T | Moved>): Promise<T | Moved> {
    const deadline = Date.now() + this.unavailableAfterMs;
    for (let n = 0; ; n++) {
      const r = await attempt(deadline);
      if (r !== MOVED) return r;
      if (Date.now() >= deadline || this.state === 'stopped') return MOVED;
      await sleep(Math.min(25 * 2 ** n, 250));
    }
  }

  /** One request to the node the owner record names for `j`; MOVED when there is none or it refused or did not answer. */
  private async ask(j: number, req: NodeRequest, deadline: number): Promise<NodeAnswer | Moved> {
    const owner = this.routes.get(j)?.node;
    if (!owner || owner === this.node) return MOVED;
    const timeout = Math.max(100, Math.min(ATTEMPT_TIMEOUT_MS, deadline - Date.now()));
    try {
      const m = await this.nc.request(nodeSubject(this.opts.cluster, owner), encode(req), { timeout });
      const a = decode<NodeAnswer>(m.data);
      return 'moved' in a ? MOVED : a;
    } catch {
      return MOVED;
    }
  }

  /** `order.list` over every shard of the cluster, wherever each is served, merged into one page. */
  async listOrders(q: OrderQuery): Promise<{ orders: Order[]; next: string | null }> {
    const pages = await Promise.all(
      Array.from({ length: this.layout.shards }, (_, shard) => {
        const j = journalOf(shard, this.layout.journals);
        return this.untilServed(j, async (deadline) => {
          const host = this.hosts.get(j);
          if (this.serves(host)) return this.queryLocal(host, shard, q);
          const a = await this.ask(j, { k: 'query', shard, query: q }, deadline);
          return a === MOVED || !('page' in a) ? MOVED : a.page;
        });
      }),
    );
    if (pages.some((p) => p === MOVED)) {
      this.unavailable++;
      throw new RefusedError(wireError('UNAVAILABLE', `a shard had no owner within ${this.unavailableAfterMs} ms; retry`));
    }
    return fetchPage(mergePages(pages as OrderPage[], q.limit), q, async (orderId) => {
      const r = await this.execute(ActorKeys.order(orderId), { type: 'order.get', orderId }, { role: 'admin' });
      return r.ok ? r.order : undefined;
    });
  }

  async inspect(key: string): Promise<unknown> {
    const j = this.journalOfKey(key);
    const r = await this.untilServed(j, async (deadline) => {
      const host = this.hosts.get(j);
      if (this.serves(host)) return (await host.group.shards.get(shardOf(key, this.layout.shards))?.inspect(key)) ?? null;
      const a = await this.ask(j, { k: 'inspect', key }, deadline);
      return a === MOVED || !('inspected' in a) ? MOVED : a.inspected;
    });
    return r === MOVED ? null : r;
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
