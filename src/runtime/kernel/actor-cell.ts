import type { AnyBehaviour } from '../../actors/index.js';
import type { Envelope } from './envelope.js';
import type { OutboxEntry } from '../journal/record.js';
import { ASSERTS, invariant } from './dev-asserts.js';
import { Fifo } from './fifo.js';

/** Where a kept reply goes: back to a client of the gateway, or to the actor that asked. */
export type ReplyTarget = { t: 'client'; cid: number } | { t: 'actor'; to: string; re: number };

/** Who a reply to `env` goes to: none for a one-way notice, an answer or a timer. */
export function replyTargetOf(env: Envelope): ReplyTarget | null {
  if (env.t === 'cmd') return { t: 'client', cid: env.cid };
  if (env.t === 'req' && !env.oneWay) return { t: 'actor', to: env.from, re: env.id };
  return null;
}

const NO_REQUESTS: ReadonlyMap<number, OutboxEntry> = new Map();
const NO_KEPT_REPLIES: ReadonlyMap<number, ReplyTarget> = new Map();

/** `m` without `key` (which it holds); null rather than an empty Map. */
function withoutKey<K, V>(m: Map<K, V>, key: K): Map<K, V> | null {
  if (m.size === 1) return null;
  m.delete(key);
  return m;
}

/**
 * Where an actor is in its life in memory (as Orleans' ActivationState). Only an `active` actor
 * runs turns; in every other phase its messages wait in the mailbox and it is not scheduled.
 * - `active`: in memory and current.
 * - `reactivating`: passivated earlier, its snapshot being read back on its first new message.
 * - `restarting`: a behaviour threw; this incarnation waits to be replaced by one rebuilt from
 *   snapshot + journal tail (see `supervision.ts`). It may hold changes only that tail has.
 * - `deferred`: recovery left it to load after the start (see `recovery.ts`); changed since the
 *   last snapshot, which waits for it.
 */
export type ActorPhase = 'active' | 'reactivating' | 'restarting' | 'deferred';

/**
 * The first request id of an incarnation that nothing durable numbers further: the wall clock in
 * microseconds. Deliberately not the injected clock: ids must grow across incarnations and
 * process restarts (a late answer to an earlier incarnation's request must never match a new
 * one), and a simulated clock starts again at the same instant in every test system. It never
 * reaches actor logic (ids only pair answers with requests), so it breaks no determinism; an
 * actor would have to send a thousand requests per millisecond, sustained, to catch up with it.
 */
export function requestIdFloor(): number {
  return Date.now() * 1000;
}

/**
 * The runtime's side of one actor: its state, its mailbox (one message at a time), its durable
 * outbox of unanswered requests, its kept replies and stash (its message log is its shard's).
 */
export class ActorCell {
  state: unknown;
  readonly mailbox = new Fifo<Envelope>();
  /**
   * The outbox and the kept replies, each a Map only while it holds something: most actors
   * (every order between its steps) hold neither, and a Map emptied by `delete` is reallocated
   * by V8 as it shrinks. So each is created on its first entry and dropped with its last.
   */
  private requests: Map<number, OutboxEntry> | null = null;
  private keptReplies: Map<number, ReplyTarget> | null = null;
  /**
   * Request ids grow across incarnations (they start from the clock when nothing durable says
   * more), so a late answer to a request of a previous incarnation can never match a new one.
   */
  nextRequestId = requestIdFloor();
  nextHandle = 1;
  stashed: Envelope[] = [];
  /** Queued in the shard's ready list. */
  scheduled = false;
  /** See `ActorPhase`: anything but `active` means messages wait in the mailbox. */
  phase: ActorPhase = 'active';
  private unwritten = 0;
  /** Records of this actor written to a batch and not yet durable (its output gate is closed while > 0). Never below 0. */
  get unsettled(): number {
    return this.unwritten;
  }
  set unsettled(n: number) {
    if (ASSERTS) invariant(n >= 0, `unsettled >= 0 (${this.key}: ${n}; a batch settled twice?)`);
    this.unwritten = n;
  }
  private changes = 0;
  /**
   * The shard's set of changed actors, once this cell is in its memory (`ActiveCells.set`): a
   * change adds the cell, so that a snapshot round visits the changed actors only, not every
   * actor in memory.
   */
  changedSet: Set<ActorCell> | null = null;
  /** Counts durable changes; `snapshotted` is the count the latest snapshot holds. Equal = clean. */
  get version(): number {
    return this.changes;
  }
  set version(v: number) {
    // Added once, when it becomes changed: a changed actor stays in the set until it is clean again.
    const wasClean = this.changes === this.snapshotted;
    this.changes = v;
    if (wasClean && v !== this.snapshotted) this.changedSet?.add(this);
  }
  snapshotted = 0;
  /**
   * The summary this cell last put in its shard's directory (undefined: not known, e.g. a cell
   * of an actor listed by recovery; `NOT_LISTED`: known to have no entry). Only a cell writes its
   * actor's entry while it is in memory.
   */
  listedSummary: unknown = undefined;
  /**
   * Actors whose records are whole states (orders): the JSON of the records of its latest turn
   * that wrote any, taken from that turn's journal frame (`recordsJsonOf`). Replaying them
   * rebuilds the state as it is now, so this is the actor's compact form without a second
   * serialisation (`set-aside.ts`). Null until such a turn, or for any other actor.
   */
  recordsJson: string | null = null;

  constructor(
    readonly key: string,
    readonly behaviour: AnyBehaviour,
  ) {
    this.state = behaviour.initial(key);
  }

  /** Requests sent and not yet answered, by id; re-sent after a restart. */
  get outbox(): ReadonlyMap<number, OutboxEntry> {
    return this.requests ?? NO_REQUESTS;
  }

  addToOutbox(e: OutboxEntry): void {
    (this.requests ??= new Map()).set(e.id, e);
  }

  /** Takes request `id` out of the outbox (answered); undefined if it is not there. */
  takeFromOutbox(id: number): OutboxEntry | undefined {
    const e = this.requests?.get(id);
    if (e !== undefined) this.requests = withoutKey(this.requests!, id);
    return e;
  }

  /** Replies kept for a later turn (see `ActorContext.defer`), by handle. */
  get kept(): ReadonlyMap<number, ReplyTarget> {
    return this.keptReplies ?? NO_KEPT_REPLIES;
  }

  keep(h: number, to: ReplyTarget): void {
    (this.keptReplies ??= new Map()).set(h, to);
  }

  /** Kept reply `h` was answered. */
  dropKept(h: number): void {
    if (this.keptReplies?.has(h)) this.keptReplies = withoutKey(this.keptReplies, h);
  }

  /** Holds nothing durable and owes nothing: deleted from the directory and from snapshots. */
  get isGone(): boolean {
    if (!this.behaviour.isEmpty(this.state)) return false;
    if (this.requests) for (const e of this.requests.values()) if (!e.volatile) return false;
    return true;
  }

  /** Changed since the latest snapshot: the next snapshot takes it, and it may not leave memory as is. */
  get dirty(): boolean {
    return this.version !== this.snapshotted;
  }

  /**
   * Marks the actor changed since its latest snapshot, for state that came from somewhere other
   * than a turn (replayed journal tail, a set-aside state): the next snapshot takes it. A turn
   * counts `version` up itself.
   */
  markChangedSinceSnapshot(): void {
    this.version = this.snapshotted + 1;
  }

  /** Idle, nothing owed to anyone, and everything it knows is in a snapshot: it may leave memory. */
  canLeaveMemory(): boolean {
    return (
      !this.dirty &&
      this.unsettled === 0 &&
      this.phase === 'active' &&
      !this.scheduled &&
      this.mailbox.length === 0 &&
      this.outbox.size === 0 &&
      this.kept.size === 0 &&
      this.stashed.length === 0
    );
  }
}
