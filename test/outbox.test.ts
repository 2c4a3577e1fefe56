import { test } from 'uvu';
import assert from 'node:assert/strict';
import { OrdoClient } from '../src/client/ordo-client.js';
import type { Order } from '../src/protocol/model.js';
import { spawnServer } from './helpers/child-server.js';
import { checkInvariants } from './helpers/invariants.js';
import { withTempDir } from './helpers/server.js';

const INITIAL = { a: 10, b: 10 };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seeds a data directory (and optionally moves one order along), then stops the server cleanly. */
async function seed(dataDir: string, prepare: (admin: OrdoClient) => Promise<void>): Promise<void> {
  const srv = await spawnServer(dataDir);
  const admin = await OrdoClient.connect(srv.url, 'tok-admin');
  for (const [sku, onHand] of Object.entries(INITIAL)) assert.ok((await admin.call('inventory.set', { sku, onHand })).ok);
  await prepare(admin);
  await admin.close();
  assert.equal(await srv.kill('SIGTERM'), 0);
}

/**
 * Starts the server with a crash point, sends `step`, expects the process to die with SIGKILL
 * before answering, restarts it cleanly and returns the order once it has settled.
 */
async function crashDuring(dataDir: string, crashAfter: string, step: (c: OrdoClient) => Promise<unknown>, settled: (o: Order | undefined) => boolean, orderId: string): Promise<{ order: Order | undefined; admin: OrdoClient; stop: () => Promise<unknown> }> {
  const doomed = await spawnServer(dataDir, { ORDO_TEST_CRASH_AFTER: crashAfter });
  const c = await OrdoClient.connect(doomed.url, 'tok-admin');
  void step(c);
  const exit = await Promise.race([doomed.exited, pause(15_000).then(() => 'still running')]);
  if (exit === 'still running') await doomed.kill('SIGKILL');
  assert.equal(exit, 'SIGKILL', `the server stopped at ${crashAfter}`);
  const srv = await spawnServer(dataDir);
  const admin = await OrdoClient.connect(srv.url, 'tok-admin');
  const end = Date.now() + 10_000;
  let order: Order | undefined;
  for (;;) {
    const r = await admin.call('order.get', { orderId });
    order = r.ok ? (r.order as Order) : undefined;
    if (settled(order) || Date.now() > end) break;
    await pause(20);
  }
  return { order, admin, stop: () => srv.kill('SIGTERM') };
}

const place = (orderId: string) => (c: OrdoClient) =>
  c.call('order.place', { orderId, customerId: 'c', items: [{ sku: 'a', quantity: 2 }, { sku: 'b', quantity: 3 }] });

test('a kill after a SKU journaled its hold, before the order was written: the order is cleanly absent, the hold dropped', () =>
  withTempDir('ordo-outbox-', async (dataDir) => {
    await seed(dataDir, async () => {});
    const orderId = 'o-sku-1';
    // sku:1 — a tentative hold is durable; the order never heard of it and wrote nothing.
    const { order, admin, stop } = await crashDuring(dataDir, 'sku:1', place(orderId), () => false, orderId);
    assert.equal(order, undefined, 'an unacknowledged placement left no order');
    // The SKU asks the order about its unconfirmed hold, learns it does not exist, and drops it.
    await until(async () => {
      const a = (await admin.call('inventory.get', { sku: 'a' })).stock as { reserved: number };
      const b = (await admin.call('inventory.get', { sku: 'b' })).stock as { reserved: number };
      return a.reserved === 0 && b.reserved === 0;
    }, 10_000);
    await checkInvariants(admin, INITIAL, [orderId]);
    // And the id is free: the client's retry succeeds.
    assert.ok((await admin.call('order.place', { orderId, customerId: 'c', items: [{ sku: 'a', quantity: 2 }] })).ok);
    await admin.close();
    await stop();
  }),
);

test('a kill after the order was written, before the client heard: the order is complete, its holds confirmed', () =>
  withTempDir('ordo-outbox-', async (dataDir) => {
    await seed(dataDir, async () => {});
    const orderId = 'o-order-1';
    const { order, admin, stop } = await crashDuring(dataDir, 'order:1', place(orderId), (o) => o !== undefined, orderId);
    assert.equal(order?.status, 'awaiting_payment');
    const { stock } = await checkInvariants(admin, INITIAL, [orderId]);
    assert.equal(stock.a!.reserved, 2);
    assert.equal(stock.b!.reserved, 3);
    // The holds stay after verification (wait past the verification delay).
    await pause(2_500);
    await checkInvariants(admin, INITIAL, [orderId]);
    await admin.close();
    await stop();
  }),
);

test('a kill between a reservation and a refusal on the other SKU leaks nothing', () =>
  withTempDir('ordo-outbox-', async (dataDir) => {
    await seed(dataDir, async (admin) => {
      assert.ok((await admin.call('inventory.set', { sku: 'b', onHand: 1 })).ok);
    });
    const orderId = 'o-short';
    // sku:1 — the first SKU to commit is `a` (b refuses and writes nothing); the order has not yet heard.
    const { order, admin, stop } = await crashDuring(dataDir, 'sku:1', place(orderId), () => false, orderId);
    assert.equal(order, undefined, 'no order exists');
    await until(async () => {
      const s = await admin.call('inventory.get', { sku: 'a' });
      return (s.stock as { reserved: number }).reserved === 0;
    });
    await checkInvariants(admin, { a: 10, b: 1 }, [orderId]);
    await admin.close();
    await stop();
  }),
);

async function until(probe: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error('timed out');
    await pause(20);
  }
}

test('a kill after payment, before the warehouse took the order: it still reaches picking', () =>
  withTempDir('ordo-outbox-', async (dataDir) => {
    const orderId = 'o-paid';
    await seed(dataDir, async (admin) => {
      assert.ok((await admin.call('order.place', { orderId, customerId: 'c', items: [{ sku: 'a', quantity: 1 }] })).ok);
    });
    // order:1 — the `paid` record is durable, the hand-off to the warehouse has not left.
    const { order, admin, stop } = await crashDuring(dataDir, 'order:1', (c) => c.call('order.pay', { orderId, paymentRef: 'P' }), (o) => o?.status === 'picking', orderId);
    assert.equal(order?.status, 'picking');
    const feed = await admin.call('feed.subscribe', { feed: 'warehouse' });
    assert.deepEqual((feed.orders as Order[]).map((o) => o.orderId), [orderId]);
    await admin.close();
    await stop();
  }),
);

test('a kill after packing, before the carrier took the order: it still reaches the carrier', () =>
  withTempDir('ordo-outbox-', async (dataDir) => {
    const orderId = 'o-packed';
    await seed(dataDir, async (admin) => {
      assert.ok((await admin.call('order.place', { orderId, customerId: 'c', items: [{ sku: 'a', quantity: 1 }] })).ok);
      assert.ok((await admin.call('order.pay', { orderId, paymentRef: 'P' })).ok);
      await until(async () => ((await admin.call('order.get', { orderId })).order as Order).status === 'picking');
    });
    // order:1 — `packed` is durable; the carrier's queue has not heard of it yet.
    const { order, admin, stop } = await crashDuring(dataDir, 'order:1', (c) => c.call('wms.packed', { orderId }), (o) => o?.status === 'packed', orderId);
    assert.equal(order?.status, 'packed');
    await until(async () => {
      const feed = await admin.call('feed.subscribe', { feed: 'carrier' });
      return (feed.orders as Order[]).some((o) => o.orderId === orderId);
    });
    const ack = await admin.call('tms.ack', { orderId, trackingNo: 'T1' });
    assert.equal((ack.order as Order).status, 'dispatched');
    await admin.close();
    await stop();
  }),
);

test.run();
