import { type AnyBehaviour, behaviourFor } from '../../actors/index.js';
import { DEFAULTS } from '../../defaults.js';
import { wireError } from '../../protocol/errors.js';
import { actorKind, parseActorKey, type Reply } from '../../protocol/messages.js';
import type { OrderSummary } from '../../actors/order.js';
import type { ReplayStats } from '../journal/record.js';
import type { PendingBatch } from '../journal/pending-batch.js';
import { compareKeys, type OrderPage, type OrderQuery, type SortKey } from '../query/order-query.js';
import type { ShardStore } from '../storage/shard-store.js';
import { ActiveCells } from './active-cells.js';
import { ActorCell } from './actor-cell.js';
import { ActorDirectory, NO_SUMMARY, NOT_LISTED, sameSummary } from './actor-directory.js';
import { ASSERTS, invariant } from './dev-asserts.js';
import type { ShardOptions } from './shard-options.js';
import { type Envelope, type Output, requestOf } from './envelope.js';
import { Fifo } from './fifo.js';
import { type LogEntry, MessageLog } from './message-log.js';
import { type ActorInspection, type InspectHost, inspectActor } from './inspect.js';
import { applySnapshot, Recovery, type RecoveryHost } from './recovery.js';
import { SetAside } from './set-aside.js';
import { type SnapshotHost, Snapshotter, type SnapshotStats } from './snapshotter.js';
import { type DeadLetter, type SupervisionHost, Supervisor } from './supervision.js';
import { TimerIndex } from './timer-index.js';
import type { LogTrace } from './tracing.js';
import { type TurnHost, Turns } from './turn.js';

export type { ShardOptions } from './shard-options.js';

// What used to live here and moved to a file of its own, re-exported for the modules that import it from here.
export type { ActorInspection } from './inspect.js';
export type { SnapshotStats } from './snapshotter.js';
export { type DeadLetter, SUPERVISION_POLICY } from './supervision.js';


/**
 * A shard: the actors whose keys hash here, run one message at a time each, with one journal.
 * Every turn's changes become one journal record; replies, events and messages to other shards
 * are held in the current batch until the batch's journal write is durable (an output gate), so
 * nothing is ever reported that a crash could undo.
 *
 * This file is the shard itself: delivering, scheduling, running and routing messages. The rest
 * is one concern per file, each given the narrow view of the shard it needs (the `*Host`
 * interfaces, which the shard implements): a turn (`turn.ts`), a behaviour that threw
 * (`supervision.ts`), rebuilding after a start (`recovery.ts`), taking a snapshot
 * (`snapshotter.ts`), compact passivation (`set-aside.ts`) and inspection (`inspect.ts`). Members
 * marked "kernel" are public for those files only.
 */
export class Shard implements TurnHost, SupervisionHost, RecoveryHost, SnapshotHost, InspectHost {
  readonly cells: ActiveCells;
  /**
   * Every actor of this shard with durable state, loaded or not: key → behaviour summary (or
   * `NO_SUMMARY`). A message for a key listed here and not in memory reloads the actor from its snapshot.
   */
  readonly directory = new ActorDirectory();
  /** Kernel: changed actors that left memory before a snapshot took them, in compact form. */
  readonly setAside = new SetAside();
  /** The latest turns of this shard's actors, for operators (`message-log.ts`). */
  readonly log: MessageLog;
  private readonly ready = new Fifo<ActorCell>();
  /**
   * Actors with whole-state records (orders) that went idle since the last `setAsideSettled`:
   * each leaves memory in compact form once its records are durable (see there). May hold an
   * actor twice, or one that is busy again: checked when it is its turn.
   */
  private wentIdle: ActorCell[] = [];
  readonly timers: TimerIndex;
  /** Kernel: what the journal has yet to write, and the outputs waiting for it (shared within a journal). */
  readonly pending: PendingBatch;
  /** Kernel: outputs that depend on nothing unwritten; they leave without waiting for a commit. */
  immediate: Output[] = [];
  private readonly throughput: number;
  private readonly recovery: Recovery;
  private readonly supervisor: Supervisor;
  private readonly turns: Turns;
  private readonly snapshotter: Snapshotter;
  messagesHandled = 0;
  /** Journal bytes this shard produced since its last snapshot started: the snapshot trigger. */
  bytesSinceSnapshot = 0;
  /** Times a mailbox passed its soft limit; commands refused at the hard limit; actor restarts. */
  softLimitHits = 0;
  overloaded = 0;
  restarts = 0;
  readonly deadLetters: DeadLetter[] = [];

  constructor(
    readonly id: number,
    /** Kernel: read by the files of the shard's concerns. */
    readonly opts: ShardOptions,
  ) {
    this.throughput = opts.throughput ?? DEFAULTS.turnsPerActor;
    this.pending = opts.pending;
    this.log = new MessageLog(opts.messageLogLines);
    this.timers = new TimerIndex(opts.clock, (key, name) => this.deliver({ t: 'timer', to: key, name }));
    this.cells = new ActiveCells(opts.maxActiveActors ?? DEFAULTS.maxActiveActorsPerShard, (c) => c.canLeaveMemory(), (c) => this.setAside.tryPut(c));
    this.recovery = new Recovery(this);
    this.supervisor = new Supervisor(this);
    this.turns = new Turns(this, this.supervisor, this.recovery);
    this.snapshotter = new Snapshotter(this, this.recovery);
  }

  get store(): ShardStore {
    return this.opts.store;
  }

  /** A snapshot is under way. */
  get snapshotting(): boolean {
    return this.snapshotter.running;
  }

  /** Snapshots completed since the start. */
  get snapshots(): number {
    return this.snapshotter.completed;
  }

  get setAsideCount(): number {
    return this.setAside.size;
  }

  /**
   * Puts a message in its actor's mailbox. Unknown actor kinds are answered, never thrown. A client
   * command finding the mailbox at its hard limit is answered OVERLOADED; messages between actors
   * are always taken (they are bounded by their senders' outboxes, and dropping one would stall a step).
   */
  deliver(env: Envelope): void {
    const cell = this.cellFor(env.to);
    if (!cell) {
      const reply: Reply = { ok: false, error: wireError('INTERNAL', 'no such actor type') };
      if (env.t === 'cmd') this.pending.outputs.push({ t: 'result', cid: env.cid, reply });
      return;
    }
    const depth = cell.mailbox.length;
    if (env.t === 'cmd' && depth >= (this.opts.mailboxHardLimit ?? DEFAULTS.mailboxHardLimit)) {
      this.overloaded++;
      this.pending.outputs.push({ t: 'result', cid: env.cid, reply: { ok: false, error: wireError('OVERLOADED', 'this actor has too many commands queued; retry later') } });
      return;
    }
    if (depth === (this.opts.mailboxSoftLimit ?? DEFAULTS.mailboxSoftLimit)) this.softLimitHits++;
    cell.mailbox.push(env);
    this.schedule(cell);
  }

  /** Kernel: queues an active actor with messages in the ready list (an actor in any other phase waits). */
  schedule(cell: ActorCell): void {
    if (cell.scheduled || cell.phase !== 'active') return;
    cell.scheduled = true;
    const idle = this.ready.length === 0;
    this.ready.push(cell);
    if (idle) this.opts.onWork();
  }

  hasWork(): boolean {
    return this.ready.length > 0;
  }

  /** The actor in memory, brought back from its set-aside form or reactivated from its snapshot if it left. */
  private cellFor(key: string): ActorCell | undefined {
    let cell = this.cells.get(key);
    if (!cell) {
      const b = this.behaviourFor(key);
      if (!b) return undefined;
      cell = new ActorCell(key, b);
      // Every actor set aside is in the directory (it has durable state), so a key the directory
      // does not know (a new order: most misses) is not looked up in the set-aside map at all.
      const known = this.directory.has(key);
      const wasAside = known && this.setAside.takeBack(cell);
      if (ASSERTS && !known) invariant(!this.setAside.has(key), `a set-aside actor is in its shard's directory (${key})`);
      if (!known) cell.listedSummary = NOT_LISTED;
      this.cells.add(key, cell);
      if (known && !wasAside) this.reactivate(cell);
    }
    return cell;
  }

  /** Kernel: the behaviour of an actor key (test-only extra kinds first), undefined for an unknown kind. */
  behaviourFor(key: string): AnyBehaviour | undefined {
    return this.opts.extraBehaviours?.get(actorKind(key)) ?? behaviourFor(key);
  }

  /** Reloads a passivated actor; its messages wait in the mailbox until it is back. */
  private reactivate(cell: ActorCell): void {
    cell.phase = 'reactivating';
    this.opts.store.loadActor(cell.key).then(
      (entry) => {
        if (entry) applySnapshot(cell, entry);
        cell.phase = 'active';
        if (cell.mailbox.length > 0) this.schedule(cell);
      },
      (err) => this.opts.onFatal?.(err),
    );
  }

  /** Kernel: keeps the in-memory directory in step with an actor's latest state. */
  noteDirectory(cell: ActorCell): void {
    const listed = cell.listedSummary;
    if (cell.isGone) {
      if (listed !== NOT_LISTED) this.directory.delete(cell.key);
      cell.listedSummary = NOT_LISTED;
      return;
    }
    const summary = cell.behaviour.summary?.(cell.state) ?? NO_SUMMARY;
    // Most turns leave the summary as it was (a SKU's never changes): then the directory, a
    // large map, is not even looked at; and a new actor's first entry is added without a lookup.
    if (listed === NOT_LISTED) this.directory.add(cell.key, summary);
    else if (listed !== undefined && sameSummary(listed, summary)) return;
    else this.directory.set(cell.key, summary);
    cell.listedSummary = summary;
  }

  /** Runs up to `budget` messages; returns how many ran. */
  run(budget = 5000): number {
    let n = 0;
    while (n < budget) {
      const cell = this.ready.shift();
      if (!cell) break;
      for (let k = 0; k < this.throughput && cell.mailbox.length > 0 && cell.phase === 'active'; k++, n++) {
        this.turns.run(cell, cell.mailbox.shift()!);
      }
      // A cell that started restarting leaves the ready queue; it is scheduled again once back.
      if (cell.mailbox.length > 0 && cell.phase === 'active') this.ready.push(cell);
      else {
        cell.scheduled = false;
        // An actor with nothing at all (an unknown SKU read, a refused placement) leaves at once.
        if (cell.behaviour.isEmpty(cell.state) && cell.canLeaveMemory() && !this.directory.has(cell.key) && !this.timers.has(cell.key)) {
          this.cells.delete(cell.key);
        } else if (cell.recordsJson !== null) this.wentIdle.push(cell);
      }
    }
    this.messagesHandled += n;
    return n;
  }

  /**
   * Idle actors with whole-state records whose records are durable leave memory in compact form:
   * one string of their latest records (the journal frame's text) and their message log (see
   * `set-aside.ts`), instead of a cell, its mailbox, its state's objects and its log's notes. An order is
   * idle between its steps for minutes or days, and every live one is copied by each young-
   * generation collection it survives and marked by each full one: a host holding a few hundred
   * thousand of them spent a large share of its time in the garbage collector. Its next message
   * brings it back (`cellFor`); its timers stay in the shard's timer index. Called by the group
   * before each pump, when the previous commit has settled what it wrote.
   */
  setAsideSettled(): void {
    if (this.wentIdle.length === 0) return;
    const waiting: ActorCell[] = [];
    for (const cell of this.wentIdle) {
      if (this.cells.peek(cell.key) !== cell || cell.scheduled) continue;
      // Its records are still being written: its turn comes after the commit that holds them.
      if (cell.unsettled > 0) waiting.push(cell);
      else if (this.setAside.tryPut(cell)) {
        this.cells.deleteCell(cell);
        this.cells.passivated++;
      }
    }
    this.wentIdle = waiting;
  }

  /** Outputs that may leave now (see `turn.ts`). */
  takeImmediate(): Output[] {
    const out = this.immediate;
    this.immediate = [];
    return out;
  }

  /**
   * Kernel. A message for an actor whose shard writes to the same journal is delivered at once: its
   * effects are journaled after the sender's in the same log, so a crash can never keep the
   * effect and lose the cause. Anything else waits in the batch for the journal write, or, if
   * `free` (it depends on nothing unwritten), leaves at once.
   */
  route(env: Envelope, free = false): void {
    const local = this.opts.sameJournal(env.to);
    if (local) local.deliver(env);
    else if (free) this.immediate.push(env);
    else this.pending.outputs.push(env);
  }

  /** Rebuilds the shard from its snapshot directory and journal tail (see `recovery.ts`). */
  recover(): Promise<ReplayStats & { actors: number }> {
    return this.recovery.recover();
  }

  /**
   * After every shard has recovered: arm the timers (overdue ones fire at once) and re-send every
   * request that was never answered. Receivers treat repeats as no-ops.
   */
  start(): void {
    for (const env of this.unansweredRequests(() => true)) this.route(env);
    this.recovery.armAfterRecovery();
    this.timers.start();
    if (this.recovery.settled) this.opts.onRecoverySettled?.();
  }

  /** Every request of this shard's actors still waiting for an answer and addressed where `to` says. */
  unansweredRequests(to: (key: string) => boolean): Envelope[] {
    const out: Envelope[] = [];
    for (const cell of this.cells.values()) {
      for (const e of cell.outbox.values()) if (to(e.to)) out.push(requestOf(cell.key, e));
    }
    return out;
  }

  stop(): void {
    this.timers.stop();
  }

  /** `order.list` over this shard's orders, from the in-memory directory (no order is loaded). */
  queryOrders(cid: number, q: OrderQuery): void {
    const found: SortKey[] = [];
    for (const [key, summary] of this.directory) {
      const { kind, id } = parseActorKey(key);
      if (kind !== 'order' || !Array.isArray(summary)) continue;
      const [customerId, status, placedAt] = summary as OrderSummary;
      if (q.customerId !== undefined && customerId !== q.customerId) continue;
      if (q.status !== undefined && status !== q.status) continue;
      const k: SortKey = [placedAt, id];
      if (q.after !== undefined && compareKeys(k, q.after) <= 0) continue;
      found.push(k);
    }
    found.sort(compareKeys);
    // One more than asked: the merge can only tell that a next page exists if some shard says so.
    const page: OrderPage = { found: found.slice(0, q.limit + 1) };
    this.pending.outputs.push({ t: 'qres', cid, page });
  }

  /** An actor's latest lines still in the shard's message log, oldest first (tests, tools). */
  logOf(key: string): LogEntry[] {
    return this.log.entries(key);
  }

  /** An actor's state and message log, for operators (see `inspect.ts`). */
  inspect(key: string): Promise<ActorInspection | null> {
    return inspectActor(this, this.recovery, key);
  }

  /** Takes a snapshot of the changed actors (see `snapshotter.ts`); null if none was taken. */
  snapshot(rotate: (fn: () => Promise<number>) => Promise<number>): Promise<SnapshotStats | null> {
    return this.snapshotter.take(rotate);
  }
}
