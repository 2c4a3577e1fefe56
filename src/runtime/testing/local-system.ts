import type { Command } from '../../protocol/commands.js';
import { ActorKeys, type ActorEvent, type InternalCommand, type Reply } from '../../protocol/messages.js';
import type { Principal } from '../../protocol/model.js';
import { SimulatedClock } from '../kernel/clock.js';
import { isEnvelope, type Output, withTrace } from '../kernel/envelope.js';
import type { LogTrace } from '../kernel/tracing.js';
import type { GroupCommit } from '../journal/group-commit.js';
import { MemoryJournal, MemoryShardStore } from './memory-shard-store.js';
import { fetchPage, mergePages, type OrderPage, type OrderQuery } from '../query/order-query.js';
import { journalOf, shardOf } from '../placement.js';
import { ShardGroup, type ShardGroupOptions } from '../hosting/shard-group.js';
import { Shard } from '../kernel/shard.js';
import type { AnyBehaviour } from '../../actors/index.js';
import { DEFAULTS } from '../../defaults.js';

/**
 * Every shard in one thread, on a simulated clock and in-memory stores: the same Shard code as
 * production, without threads, sockets or sleeps. Used by actor tests and model-based tests.
 *
 * @example
 *   const sys = await LocalSystem.create();
 *   await sys.ask('sku:A', { type: 'inventory.set', sku: 'A', onHand: 5 }, ADMIN);
 *   await sys.advance(60_000);
 */
export class LocalSystem {
  readonly shards: Shard[];
  readonly events: ActorEvent[] = [];
  readonly actorErrors: { key: string; message: string; err: unknown; trace?: LogTrace }[] = [];
  private readonly waiting = new Map<number, (r: unknown) => void>();
  private nextCid = 1;
  /** The same wiring as a server's host thread, with every shard in it. */
  private readonly group: ShardGroup;
  /** The distinct journals of the stores (one per shard unless they share). */
  private readonly journals: MemoryJournal[];

  private constructor(
    readonly clock: SimulatedClock,
    readonly stores: MemoryShardStore[],
    maxActiveActors: number,
    extraBehaviours?: ReadonlyMap<string, AnyBehaviour>,
    mailboxHardLimit?: number,
    onActorError?: ShardGroupOptions['onActorError'],
  ) {
    // Stores share journals as `newStores` lays them out: shard s on journal s mod J.
    this.journals = [...new Set(stores.map((s) => s.journal))];
    this.group = new ShardGroup({
      clock,
      members: stores.map((store, id) => ({ id, store, journal: store.journal })),
      shardCount: stores.length,
      journalCount: this.journals.length,
      maxActiveActorsPerShard: maxActiveActors,
      mailboxHardLimit,
      extraBehaviours,
      release: (outputs) => this.release(outputs),
      onWork: () => {},
      onActorError: (key, message, err, trace) => {
        this.actorErrors.push(trace ? { key, message, err, trace } : { key, message, err });
        onActorError?.(key, message, err, trace);
      },
      onFatal: (_what, err) => {
        throw err;
      },
    });
    this.shards = [...this.group.shards.values()];
  }

  private get commit(): GroupCommit {
    return this.group.commit;
  }

  static async create(
    opts: {
      shards?: number;
      clock?: SimulatedClock;
      stores?: MemoryShardStore[];
      /** Journals the shards share, as the host threads of a server (default: one per shard). */
      journals?: number;
      maxActiveActors?: number;
      extraBehaviours?: ReadonlyMap<string, AnyBehaviour>;
      mailboxHardLimit?: number;
      /** Also called when a behaviour throws (as a host thread logs it), after `actorErrors` has it. */
      onActorError?: ShardGroupOptions['onActorError'];
    } = {},
  ): Promise<LocalSystem> {
    const stores = opts.stores ?? LocalSystem.newStores(opts.shards ?? 4, opts.journals);
    const sys = new LocalSystem(opts.clock ?? new SimulatedClock(), stores, opts.maxActiveActors ?? DEFAULTS.maxActiveActorsPerShard, opts.extraBehaviours, opts.mailboxHardLimit, opts.onActorError);
    await sys.group.recover();
    sys.group.start();
    // As on a server: timers already due (overdue deadlines, the verification a crash left owed)
    // fire at once, and the system serves once that work is done.
    await sys.advance(0);
    return sys;
  }

  private static newStores(shards: number, journals = shards): MemoryShardStore[] {
    const shared = Array.from({ length: journals }, (_, j) => {
      const members = Array.from({ length: shards }, (_, s) => s).filter((s) => journalOf(s, journals) === j);
      return new MemoryJournal(members, (key) => shardOf(key, shards));
    });
    return Array.from({ length: shards }, (_, s) => new MemoryShardStore({ shared: shared[journalOf(s, journals)]!, shard: s }));
  }

  /** A new system on the same stores and clock, as after `kill -9` (nothing in memory survives). */
  async restart(opts: { maxActiveActors?: number } = {}): Promise<LocalSystem> {
    for (const s of this.shards) s.stop();
    for (const j of this.journals) j.crash();
    return LocalSystem.create({ clock: this.clock, stores: this.stores, ...opts });
  }

  shardFor(key: string): Shard {
    return this.shards[shardOf(key, this.shards.length)]!;
  }

  /**
   * Sends a command; the promise settles once the reply is released (call `settle`).
   * `traceparent`: the trace context its turns continue, as `ActorRuntime.execute` takes it.
   */
  send(key: string, command: Command | InternalCommand, principal: Principal, traceparent?: string): Promise<Reply> {
    const cid = this.nextCid++;
    const p = new Promise<Reply>((resolve) => this.waiting.set(cid, resolve as (r: unknown) => void));
    this.shardFor(key).deliver(withTrace({ t: 'cmd', to: key, cid, command, principal }, traceparent));
    return p;
  }

  async ask(key: string, command: Command | InternalCommand, principal: Principal, traceparent?: string): Promise<Reply> {
    const p = this.send(key, command, principal, traceparent);
    await this.settle();
    return p;
  }

  async listOrders(q: OrderQuery): Promise<ReturnType<typeof fetchPage>> {
    const pages = this.shards.map((s) => {
      const cid = this.nextCid++;
      const p = new Promise<unknown>((resolve) => this.waiting.set(cid, resolve));
      s.queryOrders(cid, q);
      return p;
    });
    await this.settle();
    const merged = mergePages((await Promise.all(pages)) as OrderPage[], q.limit);
    return fetchPage(merged, q, async (orderId) => {
      const r = await this.ask(ActorKeys.order(orderId), { type: 'order.get', orderId }, { role: 'admin' });
      return r.ok ? r.order : undefined;
    });
  }

  /** Snapshots every shard (what the host does when a journal grows past its trigger). */
  async snapshotAll(): Promise<void> {
    await this.settle();
    for (const s of this.shards) await s.snapshot((fn) => this.commit.exclusive(fn));
    await this.settle();
  }

  /** Moves simulated time and runs whatever falls due. */
  async advance(ms: number): Promise<void> {
    this.clock.advance(ms);
    await this.settle();
  }

  /** Runs every shard and commits until nothing is left to do (reactivations included). */
  async settle(): Promise<void> {
    for (let rounds = 0; rounds < 100_000; rounds++) {
      const ran = this.group.pump();
      await this.commit.flush();
      // Reactivations read the (memory) store asynchronously: give them a turn.
      await new Promise((r) => setImmediate(r));
      if (ran === 0 && !this.group.hasWork()) return;
    }
    throw new Error('the system did not settle');
  }

  private release(outputs: Output[]): void {
    for (const o of outputs) {
      if (isEnvelope(o)) this.shardFor(o.to).deliver(o);
      else if (o.t === 'evt') this.events.push(o.event);
      else {
        const resolve = this.waiting.get(o.cid);
        this.waiting.delete(o.cid);
        resolve?.(o.t === 'result' ? o.reply : o.page);
      }
    }
  }

  inspect(key: string) {
    return this.shardFor(key).inspect(key);
  }
}
