import assert from 'node:assert/strict';
import { test } from 'uvu';
import { type EventFrame, OrdoClient } from '../src/client/ordo-client.js';
import type { Stats } from '../src/protocol/stats.js';
import { ActorDirectory } from '../src/runtime/kernel/actor-directory.js';
import { spawnServer } from './helpers/child-server.js';
import { startServer, type TestServer, withTempDir } from './helpers/server.js';
import { call, expectErr, expectOk, uid, within } from './helpers/wire.js';

// The read-only observer role, stats.get and the `orders` feed (extensions for the dashboard).

let srv: TestServer;
let admin: OrdoClient;
let observer: OrdoClient;

test.before(async () => {
  srv = await startServer({ workers: 1, shards: 4 });
  admin = await srv.connect('tok-admin');
  observer = await srv.connect('tok-observer');
});

test.after(async () => {
  await srv?.destroy();
});

const MUTATING = ['inventory.set', 'inventory.adjust', 'order.place', 'order.pay', 'order.cancel', 'wms.packed', 'tms.ack', 'tms.delivered', 'order.return', 'return.received'];

async function stats(c: OrdoClient): Promise<Stats> {
  return expectOk(await call(c, 'stats.get')).stats as Stats;
}

async function placed(sku: string): Promise<string> {
  const orderId = uid('o');
  expectOk(await call(admin, 'order.place', { orderId, customerId: 'ana', items: [{ sku, quantity: 1 }] }));
  return orderId;
}

test('observer: every mutating command is FORBIDDEN, with or without valid arguments, and changes nothing', async () => {
  const sku = uid('sku');
  expectOk(await call(admin, 'inventory.set', { sku, onHand: 5 }));
  const orderId = await placed(sku);
  const valid: Record<string, Record<string, unknown>> = {
    'inventory.set': { sku, onHand: 100 },
    'inventory.adjust': { sku, delta: 10, adjustmentId: uid('a') },
    'order.place': { orderId: uid('o'), customerId: 'ana', items: [{ sku, quantity: 1 }] },
    'order.pay': { orderId, paymentRef: 'p' },
    'order.cancel': { orderId },
    'wms.packed': { orderId },
    'tms.ack': { orderId, trackingNo: 't' },
    'tms.delivered': { orderId },
    'order.return': { orderId },
    'return.received': { orderId },
  };
  for (const type of MUTATING) {
    expectErr(await call(observer, type, {}), 'FORBIDDEN');
    expectErr(await call(observer, type, { sku: 42, orderId: '' }), 'FORBIDDEN');
    expectErr(await call(observer, type, valid[type]), 'FORBIDDEN');
  }
  const stock = expectOk(await call(observer, 'inventory.get', { sku })).stock;
  assert.deepEqual(stock, { sku, onHand: 5, reserved: 1, available: 4 });
  assert.equal((expectOk(await call(observer, 'order.get', { orderId })).order as { status: string }).status, 'awaiting_payment');
});

test('observer: reads any customer\'s orders, lists, subscribes to any feed, reads stats', async () => {
  const sku = uid('sku');
  expectOk(await call(admin, 'inventory.set', { sku, onHand: 5 }));
  const orderId = await placed(sku);
  expectOk(await call(observer, 'order.get', { orderId }));
  const list = expectOk(await call(observer, 'order.list', { customerId: 'ana', status: 'awaiting_payment', limit: 500 }));
  assert.ok((list.orders as { orderId: string }[]).some((o) => o.orderId === orderId));
  expectOk(await call(observer, 'order.subscribe', { orderId }));
  for (const feed of ['warehouse', 'carrier', 'refunds', 'orders']) expectOk(await call(observer, 'feed.subscribe', { feed }));
  expectErr(await call(observer, 'feed.subscribe', { feed: 'nope' }), 'INVALID_ARGUMENT', { field: 'feed' });
  assert.equal(typeof (await stats(observer)).orders.awaiting_payment, 'number');
});

test('stats.get and the orders feed are for admin and observer only', async () => {
  for (const token of ['tok-alice', 'tok-payments', 'tok-warehouse', 'tok-carrier']) {
    const c = await srv.connect(token);
    expectErr(await call(c, 'stats.get'), 'FORBIDDEN');
    expectErr(await call(c, 'feed.subscribe', { feed: 'orders' }), 'FORBIDDEN');
  }
});

test('stats.get: counts per status follow every change; shards, hosts, series and busiest SKUs', async () => {
  const before = await stats(admin);
  const sku = uid('hot');
  expectOk(await call(admin, 'inventory.set', { sku, onHand: 10 }));
  const [a, b, c] = [await placed(sku), await placed(sku), await placed(sku)];
  expectOk(await call(admin, 'order.pay', { orderId: a, paymentRef: 'p-a' }));
  expectOk(await call(admin, 'order.cancel', { orderId: b }));
  void c;
  const deadline = Date.now() + 5_000;
  let s = await stats(admin);
  // `paid` → `picking` follows the reply (the runtime's own step): wait for it to settle.
  while (s.orders.picking !== before.orders.picking + 1 && Date.now() < deadline) s = await stats(admin);
  assert.equal(s.orders.awaiting_payment, before.orders.awaiting_payment + 1);
  assert.equal(s.orders.cancelled, before.orders.cancelled + 1);
  assert.equal(s.orders.picking, before.orders.picking + 1);
  assert.equal(s.orders.paid, before.orders.paid);
  assert.equal(s.health, 'ready');
  assert.deepEqual(s.shards.map((x) => x.shard), [0, 1, 2, 3]);
  assert.ok(s.hosts.length === 1 && s.hosts[0]!.commits > 0);
  assert.equal(s.series.length, 60);
  assert.ok(s.series.reduce((n, p) => n + p.commands, 0) >= 6, 'the commands just sent are counted');
  const hot = s.busiestSkus.find((x) => x.sku === sku);
  assert.deepEqual(hot, { sku, onHand: 10, reserved: 2, available: 8, placements: 3 });
  assert.ok(s.metrics.some((m) => m.name === 'ordo_commands_total'), 'the /metrics figures are included');
});

test('the orders feed: recent changes first, then an event for every change', async () => {
  const sku = uid('sku');
  expectOk(await call(admin, 'inventory.set', { sku, onHand: 5 }));
  const early = await placed(sku);
  const watcher = await srv.connect('tok-observer');
  const first = expectOk(await call(watcher, 'feed.subscribe', { feed: 'orders' }));
  assert.ok((first.orders as { orderId: string }[]).some((o) => o.orderId === early), 'the recent change is in the first reply');
  const events: EventFrame[] = [];
  const got = new Promise<void>((resolve) =>
    watcher.onEvent((e) => {
      events.push(e);
      if ((e.order as { status: string }).status === 'cancelled') resolve();
    }),
  );
  const orderId = await placed(sku);
  expectOk(await call(admin, 'order.cancel', { orderId }));
  await within(got, 5_000, 'the cancellation event');
  const mine = events.filter((e) => (e.order as { orderId: string }).orderId === orderId);
  assert.deepEqual(mine.map((e) => [e.event, e.feed, (e.order as { status: string }).status]), [
    ['feed', 'orders', 'awaiting_payment'],
    ['feed', 'orders', 'cancelled'],
  ]);
});

test('counts per status are right after kill -9 and after a clean restart', async () => {
  await withTempDir('ordo-observer-', async (dir) => {
    let child = await spawnServer(dir);
    let c = await OrdoClient.connect(child.url, 'tok-admin');
    const sku = uid('sku');
    expectOk(await call(c, 'inventory.set', { sku, onHand: 100 }));
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const orderId = uid('o');
      ids.push(orderId);
      expectOk(await call(c, 'order.place', { orderId, customerId: 'ana', items: [{ sku, quantity: 1 }] }));
    }
    for (const orderId of ids.slice(0, 4)) expectOk(await call(c, 'order.cancel', { orderId }));
    const expected = { awaiting_payment: 8, cancelled: 4 };
    const pick = (s: Stats) => ({ awaiting_payment: s.orders.awaiting_payment, cancelled: s.orders.cancelled });
    assert.deepEqual(pick(await stats(c)), expected);
    await c.close();
    await child.kill('SIGKILL');
    child = await spawnServer(dir);
    c = await OrdoClient.connect(child.url, 'tok-admin');
    assert.deepEqual(pick(await stats(c)), expected, 'after kill -9 (journal replay)');
    await c.close();
    assert.equal(await child.kill('SIGTERM'), 0);
    child = await spawnServer(dir);
    c = await OrdoClient.connect(child.url, 'tok-admin');
    assert.deepEqual(pick(await stats(c)), expected, 'after a clean stop (snapshot directory)');
    await c.close();
    await child.kill('SIGKILL');
  });
});

test('ActorDirectory: counts move with summaries, ignore non-orders, and undo on delete', () => {
  const d = new ActorDirectory();
  d.set('order:a', ['ana', 'awaiting_payment', 1]);
  d.set('order:b', ['ana', 'awaiting_payment', 2]);
  d.set('sku:mug', 1);
  d.set('order:a', ['ana', 'paid', 1]);
  d.delete('order:b');
  d.delete('order:missing');
  const c = d.statusCounts();
  assert.equal(c.awaiting_payment, 0);
  assert.equal(c.paid, 1);
  assert.equal(Object.values(c).reduce((a, b) => a + b, 0), 1);
  assert.equal(d.size, 2);
});

test.run();
