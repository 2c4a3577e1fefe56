import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { defaultHostThreads } from './runtime/placement.js';
import { DEFAULTS } from './defaults.js';
import { DEFAULT_HEAP_GROWTH, type HeapGrowthPolicy } from './runtime/heap-growth.js';

/** Server settings: flags win over environment variables, which win over defaults. */
export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** Raw `ORDO_TOKENS` JSON, if set. */
  tokensJson?: string;
  /** Host threads; 0 runs every shard on the gateway's thread. */
  workers: number;
  shards: number;
  /**
   * Journals the shards share (default: `workers`). A data directory takes a new count at its first
   * start after a clean stop; until then it keeps its own (see journal-layout.ts).
   */
  journals: number;
  /** Commands one connection may have in flight before the server stops reading it. */
  maxInFlightPerConnection: number;
  maxConnectionsPerToken: number;
  /** Bytes an event subscriber may leave unread before it is disconnected (1008). */
  maxBufferedBytes: number;
  /** Reply bytes not yet written out to a connection after which it is not read (back-pressure). */
  maxUnwrittenBytes: number;
  /** Idle connections are pinged this often and closed if the previous ping went unanswered. */
  pingIntervalMs: number;
  /** Browser `Origin`s allowed to connect; empty allows any (token auth still applies). */
  allowedOrigins: string[];
  /** Journal bytes per shard that trigger a snapshot. */
  snapshotBytes: number;
  /** Actors kept in memory (all shards); idle, snapshotted ones beyond this are passivated. */
  maxActiveActors: number;
  mailboxSoftLimit: number;
  mailboxHardLimit: number;
  /** How far heaps grow before a full GC (`ORDO_HEAP_GROWING_PERCENT`, `ORDO_HEAP_GROWING_FROM_MB`; runtime/heap-growth.ts). */
  heapGrowth: HeapGrowthPolicy;
  simulate: boolean;
  /** Cluster mode (PROTOCOL.md "Several nodes"): NATS URLs, or null for the single-node mode. */
  cluster: ClusterConfig | null;
}

/** A node of a cluster on NATS JetStream (`--nats`). */
export interface ClusterConfig {
  servers: string[];
  /** `--cluster`: prefix of every stream, bucket and subject (default `ordo`). */
  name: string;
  /** `--node-id`: unique in the cluster (default: host name and port, known once listening). */
  nodeId: string | null;
  /** Journals and shards of a new cluster (an existing one keeps its own). */
  journals: number;
  shards: number;
  /** Replicas of streams and buckets this node creates (3 on a three-server NATS cluster). */
  replicas: number;
  leaseTtlMs: number;
  pollMs: number;
}

export class ConfigError extends Error {}

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer in ${min}..${max}, got ${JSON.stringify(raw)}`);
  return n;
}

export function loadConfig(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      workers: { type: 'string' },
      shards: { type: 'string' },
      journals: { type: 'string' },
      simulate: { type: 'boolean' },
      nats: { type: 'string' },
      cluster: { type: 'string' },
      'node-id': { type: 'string' },
    },
    strict: true,
  });
  const workers = int('workers', values.workers ?? env.ORDO_WORKERS, defaultHostThreads(availableParallelism()), 0, 256);
  return {
    host: values.host ?? env.ORDO_HOST ?? DEFAULTS.host,
    port: int('port', values.port ?? env.ORDO_PORT, DEFAULTS.port, 0, 65535),
    dataDir: values.data ?? env.ORDO_DATA_DIR ?? DEFAULTS.dataDir,
    tokensJson: env.ORDO_TOKENS,
    workers,
    shards: int('shards', values.shards ?? env.ORDO_SHARDS, DEFAULTS.shards, 1, 4096),
    journals: int('journals', values.journals ?? env.ORDO_JOURNALS, Math.max(1, workers), 1, 4096),
    maxInFlightPerConnection: int('ORDO_MAX_INFLIGHT', env.ORDO_MAX_INFLIGHT, DEFAULTS.gateway.maxInFlightPerConnection, 1024, 1_000_000),
    maxConnectionsPerToken: int('ORDO_MAX_CONNECTIONS_PER_TOKEN', env.ORDO_MAX_CONNECTIONS_PER_TOKEN, DEFAULTS.gateway.maxConnectionsPerToken, 256, 1_000_000),
    maxBufferedBytes: int('ORDO_MAX_BUFFERED_BYTES', env.ORDO_MAX_BUFFERED_BYTES, DEFAULTS.gateway.maxBufferedBytes, 65536, 2 ** 31),
    maxUnwrittenBytes: int('ORDO_MAX_UNWRITTEN_BYTES', env.ORDO_MAX_UNWRITTEN_BYTES, DEFAULTS.gateway.maxUnwrittenBytes, 65536, 2 ** 31),
    pingIntervalMs: int('ORDO_PING_INTERVAL_MS', env.ORDO_PING_INTERVAL_MS, DEFAULTS.gateway.pingIntervalMs, 100, 3_600_000),
    allowedOrigins: (env.ORDO_ALLOWED_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    snapshotBytes: int('ORDO_SNAPSHOT_BYTES', env.ORDO_SNAPSHOT_BYTES, DEFAULTS.snapshotBytes, 4096, 2 ** 40),
    maxActiveActors: int('ORDO_MAX_ACTORS', env.ORDO_MAX_ACTORS, DEFAULTS.maxActiveActors, 64, 100_000_000),
    mailboxSoftLimit: int('ORDO_MAILBOX_SOFT_LIMIT', env.ORDO_MAILBOX_SOFT_LIMIT, DEFAULTS.mailboxSoftLimit, 1, 10_000_000),
    mailboxHardLimit: int('ORDO_MAILBOX_HARD_LIMIT', env.ORDO_MAILBOX_HARD_LIMIT, DEFAULTS.mailboxHardLimit, 1, 10_000_000),
    heapGrowth: {
      percent: int('ORDO_HEAP_GROWING_PERCENT', env.ORDO_HEAP_GROWING_PERCENT, DEFAULT_HEAP_GROWTH.percent, 0, 1000),
      fromMb: int('ORDO_HEAP_GROWING_FROM_MB', env.ORDO_HEAP_GROWING_FROM_MB, DEFAULT_HEAP_GROWTH.fromMb, 0, 1_048_576),
    },
    simulate: values.simulate ?? false,
    cluster: clusterConfig(values, env),
  };
}

function clusterConfig(values: { nats?: string; cluster?: string; 'node-id'?: string }, env: NodeJS.ProcessEnv): ClusterConfig | null {
  // PROTOCOL.md names ORDO_NATS_URL; ORDO_NATS is accepted as the same.
  const raw = values.nats ?? env.ORDO_NATS_URL ?? env.ORDO_NATS;
  if (raw === undefined || raw.trim() === '') return null;
  const servers = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const name = values.cluster ?? env.ORDO_CLUSTER ?? DEFAULTS.cluster.name;
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new ConfigError(`cluster name ${JSON.stringify(name)} may hold only letters, digits, '_' and '-'`);
  const nodeId = values['node-id'] ?? env.ORDO_NODE_ID ?? null;
  if (nodeId !== null && (nodeId.length === 0 || nodeId.length > 128)) throw new ConfigError('node-id must be 1..128 characters');
  const journals = int('ORDO_CLUSTER_JOURNALS', env.ORDO_CLUSTER_JOURNALS, DEFAULTS.cluster.journals, 1, 1024);
  return {
    servers,
    name,
    nodeId,
    journals,
    shards: int('ORDO_CLUSTER_SHARDS', env.ORDO_CLUSTER_SHARDS, journals, journals, 4096),
    replicas: int('ORDO_NATS_REPLICAS', env.ORDO_NATS_REPLICAS, 1, 1, 5),
    leaseTtlMs: int('ORDO_LEASE_TTL_MS', env.ORDO_LEASE_TTL_MS, DEFAULTS.cluster.leaseTtlMs, 300, 600_000),
    pollMs: int('ORDO_CLUSTER_POLL_MS', env.ORDO_CLUSTER_POLL_MS, DEFAULTS.cluster.pollMs, 50, 60_000),
  };
}
