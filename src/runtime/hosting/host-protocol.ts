/**
 * The thread protocol between the main thread and a shard host (a worker thread), and between
 * hosts: what each side may post, and the host's configuration. Plain data only: everything here
 * crosses `postMessage`.
 */
import type { MessagePort } from 'node:worker_threads';
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
}

/** The first message a host receives: its peers (one port per other host) and the control plane's port. */
export interface HostInit {
  t: 'init';
  peers: (MessagePort | null)[];
  control: MessagePort;
}

/** Main thread → host. */
export type ToHost =
  | { t: 'batch'; items: (Envelope | ShardQuery)[] }
  | { t: 'peer'; index: number; port: MessagePort }
  | { t: 'start' }
  | { t: 'stop' };

/** Host → main thread. */
export type FromHost =
  | { t: 'recovered'; stats: RecoveryStats }
  | { t: 'out'; items: GatewayOutput[] }
  | { t: 'stopped' }
  /** After `start`: no actor of this host owes recovery work any more (see `afterRecovery`). */
  | { t: 'settled' }
  | { t: 'fatal'; message: string };

/** Host → host: messages for the other's shards, one batch per turn of the event loop. */
export type ToPeer = Envelope[];

export interface RecoveryStats {
  shards: number;
  actors: number;
  records: number;
  timers: number;
  truncatedBytes: number;
  ms: number;
}
