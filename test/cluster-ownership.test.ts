import { test } from 'uvu';
import assert from 'node:assert/strict';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { assignJournals } from '../src/runtime/cluster/assignment.js';
import { JournalLostError } from '../src/runtime/cluster/errors.js';
import { JetStreamJournal } from '../src/runtime/cluster/jetstream-journal.js';
import { connectNats } from '../src/runtime/cluster/nats-connection.js';
import { nodesBucket } from '../src/runtime/cluster/names.js';
import { leaseKey, NodeLease } from '../src/runtime/cluster/node-lease.js';
import { OwnerRecords } from '../src/runtime/cluster/owner-records.js';
import { OwnershipLoop } from '../src/runtime/cluster/ownership-loop.js';
import { encodeRecord } from '../src/runtime/journal/record.js';
import { type NatsServer, startNatsServer } from './helpers/nats-server.js';

// Short times so the suite runs in seconds; the server refuses a max age under 100 ms.
const TTL = 1000;
const POLL = 250;
const SETTLE = 500;
const JOURNALS = 12;

let server: NatsServer;
let clusterNo = 0;
const connections: NatsConnection[] = [];
const everyNode: TestNode[] = [];
const warnings: string[] = [];

test.before(async () => {
  server = await startNatsServer();
});
test.after(async () => {
  for (const n of everyNode) await n.loop.stop().catch(() => {});
  for (const c of connections) await c.close().catch(() => {});
  await server?.dispose();
  if (warnings.length) console.log(warnings.join("\n"));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An in-process "node": its own connection, lease and loop; each take fences the journal. */
interface TestNode {
  name: string;
  lease: NodeLease;
  loop: OwnershipLoop;
  /** The journals this node holds now, as its JetStreamJournal. */
  journals: Map<number, JetStreamJournal>;
  /** Every journal object it ever took, to try appending after it lost or released it. */
  history: { journal: number; j: JetStreamJournal }[];
  takes: number;
  releases: number;
  errors: unknown[];
}

async function startNode(cluster: string, name: string, records: OwnerRecords): Promise<TestNode> {
  const nc = await connectNats(server.url);
  connections.push(nc);
  const lease = await NodeLease.open({ nc, cluster, node: name, url: `ws://${name}.test`, ttlMs: TTL, onWarn: (w) => warnings.push(`${name}: ${w}`) });
  const node: TestNode = { name, lease, loop: null as unknown as OwnershipLoop, journals: new Map(), history: [], takes: 0, releases: 0, errors: [] };
  node.loop = new OwnershipLoop({
    lease,
    journals: JOURNALS,
    pollMs: POLL,
    settleMs: SETTLE,
    onError: (err) => node.errors.push(err),
    check: async (journal) => (await node.journals.get(journal)?.stillOwner()) ?? false,
    take: async (journal) => {
      node.takes++;
      const j = await JetStreamJournal.open({
        nc,
        cluster,
        journal,
        writer: name,
        ackTimeoutMs: 2000,
        retryForMs: 5000,
        // Only the journal object it holds now speaks for it (an old one is refused, as it should be).
        onLost: () => {
          if (node.journals.get(journal) === j) node.loop.lost(journal);
        },
      });
      const { epoch, seq } = await j.acquire();
      await j.append([encodeRecord({ k: `order:${name}-${journal}`, r: [{ epoch }] })]);
      node.journals.set(journal, j);
      node.history.push({ journal, j });
      await records.put(journal, { node: name, epoch, since: Date.now(), sequence: seq });
    },
    release: async (journal) => {
      node.releases++;
      const j = node.journals.get(journal);
      node.journals.delete(journal);
      if (!j) return;
      await j.close();
      await records.clear(journal, name, j.epoch);
    },
  });
  everyNode.push(node);
  node.loop.start();
  return node;
}

async function cluster(...names: string[]): Promise<{ name: string; nodes: TestNode[]; records: OwnerRecords }> {
  const name = `own${++clusterNo}`;
  const nc = await connectNats(server.url);
  connections.push(nc);
  const records = await OwnerRecords.open(nc, name);
  const nodes = await Promise.all(names.map((n) => startNode(name, n, records)));
  return { name, nodes, records };
}

/** Waits until the live nodes own every journal once, as `assignJournals` says; returns the map. */
async function converged(live: TestNode[], withinMs: number): Promise<Map<number, string>> {
  const want = assignJournals(JOURNALS, live.map((n) => n.name));
  const deadline = Date.now() + withinMs;
  const ownersNow = () => {
    const owners = new Map<number, string[]>();
    for (const n of live) for (const j of n.loop.owned) owners.set(j, [...(owners.get(j) ?? []), n.name]);
    return owners;
  };
  const text = (owners: Map<number, string[]>) => JSON.stringify([...owners].sort((a, b) => a[0] - b[0]));
  for (;;) {
    // Nothing under way first: a take still running from an earlier view (a node that counted
    // fewer members a poll ago) fences its journal when it lands, and the node meant to own it
    // then loses it at its next check. Owned and fenced before that is not converged.
    await Promise.all(live.map((n) => n.loop.idle()));
    const owners = ownersNow();
    let ok = [...want].every(([j, n]) => owners.get(j)?.length === 1 && owners.get(j)![0] === n) && owners.size === JOURNALS;
    // Owned in the loop's eyes is not enough: the fence must still be the owner's (see `check`).
    if (ok) for (const n of live) for (const j of n.loop.owned) ok &&= (await n.journals.get(j)?.stillOwner()) === true;
    if (ok) {
      // And still nothing under way, nothing moved, once those answers are in.
      await Promise.all(live.map((n) => n.loop.idle()));
      if (text(ownersNow()) === text(owners)) return want;
    }
    if (Date.now() > deadline) {
      assert.fail(`not converged within ${withinMs} ms: owners ${text(owners)}, wanted ${JSON.stringify([...want])}`);
    }
    await sleep(20);
  }
}

/** The fence is what makes a move safe: the previous owner's next append to a moved journal is refused. */
async function assertFenced(previous: TestNode, journals: number[]): Promise<void> {
  assert.ok(journals.length > 0);
  for (const journal of journals) {
    const old = [...previous.history].reverse().find((h) => h.journal === journal);
    assert.ok(old, `${previous.name} once held journal ${journal}`);
    await assert.rejects(old.j.append([encodeRecord({ k: 'order:stale', r: [1] })]), JournalLostError, `${previous.name}'s append to journal ${journal} after the move`);
  }
}

function journalsOfNode(map: Map<number, string>, node: string): number[] {
  return [...map].filter(([, n]) => n === node).map(([j]) => j).sort((x, y) => x - y);
}

test('two and three nodes: every journal owned by exactly one node, recorded for operators', async () => {
  const two = await cluster('a', 'b');
  const m2 = await converged(two.nodes, SETTLE + 4 * POLL + 2000);
  assert.deepEqual(two.nodes.map((n) => n.loop.owned.length), [6, 6]);
  const three = await cluster('x', 'y', 'z');
  const m3 = await converged(three.nodes, SETTLE + 4 * POLL + 2000);
  assert.deepEqual(three.nodes.map((n) => n.loop.owned.length), [4, 4, 4]);
  for (const c of [{ ...two, m: m2 }, { ...three, m: m3 }]) {
    const recs = await c.records.list();
    assert.deepEqual([...recs].map(([j, r]) => [j, r.node]), [...c.m].sort((a, b) => a[0] - b[0]));
    for (const [, r] of recs) assert.ok(r.epoch >= 1 && r.sequence >= 1 && r.since > 0);
    const members = await c.nodes[0]!.lease.members();
    assert.deepEqual(members.map((m) => m.node), c.nodes.map((n) => n.name).sort());
    assert.ok(members.every((m) => m.url === `ws://${m.node}.test` && m.ageMs < TTL));
  }
  for (const n of [...two.nodes, ...three.nodes]) {
    assert.deepEqual(n.errors, []);
    // Nodes starting a poll apart may move a journal once (the first alone takes everything).
    assert.equal(n.takes - n.releases, n.loop.owned.length, `${n.name}: every take but those of its journals was released`);
  }
  for (const n of [...two.nodes, ...three.nodes]) await n.loop.stop();
});

test('a node that stops hands its journals to the others within about two polls; its appends are fenced', async () => {
  const c = await cluster('a', 'b', 'c');
  const before = await converged(c.nodes, SETTLE + 4 * POLL + 2000);
  const [a, b, cc] = c.nodes as [TestNode, TestNode, TestNode];
  const released = a.releases;
  await a.loop.stop();
  const stoppedAt = Date.now();
  assert.equal(a.releases - released, journalsOfNode(before, 'a').length, 'it released each of its journals');
  assert.deepEqual(a.loop.owned, []);
  assert.deepEqual((await b.lease.members()).map((m) => m.node), ['b', 'c'], 'its lease is deleted, not left to lapse');
  const after = await converged([b, cc], 2 * POLL + 1500);
  const took = Date.now() - stoppedAt;
  assert.ok(took <= 2 * POLL + 1500, `survivors served a's journals ${took} ms after it stopped`);
  await assertFenced(a, journalsOfNode(before, 'a'));
  const recs = await c.records.list();
  assert.deepEqual([...recs].map(([j, r]) => [j, r.node]), [...after].sort((x, y) => x[0] - y[0]));
  await b.loop.stop();
  await cc.loop.stop();
});

test('a node whose lease stops being renewed (a freeze) loses its journals after the TTL, then rejoins', async () => {
  const c = await cluster('a', 'b', 'c');
  const before = await converged(c.nodes, SETTLE + 4 * POLL + 2000);
  const [a, b, cc] = c.nodes as [TestNode, TestNode, TestNode];
  const aJournals = journalsOfNode(before, 'a');
  // Frozen: no renewals and no polls, nothing released, the key left to lapse.
  a.lease.suspend();
  a.loop.pause();
  const frozenAt = Date.now();
  // Until the key expires the others still count a: nothing moves.
  await sleep(TTL - a.lease.renewMs - 100);
  assert.deepEqual(b.loop.owned, journalsOfNode(before, 'b'));
  assert.deepEqual(cc.loop.owned, journalsOfNode(before, 'c'));
  const after = await converged([b, cc], TTL + 2 * POLL + 2000);
  const took = Date.now() - frozenAt;
  assert.ok(took >= TTL - a.lease.renewMs - 100, `not before the lease could lapse (${took} ms)`);
  assert.ok(took <= TTL + 2 * POLL + 2000, `taken over ${took} ms after the freeze`);
  assert.deepEqual(a.loop.owned, aJournals, 'the frozen node still believes it owns them');
  await assertFenced(a, aJournals);
  // The frozen node learns of the loss from its refused appends (onLost → lost), not from the leases.
  assert.deepEqual(a.loop.owned, [], 'every refused append told the loop');
  // Thawed: it renews, counts again after the settle time, and takes back about a third.
  a.lease.resume();
  a.loop.start();
  const back = await converged([a, b, cc], SETTLE + 4 * POLL + 3000);
  assert.deepEqual(back, before, 'the same view gives the same map');
  for (const [j, n] of after) if (back.get(j) !== n) await assertFenced(b.name === n ? b : cc, [j]);
  for (const n of [a, b, cc]) await n.loop.stop();
});

test('a joining node takes about 1/N of the journals, after the settle time; the previous owners are fenced', async () => {
  const c = await cluster('a', 'b');
  const before = await converged(c.nodes, SETTLE + 4 * POLL + 2000);
  const [a, b] = c.nodes as [TestNode, TestNode];
  const joinedAt = Date.now();
  const d = await startNode(c.name, 'd', c.records);
  const after = await converged([a, b, d], SETTLE + 4 * POLL + 3000);
  assert.ok(Date.now() - joinedAt >= SETTLE, 'not before the joiner settled');
  const moved = [...before].filter(([j, n]) => after.get(j) !== n);
  assert.equal(d.loop.owned.length, JOURNALS / 3);
  assert.ok(moved.length <= JOURNALS / 3 + 1, `${moved.length} journals moved`);
  for (const [j, n] of moved) {
    const prev = n === 'a' ? a : b;
    await assertFenced(prev, [j]);
    assert.ok(prev.releases >= 1);
  }
  for (const n of [a, b, d]) assert.deepEqual(n.errors.filter((e) => !(e instanceof JournalLostError)), []);
  for (const n of [a, b, d]) await n.loop.stop();
});

test('a lease that appears for less than the settle time moves nothing (no churn from a flapping node)', async () => {
  const c = await cluster('a', 'b');
  const before = await converged(c.nodes, SETTLE + 4 * POLL + 2000);
  const [a, b] = c.nodes as [TestNode, TestNode];
  const takes = a.takes + b.takes;
  const releases = a.releases + b.releases;
  const nc = connections.at(-1)!;
  const kv = await new Kvm(nc).open(nodesBucket(c.name));
  const phantom = leaseKey('phantom');
  for (let i = 0; i < 3; i++) {
    await kv.put(phantom, JSON.stringify({ node: 'phantom', url: '', startedAt: Date.now() }));
    await sleep(SETTLE - 2 * POLL);
    await kv.delete(phantom);
    await sleep(2 * POLL);
  }
  assert.equal(a.takes + b.takes, takes, 'no take');
  assert.equal(a.releases + b.releases, releases, 'no release');
  assert.deepEqual(await converged([a, b], 0), before);
  for (const n of [a, b]) await n.loop.stop();
});

test('renewal keeps a lease alive well past the TTL; stop deletes it', async () => {
  const nc = await connectNats(server.url);
  connections.push(nc);
  const name = `own${++clusterNo}`;
  const lease = await NodeLease.open({ nc, cluster: name, node: 'host:4000', url: 'ws://h', ttlMs: TTL });
  assert.equal(lease.ttlMs, TTL);
  assert.ok(lease.renewMs < TTL / 2);
  await sleep(TTL * 2.5);
  assert.deepEqual((await lease.members()).map((m) => m.node), ['host:4000'], 'a name with a colon survives the key encoding');
  assert.equal(lease.lapsed, false);
  // Another open with a different TTL keeps the bucket's (2.9 has no per-key TTL).
  const other = await NodeLease.open({ nc, cluster: name, node: 'other', url: 'ws://o', ttlMs: 5000 });
  assert.equal(other.ttlMs, TTL);
  await lease.stop();
  assert.equal(lease.lapsed, true);
  assert.deepEqual((await other.members()).map((m) => m.node), ['other']);
  await other.stop();
  assert.deepEqual(await other.members(), []);
});

test('a take still running is moving, not owned; the journal is owned once it resolves', async () => {
  const name = `own${++clusterNo}`;
  const nc = await connectNats(server.url);
  connections.push(nc);
  const lease = await NodeLease.open({ nc, cluster: name, node: 'slow', url: 'ws://slow.test', ttlMs: TTL });
  let go!: () => void;
  const gate = new Promise<void>((r) => (go = r));
  const taking = new Set<number>();
  const loop = new OwnershipLoop({
    lease,
    journals: 3,
    pollMs: POLL,
    settleMs: 0,
    take: async (j) => {
      taking.add(j);
      if (j === 1) await gate;
    },
    release: async () => {},
  });
  await loop.poll();
  assert.equal(taking.size, 3, 'a lone node takes every journal');
  // The ungated takes resolve within microtasks: one turn of the loop later they are held.
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(loop.owned, [0, 2]);
  assert.deepEqual(loop.moving, [1], 'the gated take is under way');
  go();
  await loop.idle();
  assert.deepEqual(loop.owned, [0, 1, 2]);
  assert.deepEqual(loop.moving, []);
  await loop.stop();
  assert.deepEqual(loop.moving, [], 'stop waits for the releases');
});

test.run();
