import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrdoClient } from '../../src/client/ordo-client.js';
import { Gateway } from '../../src/gateway/server.js';
import { TokenTable } from '../../src/gateway/tokens.js';
import { createLogger } from '../../src/logger.js';
import type { Principal } from '../../src/protocol/model.js';
import { ActorRuntime } from '../../src/runtime/hosting/actor-runtime.js';

export const TOKENS: Record<string, Principal> = {
  'tok-admin': { role: 'admin' },
  'tok-alice': { role: 'customer', customerId: 'alice' },
  'tok-bob': { role: 'customer', customerId: 'bob' },
  'tok-payments': { role: 'payments' },
  'tok-warehouse': { role: 'warehouse' },
  'tok-carrier': { role: 'carrier' },
  'tok-observer': { role: 'observer' },
};

export async function tempDir(prefix = 'ordo-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Runs `fn` with a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await tempDir(prefix);
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface TestServer {
  url: string;
  port: number;
  dataDir: string;
  runtime: ActorRuntime;
  gateway: Gateway;
  connect(token: string, opts?: Parameters<typeof OrdoClient.connect>[2]): Promise<OrdoClient>;
  stop(): Promise<void>;
  /** Stops and deletes the data directory. */
  destroy(): Promise<void>;
}

/** An in-process server on real worker threads, a real socket and a temporary data directory. */
export async function startServer(opts: { dataDir?: string; workers?: number; shards?: number; journals?: number; gateway?: Partial<ConstructorParameters<typeof Gateway>[0]> } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await tempDir());
  const log = createLogger('test');
  const runtime = await ActorRuntime.start({ dataDir, workers: opts.workers ?? 2, shards: opts.shards ?? 8, journals: opts.journals, log });
  const gateway = new Gateway({ host: '127.0.0.1', port: 0, runtime, tokens: new TokenTable(TOKENS), log, ...opts.gateway });
  const port = await gateway.listen();
  const url = `ws://127.0.0.1:${port}/ws`;
  const clients: OrdoClient[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await gateway.close();
    await runtime.stop();
  };
  return {
    url,
    port,
    dataDir,
    runtime,
    gateway,
    async connect(token, o) {
      const c = await OrdoClient.connect(url, token, o);
      clients.push(c);
      return c;
    },
    stop,
    async destroy() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
