import type { ActorContext, ReplyHandle } from '../../actors/behaviour.js';
import { JournaledText } from '../../protocol/journaled-text.js';
import type { ActorEvent, ActorRequest, Reply } from '../../protocol/messages.js';
import { type ActorCell, type ReplyTarget, replyTargetOf } from './actor-cell.js';
import { type Envelope, type Output, type RequestEnvelope, withTrace } from './envelope.js';
import { formatNote, type NoteArg, type TurnNotes } from './message-log.js';
import type { OutboxEntry } from '../journal/record.js';
import { ASSERTS, invariant } from './dev-asserts.js';

/** A reply a turn kept for later (see `ActorContext.defer`). */
export interface KeptReply {
  h: number;
  to: ReplyTarget;
}

/**
 * What one actor turn asked for, recorded while its behaviour runs; the shard carries it out only
 * if the behaviour returns (a turn that throws has no effects). One instance per shard, reset for
 * every turn: a turn is the hottest path of the runtime, and a context of closures and fresh
 * collections per message was a measurable share of its CPU and garbage. Collections are created
 * on first use, because the ones a turn fills are handed on (records, outputs, the message log),
 * each as a literal of its first item (`appended`).
 */
export class TurnContext implements ActorContext<unknown>, TurnNotes {
  self = '';
  private at = 0;
  private cell: ActorCell | null = null;
  /** The message of the turn: its sender is who `reply` answers (none for a notice, an answer or a timer). */
  private env: Envelope | null = null;
  persisted: unknown[] | null = null;
  /** Asked for by `journaledText`: filled in by the turn's `applyEffects` once its record is encoded. */
  journaled: JournaledText | null = null;
  sent: OutboxEntry[] | null = null;
  sentUnjournaled: OutboxEntry[] | null = null;
  /** One-way notices, as the messages they are sent as. */
  told: RequestEnvelope[] | null = null;
  /** Timer changes (name → due time, or null for cancelled), in the journal's form. */
  timerChanges: Record<string, number | null> | null = null;
  outputs: Output[] | null = null;
  /** Replies kept by this turn (handle → target; a turn keeps one or two, so a list, not a Map). */
  keptAdded: KeptReply[] | null = null;
  keptAnswered: ReplyHandle[] | null = null;
  /**
   * The turn's notes for the message log (`TurnNotes`): the first one as its text and arguments,
   * formatted only if the log is ever read (most turns note one thing, or none); any more formatted.
   */
  noteText: string | null = null;
  noteA: NoteArg | undefined = undefined;
  noteB: NoteArg | undefined = undefined;
  noteC: NoteArg | undefined = undefined;
  moreNotes: string[] | null = null;
  /** The outcome of the latest reply, for the message log. */
  replied: string | undefined = undefined;
  stashThis = false;
  unstash = false;
  /** The trace context what this turn sends carries (its span's `traceparent`); undefined when untraced. */
  tp: string | undefined = undefined;
  /** Between `begin` and `end` (kept only when dev asserts are on). */
  private inTurn = false;

  /**
   * Starts a turn of `cell` handling `env` (null: a message nobody is to be answered for).
   * Turns never nest: the one context is reset here for every turn.
   */
  begin(cell: ActorCell, env: Envelope | null, now: number, tp?: string): void {
    if (ASSERTS) {
      invariant(!this.inTurn, `turns never nest (${cell.key} began a turn while ${this.self}'s ran)`);
      this.inTurn = true;
    }
    this.cell = cell;
    this.self = cell.key;
    this.env = env;
    this.at = now;
    this.tp = tp;
    this.persisted = null;
    this.journaled = null;
    this.sent = null;
    this.sentUnjournaled = null;
    this.told = null;
    this.timerChanges = null;
    this.outputs = null;
    this.keptAdded = null;
    this.keptAnswered = null;
    this.noteText = null;
    this.noteA = this.noteB = this.noteC = undefined;
    this.moreNotes = null;
    this.replied = undefined;
    this.stashThis = false;
    this.unstash = false;
  }

  /** The turn's effects have been carried out (or dropped): the next `begin` may come. */
  end(): void {
    if (ASSERTS) this.inTurn = false;
  }

  now(): number {
    return this.at;
  }

  // Answered straight from the message: a target object is made only for a kept reply (`defer`).
  reply(reply: Reply): void {
    const env = this.env;
    if (env === null) return;
    if (env.t === 'cmd') this.emitResult(env.cid, reply);
    else if (env.t === 'req' && !env.oneWay) this.emitAnswer(env.from, env.id, reply);
  }

  // Kept replies change only if the turn succeeds, like every other effect.
  defer(): ReplyHandle {
    const h = this.cell!.nextHandle++;
    const target = this.env && replyTargetOf(this.env);
    if (target) {
      this.keptAdded = appended(this.keptAdded, { h, to: target });
    }
    return h;
  }

  answer(h: ReplyHandle, reply: Reply): void {
    const added = this.keptAdded;
    if (added) {
      for (let i = 0; i < added.length; i++) {
        if (added[i]!.h !== h) continue;
        // Kept and answered in this very turn: it never reaches the cell's kept replies.
        const { to } = added[i]!;
        added.splice(i, 1);
        this.emitReply(to, reply);
        return;
      }
    }
    const to = this.keptAnswered?.includes(h) ? undefined : this.cell!.kept.get(h);
    if (!to) return;
    this.keptAnswered = appended(this.keptAnswered, h);
    this.emitReply(to, reply);
  }

  send(to: string, request: ActorRequest, opts?: { journal?: boolean }): number {
    const id = this.cell!.nextRequestId++;
    if (opts?.journal === false) this.sentUnjournaled = appended(this.sentUnjournaled, { id, to, request, volatile: true });
    else this.sent = appended(this.sent, { id, to, request });
    return id;
  }

  tell(to: string, request: ActorRequest): void {
    this.told = appended<RequestEnvelope>(this.told, { t: 'req', to, from: this.self, id: 0, request, oneWay: true });
  }

  persist(record: unknown): void {
    this.persisted = appended(this.persisted, record);
  }

  journaledText(): JournaledText {
    return (this.journaled ??= new JournaledText());
  }

  setTimer(name: string, at: number): void {
    (this.timerChanges ??= {})[name] = at;
  }

  cancelTimer(name: string): void {
    (this.timerChanges ??= {})[name] = null;
  }

  publish(event: ActorEvent): void {
    this.output({ t: 'evt', event });
  }

  stash(): void {
    this.stashThis = true;
  }

  unstashAll(): void {
    this.unstash = true;
  }

  note(text: string, a?: NoteArg, b?: NoteArg, c?: NoteArg): void {
    if (this.noteText === null) {
      this.noteText = text;
      this.noteA = a;
      this.noteB = b;
      this.noteC = c;
    } else {
      this.moreNotes = appended(this.moreNotes, formatNote(text, a, b, c));
    }
  }

  private emitReply(to: ReplyTarget, reply: Reply): void {
    if (to.t === 'client') this.emitResult(to.cid, reply);
    else this.emitAnswer(to.to, to.re, reply);
  }

  /** The answer to a client's command `cid`. */
  private emitResult(cid: number, reply: Reply): void {
    this.replied = reply.ok ? 'ok' : reply.error.code;
    this.output(withTrace({ t: 'result', cid, reply }, this.tp));
  }

  /** The answer to actor `to`'s request `re`. */
  private emitAnswer(to: string, re: number, reply: Reply): void {
    this.replied = reply.ok ? 'ok' : reply.error.code;
    this.output(withTrace({ t: 'reply', to, from: this.self, re, reply }, this.tp));
  }

  private output(o: Output): void {
    this.outputs = appended(this.outputs, o);
  }
}

/**
 * `list` with `item` at its end; a list of the one item when there was none. The one helper for
 * the turn's lists: a literal of its first item, because most turns put one item in each, and an
 * array grown from empty by `push` allocates room for sixteen.
 */
function appended<T>(list: T[] | null, item: T): T[] {
  if (list === null) return [item];
  list.push(item);
  return list;
}
