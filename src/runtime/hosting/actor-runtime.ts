import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { Logger } from '../../logger.js';
import { wireError } from '../../protocol/errors.js';
import type { Command } from '../../protocol/commands.js';
import { ActorKeys, type ActorEvent, type InternalCommand, type Reply } from '../../protocol/messages.js';
import type { Order, Principal } from '../../protocol/model.js';
import { Comlink, nodeEndpoint, type Remote } from './comlink.js';
import { journalCount, openDataDir } from '../storage/data-dir.js';
import { relayoutJournals } from '../storage/journal-layout.js';
import { type Envelope, type GatewayOutput, type ShardQuery, withTrace } from '../kernel/envelope.js';
import { EncodedReply, type ReplyReceiver } from '../../gateway/encoded-reply.js';
import { fetchPage, mergePages, type OrderPage, type OrderQuery } from '../query/order-query.js';
import { mergeRecent } from '../query/recent-orders.js';
import { mergeTop } from '../query/busy-skus.js';
import { defaultHostThreads, shardOf, workerOf } from '../placement.js';
import { type FromHost, type HostConfig, packBatch, type RecoveryStats, type ToHost } from './host-protocol.js';
import { type GatewayBatchSink, readGatewayBatch } from './gateway-batch.js';
import { pairChannels } from './peer-router.js';
import { type HostThread, InThreadHost } from './in-thread-host.js';
import type { HostControl } from './shard-host.js';
import { DEFAULTS } from '../../defaults.js';
import type { HeapGrowthPolicy } from '../heap-growth.js';

/** How long `start` waits for the work a crash left owed (see `afterRecovery`) before it serves anyway. */
const RECOVERY_SETTLE_LIMIT_MS = 5_000;

export interface RuntimeOptions {
  dataDir: string;
  /**
   * Worker threads hosting shards (default: one per core but one; see `defaultHostThreads`).
   * 0: no host thread, every shard on the gateway's own thread (`in-thread-host.ts`).
   */
  workers?: number;
  /** Shards of a new data directory (default 8); an existing directory keeps its own. */
  shards?: number;
  /**
   * Journals the shards share (default: one per host thread, at most one per shard). A data
   * directory takes a new count at its first start after a clean stop (see journal-layout.ts).
   * Host threads beyond the journal count would have nothing to host: the runtime starts at
   * most one per journal.
   */
  journals?: number;
  /** Journal bytes per shard that trigger a snapshot (default 16 MiB). */
  snapshotBytes?: number;
  /** Actors kept in memory across all shards (default 200,000); idle snapshotted ones beyond are passivated. */
  maxActiveActors?: number;
  /** Mailbox depth counted as a warning (default 1,000) and at which commands get OVERLOADED (default 10,000). */
  mailboxSoftLimit?: number;
  mailboxHardLimit?: number;
  /** Host threads' heap growth (default `DEFAULT_HEAP_GROWTH`; the caller governs its own thread). */
  heapGrowth?: HeapGrowthPolicy;
  log: Logger;
  /** Called when a worker reports an unrecoverable error (a failed journal write). */
  onFatal?: (message: string) => void;
}

/** Who waits for an answer from a host thread, and which host owes it (answered if that host dies). */
type Awaited = { worker: number; receiver: ReplyReceiver } | { worker: number; page: (page: OrderPage | undefined) => void };

interface HostHandle {
  index: number;
  worker: HostThread;
  control: Remote<HostControl>;
  /** Batched for the host's next post (not the actors' durable outbox). */
  toPost: (Envelope | ShardQuery)[];
  /** Until a (re)started host has recovered its shards, what is sent to it waits here. */
  ready: boolean;
}

/**
 * The main thread's handle on the actor system: it starts the shard hosts, routes each command to
 * the worker that owns the target actor's shard (batched per event-loop turn), and hands replies
 * and events back to the gateway. A host thread that dies is replaced and its shards recovered
 * from their journals; commands it had not answered are answered INTERNAL (never acknowledged,
 * so nothing acknowledged is lost), and its peers re-send what they had asked of it.
 *
 * @example
 *   const rt = await ActorRuntime.start({ dataDir: './data', log });
 *   const reply = await rt.execute('sku:A', { type: 'inventory.get', sku: 'A' }, { role: 'admin' });
 */
export class ActorRuntime {
  private hosts: HostHandle[] = [];
  /** By `cid`: commands' and shard queries' answers still owed. */
  private readonly waiting = new Map<number, Awaited>();
  /** Where the hosts' batches are read into (`readGatewayBatch`). */
  private readonly outputs: GatewayBatchSink = {
    result: (cid, reply) => this.answer(cid, reply),
    other: (o) => this.deliverOutput(o),
  };
  private nextCid = 1;
  private flushScheduled = false;
  private readonly eventListeners: ((e: ActorEvent) => void)[] = [];
  /** Whether the hosts send events (see `setEventInterest`); a replaced host is told again. */
  private eventsWanted = true;
  state: 'recovering' | 'ready' | 'stopping' | 'stopped' = 'recovering';
  recovery: RecoveryStats | null = null;
  /** Host threads replaced after dying, since start. */
  replacedHosts = 0;

  private constructor(
    readonly shardCount: number,
    readonly journalCount: number,
    private readonly opts: RuntimeOptions,
  ) {}

  /** Opens the data directory; the runtime stays `recovering` until `start()`. */
  static async open(opts: RuntimeOptions): Promise<ActorRuntime> {
    const wanted = opts.journals ?? Math.max(1, ActorRuntime.hostThreadsWanted(opts));
    const found = await openDataDir(opts.dataDir, opts.shards ?? DEFAULTS.shards, { journalsIfNew: wanted });
    const { meta, changed } = await relayoutJournals(opts.dataDir, found, wanted);
    if (changed) opts.log.info(`journals: ${journalCount(found)} → ${journalCount(meta)} (nothing was left to replay, so the layout could change)`);
    return new ActorRuntime(meta.shards, journalCount(meta), opts);
  }

  private static hostThreadsWanted(opts: RuntimeOptions): number {
    return opts.workers ?? defaultHostThreads(availableParallelism());
  }

  /** No host thread: the one host runs on this thread (`workers: 0`). */
  private get inThread(): boolean {
    return ActorRuntime.hostThreadsWanted(this.opts) === 0;
  }

  /** Opens and starts: shard hosts spawned, every shard recovered, timers armed. */
  static async start(opts: RuntimeOptions): Promise<ActorRuntime> {
    const rt = await ActorRuntime.open(opts);
    await rt.start();
    return rt;
  }

  async start(): Promise<RecoveryStats> {
    const wanted = Math.max(1, ActorRuntime.hostThreadsWanted(this.opts));
    const count = this.inThread ? 1 : Math.max(1, Math.min(wanted, this.journalCount));
    if (count < wanted) {
      this.opts.log.warn(
        `${wanted} host threads asked for, ${count} started: the data directory has ${this.journalCount} journal${this.journalCount === 1 ? '' : 's'}, and the shards of one journal share a thread ` +
          '(ORDO_JOURNALS, one per host thread by default; a new count takes effect at the first start after a clean stop).',
      );
    }
    const started = performance.now();
    const peers = pairChannels(count);
    const launched = Array.from({ length: count }, (_, i) => this.launch(i, count, peers[i]!));
    this.hosts = launched.map((l) => l.handle);
    const stats = await Promise.all(launched.map((l) => l.recovered));
    this.recovery = stats.reduce(
      (a, s) => ({
        shards: a.shards + s.shards,
        actors: a.actors + s.actors,
        records: a.records + s.records,
        timers: a.timers + s.timers,
        truncatedBytes: a.truncatedBytes + s.truncatedBytes,
        ms: Math.round(performance.now() - started),
      }),
      { shards: 0, actors: 0, records: 0, timers: 0, truncatedBytes: 0, ms: 0 },
    );
    // Timers and outbox re-sends start only once every shard is back, wherever it lives.
    for (const h of this.hosts) {
      h.ready = true;
      h.worker.postMessage({ t: 'start' } satisfies ToHost);
      this.scheduleFlush();
    }
    // What a crash left owed (holds whose placement may have died) is settled before serving,
    // so that the first reads after a restart are exact. Bounded: past it, serving starts and
    // the actors finish that work as they would have anyway (a SKU re-verifies every 2 s).
    let limit: NodeJS.Timeout | undefined;
    const settledInTime = await Promise.race([
      Promise.all(launched.map((l) => l.settled)).then(() => true),
      new Promise<false>((r) => (limit = setTimeout(() => r(false), RECOVERY_SETTLE_LIMIT_MS))),
    ]);
    clearTimeout(limit);
    if (!settledInTime) this.opts.log.warn(`recovery work owed after the crash not finished in ${RECOVERY_SETTLE_LIMIT_MS} ms; serving anyway`);
    this.recovery.ms = Math.round(performance.now() - started);
    this.state = 'ready';
    return this.recovery;
  }

  get workerCount(): number {
    return this.hosts.length;
  }

  /** Host threads (0 when the one host runs on this thread). */
  get hostThreadCount(): number {
    return this.inThread ? 0 : this.hosts.length;
  }

  private launch(index: number, count: number, peers: (MessagePort | null)[]): { handle: HostHandle; recovered: Promise<RecoveryStats>; settled: Promise<void> } {
    const config: HostConfig = {
      index,
      workerCount: count,
      shardCount: this.shardCount,
      journalCount: this.journalCount,
      dataDir: this.opts.dataDir,
      snapshotBytes: this.opts.snapshotBytes ?? DEFAULTS.snapshotBytes,
      maxActiveActorsPerShard: Math.max(16, Math.ceil((this.opts.maxActiveActors ?? DEFAULTS.maxActiveActors) / this.shardCount)),
      mailboxSoftLimit: this.opts.mailboxSoftLimit,
      mailboxHardLimit: this.opts.mailboxHardLimit,
      inThread: this.inThread,
      heapGrowth: this.opts.heapGrowth,
    };
    const worker: HostThread = this.inThread
      ? new InThreadHost(config, this.opts.log.child({ host: 'in-thread' }))
      : new Worker(new URL('./shard-worker.js', import.meta.url), {
          workerData: config,
          resourceLimits: { maxYoungGenerationSizeMb: DEFAULTS.hostYoungGenerationMb },
        });
    const control = new MessageChannel();
    const handle: HostHandle = { index, worker, control: Comlink.wrap<HostControl>(nodeEndpoint(control.port1)), toPost: [], ready: false };
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    const recovered = new Promise<RecoveryStats>((resolve, reject) => {
      let recovering = true;
      worker.on('message', (m: FromHost) => {
        if (m.t === 'settled') settle();
        else if (m.t === 'recovered') {
          recovering = false;
          resolve(m.stats);
        } else if (m.t === 'fatal' && recovering) {
          // A host that cannot recover its shards fails the start (the caller says why, once):
          // nothing was served yet, so there is nothing to fail-stop.
          recovering = false;
          reject(new Error(`shard host ${index} could not recover: ${m.message}`));
        } else this.onHostMessage(m);
      });
      worker.on('error', (err) => {
        reject(err);
        this.opts.log.error({ err, host: index }, 'shard host thread failed');
      });
      worker.on('exit', (code) => {
        // A host dead before it settled no longer owes anything: the start stops waiting for it.
        settle();
        // Replaced once it has started, also while the start still waits for recovery work to
        // settle (its commands would otherwise go to a terminated thread); not while stopping.
        const live = this.state === 'ready' || this.state === 'recovering';
        if (live && handle.ready && this.hosts[index] === handle) void this.replace(index, code);
      });
    });
    const ports = peers.filter((p): p is MessagePort => p !== null);
    worker.postMessage({ t: 'init', peers, control: control.port2 }, [...ports, control.port2]);
    if (!this.eventsWanted) worker.postMessage({ t: 'interest', events: false } satisfies ToHost);
    return { handle, recovered, settled };
  }

  /** A host thread died: answer what it owed, start a new one on the same shards, rewire its peers. */
  private async replace(index: number, code: number): Promise<void> {
    this.opts.log.error({ host: index, code }, 'shard host thread exited; replacing it and recovering its shards');
    const dead = this.hosts[index]!;
    dead.control[Comlink.releaseProxy]();
    const lost = EncodedReply.of({ ok: false, error: wireError('INTERNAL', 'the shard restarted; the command was not applied or its answer was lost: retry it') });
    for (const [cid, w] of this.waiting) {
      if (w.worker !== index) continue;
      this.waiting.delete(cid);
      answerWith(w, lost);
    }
    const count = this.hosts.length;
    const peers: (MessagePort | null)[] = Array.from({ length: count }, () => null);
    for (let other = 0; other < count; other++) {
      if (other === index) continue;
      const ch = new MessageChannel();
      peers[other] = ch.port1;
      this.hosts[other]!.worker.postMessage({ t: 'peer', index, port: ch.port2 } satisfies ToHost, [ch.port2]);
    }
    const { handle, recovered } = this.launch(index, count, peers);
    // Whatever was still queued for the dead host was answered INTERNAL above: not sent again.
    dead.toPost = [];
    this.hosts[index] = handle;
    try {
      await recovered;
    } catch (err) {
      this.fatal(`shard host ${index} could not be restarted: ${(err as Error).message}`);
      return;
    }
    this.replacedHosts++;
    handle.ready = true;
    handle.worker.postMessage({ t: 'start' } satisfies ToHost);
    this.scheduleFlush();
  }

  /** Fault injection for drills and tests: kills one host thread as a crash would. */
  async terminateHost(index: number): Promise<void> {
    if (this.inThread) throw new Error('the shards run on the gateway thread (workers: 0): there is no host thread to kill');
    await this.hosts[index]!.worker.terminate();
  }

  private onHostMessage(m: FromHost): void {
    if (m.t === 'out') {
      readGatewayBatch(m.batch, this.outputs);
    } else if (m.t === 'fatal') {
      this.fatal(m.message);
    }
  }

  private deliverOutput(o: Exclude<GatewayOutput, { t: 'result' }>): void {
    if (o.t === 'evt') {
      for (const l of this.eventListeners) l(o.event);
      return;
    }
    const w = this.waiting.get(o.cid);
    if (!w || !('page' in w)) return;
    this.waiting.delete(o.cid);
    w.page(o.page);
  }

  private answer(cid: number, reply: EncodedReply): void {
    const w = this.waiting.get(cid);
    if (!w) return;
    this.waiting.delete(cid);
    answerWith(w, reply);
  }

  private fatal(message: string): void {
    this.opts.log.fatal(message);
    // Whoever is waiting gets an answer; nothing unacknowledged is lost, recovery replays the journal.
    const stopped = EncodedReply.of({ ok: false, error: wireError('INTERNAL', 'the runtime stopped') });
    for (const w of this.waiting.values()) answerWith(w, stopped);
    this.waiting.clear();
    this.opts.onFatal?.(message);
  }

  onEvent(listener: (e: ActorEvent) => void): void {
    this.eventListeners.push(listener);
  }

  /**
   * Whether actors' events should reach `onEvent` listeners at all: the gateway says so as its
   * first subscriber comes and its last one goes. Posted on the same channel as the batches, so
   * a command sent after it sees the new setting.
   */
  setEventInterest(wanted: boolean): void {
    if (wanted === this.eventsWanted) return;
    this.eventsWanted = wanted;
    for (const h of this.hosts) h.worker.postMessage({ t: 'interest', events: wanted } satisfies ToHost);
  }

  /** The orders changed last, over every host, oldest change first (the `orders` feed's first reply). */
  async recentOrders(): Promise<Order[]> {
    const views = await Promise.all(this.hosts.map((h) => h.control.dashboard(0)));
    return mergeRecent(views.map((v) => v.recent));
  }

  /**
   * The `n` SKUs placed most lately. Approximate across hosts: each host counts the placements of
   * its own orders, and answers its top few times `n`.
   */
  async busiestSkus(n: number): Promise<{ sku: string; placements: number }[]> {
    const views = await Promise.all(this.hosts.map((h) => h.control.dashboard(n * 8)));
    return mergeTop(views.map((v) => v.busiest), n);
  }

  get inFlight(): number {
    return this.waiting.size;
  }

  /**
   * Sends a command to the actor `key`; resolves with its reply once the change is durable.
   * `traceparent`: the W3C trace context the command's turns continue (the gateway's span).
   */
  execute(key: string, command: Command | InternalCommand, principal: Principal, traceparent?: string): Promise<Reply> {
    return new Promise<Reply>((resolve) => this.executeEncoded(key, command, principal, traceparent, { receive: (r) => resolve(r.reply) }));
  }

  /**
   * `execute` for a client's command: the reply comes as the frame text its host made
   * (`EncodedReply`), to `receiver`, which the gateway writes out without parsing it. Called
   * back at once when the runtime is not ready.
   */
  executeEncoded(key: string, command: Command | InternalCommand, principal: Principal, traceparent: string | undefined, receiver: ReplyReceiver): void {
    if (this.state !== 'ready') {
      receiver.receive(EncodedReply.of({ ok: false, error: wireError('OVERLOADED', `the runtime is ${this.state}`) }));
      return;
    }
    const cid = this.nextCid++;
    const worker = workerOf(shardOf(key, this.shardCount), this.hosts.length, this.journalCount);
    this.waiting.set(cid, { worker, receiver });
    this.enqueue(worker, withTrace({ t: 'cmd', to: key, cid, command, principal }, traceparent));
  }

  /** `order.list` across every shard, merged into one page. */
  async listOrders(q: OrderQuery): Promise<{ orders: Order[]; next: string | null }> {
    const pages: Promise<OrderPage | undefined>[] = [];
    for (let shard = 0; shard < this.shardCount; shard++) {
      const cid = this.nextCid++;
      const worker = workerOf(shard, this.hosts.length, this.journalCount);
      pages.push(new Promise<OrderPage | undefined>((page) => this.waiting.set(cid, { worker, page })));
      this.enqueue(worker, { t: 'query', shard, cid, query: q });
    }
    const all = await Promise.all(pages);
    if (all.some((p) => !Array.isArray(p?.found))) throw new Error('order.list: a shard did not answer');
    return fetchPage(mergePages(all as OrderPage[], q.limit), q, async (orderId) => {
      const r = await this.execute(ActorKeys.order(orderId), { type: 'order.get', orderId }, { role: 'admin' });
      return r.ok ? r.order : undefined;
    });
  }

  private enqueue(worker: number, item: Envelope | ShardQuery): void {
    this.hosts[worker]!.toPost.push(item);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const h of this.hosts) {
      if (h.toPost.length === 0 || !h.ready) continue;
      h.worker.postMessage((this.inThread ? { t: 'items', items: h.toPost } : { t: 'batch', json: packBatch(h.toPost) }) satisfies ToHost);
      h.toPost = [];
    }
  }

  async inspect(key: string): Promise<unknown> {
    return this.hosts[workerOf(shardOf(key, this.shardCount), this.hosts.length, this.journalCount)]!.control.inspect(key);
  }

  async stats(): Promise<ReturnType<HostControl['stats']>[]> {
    return Promise.all(this.hosts.map((h) => h.control.stats()));
  }

  /** Snapshots every shard now (`ordo compact`); resolves with the number of shards. */
  async compact(): Promise<number> {
    const n = await Promise.all(this.hosts.map((h) => h.control.compact()));
    return n.reduce((a, b) => a + b, 0);
  }

  /** Finishes the work in hand, makes it durable, and stops the threads. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    this.flush();
    await Promise.all(
      this.hosts.map(
        (h) =>
          new Promise<void>((resolve) => {
            const onMsg = (m: FromHost) => {
              if (m.t === 'stopped') {
                h.worker.off('message', onMsg);
                resolve();
              }
            };
            h.worker.on('message', onMsg);
            h.worker.postMessage({ t: 'stop' } satisfies ToHost);
          }),
      ),
    );
    for (const h of this.hosts) {
      h.control[Comlink.releaseProxy]();
      await h.worker.terminate();
    }
    this.state = 'stopped';
  }
}

/** A command's waiter gets its reply; a shard query's waiter, answered with a reply instead of its page (its host died, the runtime stopped), gets no page. */
function answerWith(w: Awaited, reply: EncodedReply): void {
  if ('receiver' in w) w.receiver.receive(reply);
  else w.page(undefined);
}
