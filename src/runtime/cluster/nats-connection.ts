import { connect, type NatsConnection } from '@nats-io/transport-node';

/** The oldest nats-server this runtime is meant for: 2.10 adds `sync_interval` (2.9 fsyncs every two minutes). */
export const RECOMMENDED_SERVER = [2, 10] as const;

/** Parses `2.9.10` (or `v2.9.10-beta`) into numbers; `null` for anything else. */
export function parseServerVersion(v: string): number[] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/**
 * A warning for a server older than 2.10, or `null`. Below 2.10 there is no `sync_interval`
 * (JetStream's file store is fsynced every two minutes: a power loss of every server can lose
 * acknowledged appends; a kill -9 of the servers does not) and no per-key TTL in KV (2.11).
 */
export function serverVersionWarning(version: string): string | null {
  const v = parseServerVersion(version);
  const [major, minor] = RECOMMENDED_SERVER;
  if (v && (v[0]! > major || (v[0] === major && v[1]! >= minor))) return null;
  return (
    `nats-server ${version} is older than ${major}.${minor}: it has no sync_interval (its store is fsynced every ` +
    `two minutes, so losing power on every server can lose acknowledged appends) and, before 2.9.21, its KV ` +
    `compare-and-set is unsafe on clusters (nats-server#4320; ordo fences journals by stream sequence instead)`
  );
}

/** Connects to NATS and warns (through `onWarn`) when the server is older than 2.10. */
export async function connectNats(servers: string | string[], onWarn: (msg: string) => void = () => {}, name = 'ordo'): Promise<NatsConnection> {
  const nc = await connect({ servers, name, maxReconnectAttempts: -1 });
  const warning = serverVersionWarning(nc.info?.version ?? '');
  if (warning) onWarn(warning);
  return nc;
}
