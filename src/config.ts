import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { defaultHostThreads } from './runtime/placement.js';
import { DEFAULTS } from './defaults.js';

/** Server settings: flags win over environment variables, which win over defaults. */
export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** Raw `ORDO_TOKENS` JSON, if set. */
  tokensJson?: string;
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
  simulate: boolean;
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
    },
    strict: true,
  });
  const workers = int('workers', values.workers ?? env.ORDO_WORKERS, defaultHostThreads(availableParallelism()), 1, 256);
  return {
    host: values.host ?? env.ORDO_HOST ?? DEFAULTS.host,
    port: int('port', values.port ?? env.ORDO_PORT, DEFAULTS.port, 0, 65535),
    dataDir: values.data ?? env.ORDO_DATA_DIR ?? DEFAULTS.dataDir,
    tokensJson: env.ORDO_TOKENS,
    workers,
    shards: int('shards', values.shards ?? env.ORDO_SHARDS, DEFAULTS.shards, 1, 4096),
    journals: int('journals', values.journals ?? env.ORDO_JOURNALS, workers, 1, 4096),
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
    simulate: values.simulate ?? false,
  };
}
