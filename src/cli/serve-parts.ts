import type { ServerConfig } from '../config.js';
import type { CommandRuntime } from '../gateway/command-runtime.js';
import { Gateway } from '../gateway/server.js';
import type { LoadedTokens } from '../gateway/tokens.js';
import type { Logger } from '../logger.js';
import { removeServerFile } from './endpoint.js';

/** What `ordo serve` builds the same way for one node and for a cluster node: the gateway. */
export function gatewayFor(config: ServerConfig, runtime: CommandRuntime, tokens: LoadedTokens, log: Logger): Gateway {
  return new Gateway({
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
}

/**
 * Resolves with exit code 0 once SIGTERM or SIGINT has stopped the server: the gateway drains
 * (the commands in flight answered) and closes, then the runtime stops (one node: snapshots; a
 * cluster node: hands its journals over), then the data directory is let go.
 */
export function untilStopped(config: ServerConfig, gateway: Gateway, runtime: { stop(): Promise<void> }, release: () => Promise<void>, log: Logger, draining: string): Promise<number> {
  return new Promise<number>((done) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, draining);
      await gateway.drain();
      await gateway.close();
      await runtime.stop();
      await removeServerFile(config.dataDir);
      await release();
      log.info('stopped cleanly');
      done(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });
}
