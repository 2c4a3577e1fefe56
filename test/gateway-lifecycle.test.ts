// Black-box conformance tests of the wire protocol (PROTOCOL.md): the happy paths over a real
// socket — the full order lifecycle, the "what each command accepts" table with its idempotent
// repeats, payment deadlines, subscriptions and feeds, order.list pagination, /healthz and /metrics.
import { test } from 'uvu';
import assert from 'node:assert/strict';
import type { EventFrame, OrdoClient, ReplyFrame } from '../src/client/ordo-client.js';
import { startServer, type TestServer } from './helpers/server.js';
import { call, expectErr, expectOk, uid } from './helpers/wire.js';

let srv: TestServer;
let admin: OrdoClient;
let alice: OrdoClient;
let bob: OrdoClient;
let payments: OrdoClient;
let warehouse: OrdoClient;
let carrier: OrdoClient;

interface Stock { sku: string; onHand: number; reserved: number; available: number }
interface HistoryEntry { at: number; status: string; by: string }
interface Order {
  orderId: string;
  customerId: string;
  items: { sku: string; quantity: number }[];
  status: string;
  reason?: string;
  paymentDeadline: number;
  paymentRef?: string;
  trackingNo?: string;
  refundDue: boolean;
  history: HistoryEntry[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function expectOrder(r: ReplyFrame): Order {
  expectOk(r);
  assert.ok(r.order && typeof r.order === 'object', `reply has an order: ${JSON.stringify(r)}`);
  return r.order as Order;
}

async function stockOf(sku: string): Promise<Stock> {
  return expectOk(await call(admin, 'inventory.get', { sku })).stock as Stock;
}

/**
 * Stock as it settles. Stock moves (release, ship, restock) happen in the SKU actors; whether they
 * are visible as soon as the command's reply arrives is checked strictly, once, by the test
 * 'effects are visible once the ok reply has arrived'. Elsewhere the stock is checked to settle
 * at exactly the right value (never lost, never applied twice).
 */
async function eventuallyStock(sku: string, expected: Stock, message?: string, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  let got = await stockOf(sku);
  while (JSON.stringify(got) !== JSON.stringify(expected) && Date.now() < end) {
    await sleep(10);
    got = await stockOf(sku);
  }
  assert.deepEqual(got, expected, message);
}

async function freshSku(onHand = 10): Promise<string> {
  const sku = uid('sku');
  expectOk(await call(admin, 'inventory.set', { sku, onHand }));
  return sku;
}

async function getOrder(orderId: string, c: OrdoClient = admin): Promise<Order> {
  return expectOrder(await call(c, 'order.get', { orderId }));
}

async function waitUntil<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function waitForStatus(orderId: string, status: string, ms = 5_000): Promise<Order> {
  return waitUntil(`${orderId} to reach ${status}`, async () => {
    const o = await getOrder(orderId);
    return o.status === status ? o : undefined;
  }, ms);
}

function waitForEvent(c: OrdoClient, pred: (e: EventFrame) => boolean, what: string, ms = 5_000): Promise<EventFrame> {
  return waitUntil(what, () => c.events.find(pred), ms);
}

const feedEventFor = (feed: string, orderId: string) => (e: EventFrame) =>
  e.event === 'feed' && e.feed === feed && (e.order as Order | undefined)?.orderId === orderId;

const trail = (o: Order) => o.history.map((h) => [h.status, h.by]);

/** Drives a fresh order of alice's (2 units of a fresh SKU stocked 10) to `target`. */
type Target = 'awaiting_payment' | 'picking' | 'packed' | 'dispatched' | 'delivered' | 'return_requested' | 'returned' | 'cancelled' | 'cancelled_paid';
async function makeOrder(target: Target): Promise<{ orderId: string; sku: string; order: Order }> {
  const sku = await freshSku(10);
  const orderId = uid('o');
  const done = async () => ({ orderId, sku, order: await getOrder(orderId) });
  expectOrder(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 2 }] }));
  if (target === 'awaiting_payment') return done();
  if (target === 'cancelled') {
    expectOrder(await call(alice, 'order.cancel', { orderId }));
    return done();
  }
  expectOrder(await call(payments, 'order.pay', { orderId, paymentRef: `pay-${orderId}` }));
  await waitForStatus(orderId, 'picking');
  if (target === 'picking') return done();
  if (target === 'cancelled_paid') {
    expectOrder(await call(alice, 'order.cancel', { orderId }));
    return done();
  }
  expectOrder(await call(warehouse, 'wms.packed', { orderId }));
  if (target === 'packed') return done();
  expectOrder(await call(carrier, 'tms.ack', { orderId, trackingNo: `trk-${orderId}` }));
  if (target === 'dispatched') return done();
  expectOrder(await call(carrier, 'tms.delivered', { orderId }));
  if (target === 'delivered') return done();
  expectOrder(await call(alice, 'order.return', { orderId, reason: 'does not fit' }));
  if (target === 'return_requested') return done();
  expectOrder(await call(warehouse, 'return.received', { orderId }));
  return done();
}

test.before(async () => {
  srv = await startServer();
  [admin, alice, bob, payments, warehouse, carrier] = await Promise.all(
    ['tok-admin', 'tok-alice', 'tok-bob', 'tok-payments', 'tok-warehouse', 'tok-carrier'].map((t) => srv.connect(t)),
  );
});

test.after(async () => {
  await srv?.destroy();
});

// ---------------------------------------------------------------------------------------------

test('full lifecycle: place → pay → picking → packed → dispatched → delivered → return → returned', async () => {
  const whFeed = await srv.connect('tok-warehouse');
  const caFeed = await srv.connect('tok-carrier');
  const rfFeed = await srv.connect('tok-payments');
  expectOk(await call(whFeed, 'feed.subscribe', { feed: 'warehouse' }));
  expectOk(await call(caFeed, 'feed.subscribe', { feed: 'carrier' }));
  expectOk(await call(rfFeed, 'feed.subscribe', { feed: 'refunds' }));

  const sku = await freshSku(10);
  const sku2 = await freshSku(5);
  const orderId = uid('o');
  const t0 = Date.now();
  const placed = expectOrder(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 3 }, { sku: sku2, quantity: 1 }] }));
  const t1 = Date.now();
  assert.equal(placed.orderId, orderId);
  assert.equal(placed.customerId, 'alice');
  assert.equal(placed.status, 'awaiting_payment');
  assert.equal(placed.refundDue, false);
  assert.equal(placed.reason, undefined);
  assert.equal(placed.paymentRef, undefined);
  assert.equal(placed.trackingNo, undefined);
  assert.deepEqual([...placed.items].sort((a, b) => a.sku.localeCompare(b.sku)), [{ sku, quantity: 3 }, { sku: sku2, quantity: 1 }].sort((a, b) => a.sku.localeCompare(b.sku)));
  assert.deepEqual(trail(placed), [['awaiting_payment', 'customer']]);
  assert.ok(placed.history[0]!.at >= t0 - 5 && placed.history[0]!.at <= t1 + 5, 'history.at is epoch ms');
  // default payment timeout: 15 minutes
  assert.ok(placed.paymentDeadline >= t0 + 15 * 60_000 && placed.paymentDeadline <= t1 + 15 * 60_000, `default deadline ${placed.paymentDeadline}`);
  assert.deepEqual(await stockOf(sku), { sku, onHand: 10, reserved: 3, available: 7 });
  assert.deepEqual(await stockOf(sku2), { sku: sku2, onHand: 5, reserved: 1, available: 4 });
  // the customer sees their order
  assert.deepEqual(await getOrder(orderId, alice), placed);

  const paid = expectOrder(await call(payments, 'order.pay', { orderId, paymentRef: 'pay-123' }));
  assert.ok(['paid', 'picking'].includes(paid.status), `pay answers the paid order: ${paid.status}`);
  assert.equal(paid.paymentRef, 'pay-123');
  assert.deepEqual(trail(paid).slice(0, 2), [['awaiting_payment', 'customer'], ['paid', 'payments']]);

  // The runtime hands it to the warehouse itself.
  const picking = await waitForStatus(orderId, 'picking');
  assert.deepEqual(trail(picking), [['awaiting_payment', 'customer'], ['paid', 'payments'], ['picking', 'system']]);
  const whEvent = await waitForEvent(whFeed, feedEventFor('warehouse', orderId), 'warehouse feed event');
  assert.equal((whEvent.order as Order).status, 'picking');
  assert.equal('re' in whEvent, false, 'an event is never a reply');
  assert.deepEqual(await stockOf(sku), { sku, onHand: 10, reserved: 3, available: 7 }, 'still reserved while picking');

  const packed = expectOrder(await call(warehouse, 'wms.packed', { orderId }));
  assert.equal(packed.status, 'packed');
  assert.deepEqual(trail(packed).at(-1), ['packed', 'warehouse']);
  const caEvent = await waitForEvent(caFeed, feedEventFor('carrier', orderId), 'carrier feed event');
  assert.equal((caEvent.order as Order).status, 'packed');
  assert.deepEqual(await stockOf(sku), { sku, onHand: 10, reserved: 3, available: 7 }, 'still reserved while packed');

  const dispatched = expectOrder(await call(carrier, 'tms.ack', { orderId, trackingNo: 'TRK-1' }));
  assert.equal(dispatched.status, 'dispatched');
  assert.equal(dispatched.trackingNo, 'TRK-1');
  assert.deepEqual(trail(dispatched).at(-1), ['dispatched', 'carrier']);
  await eventuallyStock(sku, { sku, onHand: 7, reserved: 0, available: 7 }, 'dispatch takes stock out of onHand and reserved');
  await eventuallyStock(sku2, { sku: sku2, onHand: 4, reserved: 0, available: 4 });

  const delivered = expectOrder(await call(carrier, 'tms.delivered', { orderId }));
  assert.equal(delivered.status, 'delivered');
  assert.deepEqual(trail(delivered).at(-1), ['delivered', 'carrier']);

  const returning = expectOrder(await call(alice, 'order.return', { orderId, reason: 'too small' }));
  assert.equal(returning.status, 'return_requested');
  assert.equal(returning.reason, 'too small');
  assert.equal(returning.refundDue, false);
  assert.deepEqual(trail(returning).at(-1), ['return_requested', 'customer']);

  const returned = expectOrder(await call(warehouse, 'return.received', { orderId }));
  assert.equal(returned.status, 'returned');
  assert.equal(returned.refundDue, true);
  assert.deepEqual(trail(returned).at(-1), ['returned', 'warehouse']);
  await eventuallyStock(sku, { sku, onHand: 10, reserved: 0, available: 10 }, 'restocked');
  await eventuallyStock(sku2, { sku: sku2, onHand: 5, reserved: 0, available: 5 });
  const rfEvent = await waitForEvent(rfFeed, feedEventFor('refunds', orderId), 'refunds feed event');
  assert.equal((rfEvent.order as Order).refundDue, true);

  // A repeat restocks nothing.
  const again = expectOrder(await call(warehouse, 'return.received', { orderId }));
  assert.deepEqual(again, returned);
  assert.deepEqual(await stockOf(sku), { sku, onHand: 10, reserved: 0, available: 10 }, 'restocked once');

  const final = await getOrder(orderId);
  assert.deepEqual(final, returned);
  assert.deepEqual(trail(final), [
    ['awaiting_payment', 'customer'],
    ['paid', 'payments'],
    ['picking', 'system'],
    ['packed', 'warehouse'],
    ['dispatched', 'carrier'],
    ['delivered', 'carrier'],
    ['return_requested', 'customer'],
    ['returned', 'warehouse'],
  ]);
  for (let i = 1; i < final.history.length; i++) assert.ok(final.history[i]!.at >= final.history[i - 1]!.at, 'history in time order');
  assert.ok(final.history.at(-1)!.at <= Date.now() + 5);
  // Each feed announced the order once.
  assert.equal(whFeed.events.filter(feedEventFor('warehouse', orderId)).length, 1);
  assert.equal(caFeed.events.filter(feedEventFor('carrier', orderId)).length, 1);
  await Promise.all([whFeed.close(), caFeed.close(), rfFeed.close()]);
});

test('admin places for a customer; inventory.adjust with adjustmentId applies once; unknown SKU starts at 0', async () => {
  const sku = uid('sku');
  assert.deepEqual(await stockOf(sku), { sku, onHand: 0, reserved: 0, available: 0 });
  assert.deepEqual(expectOk(await call(admin, 'inventory.adjust', { sku, delta: 4 })).stock, { sku, onHand: 4, reserved: 0, available: 4 });
  const adjustmentId = uid('adj');
  assert.deepEqual(expectOk(await call(admin, 'inventory.adjust', { sku, delta: 3, adjustmentId })).stock, { sku, onHand: 7, reserved: 0, available: 7 });
  const rep = expectOk(await call(admin, 'inventory.adjust', { sku, delta: 3, adjustmentId }));
  assert.equal((rep.stock as Stock).onHand, 7, 'a repeated adjustmentId is applied once');
  // The same id with another delta is a client's bug, not a repeat (PROTOCOL-NOTES): CONFLICT, nothing applied.
  expectErr(await call(admin, 'inventory.adjust', { sku, delta: 5, adjustmentId }), 'CONFLICT');
  assert.deepEqual(await stockOf(sku), { sku, onHand: 7, reserved: 0, available: 7 });
  // Ids are per SKU: the same id on another SKU is another adjustment.
  const other = uid('sku');
  assert.equal((expectOk(await call(admin, 'inventory.adjust', { sku: other, delta: 2, adjustmentId })).stock as Stock).onHand, 2);
  assert.deepEqual(await stockOf(sku), { sku, onHand: 7, reserved: 0, available: 7 });
  assert.deepEqual(expectOk(await call(admin, 'inventory.adjust', { sku, delta: -2 })).stock, { sku, onHand: 5, reserved: 0, available: 5 });
  // a customer may read stock
  assert.deepEqual(expectOk(await call(alice, 'inventory.get', { sku })).stock, { sku, onHand: 5, reserved: 0, available: 5 });
  const orderId = uid('o');
  const o = expectOrder(await call(admin, 'order.place', { orderId, customerId: 'bob', items: [{ sku, quantity: 5 }] }));
  assert.equal(o.customerId, 'bob');
  assert.deepEqual(trail(o), [['awaiting_payment', 'admin']]);
  assert.deepEqual(await getOrder(orderId, bob), o);
  expectErr(await call(alice, 'order.get', { orderId }), 'NOT_FOUND');
  assert.deepEqual(await stockOf(sku), { sku, onHand: 5, reserved: 5, available: 0 });
  const c = expectOrder(await call(admin, 'order.cancel', { orderId }));
  assert.equal(c.status, 'cancelled');
  assert.equal(c.reason, 'admin');
  assert.deepEqual(trail(c).at(-1), ['cancelled', 'admin']);
  await eventuallyStock(sku, { sku, onHand: 5, reserved: 0, available: 5 });
});

// ---------------------------------------------------------------------------------------------
// What each command accepts

const STATUSES: Target[] = ['awaiting_payment', 'picking', 'packed', 'dispatched', 'delivered', 'return_requested', 'returned', 'cancelled', 'cancelled_paid'];
const realStatus = (t: Target) => (t === 'cancelled_paid' ? 'cancelled' : t);
let fixtures: Map<Target, { orderId: string; sku: string; order: Order }>;

async function fixturesByStatus() {
  if (!fixtures) {
    fixtures = new Map();
    const made = await Promise.all(STATUSES.map((s) => makeOrder(s)));
    STATUSES.forEach((s, i) => fixtures.set(s, made[i]!));
    for (const s of STATUSES) assert.equal(fixtures.get(s)!.order.status, realStatus(s));
  }
  return fixtures;
}

/** Sends a command that must not change the order, checks the answer and that nothing changed. */
async function unchanged(c: OrdoClient, type: string, args: Record<string, unknown>, expect: 'repeat' | [string, Record<string, unknown>?]): Promise<void> {
  const orderId = args.orderId as string;
  const before = await getOrder(orderId);
  const stocks = await Promise.all(before.items.map((i) => stockOf(i.sku)));
  const r = await call(c, type, args);
  const label = `${type} ${JSON.stringify(args)} on ${before.status}`;
  if (expect === 'repeat') {
    assert.equal(r.ok, true, `${label}: idempotent repeat answers ok: ${JSON.stringify(r)}`);
    assert.deepEqual(r.order, before, `${label}: a repeat answers the unchanged order`);
  } else {
    assert.equal(r.ok, false, `${label}: expected ${expect[0]}, got ${JSON.stringify(r)}`);
    expectErr(r, expect[0], expect[1]);
  }
  assert.deepEqual(await getOrder(orderId), before, `${label}: order unchanged`);
  assert.deepEqual(await Promise.all(before.items.map((i) => stockOf(i.sku))), stocks, `${label}: stock unchanged`);
}

test('order.place: a repeat with the same items in any order answers the unchanged order; different items or customer is CONFLICT', async () => {
  const a = await freshSku(10);
  const b = await freshSku(10);
  const orderId = uid('o');
  const items = [{ sku: a, quantity: 2 }, { sku: b, quantity: 1 }];
  const placed = expectOrder(await call(alice, 'order.place', { orderId, items }));
  await unchanged(alice, 'order.place', { orderId, items }, 'repeat');
  await unchanged(alice, 'order.place', { orderId, items: [...items].reverse() }, 'repeat');
  await unchanged(admin, 'order.place', { orderId, customerId: 'alice', items }, 'repeat');
  await unchanged(alice, 'order.place', { orderId, items: [{ sku: a, quantity: 3 }, { sku: b, quantity: 1 }] }, ['CONFLICT']);
  await unchanged(alice, 'order.place', { orderId, items: [{ sku: a, quantity: 2 }] }, ['CONFLICT']);
  await unchanged(alice, 'order.place', { orderId, items: [...items, { sku: uid('sku'), quantity: 1 }] }, ['CONFLICT']);
  await unchanged(bob, 'order.place', { orderId, items }, ['CONFLICT']);
  await unchanged(admin, 'order.place', { orderId, customerId: 'bob', items }, ['CONFLICT']);
  assert.deepEqual(await stockOf(a), { sku: a, onHand: 10, reserved: 2, available: 8 });
  assert.deepEqual(await getOrder(orderId), placed);
  // A repeat of a placement that has moved on still answers the (current, unchanged) order.
  const { orderId: shipped, sku } = await makeOrder('dispatched');
  await unchanged(alice, 'order.place', { orderId: shipped, items: [{ sku, quantity: 2 }] }, 'repeat');
});

test('order.pay: accepted from awaiting_payment; repeat with same paymentRef when paid or later; else INVALID_STATE with status', async () => {
  const f = await fixturesByStatus();
  for (const s of ['picking', 'packed', 'dispatched', 'delivered', 'return_requested', 'returned'] as Target[]) {
    const { orderId } = f.get(s)!;
    await unchanged(payments, 'order.pay', { orderId, paymentRef: `pay-${orderId}` }, 'repeat');
    await unchanged(payments, 'order.pay', { orderId, paymentRef: 'another-ref' }, ['INVALID_STATE', { status: s }]);
  }
  const cancelled = f.get('cancelled')!.orderId;
  await unchanged(payments, 'order.pay', { orderId: cancelled, paymentRef: 'p' }, ['INVALID_STATE', { status: 'cancelled' }]);
  const cancelledPaid = f.get('cancelled_paid')!.orderId;
  await unchanged(payments, 'order.pay', { orderId: cancelledPaid, paymentRef: 'another-ref' }, ['INVALID_STATE', { status: 'cancelled' }]);
  expectErr(await call(payments, 'order.pay', { orderId: uid('nope'), paymentRef: 'p' }), 'NOT_FOUND');
  // admin may pay too
  const { orderId } = await makeOrder('awaiting_payment');
  const o = expectOrder(await call(admin, 'order.pay', { orderId, paymentRef: 'adm-pay' }));
  assert.equal(o.paymentRef, 'adm-pay');
  assert.deepEqual(trail(await waitForStatus(orderId, 'picking')).slice(1), [['paid', 'admin'], ['picking', 'system']]);
});

test('order.cancel: accepted before dispatch; repeat on cancelled keeps the reason; CANCEL_REFUSED with the real status after dispatch', async () => {
  for (const s of ['awaiting_payment', 'picking', 'packed'] as Target[]) {
    const { orderId, sku } = await makeOrder(s);
    const c = expectOrder(await call(alice, 'order.cancel', { orderId }));
    assert.equal(c.status, 'cancelled');
    assert.equal(c.reason, 'customer');
    assert.equal(c.refundDue, s !== 'awaiting_payment', `refundDue after cancelling a ${s} order`);
    assert.deepEqual(trail(c).at(-1), ['cancelled', 'customer']);
    assert.equal(c.history.length, s === 'awaiting_payment' ? 2 : s === 'picking' ? 4 : 5);
    await eventuallyStock(sku, { sku, onHand: 10, reserved: 0, available: 10 }, `cancel from ${s} releases stock`);
    // repeats, by the customer or by admin, keep the reason
    await unchanged(alice, 'order.cancel', { orderId }, 'repeat');
    await unchanged(admin, 'order.cancel', { orderId }, 'repeat');
    await unchanged(alice, 'order.cancel', { orderId, reason: 'changed my mind' }, 'repeat');
  }
  const f = await fixturesByStatus();
  for (const s of ['dispatched', 'delivered', 'return_requested', 'returned'] as Target[]) {
    await unchanged(alice, 'order.cancel', { orderId: f.get(s)!.orderId }, ['CANCEL_REFUSED', { status: s }]);
    await unchanged(admin, 'order.cancel', { orderId: f.get(s)!.orderId }, ['CANCEL_REFUSED', { status: s }]);
  }
});

test('wms.packed: accepted from picking; repeat on packed; else INVALID_STATE with status', async () => {
  const f = await fixturesByStatus();
  await unchanged(warehouse, 'wms.packed', { orderId: f.get('packed')!.orderId }, 'repeat');
  for (const s of ['awaiting_payment', 'dispatched', 'delivered', 'return_requested', 'returned', 'cancelled', 'cancelled_paid'] as Target[]) {
    await unchanged(warehouse, 'wms.packed', { orderId: f.get(s)!.orderId }, ['INVALID_STATE', { status: realStatus(s) }]);
  }
  expectErr(await call(warehouse, 'wms.packed', { orderId: uid('nope') }), 'NOT_FOUND');
});

test('tms.ack: accepted from packed; repeat with the same trackingNo; INTERCEPTED when cancelled; else INVALID_STATE', async () => {
  const f = await fixturesByStatus();
  const d = f.get('dispatched')!.orderId;
  await unchanged(carrier, 'tms.ack', { orderId: d, trackingNo: `trk-${d}` }, 'repeat');
  await unchanged(carrier, 'tms.ack', { orderId: d, trackingNo: 'other-trk' }, ['INVALID_STATE', { status: 'dispatched' }]);
  for (const s of ['awaiting_payment', 'picking', 'delivered', 'return_requested', 'returned'] as Target[]) {
    const { orderId } = f.get(s)!;
    await unchanged(carrier, 'tms.ack', { orderId, trackingNo: `trk-${orderId}` }, ['INVALID_STATE', { status: s }]);
  }
  for (const s of ['cancelled', 'cancelled_paid'] as Target[]) {
    await unchanged(carrier, 'tms.ack', { orderId: f.get(s)!.orderId, trackingNo: 't' }, ['INTERCEPTED']);
  }
  expectErr(await call(carrier, 'tms.ack', { orderId: uid('nope'), trackingNo: 't' }), 'NOT_FOUND');
});

test('tms.delivered: accepted from dispatched; repeat on delivered; else INVALID_STATE', async () => {
  const f = await fixturesByStatus();
  await unchanged(carrier, 'tms.delivered', { orderId: f.get('delivered')!.orderId }, 'repeat');
  for (const s of ['awaiting_payment', 'picking', 'packed', 'return_requested', 'returned', 'cancelled', 'cancelled_paid'] as Target[]) {
    await unchanged(carrier, 'tms.delivered', { orderId: f.get(s)!.orderId }, ['INVALID_STATE', { status: realStatus(s) }]);
  }
});

test('order.return: accepted from delivered; repeat on return_requested; else INVALID_STATE', async () => {
  const f = await fixturesByStatus();
  const rr = f.get('return_requested')!;
  assert.equal(rr.order.reason, 'does not fit');
  await unchanged(alice, 'order.return', { orderId: rr.orderId }, 'repeat');
  await unchanged(alice, 'order.return', { orderId: rr.orderId, reason: 'does not fit' }, 'repeat');
  await unchanged(admin, 'order.return', { orderId: rr.orderId, reason: 'something else' }, 'repeat');
  for (const s of ['awaiting_payment', 'picking', 'packed', 'dispatched', 'returned', 'cancelled', 'cancelled_paid'] as Target[]) {
    await unchanged(alice, 'order.return', { orderId: f.get(s)!.orderId }, ['INVALID_STATE', { status: realStatus(s) }]);
  }
  // return without a reason
  const { orderId } = await makeOrder('delivered');
  const r = expectOrder(await call(alice, 'order.return', { orderId }));
  assert.equal(r.status, 'return_requested');
});

test('return.received: accepted from return_requested; repeat on returned restocks nothing; else INVALID_STATE', async () => {
  const f = await fixturesByStatus();
  const ret = f.get('returned')!;
  assert.deepEqual(await stockOf(ret.sku), { sku: ret.sku, onHand: 10, reserved: 0, available: 10 });
  await unchanged(warehouse, 'return.received', { orderId: ret.orderId }, 'repeat');
  await unchanged(admin, 'return.received', { orderId: ret.orderId }, 'repeat');
  assert.deepEqual(await stockOf(ret.sku), { sku: ret.sku, onHand: 10, reserved: 0, available: 10 });
  for (const s of ['awaiting_payment', 'picking', 'packed', 'dispatched', 'delivered', 'cancelled', 'cancelled_paid'] as Target[]) {
    await unchanged(warehouse, 'return.received', { orderId: f.get(s)!.orderId }, ['INVALID_STATE', { status: realStatus(s) }]);
  }
  // The pending return is still acceptable after all those refusals.
  const rr = f.get('return_requested')!;
  const o = expectOrder(await call(warehouse, 'return.received', { orderId: rr.orderId }));
  assert.equal(o.status, 'returned');
  assert.equal(o.refundDue, true);
  await eventuallyStock(rr.sku, { sku: rr.sku, onHand: 10, reserved: 0, available: 10 });
});

test('tms.ack after a cancel is INTERCEPTED: the parcel never leaves, stock is back, refund due', async () => {
  const { orderId, sku } = await makeOrder('packed');
  const c = expectOrder(await call(alice, 'order.cancel', { orderId }));
  assert.equal(c.refundDue, true);
  expectErr(await call(carrier, 'tms.ack', { orderId, trackingNo: 'T-1' }), 'INTERCEPTED');
  const o = await getOrder(orderId);
  assert.equal(o.status, 'cancelled');
  assert.equal(o.trackingNo, undefined);
  assert.ok(!o.history.some((h) => h.status === 'dispatched'));
  await eventuallyStock(sku, { sku, onHand: 10, reserved: 0, available: 10 });
});

test('cancel racing tms.ack: exactly one wins, never both cancelled and dispatched', async () => {
  const made = await Promise.all(Array.from({ length: 8 }, () => makeOrder('packed')));
  await Promise.all(made.map(async ({ orderId, sku }, i) => {
    const cancel = () => call(alice, 'order.cancel', { orderId });
    const ack = () => call(carrier, 'tms.ack', { orderId, trackingNo: `race-${i}` });
    const [rc, ra] = i % 2 ? await Promise.all([cancel(), ack()]) : (await Promise.all([ack(), cancel()])).reverse();
    const o = await getOrder(orderId);
    const statuses = o.history.map((h) => h.status);
    assert.ok(!(statuses.includes('cancelled') && statuses.includes('dispatched')), `never both: ${JSON.stringify(o.history)}`);
    if (rc!.ok) {
      expectErr(ra!, 'INTERCEPTED');
      assert.equal(o.status, 'cancelled');
      await eventuallyStock(sku, { sku, onHand: 10, reserved: 0, available: 10 });
    } else {
      expectErr(rc!, 'CANCEL_REFUSED', { status: 'dispatched' });
      assert.equal(expectOrder(ra!).status, 'dispatched');
      assert.equal(o.status, 'dispatched');
      await eventuallyStock(sku, { sku, onHand: 8, reserved: 0, available: 8 });
    }
  }));
});

test('effects are visible once the ok reply has arrived: stock moves and feed membership (read after reply, repeated)', async () => {
  // "A client that needs one command applied before another waits for the first reply": once
  // the reply is in, inventory.get and a fresh feed.subscribe must show the command's effects.
  // Done one order at a time (a quiet server shows the gap best), several times over.
  const N = 12;
  const [unpaid, paid, packed, toPack, returning] = await Promise.all(
    (['awaiting_payment', 'picking', 'packed', 'picking', 'return_requested'] as Target[]).map((t) => Promise.all(Array.from({ length: N }, () => makeOrder(t)))),
  );
  const failures: string[] = [];
  const check = async (what: string, sku: string, expected: Stock) => {
    const got = await stockOf(sku);
    if (JSON.stringify(got) !== JSON.stringify(expected)) failures.push(`${what}: inventory.get right after the ok reply gave ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  };
  const inFeed = async (token: string, feed: string, orderId: string) => {
    const x = await srv.connect(token);
    const orders = expectOk(await call(x, 'feed.subscribe', { feed })).orders as Order[];
    await x.close();
    return orders.some((o) => o.orderId === orderId);
  };
  const sequentially = async (...groups: (() => Promise<void>)[][]) => {
    for (let i = 0; i < N; i++) for (const g of groups) await g[i]!();
  };
  await sequentially(
    unpaid.map(({ orderId, sku }) => async () => {
      expectOrder(await call(alice, 'order.cancel', { orderId }));
      await check(`order.cancel of awaiting_payment ${orderId} (release)`, sku, { sku, onHand: 10, reserved: 0, available: 10 });
    }),
    paid.map(({ orderId, sku }) => async () => {
      expectOrder(await call(alice, 'order.cancel', { orderId }));
      await check(`order.cancel of picking ${orderId} (release)`, sku, { sku, onHand: 10, reserved: 0, available: 10 });
      if (!(await inFeed('tok-payments', 'refunds', orderId))) failures.push(`order.cancel of picking ${orderId}: a fresh feed.subscribe refunds right after the ok reply does not list it`);
    }),
    packed.map(({ orderId, sku }) => async () => {
      expectOrder(await call(carrier, 'tms.ack', { orderId, trackingNo: 'T' }));
      await check(`tms.ack ${orderId} (ship)`, sku, { sku, onHand: 8, reserved: 0, available: 8 });
    }),
    toPack.map(({ orderId }) => async () => {
      expectOrder(await call(warehouse, 'wms.packed', { orderId }));
      if (!(await inFeed('tok-carrier', 'carrier', orderId))) failures.push(`wms.packed ${orderId}: a fresh feed.subscribe carrier right after the ok reply does not list it`);
      if (await inFeed('tok-warehouse', 'warehouse', orderId)) failures.push(`wms.packed ${orderId}: a fresh feed.subscribe warehouse right after the ok reply still lists it`);
    }),
    returning.map(({ orderId, sku }) => async () => {
      expectOrder(await call(warehouse, 'return.received', { orderId }));
      await check(`return.received ${orderId} (restock)`, sku, { sku, onHand: 10, reserved: 0, available: 10 });
      if (!(await inFeed('tok-payments', 'refunds', orderId))) failures.push(`return.received ${orderId}: a fresh feed.subscribe refunds right after the ok reply does not list it`);
    }),
  );
  assert.deepEqual(failures, [], `effects not yet visible after the ok reply:\n${failures.join('\n')}`);
});

// ---------------------------------------------------------------------------------------------
// Payment deadlines

test('a payment timeout cancels with reason payment_timeout by the timer and releases stock', async () => {
  const sku = await freshSku(10);
  const orderId = uid('o');
  const sub = await srv.connect('tok-alice');
  const t0 = Date.now();
  const placed = expectOrder(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 4 }], paymentTimeoutMs: 200 }));
  assert.ok(placed.paymentDeadline >= t0 + 200 && placed.paymentDeadline <= Date.now() + 200);
  expectOrder(await call(sub, 'order.subscribe', { orderId }));
  assert.equal((await stockOf(sku)).reserved, 4);
  const ev = await waitForEvent(sub, (e) => e.event === 'order.updated' && (e.order as Order).status === 'cancelled', 'timeout cancellation event', 3_000);
  const o = ev.order as Order;
  assert.ok(Date.now() >= placed.paymentDeadline, 'not cancelled before the deadline');
  assert.equal(o.reason, 'payment_timeout');
  assert.equal(o.refundDue, false);
  assert.deepEqual(trail(o), [['awaiting_payment', 'customer'], ['cancelled', 'timer']]);
  assert.ok(o.history[1]!.at >= placed.paymentDeadline, 'cancelled at or after the deadline');
  assert.deepEqual(await getOrder(orderId), o);
  await eventuallyStock(sku, { sku, onHand: 10, reserved: 0, available: 10 });
  // Too late to pay now.
  expectErr(await call(payments, 'order.pay', { orderId, paymentRef: 'late' }), 'ORDER_EXPIRED');
  assert.deepEqual(await getOrder(orderId), o);
  await sub.close();
});

test('a payment at or after the deadline is ORDER_EXPIRED even if the timer has not run; the order ends cancelled', async () => {
  const sku = await freshSku(10);
  const orderId = uid('o');
  const placed = expectOrder(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 2 }], paymentTimeoutMs: 300 }));
  // Pay the moment the deadline is reached.
  await sleep(Math.max(0, placed.paymentDeadline - Date.now()));
  while (Date.now() < placed.paymentDeadline) await sleep(1);
  expectErr(await call(payments, 'order.pay', { orderId, paymentRef: 'just-late' }), 'ORDER_EXPIRED');
  const o = await waitForStatus(orderId, 'cancelled', 3_000);
  assert.equal(o.reason, 'payment_timeout');
  assert.equal(o.paymentRef, undefined);
  assert.deepEqual(trail(o), [['awaiting_payment', 'customer'], ['cancelled', 'timer']]);
  await eventuallyStock(sku, { sku, onHand: 10, reserved: 0, available: 10 });
});

test('a payment before the deadline stops the timer', async () => {
  const sku = await freshSku(10);
  const orderId = uid('o');
  const placed = expectOrder(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 2 }], paymentTimeoutMs: 400 }));
  expectOrder(await call(payments, 'order.pay', { orderId, paymentRef: 'in-time' }));
  await sleep(Math.max(0, placed.paymentDeadline - Date.now()) + 250);
  const o = await getOrder(orderId);
  assert.equal(o.status, 'picking');
  assert.ok(!o.history.some((h) => h.by === 'timer'));
  assert.deepEqual(await stockOf(sku), { sku, onHand: 10, reserved: 2, available: 8 });
});

test('a customer cancel before the deadline: a later pay is INVALID_STATE cancelled, the timer does nothing', async () => {
  const sku = await freshSku(10);
  const orderId = uid('o');
  const placed = expectOrder(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 2 }], paymentTimeoutMs: 150 }));
  const c = expectOrder(await call(alice, 'order.cancel', { orderId }));
  assert.equal(c.reason, 'customer');
  await unchanged(payments, 'order.pay', { orderId, paymentRef: 'p' }, ['INVALID_STATE', { status: 'cancelled' }]);
  await sleep(Math.max(0, placed.paymentDeadline - Date.now()) + 150);
  const o = await getOrder(orderId);
  assert.deepEqual(o, c, 'the timer changed nothing');
  await eventuallyStock(sku, { sku, onHand: 10, reserved: 0, available: 10 });
});

// ---------------------------------------------------------------------------------------------
// Subscriptions and feeds

test('order.subscribe answers the order, then order.updated after every change, in order', async () => {
  const sku = await freshSku(10);
  const orderId = uid('o');
  expectOrder(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 1 }] }));
  const sub = await srv.connect('tok-alice');
  const adminSub = await srv.connect('tok-admin');
  const first = expectOrder(await call(sub, 'order.subscribe', { orderId }));
  assert.deepEqual(first, await getOrder(orderId));
  assert.deepEqual(expectOrder(await call(adminSub, 'order.subscribe', { orderId })), first);

  expectOrder(await call(payments, 'order.pay', { orderId, paymentRef: 'p' }));
  await waitForStatus(orderId, 'picking');
  expectOrder(await call(warehouse, 'wms.packed', { orderId }));
  expectOrder(await call(carrier, 'tms.ack', { orderId, trackingNo: 't' }));
  expectOrder(await call(carrier, 'tms.ack', { orderId, trackingNo: 't' })); // repeat: no change
  expectOrder(await call(carrier, 'tms.delivered', { orderId }));
  expectOrder(await call(alice, 'order.return', { orderId, reason: 'r' }));
  expectOrder(await call(warehouse, 'return.received', { orderId }));
  const final = await getOrder(orderId);

  const expected = ['paid', 'picking', 'packed', 'dispatched', 'delivered', 'return_requested', 'returned'];
  for (const c of [sub, adminSub]) {
    const mine = () => c.events.filter((e) => e.event === 'order.updated' && (e.order as Order).orderId === orderId);
    await waitUntil('all order.updated events', () => (mine().some((e) => (e.order as Order).status === 'returned') ? true : undefined));
    const evs = mine().map((e) => e.order as Order);
    // A repeat changes nothing; if a server announces it anyway it must be the identical order.
    const changes = evs.filter((o, i) => i === 0 || JSON.stringify(o) !== JSON.stringify(evs[i - 1]));
    assert.deepEqual(changes.map((o) => o.status), expected, 'one event per change, in order');
    changes.forEach((o, i) => assert.equal(o.history.length, i + 2, 'each event carries the order after that change'));
    assert.deepEqual(changes.at(-1), final);
    for (const e of c.events) assert.equal('re' in e, false);
  }
  await Promise.all([sub.close(), adminSub.close()]);
  // The server keeps working after subscribers left.
  assert.deepEqual(await getOrder(orderId), final);
  expectErr(await call(alice, 'order.subscribe', { orderId: uid('nope') }), 'NOT_FOUND');
});

test('feed.subscribe answers the orders currently waiting, then feed events', async () => {
  // A is waiting in picking before anyone subscribes.
  const a = await makeOrder('picking');
  const wh = await srv.connect('tok-warehouse');
  const waiting = expectOk(await call(wh, 'feed.subscribe', { feed: 'warehouse' })).orders as Order[];
  assert.ok(Array.isArray(waiting));
  const wa = waiting.find((o) => o.orderId === a.orderId);
  assert.ok(wa, 'the waiting order is in the answer');
  assert.equal(wa.status, 'picking');
  assert.ok(waiting.every((o) => o.status === 'picking'), 'the warehouse feed waits on picking orders');
  // B enters picking after the subscription: a feed event.
  const b = await makeOrder('picking');
  const ev = await waitForEvent(wh, feedEventFor('warehouse', b.orderId), 'warehouse feed event');
  assert.equal((ev.order as Order).status, 'picking');
  assert.equal(ev.feed, 'warehouse');

  // Once packed, A waits on the carrier feed, not the warehouse one.
  const ca = await srv.connect('tok-carrier');
  expectOrder(await call(warehouse, 'wms.packed', { orderId: a.orderId }));
  const wh2 = await srv.connect('tok-warehouse');
  const stillWaiting = expectOk(await call(wh2, 'feed.subscribe', { feed: 'warehouse' })).orders as Order[];
  assert.ok(!stillWaiting.some((o) => o.orderId === a.orderId), 'a packed order no longer waits for the warehouse');
  assert.ok(stillWaiting.some((o) => o.orderId === b.orderId));
  const carrierWaiting = expectOk(await call(ca, 'feed.subscribe', { feed: 'carrier' })).orders as Order[];
  const ca1 = carrierWaiting.find((o) => o.orderId === a.orderId);
  assert.ok(ca1, 'the packed order waits for the carrier');
  assert.equal(ca1.status, 'packed');
  expectOrder(await call(warehouse, 'wms.packed', { orderId: b.orderId }));
  const evb = await waitForEvent(ca, feedEventFor('carrier', b.orderId), 'carrier feed event');
  assert.equal((evb.order as Order).status, 'packed');
  // Once dispatched it waits nowhere.
  expectOrder(await call(carrier, 'tms.ack', { orderId: a.orderId, trackingNo: 'x' }));
  const ca2 = await srv.connect('tok-carrier');
  const carrierWaiting2 = expectOk(await call(ca2, 'feed.subscribe', { feed: 'carrier' })).orders as Order[];
  assert.ok(!carrierWaiting2.some((o) => o.orderId === a.orderId));
  assert.ok(carrierWaiting2.some((o) => o.orderId === b.orderId));
  // A cancelled packed order leaves the carrier feed.
  expectOrder(await call(alice, 'order.cancel', { orderId: b.orderId }));
  const ca3 = await srv.connect('tok-carrier');
  const carrierWaiting3 = expectOk(await call(ca3, 'feed.subscribe', { feed: 'carrier' })).orders as Order[];
  assert.ok(!carrierWaiting3.some((o) => o.orderId === b.orderId), 'an intercepted order no longer waits for the carrier');

  // Refunds: cancelling a paid order announces it.
  const rf = await srv.connect('tok-payments');
  expectOk(await call(rf, 'feed.subscribe', { feed: 'refunds' }));
  const c = await makeOrder('picking');
  expectOrder(await call(alice, 'order.cancel', { orderId: c.orderId }));
  const evr = await waitForEvent(rf, feedEventFor('refunds', c.orderId), 'refunds feed event');
  assert.equal((evr.order as Order).refundDue, true);
  assert.equal((evr.order as Order).status, 'cancelled');
  // ...and it is among the orders waiting on the refunds feed for a new subscriber (checked
  // strictly right after the reply in 'effects are visible once the ok reply has arrived').
  const refundsWaiting = await waitUntil('the refund among the waiting orders', async () => {
    const x = await srv.connect('tok-payments');
    const orders = expectOk(await call(x, 'feed.subscribe', { feed: 'refunds' })).orders as Order[];
    await x.close();
    return orders.some((o) => o.orderId === c.orderId) ? orders : undefined;
  }, 2_000);
  assert.ok(refundsWaiting.some((o) => o.orderId === c.orderId && o.refundDue === true));
  assert.ok(refundsWaiting.every((o) => o.refundDue === true));
  // An unpaid cancel is no refund.
  const u = await makeOrder('awaiting_payment');
  expectOrder(await call(alice, 'order.cancel', { orderId: u.orderId }));
  const marker = await makeOrder('picking');
  expectOrder(await call(alice, 'order.cancel', { orderId: marker.orderId }));
  await waitForEvent(rf, feedEventFor('refunds', marker.orderId), 'marker refund event');
  assert.ok(!rf.events.some(feedEventFor('refunds', u.orderId)), 'no refund for an unpaid order');
  // The admin may subscribe to any feed.
  const adm = await srv.connect('tok-admin');
  for (const feed of ['warehouse', 'carrier', 'refunds']) assert.ok(Array.isArray(expectOk(await call(adm, 'feed.subscribe', { feed })).orders));
  await Promise.all([wh, wh2, ca, ca2, ca3, rf, adm].map((x) => x.close()));
});

// ---------------------------------------------------------------------------------------------
// order.list

async function listAll(c: OrdoClient, args: Record<string, unknown>): Promise<{ pages: Order[][]; all: Order[] }> {
  const pages: Order[][] = [];
  let after: unknown;
  for (let n = 0; n < 10_000; n++) {
    const r = expectOk(await call(c, 'order.list', after === undefined ? args : { ...args, after }));
    const orders = r.orders as Order[];
    assert.ok(Array.isArray(orders), `orders is an array: ${JSON.stringify(r)}`);
    assert.ok('next' in r, 'the reply always has next');
    if (typeof args.limit === 'number') assert.ok(orders.length <= args.limit, `page within limit ${args.limit}: ${orders.length}`);
    pages.push(orders);
    if (r.next === null) return { pages, all: pages.flat() };
    assert.equal(typeof r.next, 'string', `next is a cursor or null: ${JSON.stringify(r.next)}`);
    assert.notEqual(r.next, after, 'the cursor advances');
    after = r.next;
  }
  throw new Error('pagination did not end');
}

function assertOnce(orders: Order[]): void {
  const ids = orders.map((o) => o.orderId);
  assert.equal(new Set(ids).size, ids.length, 'every order exactly once');
}

test('order.list: filters, limit and next-cursor pagination cover every order exactly once', async () => {
  const sku = await freshSku(100_000);
  const customerId = uid('cust');
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) {
    const orderId = uid('o');
    ids.push(orderId);
    expectOrder(await call(admin, 'order.place', { orderId, customerId, items: [{ sku, quantity: 1 }] }));
  }
  expectOrder(await call(admin, 'order.cancel', { orderId: ids[1]! }));
  expectOrder(await call(admin, 'order.cancel', { orderId: ids[4]! }));

  for (const limit of [1, 2, 3, 7, 500]) {
    const { pages, all } = await listAll(admin, { customerId, limit });
    assertOnce(all);
    assert.deepEqual(all.map((o) => o.orderId).sort(), [...ids].sort(), `limit ${limit} covers all 7`);
    assert.ok(all.every((o) => o.customerId === customerId));
    if (limit === 3) assert.deepEqual(pages.map((p) => p.length).filter((n) => n > 0), [3, 3, 1]);
    // orders are full order objects
    assert.ok(all.every((o) => Array.isArray(o.history) && typeof o.status === 'string' && Array.isArray(o.items)));
  }
  const cancelled = await listAll(admin, { customerId, status: 'cancelled', limit: 1 });
  assert.deepEqual(cancelled.all.map((o) => o.orderId).sort(), [ids[1]!, ids[4]!].sort());
  const waiting = await listAll(admin, { customerId, status: 'awaiting_payment', limit: 2 });
  assert.deepEqual(waiting.all.map((o) => o.orderId).sort(), ids.filter((_, i) => i !== 1 && i !== 4).sort());
  assert.deepEqual((await listAll(admin, { customerId, status: 'delivered' })).all, []);

  // Everything, small pages vs one big page: the same set, each exactly once.
  const small = await listAll(admin, { limit: 7 });
  const big = await listAll(admin, { limit: 500 });
  assertOnce(small.all);
  assertOnce(big.all);
  assert.deepEqual(small.all.map((o) => o.orderId).sort(), big.all.map((o) => o.orderId).sort());
  for (const id of ids) assert.ok(small.all.some((o) => o.orderId === id));
  // A status filter across all customers.
  const allCancelled = await listAll(admin, { status: 'cancelled', limit: 5 });
  assertOnce(allCancelled.all);
  assert.ok(allCancelled.all.every((o) => o.status === 'cancelled'));
  assert.equal(allCancelled.all.length, big.all.filter((o) => o.status === 'cancelled').length);
  // A customer pages through their own orders.
  const aliceBig = await listAll(alice, { limit: 500 });
  for (const limit of [1, 2]) {
    const alicePaged = await listAll(alice, { limit });
    assertOnce(alicePaged.all);
    assert.deepEqual(alicePaged.all.map((o) => o.orderId).sort(), aliceBig.all.map((o) => o.orderId).sort(), `alice, limit ${limit}`);
    assert.ok(alicePaged.all.every((o) => o.customerId === 'alice'));
  }
  // A bad cursor.
  expectErr(await call(admin, 'order.list', { after: 'not-a-real-cursor' }), 'INVALID_ARGUMENT', { field: 'after' });
  expectErr(await call(admin, 'order.list', { after: 12 }), 'INVALID_ARGUMENT', { field: 'after' });
});

test('order.list: paging with small limits never loses an order (many small customers)', async () => {
  // Many customers with two or three orders each, paged one or two at a time: every page
  // boundary position gets exercised, and each listing must give back exactly that customer's orders.
  const sku = await freshSku(100_000);
  const customers = Array.from({ length: 30 }, (_, i) => ({ customerId: uid('pg'), ids: Array.from({ length: 2 + (i % 2) }, () => uid('o')) }));
  await Promise.all(customers.map(async ({ customerId, ids }) => {
    for (const orderId of ids) expectOrder(await call(admin, 'order.place', { orderId, customerId, items: [{ sku, quantity: 1 }] }));
  }));
  const lost: string[] = [];
  for (const { customerId, ids } of customers) {
    for (const limit of [1, 2]) {
      const { pages, all } = await listAll(admin, { customerId, limit });
      assertOnce(all);
      const got = all.map((o) => o.orderId);
      if (got.length !== ids.length || !ids.every((id) => got.includes(id))) {
        lost.push(`customerId ${customerId} (${ids.length} orders), limit ${limit}: pages ${JSON.stringify(pages.map((p) => p.map((o) => o.orderId)))} — missing ${JSON.stringify(ids.filter((id) => !got.includes(id)))}`);
      }
    }
  }
  assert.deepEqual(lost, [], `order.list pagination ended (next: null) before the last order:\n${lost.join('\n')}`);
});

test('order.list: default limit is 100', async () => {
  const sku = await freshSku(100_000);
  const customerId = uid('many');
  const ids = Array.from({ length: 101 }, () => uid('o'));
  await Promise.all(ids.map((orderId) => call(admin, 'order.place', { orderId, customerId, items: [{ sku, quantity: 1 }] }).then(expectOrder)));
  const r = expectOk(await call(admin, 'order.list', { customerId }));
  assert.equal((r.orders as Order[]).length, 100);
  assert.equal(typeof r.next, 'string');
  const rest = await listAll(admin, { customerId, after: r.next });
  const all = [...(r.orders as Order[]), ...rest.all];
  assertOnce(all);
  assert.deepEqual(all.map((o) => o.orderId).sort(), ids.sort());
});

test('order.list: a customer sees only their own orders', async () => {
  const sku = await freshSku(100);
  const aliceIds: string[] = [];
  const bobIds: string[] = [];
  for (let i = 0; i < 3; i++) {
    const a = uid('o');
    const b = uid('o');
    aliceIds.push(a);
    bobIds.push(b);
    expectOrder(await call(alice, 'order.place', { orderId: a, items: [{ sku, quantity: 1 }] }));
    expectOrder(await call(bob, 'order.place', { orderId: b, items: [{ sku, quantity: 1 }] }));
  }
  expectOrder(await call(bob, 'order.cancel', { orderId: bobIds[0]! }));
  const aliceAll = await listAll(alice, { limit: 500 });
  assertOnce(aliceAll.all);
  assert.ok(aliceAll.all.length > 0 && aliceAll.all.every((o) => o.customerId === 'alice'));
  for (const id of aliceIds) assert.ok(aliceAll.all.some((o) => o.orderId === id));
  for (const id of bobIds) assert.ok(!aliceAll.all.some((o) => o.orderId === id));
  const bobAll = await listAll(bob, { limit: 500 });
  assertOnce(bobAll.all);
  assert.ok(bobAll.all.every((o) => o.customerId === 'bob'));
  for (const id of bobIds) assert.ok(bobAll.all.some((o) => o.orderId === id));
  for (const id of aliceIds) assert.ok(!bobAll.all.some((o) => o.orderId === id));
  const bobCancelled = await listAll(bob, { status: 'cancelled' });
  assert.ok(bobCancelled.all.every((o) => o.customerId === 'bob' && o.status === 'cancelled'));
  assert.ok(bobCancelled.all.some((o) => o.orderId === bobIds[0]));
  assert.ok(!bobCancelled.all.some((o) => o.orderId === bobIds[1] || o.orderId === bobIds[2]));
  // The admin's view of bob's orders equals bob's own view.
  const adminBob = await listAll(admin, { customerId: 'bob', limit: 500 });
  assert.deepEqual(adminBob.all.map((o) => o.orderId).sort(), bobAll.all.map((o) => o.orderId).sort());
  // The admin's view of alice's orders equals alice's own view.
  const adminAlice = await listAll(admin, { customerId: 'alice', limit: 500 });
  assert.deepEqual(adminAlice.all.map((o) => o.orderId).sort(), aliceAll.all.map((o) => o.orderId).sort());
  expectErr(await call(alice, 'order.list', { after: 'garbage' }), 'INVALID_ARGUMENT', { field: 'after' });
});

// ---------------------------------------------------------------------------------------------
// HTTP beside the socket

test('GET /healthz is 200 and GET /metrics is Prometheus text with ordo_commands_total', async () => {
  const h = await fetch(`http://127.0.0.1:${srv.port}/healthz`);
  assert.equal(h.status, 200);
  await h.arrayBuffer();
  const m = await fetch(`http://127.0.0.1:${srv.port}/metrics`);
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type') ?? '', /^text\/plain/);
  const body = await m.text();
  assert.match(body, /^# (HELP|TYPE) ordo_commands_total /m);
  assert.match(body, /^ordo_commands_total(\{[^}]*\})? \d+/m);
  assert.ok(!body.includes('tok-'), 'metrics carry no tokens');
});

test.run();
