import type { Incoming } from '../../protocol/messages.js';
import { encodeRecord, type JournalRecord, recordsJsonOf } from '../journal/record.js';
import type { PendingBatch } from '../journal/pending-batch.js';
import { type ActorCell, replyTargetOf } from './actor-cell.js';
import { type Envelope, type Output, requestOf, withTrace } from './envelope.js';
import { describe, type MessageLog } from './message-log.js';
import type { Recovery } from './recovery.js';
import type { ShardOptions } from './shard-options.js';
import type { Supervisor } from './supervision.js';
import type { TimerIndex } from './timer-index.js';
import { TurnContext } from './turn-context.js';
import { endTurn, startTurn, type TurnTrace } from './tracing.js';

/** What a turn needs of its shard. */
export interface TurnHost {
  readonly opts: Pick<ShardOptions, 'clock' | 'onWork'>;
  readonly pending: PendingBatch;
  readonly timers: TimerIndex;
  /** Outputs that depend on nothing unwritten: they leave without waiting for a commit. */
  readonly immediate: Output[];
  /** The shard's message log (its latest turns, all actors together). */
  readonly log: MessageLog;
  bytesSinceSnapshot: number;
  noteDirectory(cell: ActorCell): void;
  route(env: Envelope, free?: boolean): void;
}

/**
 * One actor turn: the message becomes the behaviour's `Incoming`, the behaviour runs against the
 * shard's one `TurnContext`, and then what it asked for is carried out: one journal record of the
 * turn's changes, the cell's outbox, kept replies, stash and timers, and its outputs released or
 * gated. A behaviour that throws has no effects at all; supervision takes over.
 */
export class Turns {
  /** Reused by every turn of this shard's actors (turns never nest). */
  private readonly ctx = new TurnContext();

  constructor(
    private readonly shard: TurnHost,
    private readonly supervisor: Supervisor,
    private readonly recovery: Recovery,
  ) {}

  run(cell: ActorCell, env: Envelope): void {
    let incoming: Incoming;
    let ack: number | null = null;
    let tp: string | undefined;
    switch (env.t) {
      case 'cmd':
        tp = env.tp;
        incoming = { kind: 'command', command: env.command, principal: env.principal };
        break;
      case 'req':
        tp = env.tp;
        incoming = { kind: 'request', from: env.from, request: env.request };
        break;
      case 'reply': {
        const sent = cell.takeFromOutbox(env.re);
        // Already answered: a repeat caused by a redelivery after a restart.
        if (!sent) return;
        tp = env.tp;
        if (!sent.volatile) ack = env.re;
        incoming = { kind: 'reply', from: env.from, id: env.re, request: sent.request, reply: env.reply };
        break;
      }
      case 'timer':
        incoming = { kind: 'timer', name: env.name };
        break;
    }

    // Only a traced message (one carrying `tp`) costs anything here.
    const traced = tp === undefined ? undefined : startTurn(cell.behaviour.kind, cell.key, describe(env).message, tp);
    const now = this.shard.opts.clock.now();
    const ctx = this.ctx;
    ctx.begin(cell, env, now, traced?.tp);
    // A fired timer is gone: journaled, so a restart does not fire it again.
    if (env.t === 'timer') ctx.cancelTimer(env.name);
    try {
      cell.state = cell.behaviour.receive(cell.state, incoming, ctx);
    } catch (err) {
      this.supervisor.fail(cell, env, replyTargetOf(env), ack === null ? [] : [ack], err, now, traced);
      if (traced) endTurn(traced, 'threw', err);
      ctx.end();
      return;
    }
    this.applyEffects(cell, env, ack, now, traced);
    if (traced) endTurn(traced, ctx.stashThis ? 'stashed' : (ctx.replied ?? 'done'));
    ctx.end();
    this.recovery.afterTurn(cell);
  }

  /** Carries out what the behaviour asked for in `ctx` (it returned, so the turn counts). */
  private applyEffects(cell: ActorCell, env: Envelope, ack: number | null, now: number, traced: TurnTrace | undefined): void {
    const { shard, ctx } = this;
    const self = cell.key;
    const { persisted, sent, sentUnjournaled, timerChanges, outputs, stashThis } = ctx;
    if (ctx.keptAnswered) for (const h of ctx.keptAnswered) cell.dropKept(h);
    if (ctx.keptAdded) for (const { h, to } of ctx.keptAdded) cell.keep(h, to);
    if (stashThis) cell.stashed.push(env);
    if (sent) for (const e of sent) cell.addToOutbox(e);
    if (sentUnjournaled) for (const e of sentUnjournaled) cell.addToOutbox(e);
    if (timerChanges) {
      for (const name in timerChanges) {
        const at = timerChanges[name]!;
        if (at === null) shard.timers.cancel(self, name);
        else shard.timers.set(self, name, at);
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
      if (persisted) {
        // The compact form of an actor whose latest record is its whole state (see `recordsJson`),
        // and the text a reply of this turn may reuse (`journaledText`): the frame's own bytes.
        const whole = cell.behaviour.isFullState?.(persisted[persisted.length - 1]) === true;
        // Only a turn of exactly one record shares its text (`JournaledText`).
        const shared = persisted.length === 1 ? ctx.journaled : null;
        const text = whole || shared !== null ? recordsJsonOf(frame) : null;
        cell.recordsJson = whole ? text : null;
        if (shared !== null) shared.records = text;
      }
      shard.pending.record(frame, cell, traced?.recorded);
      shard.bytesSinceSnapshot += frame.length;
      cell.version++;
      shard.noteDirectory(cell);
    }
    // The output gate is per actor: a turn of an actor with no unwritten change (nothing of its own
    // pending or in flight, nothing written now) depends on nothing a crash could undo, so its
    // outputs leave at once. Anything else waits for the commit. Replies of one actor stay in order.
    const free = cell.unsettled === 0;
    const hadImmediate = shard.immediate.length > 0;
    // Everything the turn sends carries its trace context (replies and results got it in `ctx`).
    const tp = ctx.tp;
    if (sent) for (const e of sent) shard.route(withTrace(requestOf(self, e), tp), free);
    if (sentUnjournaled) for (const e of sentUnjournaled) shard.route(withTrace(requestOf(self, e), tp), free);
    if (ctx.told) for (const n of ctx.told) shard.route(withTrace(n, tp), free);
    if (outputs) {
      for (const o of outputs) {
        if (o.t === 'reply') shard.route(o, free);
        else if (free) shard.immediate.push(o);
        else shard.pending.outputs.push(o);
      }
    }
    // The first output waiting to leave at once asks for a pump (later ones ride along with it).
    if (!hadImmediate && shard.immediate.length > 0) shard.opts.onWork();
    if (ctx.unstash && cell.stashed.length) {
      cell.mailbox.unshiftAll(cell.stashed);
      cell.stashed = [];
    }
    shard.log.add(self, now, env, ctx, stashThis ? 'stashed' : ctx.replied);
  }
}
