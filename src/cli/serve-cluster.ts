import { hostname } from 'node:os';
import type { ClusterConfig, ServerConfig } from '../config.js';
import type { LoadedTokens } from '../gateway/tokens.js';
import type { Logger } from '../logger.js';
import { ClusterRuntime } from '../runtime/cluster/cluster-runtime.js';
import { registerClusterMetrics } from '../runtime/cluster/cluster-metrics.js';
import { writeServerFile } from './endpoint.js';
import { gatewayFor, untilStopped } from './serve-parts.js';
import { Failure } from './usage.js';

/**
 * `ordo serve --nats URL`: a node of a cluster (PROTOCOL.md "Several nodes"). Its journals,
 * snapshots and ownership live in NATS JetStream; the data directory holds only the tokens and
 * `server.json` (a node may start on an empty one). SIGTERM hands its journals to the others
 * (drained, snapshotted, released, lease deleted) before it exits 0.
 */
export async function serveClusterNode(config: ServerConfig, cluster: ClusterConfig, tokens: LoadedTokens, log: Logger, release: () => Promise<void>): Promise<number> {
  let runtime: ClusterRuntime;
  try {
    runtime = await ClusterRuntime.connect({
      servers: cluster.servers,
      cluster: cluster.name,
      layout: { journals: cluster.journals, shards: cluster.shards },
      log,
      replicas: cluster.replicas,
      leaseTtlMs: cluster.leaseTtlMs,
      pollMs: cluster.pollMs,
      snapshotBytes: config.snapshotBytes,
      maxActiveActors: config.maxActiveActors,
      mailboxSoftLimit: config.mailboxSoftLimit,
      mailboxHardLimit: config.mailboxHardLimit,
    });
  } catch (err) {
    await release();
    throw new Failure(`cannot connect to NATS at ${cluster.servers.join(',')}: ${(err as Error).message}`);
  }
  const gateway = gatewayFor(config, runtime, tokens, log);
  registerClusterMetrics(gateway.metrics.registry, runtime);
  const port = await gateway.listen();
  const url = `ws://${config.host}:${port}/ws`;
  const node = cluster.nodeId ?? `${hostname()}:${port}`;
  await runtime.start(node, url);
  const localHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  await writeServerFile(config.dataDir, { pid: process.pid, url: `ws://${localHost.includes(':') ? `[${localHost}]` : localHost}:${port}/ws` });
  log.info({ node, cluster: cluster.name, journals: runtime.layout.journals, shards: runtime.layout.shards }, `node ${node} joined cluster ${cluster.name}`);
  console.log(`ordo listening on ${url} (node ${node} of cluster ${cluster.name} on ${cluster.servers.join(',')})`);

  return untilStopped(config, gateway, runtime, release, log, 'draining: no new commands, answering those in flight, then handing the journals over');
}
