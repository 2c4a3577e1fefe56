import { test } from 'uvu';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import { StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { OrdoClient } from '../src/client/ordo-client.js';
import { journalStream } from '../src/runtime/cluster/names.js';
import { OwnerRecords } from '../src/runtime/cluster/owner-records.js';
import type { Order } from '../src/protocol/model.js';
import { type ClusterNode, converged, disposeNode, ownership, RetryingClient, refusalsOf, spawnNode, until } from './helpers/cluster.js';
import { type NatsServer, startNatsCluster } from './helpers/nats-server.js';

// Three ordo nodes on a three-server NATS cluster, every stream and bucket with three replicas:
// one NATS server SIGKILLed under load loses nothing acknowledged and the cluster goes on.
let servers: NatsServer[] = [];
const nodes: ClusterNode[] = [];
/** Lines of each node's and each NATS server's output a failed wait prints: what stalled, and why. */
const LOG_LINES = 25;

/** The owner records in KV (what nodes route by), `journal→node@epoch`, `journal→-` where there is none. */
async function ownerRecords(): Promise<string> {
  const nc = await connect({ servers: servers.map((s) => s.url) }).catch(() => null);
  if (!nc) return 'owner records: NATS unreachable';
  try {
    const records = await OwnerRecords.open(nc, 'r3', 3);
    const all = await Promise.all(Array.from({ length: 16 }, async (_, j) => {
      const r = await records.get(j).catch(() => undefined);
      return `${j}→${r === undefined ? '?' : r === null ? '-' : `${r.node}@${r.epoch}`}`;
    }));
    return `owner records: ${all.join(' ')}`;
  } catch (err) {
    return `owner records: ${String(err)}`;
  } finally {
    await nc.close();
  }
}

function natsOutput(): string {
  return servers.map((s, i) => [`--- nats s${i + 1}: last lines of ${s.output.length} ---`, ...s.output.slice(-LOG_LINES).map((l) => `    ${l}`)].join('\n')).join('\n');
}

test.after(async () => {
  for (const n of nodes) await disposeNode(n).catch(() => {});
  for (const s of servers) await s.dispose().catch(() => {});
});

test('R3: one of three NATS servers SIGKILLed under load: nothing acknowledged lost or applied twice, service goes on', async () => {
  servers = await startNatsCluster(3);
  const urls = servers.map((s) => s.url).join(',');
  // JetStream answers once its meta leader is elected: wait until an R3 bucket can be made.
  await until('JetStream clustered and ready', async () => {
    const nc = await connect({ servers: urls.split(',') }).catch(() => null);
    if (!nc) return false;
    try {
      await new Kvm(nc).create('ready_probe', { replicas: 3, storage: StorageType.File });
      return true;
    } catch {
      return false;
    } finally {
      await nc.close();
    }
  }, 30_000, 250);
  // Leases longer than a stream-leader election (~6 s of timeouts measured on 2.9.10).
  const env = { ORDO_NATS_REPLICAS: '3', ORDO_LEASE_TTL_MS: '12000' };
  const started = await Promise.all(['r1', 'r2', 'r3'].map((id) => spawnNode(urls, id, 'r3', env)));
  nodes.push(...started);
  await until('every journal owned once', () => converged(nodes), 60_000, 200, async () => `${await ownership(nodes, LOG_LINES)}\n${natsOutput()}`);

  const client = new RetryingClient(() => nodes);
  const skus = Array.from({ length: 20 }, (_, i) => `r3-${i}`);
  for (const sku of skus) assert.equal((await client.call('inventory.set', { sku, onHand: 1_000_000 })).ok, true);
  const acknowledged: { orderId: string; sku: string }[] = [];
  let stop = false;
  let killed = false;
  let afterKill = 0;
  const loadClients: RetryingClient[] = [];
  // A worker that fails (a refused placement, no definite answer) stops the others and fails the
  // test through the `until` below, instead of leaving workers running into the next wait.
  let workerFailure: unknown = null;
  const workers = Array.from({ length: 12 }, async (_, w) => {
    const c = new RetryingClient(() => nodes);
    loadClients.push(c);
    try {
      while (!stop) {
        const orderId = `r3-${randomUUID()}`;
        const sku = skus[(w + acknowledged.length) % skus.length]!;
        const r = await c.call('order.place', { orderId, customerId: 'bob', items: [{ sku, quantity: 1 }] }, w, 20_000);
        assert.equal(r.ok, true, JSON.stringify(r));
        acknowledged.push({ orderId, sku });
        if (killed) afterKill++;
      }
    } catch (err) {
      workerFailure ??= err;
      stop = true;
    } finally {
      await c.close();
    }
  });
  const loadFailed = () => {
    if (workerFailure) throw workerFailure;
    return false;
  };
  const loadDetail = async () => `${acknowledged.length} acknowledged; retried for ${refusalsOf(loadClients)}; ${await ownership(nodes, LOG_LINES)}\n${await ownerRecords()}\n${natsOutput()}`;
  try {
    await until('some load before the kill', () => loadFailed() || acknowledged.length >= 300, 60_000, 50, loadDetail);
  } catch (err) {
    stop = true;
    await Promise.all(workers);
    throw err;
  }
  // Every journal stream has three replicas (made so by the nodes, from ORDO_NATS_REPLICAS).
  const nc = await connect({ servers: servers[1]!.url });
  try {
    const jsm = await (await import('@nats-io/jetstream')).jetstreamManager(nc);
    assert.equal((await jsm.streams.info(journalStream('r3', 0))).config.num_replicas, 3);
  } finally {
    await nc.close();
  }
  await servers[0]!.kill();
  const killedAt = Date.now();
  killed = true;
  let tookMs: number;
  try {
    tookMs = await until('the cluster goes on placing orders after the kill', () => loadFailed() || afterKill >= 300, 90_000, 100, loadDetail);
  } catch (err) {
    stop = true;
    await Promise.all(workers);
    throw err;
  }
  const rewritten = nodes.flatMap((n) =>
    n.server.output.filter((l) => l.includes('written again')).map((l) => `${n.id} (${/"msg":"([^"]*)"/.exec(l)?.[1] ?? l}, ${new Date(Number(/"time":(\d+)/.exec(l)?.[1])).getTime() < killedAt ? 'before' : 'after'} the kill)`),
  );
  console.log(`  R3: ${acknowledged.length} placements acknowledged; 300 more within ${tookMs} ms of the NATS server's kill (${Date.now() - killedAt} ms); owner records rewritten: ${rewritten.length ? rewritten.join(', ') : 'none'}`);
  stop = true;
  await Promise.all(workers);
  if (workerFailure) throw workerFailure;

  // Every acknowledged placement is there, once: reserved units per SKU = acknowledged orders of it.
  const viaNode = await OrdoClient.connect(nodes[1]!.url, 'tok-admin');
  for (const sku of skus) {
    const r = await client.call('inventory.get', { sku });
    const want = acknowledged.filter((a) => a.sku === sku).length;
    assert.equal((r.stock as { reserved: number }).reserved, want, `${sku}: ${want} acknowledged`);
  }
  const got = await Promise.all(acknowledged.map((a) => viaNode.call('order.get', { orderId: a.orderId })));
  assert.ok(got.every((r) => r.ok && (r.order as Order).status === 'awaiting_payment'), 'every acknowledged order is there');
  await viaNode.close();
  await client.close();
});

test.run();
