import { type AnyBehaviour, BEHAVIOURS, behaviourFor } from '../../actors/index.js';
import { wireError } from '../../protocol/errors.js';
import { actorKind, type Incoming, parseActorKey, type Reply } from '../../protocol/messages.js';
import type { OrderSummary } from '../../actors/order.js';
import { ActorDirectory } from './actor-directory.js';
import { ActiveCells } from './active-cells.js';
import { ActorCell, type ReplyTarget } from './actor-cell.js';
import type { Clock } from './clock.js';
import type { Envelope, Output } from './envelope.js';
import { encodeRecord, type JournalRecord, type OutboxEntry, type ReplayStats } from '../journal/record.js';
import { Fifo } from './fifo.js';
import type { PendingBatch } from '../journal/pending-batch.js';
import { compareKeys, type OrderPage, type OrderQuery, type SortKey } from '../query/order-query.js';
import { type DirectoryEntry, partitionOf, type ShardStore, type SnapshotEntry } from '../storage/shard-store.js';
import { TimerIndex } from './timer-index.js';
import { TurnContext } from './turn-context.js';

export interface ShardOptions {
  clock: Clock;
  store: ShardStore;
  /** Actors kept in memory; idle, snapshotted ones beyond this are passivated (default 20,000). */
  maxActiveActors?: number;
  /** A snapshot failed or a reactivation could not read its snapshot: fail-stop. */
  onFatal?(err: unknown): void;
  /** Runs `fn` once everything this shard produced so far is durable (the host's group commit). */
  afterDurable?(fn: () => void): void;
  /** A message that threw three times in a row, set aside. */
  onDeadLetter?(letter: DeadLetter): void;
  /** Client commands queued for one actor past which it answers OVERLOADED (default 10,000). */
  mailboxHardLimit?: number;
  /** Queue depth that is counted as a warning sign (default 1,000). */
  mailboxSoftLimit?: number;
  /** Test-only: behaviours for kinds the product does not have (e.g. an actor that throws). */
  extraBehaviours?: ReadonlyMap<string, import('../../actors/index.js').AnyBehaviour>;
  /** What this shard's journal has yet to write; shared with the other shards of the same journal. */
  pending: PendingBatch;
  /**
   * The shard of `key` if it writes to the same journal as this one (this shard included), so
   * that a message to it may skip the output gate; undefined for any other.
   */
  sameJournal(key: string): Shard | undefined;
  /** Called when this shard has new work to run. */
  onWork(): void;
  /** A behaviour threw: the message is answered INTERNAL and the error reported here. */
  onActorError(key: string, message: string, err: unknown): void;
  /** Messages handled per actor before the next actor gets a turn (fairness). */
  throughput?: number;
  /** Called once after `start`, when no actor owes recovery work any more (see `afterRecovery`). */
  onRecoverySettled?(): void;
}

function describe(env: Envelope): { from: string; message: string } {
  switch (env.t) {
    case 'cmd':
      return { from: `client(${env.principal.role})`, message: env.command.type };
    case 'req':
      return { from: env.from, message: env.request.type };
    case 'rep':
      return { from: env.from, message: `reply ${env.reply.ok ? 'ok' : env.reply.error.code}` };
    case 'timer':
      return { from: 'timer', message: `timer ${env.name}` };
  }
}

/**
 * A shard: the actors whose keys hash here, run one message at a time each, with one journal.
 * Every turn's changes become one journal record; replies, events and messages to other shards
 * are held in the current batch until the batch's journal write is durable (an output gate), so
 * nothing is ever reported that a crash could undo.
 */
export class Shard {
  readonly cells: ActiveCells;
  /**
   * Every actor of this shard with durable state, loaded or not: key → behaviour summary (or 1).
   * A message for a key listed here and not in memory reloads the actor from its snapshot.
   */
  readonly directory = new ActorDirectory();
  /**
   * Changed actors that left memory before a snapshot took them: their whole state as one JSON
   * string (a few hundred bytes instead of a live actor's few kilobytes). Only for behaviours
   * whose records are whole states; the journal still holds the changes, so this is memory only.
   */
  private readonly setAsideStates = new Map<string, { json: string; version: number }>();
  private readonly ready = new Fifo<ActorCell>();
  /** Actors recovery left to load after the start (see `recover`); snapshots wait for them. */
  private deferredLoads: Promise<void> = Promise.resolve();
  readonly timers: TimerIndex;
  /** Reused by every turn of this shard's actors (turns never nest). */
  private readonly ctx = new TurnContext();
  /** What the journal has yet to write, and the outputs waiting for it (shared within a journal). */
  private readonly pending: PendingBatch;
  /** Outputs that depend on nothing unwritten: they leave without waiting for a commit. */
  private immediate: Output[] = [];
  private readonly throughput: number;
  messagesHandled = 0;
  /** Journal bytes this shard produced since its last snapshot started: the snapshot trigger. */
  bytesSinceSnapshot = 0;
  snapshotting = false;
  snapshots = 0;
  /** Times a mailbox passed its soft limit; commands refused at the hard limit; actor restarts. */
  softLimitHits = 0;
  overloaded = 0;
  restarts = 0;
  readonly deadLetters: DeadLetter[] = [];
  /** Actors that owe work a crash left (a behaviour's `afterRecovery`), until they have done it. */
  private readonly owingAfterRecovery = new Set<string>();

  constructor(
    readonly id: number,
    private readonly opts: ShardOptions,
  ) {
    this.throughput = opts.throughput ?? 64;
    this.pending = opts.pending;
    this.timers = new TimerIndex(opts.clock, (key, name) => this.deliver({ t: 'timer', to: key, name }));
    this.cells = new ActiveCells(opts.maxActiveActors ?? 20_000, (c) => c.canLeaveMemory(), (c) => this.setAside(c));
  }

  get store(): ShardStore {
    return this.opts.store;
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
      if (env.t === 'cmd') this.pending.outputs.push({ t: 'res', cid: env.cid, reply });
      return;
    }
    const depth = cell.mailbox.length;
    if (env.t === 'cmd' && depth >= (this.opts.mailboxHardLimit ?? 10_000)) {
      this.overloaded++;
      this.pending.outputs.push({ t: 'res', cid: env.cid, reply: { ok: false, error: wireError('OVERLOADED', 'this actor has too many commands queued; retry later') } });
      return;
    }
    if (depth === (this.opts.mailboxSoftLimit ?? 1_000)) this.softLimitHits++;
    cell.mailbox.push(env);
    this.schedule(cell);
  }

  private schedule(cell: ActorCell): void {
    if (cell.scheduled || cell.loading) return;
    cell.scheduled = true;
    const idle = this.ready.length === 0;
    this.ready.push(cell);
    if (idle) this.opts.onWork();
  }

  hasWork(): boolean {
    return this.ready.length > 0;
  }

  private cellFor(key: string): ActorCell | undefined {
    let cell = this.cells.get(key);
    if (!cell) {
      const b = this.behaviourFor(key);
      if (!b) return undefined;
      cell = new ActorCell(key, b);
      const aside = this.setAsideStates.get(key);
      if (aside) {
        // Back from its compact form: still changed since the last snapshot.
        this.setAsideStates.delete(key);
        for (const r of JSON.parse(aside.json) as unknown[]) cell.state = b.restore(cell.state, r);
        cell.version = aside.version;
        cell.snapshotted = aside.version - 1;
      }
      this.cells.set(key, cell);
      if (!aside && this.directory.has(key)) this.reactivate(cell);
    }
    return cell;
  }

  /** See `setAsideStates`: an idle, changed actor with nothing owed leaves memory in compact form. */
  private setAside(cell: ActorCell): boolean {
    const b = cell.behaviour;
    // Not while its records are still being written (its output gate must stay closed), and not an
    // actor that owes anything or holds nothing worth keeping.
    if (!b.isFullState || cell.unsettled > 0 || cell.isGone || cell.loading || cell.scheduled) return false;
    if (cell.mailbox.length || cell.outbox.size || cell.kept.size || cell.stashed.length) return false;
    this.setAsideStates.set(cell.key, { json: JSON.stringify(b.snapshot(cell.state)), version: cell.version });
    return true;
  }

  get setAsideCount(): number {
    return this.setAsideStates.size;
  }

  private behaviourFor(key: string) {
    return this.opts.extraBehaviours?.get(actorKind(key)) ?? behaviourFor(key);
  }

  /** Reloads a passivated actor; its messages wait in the mailbox until it is back. */
  private reactivate(cell: ActorCell): void {
    cell.loading = true;
    this.opts.store.loadActor(cell.key).then(
      (entry) => {
        if (entry) this.applySnapshot(cell, entry);
        cell.loading = false;
        if (cell.mailbox.length > 0) this.schedule(cell);
      },
      (err) => this.opts.onFatal?.(err),
    );
  }

  private applySnapshot(cell: ActorCell, entry: SnapshotEntry): void {
    for (const r of entry.r) cell.state = cell.behaviour.restore(cell.state, r);
    for (const e of entry.o ?? []) cell.outbox.set(e.id, e);
    cell.nextRequestId = Math.max(cell.nextRequestId, entry.n);
  }

  /** Keeps the in-memory directory in step with an actor's latest state. */
  private noteDirectory(cell: ActorCell): void {
    if (cell.isGone) this.directory.delete(cell.key);
    else this.directory.set(cell.key, cell.behaviour.summary?.(cell.state) ?? 1);
  }

  /** Runs up to `budget` messages; returns how many ran. */
  run(budget = 5000): number {
    let n = 0;
    while (n < budget) {
      const cell = this.ready.shift();
      if (!cell) break;
      for (let k = 0; k < this.throughput && cell.mailbox.length > 0 && !cell.loading; k++, n++) {
        this.turn(cell, cell.mailbox.shift()!);
      }
      // A cell that started restarting leaves the ready queue; it is scheduled again once back.
      if (cell.mailbox.length > 0 && !cell.loading) this.ready.push(cell);
      else {
        cell.scheduled = false;
        // An actor with nothing at all (an unknown SKU read, a refused placement) leaves at once.
        if (cell.behaviour.isEmpty(cell.state) && cell.canLeaveMemory() && !this.directory.has(cell.key) && !this.timers.has(cell.key)) {
          this.cells.delete(cell.key);
        }
      }
    }
    this.messagesHandled += n;
    return n;
  }

  /** Outputs that may leave now (see `turn`). */
  takeImmediate(): Output[] {
    const out = this.immediate;
    this.immediate = [];
    return out;
  }

  private turn(cell: ActorCell, env: Envelope): void {
    let target: ReplyTarget | null = null;
    let incoming: Incoming;
    let ack: number | null = null;
    switch (env.t) {
      case 'cmd':
        target = { t: 'client', cid: env.cid };
        incoming = { kind: 'command', command: env.command, principal: env.principal };
        break;
      case 'req':
        target = env.oneWay ? null : { t: 'actor', to: env.from, re: env.id };
        incoming = { kind: 'request', from: env.from, request: env.request };
        break;
      case 'rep': {
        const sent = cell.outbox.get(env.re);
        // Already answered: a repeat caused by a redelivery after a restart.
        if (!sent) return;
        cell.outbox.delete(env.re);
        if (!sent.volatile) ack = env.re;
        incoming = { kind: 'reply', from: env.from, id: env.re, request: sent.request, reply: env.reply };
        break;
      }
      case 'timer':
        incoming = { kind: 'timer', name: env.name };
        break;
    }

    const now = this.opts.clock.now();
    const self = cell.key;
    const ctx = this.ctx;
    ctx.begin(cell, target, now);
    // A fired timer is gone: journaled, so a restart does not fire it again.
    if (env.t === 'timer') ctx.cancelTimer(env.name);
    try {
      cell.state = cell.behaviour.receive(cell.state, incoming, ctx);
    } catch (err) {
      this.fail(cell, env, target, ack === null ? [] : [ack], err, now);
      return;
    }

    const { persisted, sent, sentUnjournaled, timerChanges, outputs, stashThis } = ctx;
    if (ctx.keptAnswered) for (const h of ctx.keptAnswered) cell.kept.delete(h);
    if (ctx.keptAdded) for (const [h, to] of ctx.keptAdded) cell.kept.set(h, to);
    if (stashThis) cell.stashed.push(env);
    if (sent) for (const e of sent) cell.outbox.set(e.id, e);
    if (sentUnjournaled) for (const e of sentUnjournaled) cell.outbox.set(e.id, e);
    if (timerChanges) {
      for (const name in timerChanges) {
        const at = timerChanges[name]!;
        if (at === null) this.timers.cancel(self, name);
        else this.timers.set(self, name, at);
      }
    }
    if (persisted || sent || ack !== null || timerChanges) {
      const rec: JournalRecord = { k: self };
      if (persisted) rec.r = persisted;
      if (sent) rec.o = sent;
      if (ack !== null) rec.a = [ack];
      if (timerChanges) rec.t = timerChanges;
      // Encoded now, not at commit: the frame must be this turn's state, not a later one.
      const frame = encodeRecord(rec);
      this.pending.record(frame, cell);
      this.bytesSinceSnapshot += frame.length;
      cell.version++;
      this.noteDirectory(cell);
    }
    // The output gate is per actor: a turn of an actor with no unwritten change (nothing of its own
    // pending or in flight, nothing written now) depends on nothing a crash could undo, so its
    // outputs leave at once. Anything else waits for the commit. Replies of one actor stay in order.
    const free = cell.unsettled === 0;
    if (sent) for (const e of sent) this.route(requestOf(self, e), free);
    if (sentUnjournaled) for (const e of sentUnjournaled) this.route(requestOf(self, e), free);
    if (ctx.told) for (const n of ctx.told) this.route({ t: 'req', to: n.to, from: self, id: 0, request: n.request, oneWay: true }, free);
    if (outputs) {
      for (const o of outputs) {
        if (o.t === 'rep') this.route(o, free);
        else if (free) this.immediate.push(o);
        else this.pending.outputs.push(o);
      }
    }
    if (free && this.immediate.length === 1) this.opts.onWork();
    if (ctx.unstash && cell.stashed.length) {
      cell.mailbox.unshiftAll(cell.stashed);
      cell.stashed = [];
    }
    const { from, message } = describe(env);
    cell.addLog({ at: now, from, message, decisions: ctx.decisions ?? [], outcome: stashThis ? 'stashed' : ctx.replied });
    if (this.owingAfterRecovery.size > 0 && this.owingAfterRecovery.has(cell.key)) this.settleRecoveryOf(cell);
  }

  /**
   * Supervision. A behaviour threw: the turn's effects are dropped, a client is answered INTERNAL,
   * and the actor is restarted from its durable state (snapshot + journal) once everything it
   * wrote before is durable. A message from another actor is tried again after the restart; the
   * third failure in a row moves it to the dead letters (and its sender is answered INTERNAL), so
   * one poisonous message never blocks a mailbox.
   */
  private fail(cell: ActorCell, env: Envelope, target: ReplyTarget | null, acks: number[], err: unknown, now: number): void {
    const { from, message } = describe(env);
    this.opts.onActorError(cell.key, message, err);
    const internal: Reply = { ok: false, error: wireError('INTERNAL', 'internal error') };
    const attempts = (env.attempts ?? 0) + 1;
    let outcome = 'INTERNAL';
    if (env.t === 'cmd') {
      this.pending.outputs.push({ t: 'res', cid: env.cid, reply: internal });
    } else if (attempts >= 3) {
      const letter: DeadLetter = { at: now, key: cell.key, from, message: env, error: err instanceof Error ? err.message : String(err) };
      this.deadLetters.push(letter);
      if (this.deadLetters.length > 1000) this.deadLetters.shift();
      this.opts.onDeadLetter?.(letter);
      if (target?.t === 'actor') this.route({ t: 'rep', to: target.to, from: cell.key, re: target.re, reply: internal });
      // A dead-lettered answer counts as received, or it would be asked for again forever.
      if (acks.length) this.pending.record(encodeRecord({ k: cell.key, a: acks }), null);
      outcome = 'dead-lettered';
    } else {
      // Tried again on the restarted actor (an answer too: its ack was not written, so the
      // restarted actor still has the request in its outbox).
      env.attempts = attempts;
      cell.mailbox.unshiftAll([env]);
      outcome = `retry ${attempts}`;
    }
    cell.addLog({ at: now, from, message, decisions: ['threw: effects dropped, restarting from durable state'], outcome });
    this.restart(cell);
  }

  private restart(cell: ActorCell): void {
    this.restarts++;
    cell.loading = true;
    const reload = () => {
      void (async () => {
        const fresh = new ActorCell(cell.key, cell.behaviour);
        try {
          const entry = await this.opts.store.loadActor(cell.key);
          if (entry) this.applySnapshot(fresh, entry);
          const tail = await this.opts.store.readTail(cell.key);
          // The shard's timer index is already right (a failed turn's timer changes were never
          // applied); replaying the tail's would re-arm timers that have fired.
          for (const rec of tail) this.apply(fresh, rec, false);
          fresh.version = tail.length > 0 ? cell.snapshotted + 1 : cell.snapshotted;
          fresh.snapshotted = cell.snapshotted;
        } catch (err) {
          this.opts.onFatal?.(err);
          return;
        }
        // Whoever was promised a later answer by the old incarnation gets INTERNAL now.
        for (const to of cell.kept.values()) {
          const reply: Reply = { ok: false, error: wireError('INTERNAL', 'internal error') };
          if (to.t === 'client') this.pending.outputs.push({ t: 'res', cid: to.cid, reply });
          else this.route({ t: 'rep', to: to.to, from: cell.key, re: to.re, reply });
        }
        fresh.mailbox.unshiftAll([...cell.stashed, ...cell.mailbox.toArray()]);
        fresh.log.push(...cell.log);
        this.cells.set(cell.key, fresh);
        this.noteDirectory(fresh);
        if (fresh.mailbox.length > 0) this.schedule(fresh);
        this.opts.onWork();
      })();
    };
    if (this.opts.afterDurable) this.opts.afterDurable(reload);
    else reload();
  }

  /**
   * A message for an actor whose shard writes to the same journal is delivered at once: its
   * effects are journaled after the sender's in the same log, so a crash can never keep the
   * effect and lose the cause. Anything else waits in the batch for the journal write.
   */
  private route(env: Envelope, free = false): void {
    const local = this.opts.sameJournal(env.to);
    if (local) local.deliver(env);
    else if (free) this.immediate.push(env);
    else this.pending.outputs.push(env);
  }

  /**
   * Rebuilds the shard: the snapshot directory (summaries and timers of every actor), then the
   * journal tail since the last snapshot. Actors the tail touches, and actors with unanswered
   * requests, are loaded now; the rest stay on disk until a message needs them.
   */
  async recover(): Promise<ReplayStats & { actors: number }> {
    const tail = new Map<string, JournalRecord[]>();
    const busy: string[] = [];
    const stats = await this.opts.store.recover(
      (key, e: DirectoryEntry) => {
        this.directory.set(key, e.i ?? 1);
        for (const [name, at] of Object.entries(e.t ?? {})) this.timers.set(key, name, at);
        if (e.busy) busy.push(key);
      },
      (rec) => {
        const list = tail.get(rec.k);
        if (list) list.push(rec);
        else tail.set(rec.k, [rec]);
      },
    );
    const busySet = new Set(busy);
    const keys = [...new Set([...busy, ...tail.keys()])];
    // By partition, so each partition's snapshot file is read once.
    const P = this.opts.store.partitions;
    keys.sort((a, b) => partitionOf(a, P) - partitionOf(b, P));
    const room = this.opts.maxActiveActors ?? 20_000;
    const deferred: [ActorCell, JournalRecord[]][] = [];
    for (const key of keys) {
      const b = this.behaviourFor(key);
      if (!b) throw new Error(`journal of shard ${this.id} names an unknown actor type: ${key}`);
      const recs = tail.get(key);
      // A tail that holds a whole-state record (every order record) makes the snapshot moot,
      // unless the snapshot also holds unanswered requests: then it is read for those.
      const rebuiltByTail = !busySet.has(key) && recs !== undefined && recs.some((rec) => rec.r?.some((r) => b.isFullState?.(r)));
      // Past the cache's capacity a rebuilt actor would be set aside at once: go there directly.
      if (rebuiltByTail && this.cells.size >= room && this.setAsideFromTail(key, b, recs)) continue;
      const cell = new ActorCell(key, b);
      if (this.directory.has(key) && !rebuiltByTail && !busySet.has(key) && recs !== undefined && owesNothing(recs)) {
        // Needs its snapshot under its tail, but owes nothing to anyone: loaded after the shard
        // is up (its messages wait in its mailbox meanwhile) instead of before. Reading those
        // snapshot files is most of a long tail's recovery.
        for (const rec of recs) this.applyTimers(key, rec);
        cell.loading = true;
        cell.version = 1; // changed since the last snapshot, which must wait for it (see `snapshot`)
        deferred.push([cell, recs]);
        this.cells.set(key, cell);
        continue;
      }
      if (this.directory.has(key) && !rebuiltByTail) {
        const entry = await this.opts.store.loadActor(key);
        if (entry) this.applySnapshot(cell, entry);
      }
      if (recs) {
        for (const rec of recs) this.apply(cell, rec);
        cell.version = 1; // changed since the last snapshot
        this.noteDirectory(cell);
      }
      this.cells.set(key, cell);
    }
    this.deferredLoads = this.loadDeferred(deferred);
    return { ...stats, actors: this.directory.size };
  }

  /** Loads, in partition order, the actors `recover` left for after the start. */
  private async loadDeferred(cells: [ActorCell, JournalRecord[]][]): Promise<void> {
    for (const [cell, recs] of cells) {
      try {
        const entry = await this.opts.store.loadActor(cell.key);
        if (entry) this.applySnapshot(cell, entry);
        for (const rec of recs) this.apply(cell, rec, false);
        this.noteDirectory(cell);
      } catch (err) {
        // Unreadable snapshot or a record its behaviour cannot restore: the same fail-stop as
        // when recovery itself fails (a replaced host would only meet it again).
        this.opts.onFatal?.(err);
        return;
      }
      cell.loading = false;
      if (cell.mailbox.length > 0) this.schedule(cell);
    }
  }

  /**
   * Recovery of an actor that would only be set aside: its state rebuilt from its tail records
   * without a cell (a cell per key costs most of a long tail's replay). Only for an actor that
   * owes nothing once its tail is applied; returns false, changing nothing, for any other.
   */
  private setAsideFromTail(key: string, b: AnyBehaviour, recs: JournalRecord[]): boolean {
    if (!owesNothing(recs)) return false;
    let state = b.initial(key);
    for (const rec of recs) {
      for (const r of rec.r ?? []) state = b.restore(state, r);
      this.applyTimers(key, rec);
    }
    // An actor that ends empty but has a snapshot entry must be deleted by the next snapshot:
    // only a cell (dirty and empty) carries that, so it takes the ordinary path.
    if (b.isEmpty(state)) return !this.directory.has(key);
    this.directory.set(key, b.summary?.(state) ?? 1);
    // Version 1 over a snapshotted 0: changed since the last snapshot, so the next one takes it.
    this.setAsideStates.set(key, { json: JSON.stringify(b.snapshot(state)), version: 1 });
    return true;
  }

  private applyTimers(key: string, rec: JournalRecord): void {
    for (const [name, at] of Object.entries(rec.t ?? {})) {
      if (at === null) this.timers.cancel(key, name);
      else this.timers.set(key, name, at);
    }
  }

  private apply(cell: ActorCell, rec: JournalRecord, timers = true): void {
    if (rec.r) for (const r of rec.r) cell.state = cell.behaviour.restore(cell.state, r);
    if (rec.o) {
      for (const e of rec.o) {
        cell.outbox.set(e.id, e);
        if (e.id >= cell.nextRequestId) cell.nextRequestId = e.id + 1;
      }
    }
    if (rec.a) for (const id of rec.a) cell.outbox.delete(id);
    if (timers) this.applyTimers(rec.k, rec);
  }

  /**
   * After every shard has recovered: arm the timers (overdue ones fire at once) and re-send every
   * request that was never answered. Receivers treat repeats as no-ops.
   */
  start(): void {
    for (const env of this.unansweredRequests(() => true)) this.route(env);
    this.dueAfterRecovery();
    this.timers.start();
    if (this.owingAfterRecovery.size === 0) this.opts.onRecoverySettled?.();
  }

  /**
   * Fires at once the timers that finish what a crash left owed (see `afterRecovery`), and notes
   * which actors owe it: the runtime serves once each has done it, so that what a client reads
   * right after a restart (a SKU's stock) is exact, not exact in a few seconds.
   */
  private dueAfterRecovery(): void {
    const names = new Set<string>();
    for (const b of [...BEHAVIOURS.values(), ...(this.opts.extraBehaviours?.values() ?? [])]) if (b.afterRecovery) names.add(b.afterRecovery.timer);
    for (const name of names) {
      for (const key of this.timers.keysWith(name)) {
        if (this.behaviourFor(key)?.afterRecovery?.timer !== name) continue;
        this.timers.set(key, name, 0);
        this.owingAfterRecovery.add(key);
      }
    }
  }

  /** After a turn of an actor that owed recovery work: done once its behaviour says so. */
  private settleRecoveryOf(cell: ActorCell): void {
    if (cell.behaviour.afterRecovery?.owes(cell.state)) return;
    this.owingAfterRecovery.delete(cell.key);
    if (this.owingAfterRecovery.size === 0) this.opts.onRecoverySettled?.();
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

  /** An actor's state and message log, for operators (a passivated actor is read from its snapshot). */
  async inspect(key: string): Promise<ActorInspection | null> {
    // An actor still being loaded after the start would show its snapshot without its tail.
    if (this.cells.peek(key)?.loading) await this.deferredLoads;
    let cell = this.cells.peek(key);
    const aside = this.setAsideStates.get(key);
    if (!cell && aside) {
      const b = this.behaviourFor(key)!;
      cell = new ActorCell(key, b);
      for (const r of JSON.parse(aside.json) as unknown[]) cell.state = b.restore(cell.state, r);
    }
    if (!cell || cell.loading) {
      if (!this.directory.has(key)) return null;
      const b = this.behaviourFor(key);
      const entry = await this.opts.store.loadActor(key);
      if (!b || !entry) return null;
      cell = new ActorCell(key, b);
      this.applySnapshot(cell, entry);
    }
    return {
      key,
      inMemory: this.cells.peek(key) !== undefined,
      state: cell.state,
      log: cell.log.slice(),
      outbox: [...cell.outbox.values()],
      timers: this.timers.timersOf(key),
    };
  }

  /**
   * Writes every actor changed since the last snapshot into its partition's snapshot, then drops
   * the journal segments that are now covered. Runs alongside the mailboxes: the journal is
   * rotated first (between two group commits), each partition is serialised in its own turn of the
   * event loop, and actors changing meanwhile stay dirty for the next snapshot. Journal records
   * set state absolutely, so replaying the tail over a snapshot taken a little later is harmless.
   */
  async snapshot(rotate: (fn: () => Promise<number>) => Promise<number>): Promise<SnapshotStats | null> {
    if (this.snapshotting) return null;
    this.snapshotting = true;
    const started = performance.now();
    let longestSliceMs = 0;
    try {
      // Actors whose recovery finishes after the start are rebuilt from the segments a snapshot
      // deletes: it takes them once they are back.
      await this.deferredLoads;
      // An actor restarting after a fault is rebuilt from journal segments this snapshot would
      // delete: wait for the next round rather than lose its changes.
      for (const cell of this.cells.values()) if (cell.loading && cell.dirty) return null;
      const rotation = await rotate(() => {
        this.bytesSinceSnapshot = 0;
        return this.opts.store.beginSnapshot();
      });
      const byPartition = new Map<number, ActorCell[]>();
      const P = this.opts.store.partitions;
      for (const cell of this.cells.values()) {
        if (!cell.dirty || cell.loading) continue;
        const p = partitionOf(cell.key, P);
        const list = byPartition.get(p);
        if (list) list.push(cell);
        else byPartition.set(p, [cell]);
      }
      // Set-aside actors are changed actors too: taken as they are now.
      const asideTaken = new Map(this.setAsideStates);
      const asideByPartition = new Map<number, [string, { json: string; version: number }][]>();
      for (const [key, aside] of asideTaken) {
        const p = partitionOf(key, P);
        const list = asideByPartition.get(p);
        if (list) list.push([key, aside]);
        else asideByPartition.set(p, [[key, aside]]);
        if (!byPartition.has(p)) byPartition.set(p, []);
      }
      let actors = 0;
      // 1. Serialise, one partition per event-loop turn, so the mailboxes keep running.
      const prepared: { p: number; changes: Map<string, { data: SnapshotEntry; dir: DirectoryEntry } | null>; versions: [ActorCell, number][] }[] = [];
      for (const [p, list] of byPartition) {
        const sliceStart = performance.now();
        const changes = new Map<string, { data: SnapshotEntry; dir: DirectoryEntry } | null>();
        const versions: [ActorCell, number][] = [];
        for (const cell of list) {
          versions.push([cell, cell.version]);
          if (cell.isGone) {
            changes.set(cell.key, null);
            continue;
          }
          // Requests kept in memory only (a placement in progress) are not part of durable state.
          const outbox = [...cell.outbox.values()].filter((e) => !e.volatile);
          const timers = this.timers.timersOf(cell.key);
          const dir: DirectoryEntry = {};
          const summary = cell.behaviour.summary?.(cell.state);
          if (summary !== undefined) dir.i = summary;
          if (Object.keys(timers).length) dir.t = timers;
          if (outbox.length) dir.busy = true;
          // Serialised here, in this turn, so the entry is one consistent state of the actor.
          const data = JSON.parse(JSON.stringify({ r: cell.behaviour.snapshot(cell.state), o: outbox, n: cell.nextRequestId })) as SnapshotEntry;
          changes.set(cell.key, { data, dir });
        }
        for (const [key, aside] of asideByPartition.get(p) ?? []) {
          const dir: DirectoryEntry = {};
          const summary = this.directory.get(key);
          if (summary !== undefined && summary !== 1) dir.i = summary;
          const timers = this.timers.timersOf(key);
          if (Object.keys(timers).length) dir.t = timers;
          changes.set(key, { data: { r: JSON.parse(aside.json) as unknown[], n: Date.now() * 1000 }, dir });
        }
        longestSliceMs = Math.max(longestSliceMs, performance.now() - sliceStart);
        prepared.push({ p, changes, versions });
        actors += list.length;
        await new Promise((r) => setImmediate(r));
      }
      // 2. What was serialised may include turns whose journal records are not durable yet (and
      //    their effects on actors of this shard): it goes to disk only once they are.
      await new Promise<void>((durable) => (this.opts.afterDurable ? this.opts.afterDurable(durable) : durable()));
      // 3. Write the partitions; an actor is clean if it did not change after it was serialised.
      for (const { p, changes, versions } of prepared) {
        await this.opts.store.writePartition(p, changes);
        for (const [cell, v] of versions) cell.snapshotted = Math.max(cell.snapshotted, v);
        // Written: a set-aside state that has not come back (or changed) since is now just passivated.
        for (const [key, aside] of asideByPartition.get(p) ?? []) {
          if (this.setAsideStates.get(key) === aside) this.setAsideStates.delete(key);
        }
      }
      await this.opts.store.commitSnapshot(rotation);
      const passivated = this.cells.passivate();
      this.snapshots++;
      return {
        partitions: byPartition.size,
        actors,
        passivated,
        ms: Math.round(performance.now() - started),
        longestSliceMs: Math.round(longestSliceMs * 10) / 10,
      };
    } catch (err) {
      this.opts.onFatal?.(err);
      throw err;
    } finally {
      this.snapshotting = false;
    }
  }
}

export interface SnapshotStats {
  partitions: number;
  actors: number;
  passivated: number;
  ms: number;
  /** The longest time the snapshot held the thread (serialising one partition). */
  longestSliceMs: number;
}

function requestOf(from: string, e: OutboxEntry): Envelope {
  return { t: 'req', to: e.to, from, id: e.id, request: e.request };
}

export interface DeadLetter {
  at: number;
  key: string;
  from: string;
  message: Envelope;
  error: string;
}

export interface ActorInspection {
  key: string;
  inMemory: boolean;
  state: unknown;
  log: unknown[];
  outbox: OutboxEntry[];
  timers: Record<string, number>;
}

/** After these records, no request of the actor is left unanswered (nothing to re-send at start). */
function owesNothing(recs: JournalRecord[]): boolean {
  const outstanding = new Set<number>();
  for (const rec of recs) {
    for (const e of rec.o ?? []) outstanding.add(e.id);
    for (const id of rec.a ?? []) outstanding.delete(id);
  }
  return outstanding.size === 0;
}
