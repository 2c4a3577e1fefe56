import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../config.js';
import { loadTokens, TokenConfigError } from '../gateway/tokens.js';
import { createLogger } from '../logger.js';
import { ActorRuntime } from '../runtime/hosting/actor-runtime.js';
import { lockDataDir } from '../runtime/storage/data-dir-lock.js';
import { DataDirLockedError } from '../runtime/errors.js';
import { writeServerFile } from './endpoint.js';
import { gatewayFor, untilStopped } from './serve-parts.js';
import { Failure } from './usage.js';
import { serveClusterNode } from './serve-cluster.js';
import { governHeapGrowth } from '../runtime/heap-growth.js';

/**
 * `ordo serve` (and `npm start`): the server on the embedded store in the data directory.
 * Settings: see `loadConfig` (flags, then ORDO_* environment variables, then defaults).
 * Resolves with the exit code once a SIGTERM or SIGINT has drained and stopped it.
 */
export async function serve(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let config;
  try {
    config = loadConfig(args, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new Failure(err.message);
    throw err; // a parseArgs error: the caller reports it as a usage error
  }
  const log = createLogger('ordo');
  // This thread's heap: the gateway's, and with ORDO_WORKERS=0 or in a cluster node the shards' too.
  governHeapGrowth(config.heapGrowth);
  let release: () => Promise<void>;
  try {
    release = await lockDataDir(config.dataDir);
  } catch (err) {
    if (err instanceof DataDirLockedError) throw new Failure(err.message);
    throw err;
  }
  let tokens;
  try {
    tokens = await loadTokens(config.tokensJson, config.dataDir);
  } catch (err) {
    await release();
    if (err instanceof TokenConfigError) throw new Failure(err.message);
    throw err;
  }
  if (tokens.generated) console.log(`ordo: generated one token per role in ${resolve(tokens.source)} (mode 0600)`);
  if (config.cluster) return serveClusterNode(config, config.cluster, tokens, log, release);
  const runtime = await ActorRuntime.open({
    dataDir: config.dataDir,
    workers: config.workers,
    shards: config.shards,
    journals: config.journals,
    snapshotBytes: config.snapshotBytes,
    maxActiveActors: config.maxActiveActors,
    mailboxSoftLimit: config.mailboxSoftLimit,
    mailboxHardLimit: config.mailboxHardLimit,
    heapGrowth: config.heapGrowth,
    log,
    onFatal: () => process.exit(70),
  });
  const gateway = gatewayFor(config, runtime, tokens, log);
  // Listen first: /healthz answers 503 while the journal is replayed.
  const port = await gateway.listen();
  const stats = await runtime.start();
  log.info(
    { actors: stats.actors, records: stats.records, timers: stats.timers, truncatedBytes: stats.truncatedBytes, ms: stats.ms, workers: runtime.hostThreadCount, shards: runtime.shardCount, journals: runtime.journalCount },
    `recovered ${stats.actors} actors from ${stats.records} journal records, ${stats.timers} timers re-armed, in ${stats.ms} ms`,
  );
  const url = `ws://${config.host}:${port}/ws`;
  // A wildcard address is not one a client can dial; the local tools connect to loopback.
  const localHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const localUrl = `ws://${localHost.includes(':') ? `[${localHost}]` : localHost}:${port}/ws`;
  await writeServerFile(config.dataDir, { pid: process.pid, url: localUrl });
  console.log(`ordo listening on ${url} (data: ${resolve(config.dataDir)}, tokens: ${tokens.source === 'ORDO_TOKENS' ? 'ORDO_TOKENS' : resolve(tokens.source)})`);

  if (config.simulate) {
    const { startSimulation } = await import('../simulation/simulation.js');
    startSimulation({ url: localUrl, tokens: tokens.entries });
  }

  return untilStopped(config, gateway, runtime, release, log, 'draining: no new commands, answering those in flight');
}
