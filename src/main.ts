/**
 * `npm start`: the ordo server on the embedded store in the data directory.
 * Settings: see `loadConfig` (flags, then ORDO_* environment variables, then defaults).
 */
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from './config.js';
import { Gateway } from './gateway/server.js';
import { loadTokens, TokenConfigError } from './gateway/tokens.js';
import { createLogger } from './logger.js';
import { ActorRuntime } from './runtime/hosting/actor-runtime.js';
import { DataDirLockedError } from './runtime/errors.js';
import { lockDataDir } from './runtime/storage/data-dir-lock.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('ordo');
  const release = await lockDataDir(config.dataDir);
  const tokens = await loadTokens(config.tokensJson, config.dataDir);
  if (tokens.generated) console.log(`ordo: generated one token per role in ${resolve(tokens.source)} (mode 0600)`);
  const runtime = await ActorRuntime.open({
    dataDir: config.dataDir,
    workers: config.workers,
    shards: config.shards,
    journals: config.journals,
    snapshotBytes: config.snapshotBytes,
    maxActiveActors: config.maxActiveActors,
    mailboxSoftLimit: config.mailboxSoftLimit,
    mailboxHardLimit: config.mailboxHardLimit,
    log,
    onFatal: () => process.exit(70),
  });
  const gateway = new Gateway({
    host: config.host,
    port: config.port,
    runtime,
    tokens: tokens.table,
    log,
    maxInFlightPerConnection: config.maxInFlightPerConnection,
    maxConnectionsPerToken: config.maxConnectionsPerToken,
    maxBufferedBytes: config.maxBufferedBytes,
    maxUnwrittenBytes: config.maxUnwrittenBytes,
    pingIntervalMs: config.pingIntervalMs,
    allowedOrigins: config.allowedOrigins,
  });
  // Listen first: /healthz answers 503 while the journal is replayed.
  const port = await gateway.listen();
  const stats = await runtime.start();
  log.info(
    { actors: stats.actors, records: stats.records, timers: stats.timers, truncatedBytes: stats.truncatedBytes, ms: stats.ms, workers: runtime.workerCount, shards: runtime.shardCount, journals: runtime.journalCount },
    `recovered ${stats.actors} actors from ${stats.records} journal records, ${stats.timers} timers re-armed, in ${stats.ms} ms`,
  );
  console.log(`ordo listening on ws://${config.host}:${port}/ws (data: ${resolve(config.dataDir)}, tokens: ${tokens.source === 'ORDO_TOKENS' ? 'ORDO_TOKENS' : resolve(tokens.source)})`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining: no new commands, answering those in flight');
    await gateway.drain();
    await gateway.close();
    await runtime.stop();
    await release();
    log.info('stopped cleanly');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  if (config.simulate) {
    const { startSimulation } = await import('./simulation/simulation.js');
    startSimulation({ url: `ws://${config.host}:${port}/ws`, tokens: tokens.entries });
  }
}

main().catch((err: unknown) => {
  // One line that names the cause: what failed, on which path, the errno (Node's fs errors
  // carry all three in their message). Never a stack trace.
  const message = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
  if (err instanceof ConfigError || err instanceof TokenConfigError || err instanceof DataDirLockedError) {
    console.error(`ordo: ${message}`);
  } else {
    console.error(`ordo: failed to start: ${message}`);
  }
  process.exit(1);
});
