import { test } from 'uvu';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Order } from '../src/protocol/model.js';
import { checkInvariants } from './helpers/invariants.js';
import { startServer } from './helpers/server.js';

test('a crashed worker thread is replaced, its shards recovered, nothing acknowledged lost', async () => {
  const srv = await startServer({ workers: 2, shards: 8 });
  try {
    const admin = await srv.connect('tok-admin');
    const skus = ['r1', 'r2', 'r3', 'r4'];
    for (const sku of skus) await admin.call('inventory.set', { sku, onHand: 10_000 });
    const conns = await Promise.all(Array.from({ length: 6 }, () => srv.connect('tok-admin', { keepEvents: false })));
    const attempted: string[] = [];
    const acked: string[] = [];
    let running = true;
    const load = conns.map(async (c, n) => {
      for (let i = 0; running; i++) {
        const orderId = randomUUID();
        attempted.push(orderId);
        const r = await c.call('order.place', { orderId, customerId: `c${n}`, items: [{ sku: skus[i % 4], quantity: 1 }, { sku: skus[(i + 1) % 4], quantity: 2 }] });
        if (r.ok) acked.push(orderId);
        else assert.ok(r.error?.code === 'INTERNAL' || r.error?.code === 'OVERLOADED', `only a retryable error, got ${r.error?.code}`);
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    await srv.runtime.terminateHost(0);
    await new Promise((r) => setTimeout(r, 1200));
    running = false;
    await Promise.all(load);
    assert.equal(srv.runtime.replacedHosts, 1, 'the dead host was replaced');
    assert.equal(srv.gateway.healthy, true);
    // Commands to every shard work again, including those of the replaced host.
    const after = randomUUID();
    assert.ok((await admin.call('order.place', { orderId: after, customerId: 'c', items: skus.map((sku) => ({ sku, quantity: 1 })) })).ok);
    for (const orderId of acked) {
      const r = await admin.call('order.get', { orderId });
      assert.ok(r.ok, `acknowledged order ${orderId} survived the thread crash`);
      assert.equal((r.order as Order).status, 'awaiting_payment');
    }
    // Placements cut off mid-way are re-driven to completion or compensated: stock adds up.
    const end = Date.now() + 5000;
    for (;;) {
      try {
        await checkInvariants(admin, Object.fromEntries(skus.map((s) => [s, 10_000])), [...attempted, after]);
        break;
      } catch (err) {
        if (Date.now() > end) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.ok(acked.length > 20, `the load was real (${acked.length} acknowledged)`);
  } finally {
    await srv.destroy();
  }
});

test.run();
