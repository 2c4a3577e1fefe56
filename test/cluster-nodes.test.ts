import { test } from 'uvu';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { OrdoClient, type ReplyFrame } from '../src/client/ordo-client.js';
import { ActorKeys } from '../src/protocol/messages.js';
import type { Order } from '../src/protocol/model.js';
import { journalOf, shardOf } from '../src/runtime/placement.js';
import { type ClusterNode, converged, disposeNode, ownership, RetryingClient, routesAgree, spawnNode, until } from './helpers/cluster.js';
import { type NatsServer, startNatsServer } from './helpers/nats-server.js';
import { runOrdo } from './helpers/cli.js';
import type { ClusterStatus } from '../src/cli/cluster-status.js';

// Three ordo nodes as real processes and one real nats-server (no mock of NATS), on free ports.
const J = 16;
const journalOfKey = (key: string) => journalOf(shardOf(key, J), J);
/** Lines of each node's log a timed-out wait for convergence prints. */
const LOG_LINES = 60;
/** Nodes log at info here: what they took, released and lost is what a failed wait needs to show. */
const INFO = { ORDO_LOG_LEVEL: 'info' };
let nats: NatsServer;
const everyNode: ClusterNode[] = [];
/** Connections a test opened, closed whatever happens (an open one keeps the process alive). */
const cleanups: (() => Promise<void>)[] = [];

test.before(async () => {
  nats = await startNatsServer();
});
test.after(async () => {
  for (const c of cleanups) await c().catch(() => {});
  for (const n of everyNode) await disposeNode(n).catch(() => {});
  await nats?.dispose();
});

async function startNodes(cluster: string, ids: string[], env: Record<string, string> = {}): Promise<ClusterNode[]> {
  const nodes = await Promise.all(ids.map((id) => spawnNode(nats.url, id, cluster, env)));
  everyNode.push(...nodes);
  await until('every journal owned once', () => converged(nodes), 30_000, 50, () => ownership(nodes, LOG_LINES));
  return nodes;
}

async function ownerOf(nodes: ClusterNode[], journal: number): Promise<ClusterNode> {
  for (const n of nodes) if ((await n.health())?.owned.some((o) => o.journal === journal)) return n;
  throw new Error(`nobody owns journal ${journal}`);
}

/** An order id whose order actor lives on a journal `owner` owns. */
async function orderIdOwnedBy(nodes: ClusterNode[], owner: ClusterNode, prefix: string): Promise<string> {
  const mine = new Set((await owner.health())!.owned.map((o) => o.journal));
  for (;;) {
    const id = `${prefix}-${randomUUID().slice(0, 8)}`;
    if (mine.has(journalOfKey(ActorKeys.order(id)))) return id;
  }
}

const ok = (r: ReplyFrame, what: string) => {
  assert.equal(r.ok, true, `${what}: ${JSON.stringify(r)}`);
  return r;
};

test('flash sale over three nodes, one SIGKILLed midway: exactly 300 sold, nothing acknowledged lost, deadlines fire on the successor, events cross nodes, rejoin, and a kill of everything', async () => {
  const cluster = 'flash';
  let nodes = await startNodes(cluster, ['n1', 'n2', 'n3'], INFO);
  const live = () => nodes.filter((n) => n.server.proc.exitCode === null && n.server.proc.signalCode === null);
  const client = new RetryingClient(live);
  const payments = new RetryingClient(live, 'tok-payments');

  ok(await client.call('inventory.set', { sku: 'flash', onHand: 300 }), 'set flash');
  ok(await client.call('inventory.set', { sku: 'dl', onHand: 100 }), 'set dl');
  const victim = await ownerOf(nodes, journalOfKey(ActorKeys.sku('flash')));
  const others = nodes.filter((n) => n !== victim);

  // A subscriber on one node sees a change made through another.
  const subId = `sub-${randomUUID()}`;
  ok(await client.call('order.place', { orderId: subId, customerId: 'alice', items: [{ sku: 'dl', quantity: 1 }] }), 'place sub');
  const watcher = await OrdoClient.connect(others[0]!.url, 'tok-admin');
  ok(await watcher.call('order.subscribe', { orderId: subId }), 'subscribe');
  const payer = await OrdoClient.connect(others[1]!.url, 'tok-payments');
  ok(await payer.call('order.pay', { orderId: subId, paymentRef: 'pay-1' }), 'pay through another node');
  await until('the subscriber saw the payment made elsewhere', () =>
    watcher.events.some((e) => e.event === 'order.updated' && (e as unknown as { order: Order }).order.status === 'picking'),
  );
  await payer.close();

  // Orders the victim owns, with deadlines that pass after it is killed.
  const deadlined: string[] = [];
  for (let i = 0; i < 5; i++) {
    const id = await orderIdOwnedBy(nodes, victim, 'dl');
    ok(await client.call('order.place', { orderId: id, customerId: 'bob', items: [{ sku: 'dl', quantity: 2 }], paymentTimeoutMs: 4000 }, nodes.indexOf(others[0]!)), 'place deadlined');
    deadlined.push(id);
  }

  // The sale: 3,000 buyers over every gateway, 30 at a time; the victim is killed after 100 answers.
  const buyers = Array.from({ length: 3000 }, () => `b-${randomUUID()}`);
  const answers = new Map<string, ReplyFrame>();
  let next = 0;
  let killedAt = 0;
  let retries = 0;
  let firstOkAfterKill = 0;
  let soldAfterKill = 0;
  const saleStarted = Date.now();
  const workers = Array.from({ length: 30 }, async (_, w) => {
    const c = new RetryingClient(live);
    while (next < buyers.length) {
      const id = buyers[next++]!;
      const sentAfterKill = killedAt > 0;
      const r = await c.call('order.place', { orderId: id, customerId: 'bob', items: [{ sku: 'flash', quantity: 1 }] }, w);
      answers.set(id, r);
      if (sentAfterKill && r.ok) {
        soldAfterKill++;
        if (!firstOkAfterKill) firstOkAfterKill = Date.now();
      }
      if (answers.size === 100 && !killedAt) {
        killedAt = Date.now();
        await victim.server.kill('SIGKILL');
      }
    }
    retries += c.retries;
    await c.close();
  });
  await Promise.all(workers);
  console.log(`  sale: ${buyers.length} buyers in ${Date.now() - saleStarted} ms, ${victim.id} (owner of the SKU) killed after 100 answers, ${retries} retries, ${soldAfterKill} sold by placements sent after the kill, the first ${firstOkAfterKill ? firstOkAfterKill - killedAt : '-'} ms after it`);
  assert.ok(soldAfterKill > 0, 'the successor sold units of the dead node\'s SKU');
  assert.ok(killedAt > 0, 'the victim was killed during the sale');
  const sold = buyers.filter((id) => answers.get(id)?.ok);
  const refused = buyers.filter((id) => answers.get(id)?.error?.code === 'OUT_OF_STOCK');
  assert.equal(sold.length, 300, 'exactly 300 sold');
  assert.equal(refused.length, 2700, `every other buyer refused OUT_OF_STOCK (${JSON.stringify([...new Set([...answers.values()].map((r) => r.error?.code))])})`);

  // On every survivor: the stock, every acknowledged order, no refused one.
  nodes = live();
  assert.equal(nodes.length, 2);
  for (const n of nodes) {
    const c = await OrdoClient.connect(n.url, 'tok-admin');
    assert.deepEqual(ok(await c.call('inventory.get', { sku: 'flash' }), 'get flash').stock, { sku: 'flash', onHand: 300, reserved: 300, available: 0 });
    const got = await Promise.all(sold.map((orderId) => c.call('order.get', { orderId })));
    assert.ok(got.every((r) => r.ok && (r.order as Order).status === 'awaiting_payment'), `${n.id} reads every acknowledged order`);
    const none = await Promise.all(refused.slice(0, 200).map((orderId) => c.call('order.get', { orderId })));
    assert.ok(none.every((r) => r.error?.code === 'NOT_FOUND'), 'a refused placement left no order');
    await c.close();
  }
  // The victim's payment deadlines fire on its successor: cancelled once each, stock released.
  await until('the dead node’s deadlines fired elsewhere', async () => {
    const rs = await Promise.all(deadlined.map((orderId) => client.call('order.get', { orderId })));
    return rs.every((r) => r.ok && (r.order as Order).status === 'cancelled');
  }, 20_000);
  for (const orderId of deadlined) {
    const o = ok(await client.call('order.get', { orderId }), 'get deadlined').order as Order;
    assert.equal(o.reason, 'payment_timeout');
    assert.equal(o.history.filter((h) => h.status === 'cancelled').length, 1, 'cancelled once');
  }
  assert.deepEqual(ok(await client.call('inventory.get', { sku: 'dl' }), 'get dl').stock, { sku: 'dl', onHand: 100, reserved: 1, available: 99 });
  // order.list merges every node's shards: the 300 sold orders are all listed.
  const listed = new Set<string>();
  let after: string | null = null;
  do {
    const page: ReplyFrame = ok(await client.call('order.list', { status: 'awaiting_payment', limit: 500, ...(after ? { after } : {}) }), 'list');
    for (const o of page.orders as Order[]) listed.add(o.orderId);
    after = page.next as string | null;
  } while (after);
  assert.deepEqual([...listed].filter((id) => id.startsWith('b-')).sort(), [...sold].sort());

  // The killed node rejoins on an empty data directory and serves everything.
  const rejoined = await spawnNode(nats.url, victim.id, cluster, INFO);
  everyNode.push(rejoined);
  nodes = [...nodes, rejoined];
  // A liveness wait, not a target: journals are handed over with a snapshot each, which on a
  // loaded 2-core machine took more than 30 s once in a full CI run.
  await until('the rejoined node has its share', () => converged(nodes), 60_000, 50, () => ownership(nodes, LOG_LINES));
  const viaRejoined = await OrdoClient.connect(rejoined.url, 'tok-admin');
  const again = await Promise.all(sold.map((orderId) => viaRejoined.call('order.get', { orderId })));
  assert.deepEqual(again.filter((r) => !r.ok), [], 'the rejoined node reads every acknowledged order');
  await viaRejoined.close();

  // SIGKILL of every process, nats-server included; then everything acknowledged is still there.
  await watcher.close();
  await client.close();
  await payments.close();
  for (const n of nodes) await n.server.kill('SIGKILL');
  await nats.kill();
  await nats.start();
  nodes = await startNodes(cluster, ['n1', 'n2', 'n3']);
  const after2 = new RetryingClient(() => nodes);
  assert.deepEqual(ok(await after2.call('inventory.get', { sku: 'flash' }), 'get flash').stock, { sku: 'flash', onHand: 300, reserved: 300, available: 0 });
  for (const orderId of sold) assert.equal((ok(await after2.call('order.get', { orderId }), 'get sold').order as Order).status, 'awaiting_payment');
  assert.equal((ok(await after2.call('order.get', { orderId: subId }), 'get sub').order as Order).status, 'picking');
  await after2.close();
});

test('fencing: a node SIGSTOPped past its lease while another takes its journals writes nothing and answers nothing for them once continued', async () => {
  const cluster = 'fence';
  const nodes = await startNodes(cluster, ['a', 'b'], INFO);
  const [a, b] = nodes as [ClusterNode, ClusterNode];
  // A SKU and an order a owns, the order's deadline due while a is stopped.
  const mine = new Set((await a.health())!.owned.map((o) => o.journal));
  let sku = '';
  for (let i = 0; !sku; i++) if (mine.has(journalOfKey(ActorKeys.sku(`fz${i}`)))) sku = `fz${i}`;
  const orderId = await orderIdOwnedBy(nodes, a, 'fz');
  const viaA = await OrdoClient.connect(a.url, 'tok-admin');
  ok(await viaA.call('inventory.set', { sku, onHand: 10 }), 'set');
  ok(await viaA.call('order.place', { orderId, customerId: 'bob', items: [{ sku, quantity: 1 }], paymentTimeoutMs: 3000 }), 'place');

  const watch = await watchJournals(cluster);
  a.server.proc.kill('SIGSTOP');
  try {
    await until('b owns every journal', async () => (await b.health())?.owned.length === J, 20_000);
    const viaB = await OrdoClient.connect(b.url, 'tok-admin');
    assert.equal((ok(await viaB.call('inventory.adjust', { sku, delta: 5, adjustmentId: 'adj-1' }), 'adjust').stock as { onHand: number }).onHand, 15);
    await until('the deadline fired on b', async () => ((await viaB.call('order.get', { orderId })).order as Order | undefined)?.status === 'cancelled');
    await viaB.close();
    // Sent while a is stopped: a reads these first thing when it runs again.
    const read = viaA.call('inventory.get', { sku });
    const order = viaA.call('order.get', { orderId });
    await new Promise((r) => setTimeout(r, 200));
    a.server.proc.kill('SIGCONT');
    // What a answers is what b holds (a forwards it), never a's stale memory (onHand 10).
    assert.deepEqual((ok(await read, 'read after SIGCONT').stock as object), { sku, onHand: 15, reserved: 0, available: 15 });
    assert.equal((ok(await order, 'order after SIGCONT').order as Order).status, 'cancelled');
    ok(await viaA.call('order.place', { orderId: `${orderId}-2`, customerId: 'bob', items: [{ sku, quantity: 1 }] }), 'place after SIGCONT');
  } finally {
    a.server.proc.kill('SIGCONT');
  }
  await until('a has its share again', () => converged(nodes), 60_000, 50, () => ownership(nodes, LOG_LINES));
  const o = ok(await viaA.call('order.get', { orderId }), 'get').order as Order;
  assert.equal(o.history.filter((h) => h.status === 'cancelled').length, 1, 'the deadline fired once, on b; a fired nothing');
  assert.deepEqual(ok(await viaA.call('inventory.get', { sku }), 'get').stock, { sku, onHand: 15, reserved: 1, available: 14 });
  await viaA.close();
  // Every message appended to any journal from before the freeze on, as it landed (trims later
  // cannot hide one): no epoch older than one before it, so a wrote nothing after b's fence.
  await watch.stop();
  assert.ok(watch.seen.length > 0, 'messages were appended meanwhile');
  for (const [j, metas] of watch.byJournal) {
    for (let i = 1; i < metas.length; i++) {
      assert.ok(metas[i]!.epoch >= metas[i - 1]!.epoch, `journal ${j}: epoch ${metas[i]!.epoch} (${metas[i]!.writer}) after epoch ${metas[i - 1]!.epoch}`);
    }
  }
  assert.ok(watch.seen.some((m) => m.writer === 'b'), 'b appended');
});

/** Records every message appended to the cluster's journal streams from now on (ordered consumers). */
async function watchJournals(cluster: string) {
  const { connectNats } = await import('../src/runtime/cluster/nats-connection.js');
  const { jetstream, DeliverPolicy } = await import('@nats-io/jetstream');
  const { readMeta } = await import('../src/runtime/cluster/journal-message.js');
  const { journalStream } = await import('../src/runtime/cluster/names.js');
  const nc = await connectNats(nats.url);
  cleanups.push(() => nc.close());
  const js = jetstream(nc);
  const seen: { journal: number; epoch: number; writer: string }[] = [];
  const byJournal = new Map<number, { epoch: number; writer: string }[]>();
  const running = await Promise.all(
    Array.from({ length: J }, async (_, j) => {
      const consumer = await js.consumers.get(journalStream(cluster, j), { deliver_policy: DeliverPolicy.New });
      const msgs = await consumer.consume();
      void (async () => {
        for await (const m of msgs) {
          const meta = readMeta(m.headers);
          if (!meta) continue;
          const rec = { journal: j, epoch: meta.epoch, writer: meta.writer };
          seen.push(rec);
          byJournal.set(j, [...(byJournal.get(j) ?? []), rec]);
        }
      })();
      return msgs;
    }),
  );
  return {
    seen,
    byJournal,
    async stop() {
      for (const m of running) m.stop();
      await nc.close();
    },
  };
}

test('SIGTERM hands a node\'s journals over before it exits (long before its lease would lapse); cluster status and /metrics show who owns what', async () => {
  const cluster = 'handover';
  // A lease far longer than the test: only a hand-over can move the journals in time.
  const nodes = await startNodes(cluster, ['h1', 'h2'], { ORDO_LEASE_TTL_MS: '60000' });
  const [h1, h2] = nodes as [ClusterNode, ClusterNode];
  const client = new RetryingClient(() => nodes);
  const ids = Array.from({ length: 40 }, (_, i) => `h-${i}-${randomUUID().slice(0, 6)}`);
  ok(await client.call('inventory.set', { sku: 'ho', onHand: 100 }), 'set');
  for (const orderId of ids) ok(await client.call('order.place', { orderId, customerId: 'bob', items: [{ sku: 'ho', quantity: 1 }] }), 'place');

  const status = await runOrdo(['cluster', 'status', '--json', '--nats', nats.url, '--cluster', cluster]);
  assert.equal(status.code, 0, status.stderr);
  const st = JSON.parse(status.stdout) as ClusterStatus;
  assert.deepEqual(st.members.map((m) => m.node), ['h1', 'h2']);
  for (const n of [h1, h2]) {
    const owned = (await n.health())!.owned.map((o) => o.journal);
    assert.deepEqual(st.owners.filter((o) => o.owner?.node === n.id).map((o) => o.journal), owned, `status names ${n.id}'s journals`);
  }
  await until('both nodes route every journal to its owner', () => routesAgree(nodes), 10_000, 50, () => ownership(nodes));
  const metrics = await (await fetch(`http://127.0.0.1:${h1.server.port}/metrics`)).text();
  assert.match(metrics, new RegExp(`ordo_cluster_journals_owned ${(await h1.health())!.owned.length}\\b`));
  assert.match(metrics, /ordo_cluster_journal_epoch\{journal="\d+"\} \d+/);

  const stoppedAt = Date.now();
  assert.equal(await h1.server.kill('SIGTERM'), 0, 'a clean stop exits 0');
  await until('h2 owns every journal', async () => (await h2.health())?.owned.length === J, 15_000);
  await until('h2 routes every journal to itself', () => routesAgree([h2]), 10_000, 50, () => ownership([h2]));
  assert.ok(Date.now() - stoppedAt < 15_000, `handed over in ${Date.now() - stoppedAt} ms (the lease is 60 s)`);
  const c2 = await OrdoClient.connect(h2.url, 'tok-admin');
  for (const orderId of ids) assert.equal((ok(await c2.call('order.get', { orderId }), 'get').order as Order).status, 'awaiting_payment');
  assert.deepEqual(ok(await c2.call('inventory.get', { sku: 'ho' }), 'stock').stock, { sku: 'ho', onHand: 100, reserved: 40, available: 60 });
  const after = JSON.parse((await runOrdo(['cluster', 'status', '--json', '--nats', nats.url, '--cluster', cluster])).stdout) as ClusterStatus;
  assert.deepEqual(after.members.map((m) => m.node), ['h2'], 'the stopped node deleted its lease');
  assert.ok(after.owners.every((o) => o.owner?.node === 'h2'));
  await c2.close();
  await client.close();
});

test.run();
