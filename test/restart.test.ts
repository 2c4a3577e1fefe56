import { test } from 'uvu';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Order } from '../src/protocol/model.js';
import { checkInvariants } from './helpers/invariants.js';
import { startServer, tempDir } from './helpers/server.js';
import { rm } from 'node:fs/promises';

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('orders, stock and deadlines survive a restart; a deadline that passed while down fires', async () => {
  const dataDir = await tempDir();
  const sku = 'restart-sku';
  const ids = { live: randomUUID(), lapsing: randomUUID(), paid: randomUUID(), refused: randomUUID() };
  let before: Record<string, Order> = {};
  {
    const srv = await startServer({ dataDir });
    const admin = await srv.connect('tok-admin');
    await admin.call('inventory.set', { sku, onHand: 10 });
    for (const [name, orderId] of Object.entries(ids)) {
      const r = await admin.call('order.place', {
        orderId,
        customerId: 'alice',
        items: [{ sku, quantity: name === 'refused' ? 99 : 2 }],
        paymentTimeoutMs: name === 'lapsing' ? 300 : 60_000,
      });
      assert.equal(r.ok, name !== 'refused');
      if (r.ok) before[name] = r.order as Order;
    }
    assert.ok((await admin.call('order.pay', { orderId: ids.paid, paymentRef: 'P1' })).ok);
    assert.deepEqual((await admin.call('inventory.get', { sku })).stock, { sku, onHand: 10, reserved: 6, available: 4 });
    await srv.stop();
  }
  // Down for longer than the lapsing order's deadline.
  await new Promise((r) => setTimeout(r, 400));
  const srv = await startServer({ dataDir });
  try {
    assert.equal(srv.runtime.recovery!.timers >= 2, true, 'both unpaid deadlines were recovered');
    const admin = await srv.connect('tok-admin');
    const lapsed = await until('the lapsed deadline to fire', async () => {
      const o = (await admin.call('order.get', { orderId: ids.lapsing })).order as Order;
      return o.status === 'cancelled' ? o : undefined;
    });
    assert.equal(lapsed.reason, 'payment_timeout');
    assert.equal(lapsed.history.at(-1)!.by, 'timer');
    const live = (await admin.call('order.get', { orderId: ids.live })).order as Order;
    assert.deepEqual(live, before.live, 'the unpaid order is unchanged, deadline included');
    const paid = (await admin.call('order.get', { orderId: ids.paid })).order as Order;
    assert.equal(paid.status, 'picking');
    assert.equal(paid.paymentRef, 'P1');
    assert.equal((await admin.call('order.get', { orderId: ids.refused })).error?.code, 'NOT_FOUND');
    await checkInvariants(admin, { [sku]: 10 }, Object.values(ids));
    assert.deepEqual((await admin.call('inventory.get', { sku })).stock, { sku, onHand: 10, reserved: 4, available: 6 });
    // And the recovered order still acts: it can be paid before its deadline.
    assert.ok((await admin.call('order.pay', { orderId: ids.live, paymentRef: 'P2' })).ok);
  } finally {
    await srv.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
