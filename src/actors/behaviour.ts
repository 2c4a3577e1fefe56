import type { JournaledText } from '../protocol/journaled-text.js';
import type { ActorEvent, ActorRequest, Incoming, Reply } from '../protocol/messages.js';

/** A reply kept for later: the sender of an earlier message, answered once a later message decides. */
export type ReplyHandle = number;

/** What a note's `{}` placeholders are filled with (see `ActorContext.note`). */
export type NoteArg = string | number | boolean;

/**
 * Everything an actor may do. It only records effects; the runtime carries them out once nothing
 * they depend on can be undone by a crash: replies, events and messages to other shards wait for
 * the actor's unwritten records (the per-actor output gate); messages to actors of the same shard
 * go at once (their effects are journaled after their cause in the same log). If the turn throws,
 * none of its effects happen. There is no I/O and no clock here other than `now()`.
 */
export interface ActorContext<R> {
  readonly self: string;
  /** The time this message is being handled at (the injected clock). */
  now(): number;
  /** Answers the sender of the current message: a client, or the actor that sent a request. */
  reply(reply: Reply): void;
  /** Keeps the current sender's reply for a later turn (not durable: a client re-sends after a crash). */
  defer(): ReplyHandle;
  answer(handle: ReplyHandle, reply: Reply): void;
  /**
   * Sends a request to another actor through this actor's durable outbox; returns its id.
   * With `{ journal: false }` the request is kept in memory only: for a step that is re-derived
   * rather than replayed after a crash (a placement the client will re-send).
   */
  send(to: string, request: ActorRequest, opts?: { journal?: boolean }): number;
  /**
   * Sends a one-way notice: never answered, kept in memory only, and lost if the process dies
   * before it is handled. Only for a step that something else makes up for when it is lost
   * (a SKU verifies a hold whose confirmation never came). Leaves with the turn's other outputs.
   */
  tell(to: string, request: ActorRequest): void;
  /** Records a change of durable state; `restore` replays it after a restart. */
  persist(record: R): void;
  /**
   * Where the JSON of this turn's record will be once the journal has encoded it, at the turn's
   * end (if the turn persists exactly one record): a reply carrying a value of that record can
   * reuse its text instead of serialising it again (`Reply.orderText`, protocol/journaled-text.ts).
   */
  journaledText(): JournaledText;
  /** Arms (or moves) a named durable timer; it fires as a `timer` message at or after `at`. */
  setTimer(name: string, at: number): void;
  cancelTimer(name: string): void;
  publish(event: ActorEvent): void;
  /** Sets the current message aside until `unstashAll` (Akka's stash): used while a step is in progress. */
  stash(): void;
  unstashAll(): void;
  /**
   * Notes in this actor's message log what it decided and why. Each `{}` of `text` is filled with
   * `a`, `b`, `c` in turn when the log is read: a constant text and the values at hand, so that a
   * turn builds no string for a log that is mostly never read.
   *
   * @example ctx.note('reserved {} for {} (tentative)', quantity, orderId);
   */
  note(text: string, a?: NoteArg, b?: NoteArg, c?: NoteArg): void;
}

/**
 * An actor type: a pure behaviour plus how to rebuild its state from its journal records.
 * `receive` may mutate and return `state`; the runtime never shares it.
 */
export interface ActorBehaviour<S, R> {
  readonly kind: string;
  initial(key: string): S;
  receive(state: S, message: Incoming, ctx: ActorContext<R>): S;
  restore(state: S, record: R): S;
  /** True when the actor holds nothing worth keeping (it is deleted from snapshots). */
  isEmpty(state: S): boolean;
  /** Records that rebuild the whole state through `restore` (what a snapshot stores). */
  snapshot(state: S): R[];
  /** A small summary kept in memory for every actor, loaded or not (orders: for `order.list`). */
  summary?(state: S): unknown;
  /** True when `record` alone rebuilds the whole state (recovery then need not read the snapshot). */
  isFullState?(record: R): boolean;
  /**
   * Work a crash may have left owed that the runtime finishes before it serves anything: every
   * actor with a `timer` of this name has it fired at once after recovery, and the runtime is
   * ready once `owes` is false for each of them (a SKU verifying holds whose placement died).
   */
  readonly afterRecovery?: { timer: string; owes(state: S): boolean };
}
