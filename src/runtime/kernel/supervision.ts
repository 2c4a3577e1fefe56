import { wireError } from '../../protocol/errors.js';
import type { Reply } from '../../protocol/messages.js';
import { encodeRecord } from '../journal/record.js';
import type { PendingBatch } from '../journal/pending-batch.js';
import type { ActiveCells } from './active-cells.js';
import { ActorCell, type ReplyTarget } from './actor-cell.js';
import { type Envelope, withTrace } from './envelope.js';
import { describe, type MessageLog, singleNote } from './message-log.js';
import { applyRecord, applySnapshot } from './recovery.js';
import type { DeadLetter, ShardOptions } from './shard-options.js';
import { logTrace, type TurnTrace } from './tracing.js';

/**
 * Supervision policy: a message whose handling throws is retried on the restarted actor until it
 * has failed `maxAttempts` times in a row, then dead-lettered; the shard keeps the latest
 * `deadLettersKept` dead letters in memory (each is also reported through `onDeadLetter`).
 */
export const SUPERVISION_POLICY = { maxAttempts: 3, deadLettersKept: 1000 } as const;

export type { DeadLetter } from './shard-options.js';

/** The note a turn that threw is logged with. */
const THREW = singleNote('threw: effects dropped, restarting from durable state');

/** What supervision needs of its shard. */
export interface SupervisionHost {
  readonly opts: Pick<ShardOptions, 'store' | 'onActorError' | 'onDeadLetter' | 'onFatal' | 'afterDurable' | 'onWork'>;
  readonly pending: PendingBatch;
  readonly cells: ActiveCells;
  readonly deadLetters: DeadLetter[];
  readonly log: MessageLog;
  restarts: number;
  route(env: Envelope): void;
  noteDirectory(cell: ActorCell): void;
  schedule(cell: ActorCell): void;
}

const internalError = (): Reply => ({ ok: false, error: wireError('INTERNAL', 'internal error') });

/**
 * Supervision. A behaviour threw: the turn's effects are dropped, a client is answered INTERNAL,
 * and the actor is restarted from its durable state (snapshot + journal) once everything it
 * wrote before is durable. A message from another actor is tried again after the restart; its
 * `SUPERVISION_POLICY.maxAttempts`th failure in a row moves it to the dead letters (and its sender
 * is answered INTERNAL), so one poisonous message never blocks a mailbox.
 */
export class Supervisor {
  constructor(private readonly shard: SupervisionHost) {}

  /**
   * `env` made `cell`'s behaviour throw `err`; `acks` are the answers the turn would have
   * acknowledged; `traced`, the turn's trace when the message was traced (the error names it).
   */
  fail(cell: ActorCell, env: Envelope, target: ReplyTarget | null, acks: number[], err: unknown, now: number, traced?: TurnTrace): void {
    const { shard } = this;
    const { from, message } = describe(env);
    if (traced) shard.opts.onActorError(cell.key, message, err, logTrace(traced));
    else shard.opts.onActorError(cell.key, message, err);
    const internal = internalError();
    const attempts = (env.attempts ?? 0) + 1;
    let outcome = 'INTERNAL';
    if (env.t === 'cmd') {
      shard.pending.outputs.push({ t: 'result', cid: env.cid, reply: internal });
    } else if (attempts >= SUPERVISION_POLICY.maxAttempts) {
      const letter: DeadLetter = { at: now, key: cell.key, from, message: env, error: err instanceof Error ? err.message : String(err) };
      shard.deadLetters.push(letter);
      if (shard.deadLetters.length > SUPERVISION_POLICY.deadLettersKept) shard.deadLetters.shift();
      shard.opts.onDeadLetter?.(letter);
      if (target?.t === 'actor') shard.route(withTrace({ t: 'reply', to: target.to, from: cell.key, re: target.re, reply: internal }, traced?.tp));
      // A dead-lettered answer counts as received, or it would be asked for again forever.
      if (acks.length) shard.pending.record(encodeRecord({ k: cell.key, a: acks }), null);
      outcome = 'dead-lettered';
    } else {
      // Tried again on the restarted actor (an answer too: its ack was not written, so the
      // restarted actor still has the request in its outbox).
      env.attempts = attempts;
      cell.mailbox.unshiftAll([env]);
      outcome = `retry ${attempts}`;
    }
    shard.log.add(cell.key, now, env, THREW, outcome);
    this.restart(cell);
  }

  /**
   * Replaces `cell` by a fresh incarnation rebuilt from snapshot + journal tail, once what it wrote
   * is durable (the tail must hold it). Its mailbox and stash carry over (its log is the
   * shard's); the old one waits in phase `restarting`, collecting messages, until then.
   */
  private restart(cell: ActorCell): void {
    const { shard } = this;
    shard.restarts++;
    cell.phase = 'restarting';
    const reload = () => {
      void (async () => {
        const fresh = new ActorCell(cell.key, cell.behaviour);
        try {
          const entry = await shard.opts.store.loadActor(cell.key);
          if (entry) applySnapshot(fresh, entry);
          const tail = await shard.opts.store.readTail(cell.key);
          // Timers are not replayed: the shard's timer index is already right (a failed turn's
          // timer changes were never applied), and replaying the tail's would re-arm fired ones.
          for (const rec of tail) applyRecord(fresh, rec);
          // Clean as of the old incarnation's latest snapshot, changed if the tail has anything since.
          fresh.version = fresh.snapshotted = cell.snapshotted;
          if (tail.length > 0) fresh.markChangedSinceSnapshot();
        } catch (err) {
          shard.opts.onFatal?.(err);
          return;
        }
        // Whoever was promised a later answer by the old incarnation gets INTERNAL now.
        for (const to of cell.kept.values()) {
          const reply = internalError();
          if (to.t === 'client') shard.pending.outputs.push({ t: 'result', cid: to.cid, reply });
          else shard.route({ t: 'reply', to: to.to, from: cell.key, re: to.re, reply });
        }
        fresh.mailbox.unshiftAll([...cell.stashed, ...cell.mailbox.toArray()]);
        shard.cells.set(cell.key, fresh);
        shard.noteDirectory(fresh);
        if (fresh.mailbox.length > 0) shard.schedule(fresh);
        shard.opts.onWork();
      })();
    };
    if (shard.opts.afterDurable) shard.opts.afterDurable(reload);
    else reload();
  }
}
