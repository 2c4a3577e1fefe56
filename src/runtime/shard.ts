import type { ActorContext, ReplyHandle } from '../actors/behaviour.js';
import { behaviourFor } from '../actors/index.js';
import { wireError } from '../protocol/errors.js';
import type { ActorEvent, ActorRequest, Incoming, Reply } from '../protocol/messages.js';
import type { Order } from '../protocol/model.js';
import { ActorCell, type ReplyTarget } from './actor-cell.js';
import type { Clock } from './clock.js';
import type { Envelope, Output } from './envelope.js';
import { encodeRecord, type JournalRecord, type OutboxEntry, type ReplayStats, type ShardJournal } from './journal.js';
import { Fifo } from './mailbox.js';
import { compareKeys, matches, type OrderPage, type OrderQuery, sortKeyOf } from './order-query.js';
import { TimerIndex } from './timer-index.js';

export interface ShardOptions {
  clock: Clock;
  journal: ShardJournal;
  /** True when `key` lives on this very shard (same journal): such messages skip the output gate. */
  isLocal(key: string): boolean;
  /** Called when this shard has new work to run. */
  onWork(): void;
  /** A behaviour threw: the message is answered INTERNAL and the error reported here. */
  onActorError(key: string, message: string, err: unknown): void;
  /** Messages handled per actor before the next actor gets a turn (fairness). */
  throughput?: number;
}

/** The journal frames and outputs produced since the last commit; outputs leave only once frames are durable. */
export interface Batch {
  frames: Buffer[];
  outputs: Output[];
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
  readonly cells = new Map<string, ActorCell>();
  private readonly ready = new Fifo<ActorCell>();
  readonly timers: TimerIndex;
  private batch: Batch = { frames: [], outputs: [] };
  private readonly throughput: number;
  messagesHandled = 0;

  constructor(
    readonly id: number,
    private readonly opts: ShardOptions,
  ) {
    this.throughput = opts.throughput ?? 64;
    this.timers = new TimerIndex(opts.clock, (key, name) => this.deliver({ t: 'timer', to: key, name }));
  }

  get journal(): ShardJournal {
    return this.opts.journal;
  }

  /** Puts a message in its actor's mailbox. Unknown actor kinds are answered, never thrown. */
  deliver(env: Envelope): void {
    const cell = this.cellFor(env.to);
    if (!cell) {
      const reply: Reply = { ok: false, error: wireError('INTERNAL', 'no such actor type') };
      if (env.t === 'cmd') this.batch.outputs.push({ t: 'res', cid: env.cid, reply });
      return;
    }
    cell.mailbox.push(env);
    this.schedule(cell);
  }

  private schedule(cell: ActorCell): void {
    if (cell.scheduled) return;
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
      const b = behaviourFor(key);
      if (!b) return undefined;
      cell = new ActorCell(key, b);
      this.cells.set(key, cell);
    }
    return cell;
  }

  /** Runs up to `budget` messages; returns how many ran. */
  run(budget = 5000): number {
    let n = 0;
    while (n < budget) {
      const cell = this.ready.shift();
      if (!cell) break;
      for (let k = 0; k < this.throughput && cell.mailbox.length > 0; k++, n++) {
        this.turn(cell, cell.mailbox.shift()!);
      }
      if (cell.mailbox.length > 0) this.ready.push(cell);
      else {
        cell.scheduled = false;
        if (cell.isIdleAndEmpty(this.timers.has(cell.key))) {
          this.cells.delete(cell.key);
        }
      }
    }
    this.messagesHandled += n;
    return n;
  }

  /** Hands over what was produced since the last call. */
  takeBatch(): Batch {
    const b = this.batch;
    this.batch = { frames: [], outputs: [] };
    return b;
  }

  private turn(cell: ActorCell, env: Envelope): void {
    let target: ReplyTarget | null = null;
    let incoming: Incoming;
    const acks: number[] = [];
    switch (env.t) {
      case 'cmd':
        target = { t: 'client', cid: env.cid };
        incoming = { kind: 'command', command: env.command, principal: env.principal };
        break;
      case 'req':
        target = { t: 'actor', to: env.from, re: env.id };
        incoming = { kind: 'request', from: env.from, request: env.request };
        break;
      case 'rep': {
        const sent = cell.outbox.get(env.re);
        // Already answered: a repeat caused by a redelivery after a restart.
        if (!sent) return;
        cell.outbox.delete(env.re);
        acks.push(env.re);
        incoming = { kind: 'reply', from: env.from, request: sent.request, reply: env.reply };
        break;
      }
      case 'timer':
        incoming = { kind: 'timer', name: env.name };
        break;
    }

    const persisted: unknown[] = [];
    const sent: OutboxEntry[] = [];
    const timerChanges: Record<string, number | null> = {};
    let timersChanged = false;
    const outputs: Output[] = [];
    const decisions: string[] = [];
    let replied: string | undefined;
    let stashThis = false;
    let unstash = false;
    const now = this.opts.clock.now();
    const self = cell.key;
    if (env.t === 'timer') {
      timerChanges[env.name] = null;
      timersChanged = true;
    }

    const emitReply = (to: ReplyTarget, reply: Reply): void => {
      replied = reply.ok ? 'ok' : reply.error.code;
      if (to.t === 'client') outputs.push({ t: 'res', cid: to.cid, reply });
      else outputs.push({ t: 'rep', to: to.to, from: self, re: to.re, reply });
    };

    const ctx: ActorContext<unknown> = {
      self,
      now: () => now,
      reply: (reply) => {
        if (target) emitReply(target, reply);
      },
      defer: (): ReplyHandle => {
        const h = cell.nextHandle++;
        if (target) cell.kept.set(h, target);
        return h;
      },
      answer: (h, reply) => {
        const to = cell.kept.get(h);
        if (!to) return;
        cell.kept.delete(h);
        emitReply(to, reply);
      },
      send: (to: string, request: ActorRequest) => {
        sent.push({ id: cell.nextRequestId++, to, request });
      },
      persist: (record) => {
        persisted.push(record);
      },
      setTimer: (name, at) => {
        timerChanges[name] = at;
        timersChanged = true;
      },
      cancelTimer: (name) => {
        timerChanges[name] = null;
        timersChanged = true;
      },
      publish: (event: ActorEvent) => {
        outputs.push({ t: 'evt', event });
      },
      stash: () => {
        stashThis = true;
      },
      unstashAll: () => {
        unstash = true;
      },
      note: (d) => {
        decisions.push(d);
      },
    };

    try {
      cell.state = cell.behaviour.receive(cell.state, incoming, ctx);
    } catch (err) {
      // A bug in a behaviour: its effects are dropped, the sender is answered, the shard goes on.
      // TODO(supervision): restart the actor from its durable state instead of keeping the state
      // the failed turn may have half-changed.
      const { message } = describe(env);
      this.opts.onActorError(cell.key, message, err);
      if (target) emitReply(target, { ok: false, error: wireError('INTERNAL', 'internal error') });
      this.batch.outputs.push(...outputs.filter((o) => o.t === 'res' || o.t === 'rep'));
      if (acks.length) this.batch.frames.push(encodeRecord({ k: self, a: acks }));
      cell.addLog({ at: now, ...describe(env), decisions: ['threw: effects dropped'], outcome: 'INTERNAL' });
      return;
    }

    if (stashThis) cell.stashed.push(env);
    for (const e of sent) cell.outbox.set(e.id, e);
    for (const [name, at] of Object.entries(timerChanges)) {
      if (at === null) this.timers.cancel(self, name);
      else this.timers.set(self, name, at);
    }
    if (persisted.length || sent.length || acks.length || timersChanged) {
      const rec: JournalRecord = { k: self };
      if (persisted.length) rec.r = persisted;
      if (sent.length) rec.o = sent;
      if (acks.length) rec.a = acks;
      if (timersChanged) rec.t = timerChanges;
      // Encoded now, not at commit: the frame must be this turn's state, not a later one.
      this.batch.frames.push(encodeRecord(rec));
    }
    for (const e of sent) this.route({ t: 'req', to: e.to, from: self, id: e.id, request: e.request });
    for (const o of outputs) {
      if (o.t === 'rep') this.route(o);
      else this.batch.outputs.push(o);
    }
    if (unstash && cell.stashed.length) {
      cell.mailbox.unshiftAll(cell.stashed);
      cell.stashed = [];
    }
    cell.addLog({ at: now, ...describe(env), decisions, outcome: stashThis ? 'stashed' : replied });
  }

  /**
   * A message for an actor on this same shard is delivered at once: its effects are journaled
   * after the sender's in the same log, so a crash can never keep the effect and lose the cause.
   * Anything else waits in the batch for the journal write.
   */
  private route(env: Envelope): void {
    if (this.opts.isLocal(env.to)) this.deliver(env);
    else this.batch.outputs.push(env);
  }

  /** Rebuilds every actor of this shard from its journal. Timers are collected but not armed. */
  async recover(): Promise<ReplayStats & { actors: number }> {
    const stats = await this.opts.journal.replay((rec) => this.apply(rec));
    for (const [key, cell] of this.cells) {
      if (cell.isIdleAndEmpty(this.timers.has(key))) this.cells.delete(key);
    }
    return { ...stats, actors: this.cells.size };
  }

  private apply(rec: JournalRecord): void {
    const cell = this.cellFor(rec.k);
    if (!cell) throw new Error(`journal of shard ${this.id} names an unknown actor type: ${rec.k}`);
    if (rec.r) for (const r of rec.r) cell.state = cell.behaviour.restore(cell.state, r);
    if (rec.o) {
      for (const e of rec.o) {
        cell.outbox.set(e.id, e);
        if (e.id >= cell.nextRequestId) cell.nextRequestId = e.id + 1;
      }
    }
    if (rec.a) for (const id of rec.a) cell.outbox.delete(id);
    if (rec.t) {
      for (const [name, at] of Object.entries(rec.t)) {
        if (at === null) this.timers.cancel(rec.k, name);
        else this.timers.set(rec.k, name, at);
      }
    }
  }

  /**
   * After every shard has recovered: arm the timers (overdue ones fire at once) and re-send every
   * request that was never answered. Receivers treat repeats as no-ops.
   */
  start(): void {
    for (const cell of this.cells.values()) {
      for (const e of cell.outbox.values()) {
        this.route({ t: 'req', to: e.to, from: cell.key, id: e.id, request: e.request });
      }
    }
    this.timers.start();
  }

  stop(): void {
    this.timers.stop();
  }

  /** `order.list` over this shard's orders; the answer leaves through the output gate like any reply. */
  queryOrders(cid: number, q: OrderQuery): void {
    const found: Order[] = [];
    for (const [key, cell] of this.cells) {
      if (!key.startsWith('order:')) continue;
      const o = (cell.state as { order: Order | null }).order;
      if (o && matches(o, q)) found.push(o);
    }
    found.sort((a, b) => compareKeys(sortKeyOf(a), sortKeyOf(b)));
    const page: OrderPage = { orders: found.slice(0, q.limit).map((o) => ({ ...o, history: o.history.slice() })) };
    this.batch.outputs.push({ t: 'qres', cid, page });
  }

  /** An actor's state and message log, for operators. */
  inspect(key: string): { key: string; state: unknown; log: unknown[]; outbox: OutboxEntry[]; timers: Record<string, number> } | null {
    const cell = this.cells.get(key);
    if (!cell) return null;
    return {
      key,
      state: cell.state,
      log: cell.log.slice(),
      outbox: [...cell.outbox.values()],
      timers: this.timers.timersOf(key),
    };
  }
}
