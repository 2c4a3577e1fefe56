import { test } from 'uvu';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { createLogger } from '../src/logger.js';
import { RefusedError } from '../src/protocol/errors.js';
import { assignJournals } from '../src/runtime/cluster/assignment.js';
import { ClusterRuntime } from '../src/runtime/cluster/cluster-runtime.js';
import { JournalLostError } from '../src/runtime/cluster/errors.js';
import { JetStreamJournal } from '../src/runtime/cluster/jetstream-journal.js';
import { journalStream, ownersBucket } from '../src/runtime/cluster/names.js';
import { OwnerRecords } from '../src/runtime/cluster/owner-records.js';
import type { RouteView } from '../src/runtime/cluster/owner-routes.js';
import { journalOf, shardOf } from '../src/runtime/placement.js';
import { ActorKeys, type ActorEvent } from '../src/protocol/messages.js';
import { type NatsServer, startNatsServer } from './helpers/nats-server.js';

// In-process cluster nodes (the gateway's CommandRuntime, no sockets) on a real nats-server:
// JetStreamShardStore round trips, routing between nodes, events, takeover after a lost node.
const ADMIN = { role: 'admin' } as const;
const log = createLogger('test');
let server: NatsServer;
let clusterNo = 0;
const nodes: ClusterRuntime[] = [];

test.before(async () => {
  server = await startNatsServer();
});
test.after(async () => {
  for (const n of nodes) await n.stop().catch(() => {});
  await server?.dispose();
});

async function startNode(cluster: string, node: string, extra: { unavailableAfterMs?: number; snapshotBytes?: number } = {}): Promise<ClusterRuntime> {
  const rt = await ClusterRuntime.start({
    servers: [server.url],
    cluster,
    node,
    url: `ws://${node}.test/ws`,
    layout: { journals: 4, shards: 8 },
    log,
    leaseTtlMs: 1000,
    pollMs: 250,
    ...extra,
  });
  nodes.push(rt);
  return rt;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Whether the hand-over after a join is over: every node counts every other (none will take or
 * release more), none has a take or release under way, and each journal is held by one node, the
 * one the assignment gives it, whose fence is the newest in its stream. Counting `owned` is not enough: it can show the split while
 * the slower node's takes of the other's journals still run, and until both views agree a read
 * may be answered by a node whose journal was just fenced (docs/PROTOCOL-NOTES.md, "Reads").
 */
async function handedOver(...rts: ClusterRuntime[]): Promise<boolean> {
  if (!rts.every((rt) => rt.members.length === rts.length && (rt.health().moving as number[]).length === 0)) return false;
  const held = rts.flatMap((rt) => [...rt.hosts.values()]);
  const journals = rts[0]!.layout.journals;
  if (held.length !== journals || new Set(held.map((h) => h.journalNo)).size !== journals || !held.every((h) => h.serving)) return false;
  // Each on the node the assignment gives it: else a node that won a take race for another's
  // journal (the other in its cooldown) still holds it, and lets it go at its next poll.
  const assigned = assignJournals(journals, rts.map((rt) => rt.node));
  if (!rts.every((rt) => [...rt.hosts.keys()].every((j) => assigned.get(j) === rt.node))) return false;
  return (await Promise.all(held.map((h) => h.journal.stillOwner()))).every(Boolean);
}

const place = (rt: ClusterRuntime, orderId: string, sku: string, quantity: number, paymentTimeoutMs = 900_000) =>
  rt.execute(ActorKeys.order(orderId), { type: 'order.place', orderId, customerId: 'c1', items: [{ sku, quantity }], paymentTimeoutMs }, ADMIN);
const stock = async (rt: ClusterRuntime, sku: string) => {
  const r = await rt.execute(ActorKeys.sku(sku), { type: 'inventory.get', sku }, ADMIN);
  assert.ok(r.ok);
  return r.stock!;
};

test('one node: state survives a hand-over to itself (release, snapshot, take), and the stream is trimmed behind the snapshots', async () => {
  const cluster = `rt${++clusterNo}`;
  const a = await startNode(cluster, 'a');
  await until('a owns every journal', () => a.owned.length === 4);
  assert.ok((await a.execute(ActorKeys.sku('mug'), { type: 'inventory.set', sku: 'mug', onHand: 10 }, ADMIN)).ok);
  for (let i = 0; i < 5; i++) assert.ok((await place(a, `o${i}`, 'mug', 1)).ok);
  // An adjust without an id is given one, so it is applied once.
  const adj = await a.execute(ActorKeys.sku('mug'), { type: 'inventory.adjust', sku: 'mug', delta: 3 }, ADMIN);
  assert.equal(adj.ok && adj.stock!.onHand, 13);
  await a.stop();
  const b = await startNode(cluster, 'a');
  await until('the restarted node owns every journal', () => b.owned.length === 4);
  assert.deepEqual(await stock(b, 'mug'), { sku: 'mug', onHand: 13, reserved: 5, available: 8 });
  const o = await b.execute(ActorKeys.order('o3'), { type: 'order.get', orderId: 'o3' }, ADMIN);
  assert.equal(o.ok && o.order!.status, 'awaiting_payment');
  const list = await b.listOrders({ limit: 100 });
  assert.equal(list.orders.length, 5);
  // The release snapshotted every shard: each stream keeps only its last message (the next fence reads it).
  const jsm = await jetstreamManager(b.nc);
  const j = journalOf(shardOf(ActorKeys.sku('mug'), 8), 4);
  const info = await jsm.streams.info(journalStream(cluster, j));
  assert.ok(info.state.first_seq > 1, `stream ${j} trimmed (first ${info.state.first_seq}, last ${info.state.last_seq})`);
  await b.stop();
});

test('two nodes: commands through either reach every shard, events reach both, and a node that vanishes has its journals and deadlines taken over', async () => {
  const cluster = `rt${++clusterNo}`;
  const a = await startNode(cluster, 'a');
  const b = await startNode(cluster, 'b');
  await until('the journals are handed over between a and b', () => handedOver(a, b), 20_000);
  const seenByA: ActorEvent[] = [];
  a.onEvent((e) => seenByA.push(e));
  // SKUs on both nodes' journals, each placed through the other node.
  const skus = Array.from({ length: 12 }, (_, i) => `sku${i}`);
  for (const sku of skus) assert.ok((await b.execute(ActorKeys.sku(sku), { type: 'inventory.set', sku, onHand: 5 }, ADMIN)).ok);
  const ids: string[] = [];
  for (let i = 0; i < 24; i++) {
    const r = await (i % 2 ? a : b).execute(ActorKeys.order(`p${i}`), { type: 'order.place', orderId: `p${i}`, customerId: 'c1', items: [{ sku: skus[i % 12]!, quantity: 1 }], paymentTimeoutMs: 3000 }, ADMIN);
    assert.ok(r.ok, JSON.stringify(r));
    ids.push(`p${i}`);
  }
  await until('a saw the order events of orders placed through b', () => ids.every((id) => seenByA.some((e) => e.type === 'order.updated' && e.order.orderId === id)));
  assert.equal((await a.listOrders({ limit: 100 })).orders.length, 24);
  // b vanishes without a hand-over (as a kill would: no release, no lease deleted).
  const bJournals = b.owned;
  b['loop'].pause();
  b['lease'].suspend?.();
  await b.nc.close();
  await until('a owns every journal', () => a.owned.length === 4, 20_000);
  for (const j of bJournals) assert.ok(a.owned.includes(j));
  // Every order is there, and the deadlines b had armed fire on a: every order is cancelled, stock back.
  await until('every payment deadline fired', async () => {
    const rs = await Promise.all(ids.map((id) => a.execute(ActorKeys.order(id), { type: 'order.get', orderId: id }, ADMIN)));
    return rs.every((r) => r.ok && r.order!.status === 'cancelled');
  }, 20_000);
  for (const sku of skus) assert.deepEqual(await stock(a, sku), { sku, onHand: 5, reserved: 0, available: 5 });
});

test('a take whose fence another node superseded while it recovered serves nothing: it would answer without the newer owner\'s writes', async () => {
  // Two nodes whose views of the members differ for a poll both take journal j: a fences it and
  // replays it, and before it serves, b fences it, recovers it and acknowledges a write.
  const cluster = `rt${++clusterNo}`;
  const a = await startNode(cluster, 'a');
  await until('a owns every journal', () => a.owned.length === 4);
  a['loop'].pause();
  const sku = 'late';
  const j = a.journalOfKey(ActorKeys.sku(sku));
  assert.ok((await a.execute(ActorKeys.sku(sku), { type: 'inventory.set', sku, onHand: 10 }, ADMIN)).ok);
  // b's view is empty for the settle time: paused at once, it takes only what it is handed.
  const b = await startNode(cluster, 'b');
  b['loop'].pause();
  await a['release'](j);
  // a's replays of j (one per shard, two) wait, once read, until b has written.
  const stream = journalStream(cluster, j);
  const replay = JetStreamJournal.prototype.replay;
  let go!: () => void;
  const gate = new Promise<void>((r) => (go = r));
  let replayed = 0;
  JetStreamJournal.prototype.replay = async function (this: JetStreamJournal, ...args: Parameters<typeof replay>) {
    const r = await replay.apply(this, args);
    if (this.writer === 'a' && this.stream === stream) {
      replayed++;
      await gate;
    }
    return r;
  };
  let taken: unknown;
  try {
    const taking = a['take'](j).then(() => null, (err: unknown) => err);
    await until(`a replayed journal ${j}`, () => replayed === 2);
    await b['take'](j);
    assert.ok((await b.execute(ActorKeys.sku(sku), { type: 'inventory.set', sku, onHand: 3 }, ADMIN)).ok);
    go();
    taken = await taking;
  } finally {
    JetStreamJournal.prototype.replay = replay;
  }
  assert.ok(taken instanceof JournalLostError, `a's take failed as lost (${String(taken)})`);
  assert.ok(!a.hosts.get(j)?.serving, 'a does not serve the journal b fenced');
  assert.deepEqual(await stock(a, sku), { sku, onHand: 3, reserved: 0, available: 3 }, 'answered by b, not from a\'s memory (10)');
});

test('a command for a journal with no owner answers UNAVAILABLE after the wait', async () => {
  const cluster = `rt${++clusterNo}`;
  const a = await startNode(cluster, 'a', { unavailableAfterMs: 1500 });
  await until('a owns every journal', () => a.owned.length === 4);
  // a stops owning anything (its loop paused, its journals released by hand): nobody serves them.
  a['loop'].pause();
  for (const j of [...a.owned]) await a['release'](j);
  const started = Date.now();
  const r = await a.execute(ActorKeys.sku('x'), { type: 'inventory.get', sku: 'x' }, ADMIN);
  assert.equal(!r.ok && r.error.code, 'UNAVAILABLE');
  assert.ok(Date.now() - started >= 1400, 'it waited for an owner first');
  await assert.rejects(a.listOrders({ limit: 10 }), (err: unknown) => err instanceof RefusedError && err.error.code === 'UNAVAILABLE');
});

test('an owner record deleted under its owner (a release racing the take) is written again, and commands and actor messages through the other node reach the journal again', async () => {
  const cluster = `rt${++clusterNo}`;
  const a = await startNode(cluster, 'a', { unavailableAfterMs: 4000 });
  const b = await startNode(cluster, 'b', { unavailableAfterMs: 4000 });
  await until('the journals are handed over between a and b', () => handedOver(a, b), 20_000);
  // A SKU on one of b's journals and an order on one of a's: a placement through a crosses to b.
  const j = b.owned[0]!;
  const sku = Array.from({ length: 200 }, (_, i) => `rec${i}`).find((s) => journalOf(shardOf(ActorKeys.sku(s), 8), 4) === j)!;
  const orderId = Array.from({ length: 200 }, (_, i) => `rec-o${i}`).find((o) => a.owned.includes(journalOf(shardOf(ActorKeys.order(o), 8), 4)))!;
  assert.ok((await a.execute(ActorKeys.sku(sku), { type: 'inventory.set', sku, onHand: 5 }, ADMIN)).ok);
  const epoch = b.hosts.get(j)!.epoch;
  // What the race leaves: the record gone while b serves j (a's routes learn it from the watch).
  const kv = await new Kvm(a.nc).open(ownersBucket(cluster));
  await kv.delete(OwnerRecords.key(j));
  await until('a no longer knows who owns the journal', () => a.routes.get(j)?.node === '');
  assert.deepEqual((a.health().routes as RouteView[]).find((r) => r.journal === j)?.node, null, '/healthz shows no owner known');
  // Without the record, the order's reservation would be parked on a for good: bounded here.
  let timer: NodeJS.Timeout | undefined;
  const placed = await Promise.race([place(a, orderId, sku, 2), new Promise<null>((r) => (timer = setTimeout(() => r(null), 15_000)))]).finally(() => clearTimeout(timer));
  assert.ok(placed?.ok, `a placement through a reached b's SKU: ${placed ? JSON.stringify(placed) : 'no answer within 15 s'}`);
  assert.deepEqual(await stock(a, sku), { sku, onHand: 5, reserved: 2, available: 3 });
  const back = await kv.get(OwnerRecords.key(j));
  assert.deepEqual(back?.operation === 'PUT' && { node: back.json<{ node: string }>().node, epoch: back.json<{ epoch: number }>().epoch }, { node: 'b', epoch });
  assert.ok(b.ownerRecordsRewritten >= 1);
  // /healthz of a shows where it routes j again: b, at b's epoch.
  await until('a routes the journal to b again', () => a.routes.get(j)?.node === 'b');
  const route = (a.health().routes as RouteView[]).find((r) => r.journal === j);
  assert.deepEqual(route, { journal: j, node: 'b', epoch });
  assert.equal(a.ownerRecordsRewritten, 0, 'a\'s records were never wrong');
});

test('a node frozen past its lease answers no read from memory when it runs again: it asks the new owner, then drops what it lost', async () => {
  const cluster = `rt${++clusterNo}`;
  const a = await startNode(cluster, 'a');
  const b = await startNode(cluster, 'b');
  await until('the journals are split between a and b', () => a.owned.length === 2 && b.owned.length === 2, 20_000);
  let sku = '';
  for (let i = 0; !sku; i++) if (a.owned.includes(journalOf(shardOf(ActorKeys.sku(`s${i}`), 8), 4))) sku = `s${i}`;
  assert.ok((await a.execute(ActorKeys.sku(sku), { type: 'inventory.set', sku, onHand: 10 }, ADMIN)).ok);
  const j = journalOf(shardOf(ActorKeys.sku(sku), 8), 4);
  // Frozen: no polls, no renewals, no heartbeat; its JournalHosts still think they serve.
  a['loop'].pause();
  a['lease'].suspend();
  a['guard'].stop();
  await until('b took every journal', () => b.owned.length === 4, 20_000);
  assert.ok((await b.execute(ActorKeys.sku(sku), { type: 'inventory.set', sku, onHand: 15 }, ADMIN)).ok);
  // It runs again: its lease renewed (not lapsed any more) before its loop or heartbeat ran.
  a['lease'].resume();
  await until('a renewed its lease', () => !a['lease'].lapsed);
  assert.ok(a.hosts.get(j)?.serving, 'a still believes it serves the journal');
  const r = await a.execute(ActorKeys.sku(sku), { type: 'inventory.get', sku }, ADMIN);
  assert.deepEqual(r.ok && r.stock, { sku, onHand: 15, reserved: 0, available: 15 }, 'answered by b, not from a\'s memory (10)');
  // Its heartbeat finds the gap, checks every journal against its stream, and drops those it lost.
  a['guard'].heartbeat();
  a['guard'].start();
  await until('a dropped the journals b took', () => !a.hosts.has(j));
  a['loop'].start();
});

test.run();
