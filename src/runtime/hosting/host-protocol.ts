/**
 * The thread protocol between the main thread and a shard host (a worker thread), and between
 * hosts: what each side may post, and the host's configuration. Plain data only: everything here
 * crosses `postMessage`.
 *
 * Batches of actor messages cross as JSON text (`packBatch` / `unpackBatch`), not as objects:
 * V8's structured clone of a few hundred small objects costs more than `JSON.stringify` on one
 * side and `JSON.parse` on the other (a string is copied as one block), and the batches are
 * JSON-safe by construction (validated frames, actor state and replies made of JSON values).
 * What a host sends the gateway is a `GatewayBatch` (gateway-batch.ts): replies as the wire
 * text the gateway writes out, not parsed on the main thread.
 */
import type { MessagePort } from 'node:worker_threads';
import type { HeapGrowthPolicy } from '../heap-growth.js';
import type { Envelope, GatewayOutput, ShardQuery } from '../kernel/envelope.js';

export interface HostConfig {
  index: number;
  workerCount: number;
  shardCount: number;
  /** Journals of the data directory (shard s writes to journal s mod journalCount). */
  journalCount: number;
  dataDir: string;
  /** Journal bytes after which a shard snapshots its changed partitions. */
  snapshotBytes: number;
  /** Actors kept in memory per shard before idle, snapshotted ones are passivated. */
  maxActiveActorsPerShard: number;
  mailboxSoftLimit?: number;
  mailboxHardLimit?: number;
  /** The host runs on the gateway's own thread (`InThreadHost`): its outputs are handed over as they are, not as text. */
  inThread?: boolean;
  /** The host thread's heap growth policy (default: `DEFAULT_HEAP_GROWTH`). */
  heapGrowth?: HeapGrowthPolicy;
}

/** The first message a host receives: its peers (one port per other host) and the control plane's port. */
export interface HostInit {
  t: 'init';
  peers: (MessagePort | null)[];
  control: MessagePort;
}

/** Main thread → host. */
export type ToHost =
  /** JSON of `(Envelope | ShardQuery)[]`. */
  | { t: 'batch'; json: string }
  /**
   * The same batch by reference, to an in-thread host only (in-thread-host.ts): nothing crosses a
   * thread, so nothing needs encoding; neither side changes a message once it is sent.
   */
  | { t: 'items'; items: (Envelope | ShardQuery)[] }
  | { t: 'peer'; index: number; port: MessagePort }
  /** Whether the gateway wants actors' events (it has subscribers); the host drops them otherwise. */
  | { t: 'interest'; events: boolean }
  | { t: 'start' }
  | { t: 'stop' };

/** Host → main thread. */
export type FromHost =
  | { t: 'recovered'; stats: RecoveryStats }
  /** A `GatewayBatch`'s text (gateway-batch.ts); from a host on the gateway's thread, the outputs themselves. */
  | { t: 'out'; batch: string | GatewayOutput[] }
  | { t: 'stopped' }
  /** After `start`: no actor of this host owes recovery work any more (see `afterRecovery`). */
  | { t: 'settled' }
  | { t: 'fatal'; message: string };

/** Host → host: messages for the other's shards, one batch per turn of the event loop (JSON of `Envelope[]`). */
export type ToPeer = string;

/** A batch as it crosses a thread boundary. */
export function packBatch<T>(items: T[]): string {
  return JSON.stringify(items);
}

export function unpackBatch<T>(json: string): T[] {
  return JSON.parse(json) as T[];
}

export interface RecoveryStats {
  shards: number;
  actors: number;
  records: number;
  timers: number;
  truncatedBytes: number;
  ms: number;
}
