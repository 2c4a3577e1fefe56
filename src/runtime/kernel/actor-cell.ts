import type { AnyBehaviour } from '../../actors/index.js';
import type { Envelope } from './envelope.js';
import type { OutboxEntry } from '../journal/record.js';
import { Fifo } from './fifo.js';

/** Where a kept reply goes: back to a client of the gateway, or to the actor that asked. */
export type ReplyTarget = { t: 'client'; cid: number } | { t: 'actor'; to: string; re: number };

/** One line of an actor's message log: what it received, from whom, and what it decided. */
export interface LogEntry {
  at: number;
  from: string;
  message: string;
  decisions: string[];
  outcome?: string;
}

/** How many log entries an actor keeps in memory; the journal keeps every change. */
export const LOG_LIMIT = 16;

/**
 * The runtime's side of one actor: its state, its mailbox (one message at a time), its durable
 * outbox of unanswered requests, its kept replies, stash and message log.
 */
export class ActorCell {
  state: unknown;
  readonly mailbox = new Fifo<Envelope>();
  /** Requests sent and not yet answered, by id; re-sent after a restart. */
  readonly outbox = new Map<number, OutboxEntry>();
  /**
   * Request ids grow across incarnations (they start from the clock when nothing durable says
   * more), so a late answer to a request of a previous incarnation can never match a new one.
   */
  nextRequestId = Date.now() * 1000;
  readonly kept = new Map<number, ReplyTarget>();
  nextHandle = 1;
  stashed: Envelope[] = [];
  readonly log: LogEntry[] = [];
  /** Queued in the shard's ready list. */
  scheduled = false;
  /** Being reloaded from its snapshot; messages wait in the mailbox meanwhile. */
  loading = false;
  /** Records of this actor written to a batch and not yet durable (its output gate is closed while > 0). */
  unsettled = 0;
  /** Counts durable changes; `snapshotted` is the count the latest snapshot holds. Equal = clean. */
  version = 0;
  snapshotted = 0;

  constructor(
    readonly key: string,
    readonly behaviour: AnyBehaviour,
  ) {
    this.state = behaviour.initial(key);
  }

  addLog(entry: LogEntry): void {
    this.log.push(entry);
    if (this.log.length > LOG_LIMIT) this.log.splice(0, this.log.length - LOG_LIMIT);
  }

  /** Holds nothing durable and owes nothing: deleted from the directory and from snapshots. */
  get isGone(): boolean {
    if (!this.behaviour.isEmpty(this.state)) return false;
    for (const e of this.outbox.values()) if (!e.volatile) return false;
    return true;
  }

  get dirty(): boolean {
    return this.version !== this.snapshotted;
  }

  /** Idle, nothing owed to anyone, and everything it knows is in a snapshot: it may leave memory. */
  canLeaveMemory(): boolean {
    return (
      !this.dirty &&
      this.unsettled === 0 &&
      !this.loading &&
      !this.scheduled &&
      this.mailbox.length === 0 &&
      this.outbox.size === 0 &&
      this.kept.size === 0 &&
      this.stashed.length === 0
    );
  }
}
