import { test } from 'uvu';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { OrdoClient } from '../src/client/ordo-client.js';
import type { Order } from '../src/protocol/model.js';
import { spawnServer } from './helpers/child-server.js';
import { checkInvariants, eventuallyInvariants } from './helpers/invariants.js';
import { startServer, withTempDir } from './helpers/server.js';
import { createLogger } from '../src/logger.js';
import { ActorRuntime } from '../src/runtime/hosting/actor-runtime.js';

// `workers: 0`: every shard on the gateway's own thread (in-thread-host.ts). The same host and
// protocol as a host thread's, so the same guarantees: checked here under real concurrency and
// across a kill -9, with the invariants after each.

test('in-thread host: 1,000 concurrent orders from 20 connections on 100 units, and cancels racing dispatches', async () => {
  const srv = await startServer({ workers: 0, shards: 8 });
  try {
    assert.equal(srv.runtime.workerCount, 1);
    const admin = await srv.connect('tok-admin');
    const sku = `hot-${randomUUID()}`;
    const other = `other-${randomUUID()}`;
    assert.ok((await admin.call('inventory.set', { sku, onHand: 100 })).ok);
    assert.ok((await admin.call('inventory.set', { sku: other, onHand: 1000 })).ok);
    const conns = await Promise.all(Array.from({ length: 20 }, () => srv.connect('tok-admin')));
    const ids = Array.from({ length: 1000 }, () => randomUUID());
    const replies = await Promise.all(ids.map((orderId, i) => conns[i % 20]!.call('order.place', { orderId, customerId: `c${i}`, items: [{ sku, quantity: 1 }] })));
    assert.equal(replies.filter((r) => r.ok).length, 100);
    assert.ok(replies.filter((r) => !r.ok).every((r) => r.error?.code === 'OUT_OF_STOCK'));

    // The interceptor: a cancel and the carrier's ack race on each of 100 packed orders.
    const raced: string[] = Array.from({ length: 100 }, () => randomUUID());
    for (const orderId of raced) {
      assert.ok((await admin.call('order.place', { orderId, customerId: 'c', items: [{ sku: other, quantity: 2 }] })).ok);
      assert.ok((await admin.call('order.pay', { orderId, paymentRef: `p-${orderId}` })).ok);
      assert.ok((await admin.call('wms.packed', { orderId })).ok);
    }
    const outcomes = await Promise.all(
      raced.map(async (orderId, i) => {
        const [cancel, ack] = await Promise.all([conns[i % 20]!.call('order.cancel', { orderId }), conns[(i + 7) % 20]!.call('tms.ack', { orderId, trackingNo: `t-${orderId}` })]);
        return { cancel: cancel.ok, ack: ack.ok };
      }),
    );
    assert.ok(outcomes.every((o) => o.cancel !== o.ack), 'each race has exactly one winner');
    const { orders } = await checkInvariants(admin, { [sku]: 100, [other]: 1000 }, [...ids, ...raced]);
    for (const o of orders.filter((x) => raced.includes(x.orderId))) assert.ok(o.status === 'cancelled' || o.status === 'dispatched', `${o.orderId} is ${o.status}`);
    await Promise.all(conns.map((c) => c.close()));
    await admin.close();
  } finally {
    await srv.destroy();
  }
});

test('in-thread host: nothing acknowledged is lost to kill -9, and the directory opens with host threads afterwards', async () => {
  await withTempDir('ordo-in-thread-', async (dataDir) => {
    let srv = await spawnServer(dataDir, {}, ['--workers', '0']);
    const skus = ['a', 'b', 'c'];
    const initial = Object.fromEntries(skus.map((s) => [s, 10_000]));
    const acked: string[] = [];
    const attempted: string[] = [];
    try {
      const admin = await OrdoClient.connect(srv.url, 'tok-admin');
      for (const sku of skus) assert.ok((await admin.call('inventory.set', { sku, onHand: initial[sku] })).ok);
      await admin.close();
      const conns = await Promise.all(Array.from({ length: 8 }, () => OrdoClient.connect(srv.url, 'tok-admin', { keepEvents: false })));
      let running = true;
      const loops = conns.map(async (c, n) => {
        for (let i = 0; running; i++) {
          const orderId = randomUUID();
          attempted.push(orderId);
          const r = await c.call('order.place', { orderId, customerId: `c${n}`, items: [{ sku: skus[i % 3]!, quantity: 1 + (i % 2) }] });
          if (r.error?.code === 'CLOSED') return;
          assert.ok(r.ok, JSON.stringify(r));
          acked.push(orderId);
        }
      });
      await new Promise((r) => setTimeout(r, 800));
      await srv.kill('SIGKILL');
      running = false;
      await Promise.all(loops);
      assert.ok(acked.length > 50, `orders were acknowledged before the kill (${acked.length})`);

      // Back with two host threads on the same directory (its journal count stays until a clean stop).
      srv = await spawnServer(dataDir, {}, ['--workers', '2']);
      const after = await OrdoClient.connect(srv.url, 'tok-admin');
      for (const orderId of acked) {
        const r = await after.call('order.get', { orderId });
        assert.ok(r.ok, `acknowledged order ${orderId} is missing after the kill`);
        assert.equal((r.order as Order).status, 'awaiting_payment');
      }
      await eventuallyInvariants(after, initial, attempted);
      await after.close();
    } finally {
      await srv.kill('SIGKILL');
    }
  });
});


/** How many commits two `inventory.set`s take, the second sent a loop turn after the first, with `ORDO_COMMIT_HOLD` at `hold`. */
async function commitsFor(hold: string | undefined): Promise<number> {
  const saved = process.env.ORDO_COMMIT_HOLD;
  if (hold === undefined) delete process.env.ORDO_COMMIT_HOLD;
  else process.env.ORDO_COMMIT_HOLD = hold;
  try {
    return await withTempDir('ordo-commit-hold-', async (dataDir) => {
      const rt = await ActorRuntime.open({ dataDir, workers: 0, shards: 4, log: createLogger('test') });
      try {
        await rt.start();
        const admin = { role: 'admin' } as const;
        const set = (sku: string) => rt.execute(`sku:${sku}`, { type: 'inventory.set', sku, onHand: 5 }, admin);
        // The journal's file is opened by its first commit: not part of what is counted.
        assert.ok((await set('warm')).ok);
        const before = (await rt.stats())[0]!.commits;
        const nextTurn = () => new Promise<void>((r) => setImmediate(r));
        const replies = [set('a')];
        await nextTurn();
        replies.push(set('b'));
        assert.ok((await Promise.all(replies)).every((r) => r.ok));
        return (await rt.stats())[0]!.commits - before;
      } finally {
        await rt.stop();
      }
    });
  } finally {
    if (saved === undefined) delete process.env.ORDO_COMMIT_HOLD;
    else process.env.ORDO_COMMIT_HOLD = saved;
  }
}

test('in-thread host: a commit waits one loop turn, so commands a turn apart share one write and fdatasync (ORDO_COMMIT_HOLD=0: one each)', async () => {
  assert.equal(await commitsFor(undefined), 1, 'held one turn: both records in one commit');
  assert.equal(await commitsFor('0'), 2, 'not held: a commit per loop turn');
});

test.run();
