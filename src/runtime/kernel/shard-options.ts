import type { AnyBehaviour } from '../../actors/index.js';
import type { PendingBatch } from '../journal/pending-batch.js';
import type { ShardStore } from '../storage/shard-store.js';
import type { Clock } from './clock.js';
import type { Envelope } from './envelope.js';
import type { LogTrace } from './tracing.js';

/** What a shard is given by whoever wires it (the ShardGroup): its clock, store, journal batch and callbacks. */
export interface ShardOptions {
  clock: Clock;
  store: ShardStore;
  /** Actors kept in memory; idle, snapshotted ones beyond this are passivated (default 20,000). */
  maxActiveActors?: number;
  /** A snapshot failed or a reactivation could not read its snapshot: fail-stop. */
  onFatal?(err: unknown): void;
  /** Runs `fn` once everything this shard produced so far is durable (the host's group commit). */
  afterDurable?(fn: () => void): void;
  /** A message that threw `SUPERVISION_POLICY.maxAttempts` times in a row, set aside. */
  onDeadLetter?(letter: DeadLetter): void;
  /** Client commands queued for one actor past which it answers OVERLOADED (default 10,000). */
  mailboxHardLimit?: number;
  /** Queue depth that is counted as a warning sign (default 1,000). */
  mailboxSoftLimit?: number;
  /** Test-only: behaviours for kinds the product does not have (e.g. an actor that throws). */
  extraBehaviours?: ReadonlyMap<string, AnyBehaviour>;
  /** What this shard's journal has yet to write; shared with the other shards of the same journal. */
  pending: PendingBatch;
  /**
   * The shard of `key` if it writes to the same journal as this one (this shard included), so
   * that a message to it may skip the output gate; undefined for any other.
   */
  sameJournal(key: string): { deliver(env: Envelope): void } | undefined;
  /** Called when this shard has new work to run. */
  onWork(): void;
  /**
   * A behaviour threw: the message is answered INTERNAL and the error reported here, with the
   * ids of the message's trace when it was traced (for the log line).
   */
  onActorError(key: string, message: string, err: unknown, trace?: LogTrace): void;
  /** Turns the shard's message log keeps, all its actors together (default `SHARD_LOG_LINES`, message-log.ts). */
  messageLogLines?: number;
  /** Messages handled per actor before the next actor gets a turn (fairness). */
  throughput?: number;
  /** Called once after `start`, when no actor owes recovery work any more (see `afterRecovery`). */
  onRecoverySettled?(): void;
}

export interface DeadLetter {
  at: number;
  key: string;
  from: string;
  message: Envelope;
  error: string;
}
