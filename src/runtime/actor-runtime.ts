import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import { wireError } from '../protocol/errors.js';
import type { Command } from '../protocol/commands.js';
import { ActorKeys, type ActorEvent, type InternalCommand, type Reply } from '../protocol/messages.js';
import type { Order, Principal } from '../protocol/model.js';
import { Comlink, nodeEndpoint, type Remote } from './comlink.js';
import { openDataDir } from './data-dir.js';
import type { Envelope, GatewayOutput, ShardQuery } from './envelope.js';
import { fetchPage, mergePages, type OrderPage, type OrderQuery } from './order-query.js';
import { shardOf, workerOf } from './placement.js';
import type { FromHost, HostConfig, HostControl, RecoveryStats, ToHost } from './shard-host.js';

export interface RuntimeOptions {
  dataDir: string;
  /** Worker threads hosting shards (default: the number of cores). */
  workers?: number;
  /** Shards of a new data directory (default 8); an existing directory keeps its own. */
  shards?: number;
  /** Journal bytes per shard that trigger a snapshot (default 64 MiB). */
  snapshotBytes?: number;
  /** Actors kept in memory across all shards (default 200,000); idle snapshotted ones beyond are passivated. */
  maxActiveActors?: number;
  /** Mailbox depth counted as a warning (default 1,000) and at which commands get OVERLOADED (default 10,000). */
  mailboxSoftLimit?: number;
  mailboxHardLimit?: number;
  log: Logger;
  /** Called when a worker reports an unrecoverable error (a failed journal write). */
  onFatal?: (message: string) => void;
}

type Waiter = (value: unknown) => void;

interface HostHandle {
  worker: Worker;
  control: Remote<HostControl>;
  outbox: (Envelope | ShardQuery)[];
}

/**
 * The main thread's handle on the actor system: it starts the shard hosts, routes each command to
 * the worker that owns the target actor's shard (batched per event-loop turn), and hands replies
 * and events back to the gateway.
 *
 * @example
 *   const rt = await ActorRuntime.start({ dataDir: './data', log });
 *   const reply = await rt.execute('sku:A', { type: 'inventory.get', sku: 'A' }, { role: 'admin' });
 */
export class ActorRuntime {
  private readonly hosts: HostHandle[] = [];
  private readonly waiting = new Map<number, Waiter>();
  private pendingInit: { worker: Worker; control: MessagePort }[] = [];
  private nextCid = 1;
  private flushScheduled = false;
  private readonly eventListeners: ((e: ActorEvent) => void)[] = [];
  state: 'recovering' | 'ready' | 'stopping' | 'stopped' = 'recovering';
  recovery: RecoveryStats | null = null;

  private constructor(
    readonly shardCount: number,
    private readonly opts: RuntimeOptions,
  ) {}

  /** Opens the data directory; the runtime stays `recovering` until `start()`. */
  static async open(opts: RuntimeOptions): Promise<ActorRuntime> {
    const meta = await openDataDir(opts.dataDir, opts.shards ?? 8);
    return new ActorRuntime(meta.shards, opts);
  }

  /** Opens and starts: shard hosts spawned, every shard recovered, timers armed. */
  static async start(opts: RuntimeOptions): Promise<ActorRuntime> {
    const rt = await ActorRuntime.open(opts);
    await rt.start();
    return rt;
  }

  async start(): Promise<RecoveryStats> {
    const workers = Math.max(1, Math.min(this.opts.workers ?? availableParallelism(), this.shardCount));
    await this.spawn(workers);
    return this.recovery!;
  }

  get workerCount(): number {
    return this.hosts.length;
  }

  private async spawn(count: number): Promise<void> {
    const started = performance.now();
    const recovered: Promise<RecoveryStats>[] = [];
    for (let index = 0; index < count; index++) {
      const config: HostConfig = {
        index,
        workerCount: count,
        shardCount: this.shardCount,
        dataDir: this.opts.dataDir,
        snapshotBytes: this.opts.snapshotBytes ?? 64 * 1024 * 1024,
        maxActiveActorsPerShard: Math.max(16, Math.ceil((this.opts.maxActiveActors ?? 200_000) / this.shardCount)),
        mailboxSoftLimit: this.opts.mailboxSoftLimit,
        mailboxHardLimit: this.opts.mailboxHardLimit,
      };
      const worker = new Worker(new URL('./shard-worker.js', import.meta.url), { workerData: config });
      const control = new MessageChannel();
      this.hosts.push({ worker, control: Comlink.wrap<HostControl>(nodeEndpoint(control.port1)), outbox: [] });
      recovered.push(
        new Promise((resolve, reject) => {
          worker.on('message', (m: FromHost) => {
            if (m.t === 'recovered') resolve(m.stats);
            else this.onHostMessage(m);
          });
          worker.once('error', reject);
          worker.on('error', (err) => this.fatal(`shard host ${index} crashed: ${err.message}`));
          worker.on('exit', (code) => {
            if (this.state !== 'stopped' && this.state !== 'stopping') this.fatal(`shard host ${index} exited (${code})`);
          });
        }),
      );
      this.pendingInit.push({ worker, control: control.port2 });
    }
    // Every pair of hosts gets its own channel: actor messages between threads never pass through main.
    const peers: (MessagePort | null)[][] = this.hosts.map(() => this.hosts.map(() => null));
    for (let a = 0; a < count; a++) {
      for (let b = a + 1; b < count; b++) {
        const ch = new MessageChannel();
        peers[a]![b] = ch.port1;
        peers[b]![a] = ch.port2;
      }
    }
    this.pendingInit.forEach(({ worker, control }, i) => {
      const ports = peers[i]!.filter((p): p is NonNullable<typeof p> => p !== null);
      worker.postMessage({ t: 'init', peers: peers[i], control }, [...ports, control]);
    });
    this.pendingInit = [];
    const stats = await Promise.all(recovered);
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
    for (const h of this.hosts) h.worker.postMessage({ t: 'start' } satisfies ToHost);
    this.state = 'ready';
  }

  private onHostMessage(m: FromHost): void {
    if (m.t === 'out') {
      for (const o of m.items) this.deliverOutput(o);
    } else if (m.t === 'fatal') {
      this.fatal(m.message);
    }
  }

  private deliverOutput(o: GatewayOutput): void {
    if (o.t === 'evt') {
      for (const l of this.eventListeners) l(o.event);
      return;
    }
    const w = this.waiting.get(o.cid);
    if (!w) return;
    this.waiting.delete(o.cid);
    w(o.t === 'res' ? o.reply : o.page);
  }

  private fatal(message: string): void {
    this.opts.log.fatal(message);
    // Whoever is waiting gets an answer; nothing unacknowledged is lost, recovery replays the journal.
    for (const w of this.waiting.values()) w({ ok: false, error: wireError('INTERNAL', 'the runtime stopped') });
    this.waiting.clear();
    this.opts.onFatal?.(message);
  }

  onEvent(listener: (e: ActorEvent) => void): void {
    this.eventListeners.push(listener);
  }

  get inFlight(): number {
    return this.waiting.size;
  }

  /** Sends a command to the actor `key`; resolves with its reply once the change is durable. */
  execute(key: string, command: Command | InternalCommand, principal: Principal): Promise<Reply> {
    if (this.state !== 'ready') {
      return Promise.resolve({ ok: false, error: wireError('OVERLOADED', `the runtime is ${this.state}`) });
    }
    const cid = this.nextCid++;
    return new Promise<Reply>((resolve) => {
      this.waiting.set(cid, resolve as Waiter);
      this.enqueue(workerOf(shardOf(key, this.shardCount), this.hosts.length), { t: 'cmd', to: key, cid, command, principal });
    });
  }

  /** `order.list` across every shard, merged into one page. */
  async listOrders(q: OrderQuery): Promise<{ orders: Order[]; next: string | null }> {
    const pages: Promise<OrderPage>[] = [];
    for (let shard = 0; shard < this.shardCount; shard++) {
      const cid = this.nextCid++;
      pages.push(new Promise((resolve) => this.waiting.set(cid, resolve as Waiter)));
      this.enqueue(workerOf(shard, this.hosts.length), { t: 'query', shard, cid, query: q });
    }
    const all = await Promise.all(pages);
    if (all.some((p) => !Array.isArray(p?.found))) throw new Error('order.list: a shard did not answer');
    return fetchPage(mergePages(all, q.limit), q, async (orderId) => {
      const r = await this.execute(ActorKeys.order(orderId), { type: 'order.get', orderId }, { role: 'admin' });
      return r.ok ? r.order : undefined;
    });
  }

  private enqueue(worker: number, item: Envelope | ShardQuery): void {
    this.hosts[worker]!.outbox.push(item);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const h of this.hosts) {
      if (h.outbox.length === 0) continue;
      h.worker.postMessage({ t: 'batch', items: h.outbox } satisfies ToHost);
      h.outbox = [];
    }
  }

  async inspect(key: string): Promise<unknown> {
    return this.hosts[workerOf(shardOf(key, this.shardCount), this.hosts.length)]!.control.inspect(key);
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
