// Black-box conformance tests of the wire protocol (PROTOCOL.md): bad input, authentication and
// roles, over a real socket to an in-process server with real worker threads. Every refusal is
// checked for its exact error code (and `field` where the protocol names one) and for having
// changed nothing.
import { test } from 'uvu';
import assert from 'node:assert/strict';
import { OrdoClient } from '../src/client/ordo-client.js';
import { startServer, type TestServer } from './helpers/server.js';
import { call, expectErr, expectOk, uid, within } from './helpers/wire.js';

let srv: TestServer;
let admin: OrdoClient;
let alice: OrdoClient;
let bob: OrdoClient;
let payments: OrdoClient;
let warehouse: OrdoClient;
let carrier: OrdoClient;

interface Stock { sku: string; onHand: number; reserved: number; available: number }
interface Order { orderId: string; customerId: string; status: string; reason?: string; items: { sku: string; quantity: number }[]; history: { at: number; status: string; by: string }[]; [k: string]: unknown }

async function stockOf(sku: string): Promise<Stock> {
  const r = expectOk(await call(admin, 'inventory.get', { sku }));
  return r.stock as Stock;
}

async function setStock(sku: string, onHand: number): Promise<void> {
  expectOk(await call(admin, 'inventory.set', { sku, onHand }));
}

/**
 * Stock as it settles: for checks whose subject is not read-after-reply consistency (that has its
 * own strict test, 'OUT_OF_STOCK ...'), poll briefly before comparing.
 */
async function eventuallyStock(sku: string, expected: Stock, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  let got = await stockOf(sku);
  while (JSON.stringify(got) !== JSON.stringify(expected) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10));
    got = await stockOf(sku);
  }
  assert.deepEqual(got, expected);
}

async function assertAbsent(orderId: string): Promise<void> {
  expectErr(await call(admin, 'order.get', { orderId }), 'NOT_FOUND');
}

async function getOrder(orderId: string): Promise<Order> {
  return expectOk(await call(admin, 'order.get', { orderId })).order as Order;
}

/** A fresh SKU with stock, for one test. */
async function freshSku(onHand = 100): Promise<string> {
  const sku = uid('sku');
  await setStock(sku, onHand);
  return sku;
}

async function stillAnswers(c: OrdoClient): Promise<void> {
  const r = expectOk(await call(c, 'inventory.get', { sku: 'probe' }));
  assert.deepEqual(r.stock, { sku: 'probe', onHand: 0, reserved: 0, available: 0 });
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
// Frames

test('malformed frames answer BAD_FRAME with re:null and the connection stays open', async () => {
  const c = await srv.connect('tok-admin');
  const sku = await freshSku(7);
  const cases: [string, string | Buffer][] = [
    ['not JSON', 'this is not json {'],
    ['truncated JSON', '{"id":"x1","type":"inventory.get"'],
    ['JSON array', JSON.stringify([{ id: 'a1', type: 'inventory.set', sku, onHand: 1 }])],
    ['JSON number', '42'],
    ['JSON string', '"inventory.get"'],
    ['JSON null', 'null'],
    ['JSON boolean', 'true'],
    ['empty text', ''],
    ['binary frame', Buffer.from(JSON.stringify({ id: 'b1', type: 'inventory.set', sku, onHand: 1 }))],
    ['missing id', JSON.stringify({ type: 'inventory.set', sku, onHand: 1 })],
    ['numeric id', JSON.stringify({ id: 5, type: 'inventory.set', sku, onHand: 1 })],
    ['null id', JSON.stringify({ id: null, type: 'inventory.set', sku, onHand: 1 })],
    ['boolean id', JSON.stringify({ id: true, type: 'inventory.set', sku, onHand: 1 })],
    ['object id', JSON.stringify({ id: { a: 1 }, type: 'inventory.set', sku, onHand: 1 })],
    ['array id', JSON.stringify({ id: ['x'], type: 'inventory.set', sku, onHand: 1 })],
    ['empty id', JSON.stringify({ id: '', type: 'inventory.set', sku, onHand: 1 })],
    ['129-char id', JSON.stringify({ id: 'i'.repeat(129), type: 'inventory.set', sku, onHand: 1 })],
  ];
  for (const [name, frame] of cases) {
    const r = await within(c.send(frame, null, true), 5_000, `BAD_FRAME for ${name}`);
    assert.equal(r.re, null, `${name}: re must be null: ${JSON.stringify(r)}`);
    expectErr(r, 'BAD_FRAME');
    // The connection is still open and answers the next command.
    assert.equal(c.closeCode, null, `${name}: connection must stay open`);
    await stillAnswers(c);
  }
  assert.deepEqual(await stockOf(sku), { sku, onHand: 7, reserved: 0, available: 7 }, 'no malformed frame changed stock');
  assert.equal(c.unmatched.length, 0, 'exactly one reply per bad frame');
});

test('an id of exactly 128 chars is valid and echoed in re', async () => {
  const id = 'k'.repeat(128);
  const r = await within(admin.send({ id, type: 'inventory.get', sku: 'probe' }, id));
  expectOk(r);
  assert.equal(r.re, id);
});

test('missing or unknown type answers UNKNOWN_COMMAND with re = id', async () => {
  const cases: [string, Record<string, unknown>][] = [
    ['missing type', { sku: 'x' }],
    ['unknown type', { type: 'order.destroy', orderId: 'x' }],
    ['empty type', { type: '' }],
    ['numeric type', { type: 42 }],
    ['null type', { type: null }],
    ['object type', { type: { name: 'order.get' } }],
    ['__proto__ type', { type: '__proto__' }],
    ['constructor type', { type: 'constructor' }],
    ['toString type', { type: 'toString' }],
    ['hasOwnProperty type', { type: 'hasOwnProperty' }],
    ['case-changed type', { type: 'ORDER.GET', orderId: 'x' }],
  ];
  for (const [name, body] of cases) {
    const id = uid('u');
    const r = await within(admin.send({ id, ...body }, id), 5_000, name);
    assert.equal(r.re, id, `${name}: ${JSON.stringify(r)}`);
    expectErr(r, 'UNKNOWN_COMMAND');
  }
  // Same for a non-admin role.
  const id = uid('u');
  const r = await within(alice.send({ id, type: 'no.such.command' }, id));
  assert.equal(r.re, id);
  expectErr(r, 'UNKNOWN_COMMAND');
  await stillAnswers(admin);
});

test('a frame over 64 KiB closes the connection with 1009; one just under is answered', async () => {
  const c = await srv.connect('tok-admin');
  // Just under the limit: an ignored extra field.
  const id = uid('big');
  const small = JSON.stringify({ id, type: 'inventory.get', sku: 'probe', pad: 'p'.repeat(60_000) });
  assert.ok(Buffer.byteLength(small) < 64 * 1024);
  expectOk(await within(c.send(small, id, true)));
  const sku = await freshSku(3);
  const big = JSON.stringify({ id: uid('big'), type: 'inventory.set', sku, onHand: 99, pad: 'p'.repeat(70_000) });
  assert.ok(Buffer.byteLength(big) > 64 * 1024);
  c.ws.send(big);
  const code = await within(c.waitForClose(), 5_000, 'close');
  assert.equal(code, 1009);
  assert.equal((await stockOf(sku)).onHand, 3, 'the oversized command did nothing');
  // The server is fine and other connections too.
  await stillAnswers(admin);
});

// ---------------------------------------------------------------------------------------------
// Roles

const ROLE_TABLE: Record<string, string[]> = {
  customer: ['order.place', 'order.cancel', 'order.get', 'order.list', 'order.subscribe', 'order.return', 'inventory.get'],
  payments: ['order.pay', 'order.get', 'feed.subscribe'],
  warehouse: ['wms.packed', 'return.received', 'order.get', 'feed.subscribe'],
  carrier: ['tms.ack', 'tms.delivered', 'order.get', 'feed.subscribe'],
};
const ALL_COMMANDS = [
  'inventory.set', 'inventory.adjust', 'inventory.get', 'order.place', 'order.pay', 'order.cancel', 'order.get',
  'order.list', 'order.subscribe', 'feed.subscribe', 'wms.packed', 'tms.ack', 'tms.delivered', 'order.return', 'return.received',
];

test('a command outside the role is FORBIDDEN whatever its arguments (roles before arguments)', async () => {
  const clients: Record<string, OrdoClient> = { customer: alice, payments, warehouse, carrier };
  const garbage: Record<string, unknown>[] = [
    {},
    { orderId: 5, sku: ['x'], items: 'nope', onHand: -1, delta: 'x', paymentRef: {}, trackingNo: null, feed: 7, limit: 0 },
    { orderId: 'bad id with spaces', sku: '', items: [], onHand: 1.5, delta: 1.5, reason: 'r'.repeat(600) },
  ];
  for (const [role, allowed] of Object.entries(ROLE_TABLE)) {
    for (const type of ALL_COMMANDS.filter((t) => !allowed.includes(t))) {
      for (const args of garbage) {
        const r = await call(clients[role]!, type, args);
        expectErr(r, 'FORBIDDEN');
      }
    }
  }
});

test('a forbidden command with valid arguments changes nothing', async () => {
  const sku = await freshSku(10);
  const orderId = uid('o');
  expectErr(await call(alice, 'inventory.set', { sku, onHand: 1000 }), 'FORBIDDEN');
  expectErr(await call(bob, 'inventory.adjust', { sku, delta: 5 }), 'FORBIDDEN');
  expectErr(await call(payments, 'order.place', { orderId, items: [{ sku, quantity: 1 }], customerId: 'alice' }), 'FORBIDDEN');
  expectErr(await call(warehouse, 'order.place', { orderId, items: [{ sku, quantity: 1 }], customerId: 'alice' }), 'FORBIDDEN');
  expectErr(await call(carrier, 'inventory.set', { sku, onHand: 0 }), 'FORBIDDEN');
  assert.deepEqual(await stockOf(sku), { sku, onHand: 10, reserved: 0, available: 10 });
  await assertAbsent(orderId);

  // An existing order is not moved by roles that may not move it.
  expectOk(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 2 }] }));
  expectErr(await call(alice, 'order.pay', { orderId, paymentRef: 'p1' }), 'FORBIDDEN');
  expectErr(await call(carrier, 'order.pay', { orderId, paymentRef: 'p1' }), 'FORBIDDEN');
  expectErr(await call(payments, 'order.cancel', { orderId }), 'FORBIDDEN');
  expectErr(await call(warehouse, 'order.cancel', { orderId }), 'FORBIDDEN');
  expectErr(await call(carrier, 'order.cancel', { orderId }), 'FORBIDDEN');
  expectErr(await call(payments, 'order.subscribe', { orderId }), 'FORBIDDEN');
  expectErr(await call(payments, 'order.list', {}), 'FORBIDDEN');
  expectErr(await call(carrier, 'inventory.get', { sku }), 'FORBIDDEN');
  const o = await getOrder(orderId);
  assert.equal(o.status, 'awaiting_payment');
  assert.equal(o.history.length, 1);
  assert.deepEqual(await stockOf(sku), { sku, onHand: 10, reserved: 2, available: 8 });
});

test('feed.subscribe of a feed not of your role is FORBIDDEN; admin may subscribe any; unknown feed is INVALID_ARGUMENT', async () => {
  const mine: Record<string, [OrdoClient, string]> = {
    payments: [payments, 'refunds'],
    warehouse: [warehouse, 'warehouse'],
    carrier: [carrier, 'carrier'],
  };
  for (const [c, own] of Object.values(mine)) {
    for (const feed of ['refunds', 'warehouse', 'carrier']) {
      if (feed !== own) expectErr(await call(c, 'feed.subscribe', { feed }), 'FORBIDDEN');
    }
  }
  expectErr(await call(alice, 'feed.subscribe', { feed: 'warehouse' }), 'FORBIDDEN');
  const sub = await srv.connect('tok-admin');
  for (const feed of ['refunds', 'warehouse', 'carrier']) {
    const r = expectOk(await call(sub, 'feed.subscribe', { feed }));
    assert.ok(Array.isArray(r.orders), `feed ${feed} answers orders: ${JSON.stringify(r)}`);
  }
  await sub.close();
  for (const feed of [undefined, 7, '', 'everything', 'constructor', '__proto__', ['warehouse']]) {
    expectErr(await call(admin, 'feed.subscribe', feed === undefined ? {} : { feed }), 'INVALID_ARGUMENT', { field: 'feed' });
  }
});

// ---------------------------------------------------------------------------------------------
// Arguments

const BAD_IDENTIFIERS: unknown[] = [
  undefined, null, 5, true, {}, ['a'], '', 'x'.repeat(129), 'has space', 'slash/ed', 'back\\slash', 'ünïcode', 'semi;colon',
  'quote"d', '<tag>', 'new\nline', 'tab\t', 'percent%', 'star*', 'hash#', 'comma,', 'plus+', 'at@', 'x'.repeat(1000),
];

function withArg(base: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const out = { ...base };
  if (value === undefined) delete out[key];
  else out[key] = value;
  return out;
}

test('identifiers: wrong type, empty, >128 chars or bad characters are INVALID_ARGUMENT naming the field', async () => {
  const sku = await freshSku(50);
  const orderId = uid('o');
  const good = `A-z.0:9${'x'.repeat(121)}`; // 128 chars of the allowed alphabet
  assert.equal(good.length, 128);

  for (const bad of BAD_IDENTIFIERS) {
    // sku
    expectErr(await call(admin, 'inventory.set', withArg({ sku, onHand: 1 }, 'sku', bad)), 'INVALID_ARGUMENT', { field: 'sku' });
    expectErr(await call(admin, 'inventory.adjust', withArg({ sku, delta: 1 }, 'sku', bad)), 'INVALID_ARGUMENT', { field: 'sku' });
    expectErr(await call(admin, 'inventory.get', withArg({ sku }, 'sku', bad)), 'INVALID_ARGUMENT', { field: 'sku' });
    // orderId
    expectErr(await call(alice, 'order.place', withArg({ orderId, items: [{ sku, quantity: 1 }] }, 'orderId', bad)), 'INVALID_ARGUMENT', { field: 'orderId' });
    for (const [c, type, extra] of [
      [payments, 'order.pay', { paymentRef: 'p1' }],
      [alice, 'order.cancel', {}],
      [alice, 'order.get', {}],
      [alice, 'order.subscribe', {}],
      [warehouse, 'wms.packed', {}],
      [carrier, 'tms.ack', { trackingNo: 't1' }],
      [carrier, 'tms.delivered', {}],
      [alice, 'order.return', {}],
      [warehouse, 'return.received', {}],
    ] as [OrdoClient, string, Record<string, unknown>][]) {
      expectErr(await call(c, type, withArg({ orderId, ...extra }, 'orderId', bad)), 'INVALID_ARGUMENT', { field: 'orderId' });
    }
    // items[i].sku
    expectErr(
      await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 1 }, withArg({ quantity: 1 }, 'sku', bad)] }),
      'INVALID_ARGUMENT', { field: 'items[1].sku' },
    );
    // customerId (from admin, where it is required)
    expectErr(await call(admin, 'order.place', withArg({ orderId, items: [{ sku, quantity: 1 }] }, 'customerId', bad)), 'INVALID_ARGUMENT', { field: 'customerId' });
    if (bad !== undefined) {
      expectErr(await call(admin, 'order.list', { customerId: bad }), 'INVALID_ARGUMENT', { field: 'customerId' });
      // adjustmentId is optional, so only a present bad value is refused.
      expectErr(await call(admin, 'inventory.adjust', { sku, delta: 1, adjustmentId: bad }), 'INVALID_ARGUMENT', { field: 'adjustmentId' });
    }
  }
  await assertAbsent(orderId);
  assert.deepEqual(await stockOf(sku), { sku, onHand: 50, reserved: 0, available: 50 });

  // paymentRef and trackingNo need an order in the right status to reach them: arguments are
  // checked before state, so a bad one is INVALID_ARGUMENT and leaves the order as it was.
  const oid = uid('o');
  expectOk(await call(alice, 'order.place', { orderId: oid, items: [{ sku, quantity: 1 }] }));
  for (const bad of BAD_IDENTIFIERS) {
    expectErr(await call(payments, 'order.pay', withArg({ orderId: oid, paymentRef: 'p' }, 'paymentRef', bad)), 'INVALID_ARGUMENT', { field: 'paymentRef' });
  }
  assert.equal((await getOrder(oid)).status, 'awaiting_payment');
  expectOk(await call(payments, 'order.pay', { orderId: oid, paymentRef: 'pay-1' }));
  expectOk(await call(warehouse, 'wms.packed', { orderId: oid }));
  for (const bad of BAD_IDENTIFIERS) {
    expectErr(await call(carrier, 'tms.ack', withArg({ orderId: oid, trackingNo: 't' }, 'trackingNo', bad)), 'INVALID_ARGUMENT', { field: 'trackingNo' });
  }
  const packed = await getOrder(oid);
  assert.equal(packed.status, 'packed');
  assert.equal(packed.trackingNo, undefined);
  assert.deepEqual(await stockOf(sku), { sku, onHand: 50, reserved: 1, available: 49 });

  // The longest valid identifiers are accepted.
  expectOk(await call(admin, 'inventory.set', { sku: good, onHand: 1 }));
  expectOk(await call(admin, 'order.place', { orderId: good, customerId: good, items: [{ sku: good, quantity: 1 }] }));
  const longOne = await getOrder(good);
  assert.equal(longOne.customerId, good);
});

test('integers: wrong type, fractional, out of range are INVALID_ARGUMENT naming the field', async () => {
  const sku = await freshSku(20);
  const orderId = uid('o');
  const notIntegers: unknown[] = [null, '5', true, [], {}, 1.5, -0.5, '1e3'];
  // inventory.set onHand 0..2^53-1
  for (const v of [undefined, ...notIntegers, -1, 2 ** 53, 1e300]) {
    expectErr(await call(admin, 'inventory.set', withArg({ sku, onHand: 1 }, 'onHand', v)), 'INVALID_ARGUMENT', { field: 'onHand' });
  }
  // inventory.adjust delta: integer
  for (const v of [undefined, ...notIntegers]) {
    expectErr(await call(admin, 'inventory.adjust', withArg({ sku, delta: 1 }, 'delta', v)), 'INVALID_ARGUMENT', { field: 'delta' });
  }
  // A delta that would push onHand past 2^53-1 is refused too.
  expectErr(await call(admin, 'inventory.adjust', { sku, delta: 1e300 }), 'INVALID_ARGUMENT');
  assert.deepEqual(await stockOf(sku), { sku, onHand: 20, reserved: 0, available: 20 });
  // onHand boundaries
  const big = uid('sku');
  const max = expectOk(await call(admin, 'inventory.set', { sku: big, onHand: 2 ** 53 - 1 }));
  assert.equal((max.stock as Stock).onHand, 2 ** 53 - 1);
  expectOk(await call(admin, 'inventory.set', { sku: big, onHand: 0 }));

  // quantity 1..1,000,000 with the path of the bad item
  const other1 = await freshSku(2_000_000);
  const other2 = await freshSku(2_000_000);
  for (const q of [undefined, ...notIntegers, 0, -1, -1_000_000, 1_000_001, 2 ** 53]) {
    const items = [{ sku: other1, quantity: 1 }, { sku: other2, quantity: 2 }, withArg({ sku }, 'quantity', q)];
    expectErr(await call(alice, 'order.place', { orderId, items }), 'INVALID_ARGUMENT', { field: 'items[2].quantity' });
  }
  await assertAbsent(orderId);
  for (const s of [sku, other1, other2]) assert.equal((await stockOf(s)).reserved, 0, `nothing reserved on ${s}`);
  // 1,000,000 is the largest quantity accepted.
  const maxq = uid('o');
  expectOk(await call(alice, 'order.place', { orderId: maxq, items: [{ sku: other1, quantity: 1_000_000 }] }));
  assert.equal((await stockOf(other1)).reserved, 1_000_000);
  expectOk(await call(alice, 'order.cancel', { orderId: maxq }));

  // paymentTimeoutMs 100..30 days
  const DAY = 24 * 3600 * 1000;
  for (const v of [null, '1000', true, 99, 0, -100, 100.5, 30 * DAY + 1, 2 ** 53]) {
    expectErr(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 1 }], paymentTimeoutMs: v }), 'INVALID_ARGUMENT', { field: 'paymentTimeoutMs' });
  }
  await assertAbsent(orderId);
  assert.equal((await stockOf(sku)).reserved, 0);
  for (const v of [100, 30 * DAY]) {
    const id = uid('o');
    const before = Date.now();
    const o = expectOk(await call(alice, 'order.place', { orderId: id, items: [{ sku, quantity: 1 }], paymentTimeoutMs: v })).order as Order;
    const after = Date.now();
    const deadline = o.paymentDeadline as number;
    assert.ok(deadline >= before + v && deadline <= after + v, `deadline ${deadline} is placement + ${v}`);
    if (v === 30 * DAY) expectOk(await call(alice, 'order.cancel', { orderId: id }));
  }

  // order.list limit 1..500
  for (const v of [null, '10', true, 0, -1, 501, 1.5]) {
    expectErr(await call(admin, 'order.list', { limit: v }), 'INVALID_ARGUMENT', { field: 'limit' });
  }
  for (const v of [1, 500]) expectOk(await call(admin, 'order.list', { limit: v }));
});

test('items: not an array, empty, >100, non-object items and duplicate SKUs are INVALID_ARGUMENT', async () => {
  const skus = await Promise.all(Array.from({ length: 101 }, () => freshSku(5)));
  const orderId = uid('o');
  const item = (s: string) => ({ sku: s, quantity: 1 });
  for (const v of [undefined, null, 'items', 5, {}, { sku: skus[0], quantity: 1 }, []]) {
    expectErr(await call(alice, 'order.place', withArg({ orderId }, 'items', v)), 'INVALID_ARGUMENT', { field: 'items' });
  }
  expectErr(await call(alice, 'order.place', { orderId, items: skus.map(item) }), 'INVALID_ARGUMENT', { field: 'items' });
  for (const v of [null, 'x', 3, [skus[0], 1]]) {
    expectErr(await call(alice, 'order.place', { orderId, items: [item(skus[0]!), v] }), 'INVALID_ARGUMENT', { field: 'items[1]' });
  }
  // Duplicate SKUs: the field names the items (the list or the repeated entry's sku).
  const dup = expectErr(await call(alice, 'order.place', { orderId, items: [item(skus[0]!), item(skus[1]!), item(skus[0]!)] }), 'INVALID_ARGUMENT');
  assert.ok(dup.field === 'items' || dup.field === 'items[2].sku' || dup.field === 'items[2]', `duplicate SKU field: ${JSON.stringify(dup)}`);
  await assertAbsent(orderId);
  for (const s of skus.slice(0, 3)) assert.equal((await stockOf(s)).reserved, 0);
  // Exactly 100 distinct items are accepted.
  const o = expectOk(await call(alice, 'order.place', { orderId, items: skus.slice(0, 100).map(item) })).order as Order;
  assert.equal(o.items.length, 100);
  assert.equal((await stockOf(skus[99]!)).reserved, 1);
  assert.equal((await stockOf(skus[100]!)).reserved, 0);
});

test('reason: more than 500 chars or not a string is INVALID_ARGUMENT field reason', async () => {
  const sku = await freshSku(5);
  const orderId = uid('o');
  expectOk(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 1 }] }));
  for (const v of ['r'.repeat(501), 5, true, {}, ['r']]) {
    expectErr(await call(alice, 'order.cancel', { orderId, reason: v }), 'INVALID_ARGUMENT', { field: 'reason' });
  }
  const o = await getOrder(orderId);
  assert.equal(o.status, 'awaiting_payment');
  assert.equal((await stockOf(sku)).reserved, 1);
  // Drive to delivered, then check order.return's reason.
  expectOk(await call(payments, 'order.pay', { orderId, paymentRef: 'p' }));
  expectOk(await call(warehouse, 'wms.packed', { orderId }));
  expectOk(await call(carrier, 'tms.ack', { orderId, trackingNo: 't' }));
  expectOk(await call(carrier, 'tms.delivered', { orderId }));
  for (const v of ['r'.repeat(501), 5, null]) {
    expectErr(await call(alice, 'order.return', { orderId, reason: v }), 'INVALID_ARGUMENT', { field: 'reason' });
  }
  assert.equal((await getOrder(orderId)).status, 'delivered');
  const r = expectOk(await call(alice, 'order.return', { orderId, reason: 'r'.repeat(500) })).order as Order;
  assert.equal(r.status, 'return_requested');
  assert.equal(r.reason, 'r'.repeat(500));
});

test('order.list: a bad status or cursor is INVALID_ARGUMENT', async () => {
  for (const v of [5, 'shipped', '', 'constructor', null]) {
    expectErr(await call(admin, 'order.list', { status: v }), 'INVALID_ARGUMENT', { field: 'status' });
  }
  for (const v of [5, 'not-a-cursor', '!!!', {}, 'x'.repeat(2000)]) {
    expectErr(await call(admin, 'order.list', { after: v }), 'INVALID_ARGUMENT', { field: 'after' });
  }
});

test('inventory.set below reserved is INVALID_ARGUMENT field onHand; inventory.adjust below reserved is refused', async () => {
  const sku = await freshSku(10);
  const orderId = uid('o');
  expectOk(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 4 }] }));
  assert.deepEqual(await stockOf(sku), { sku, onHand: 10, reserved: 4, available: 6 });
  expectErr(await call(admin, 'inventory.set', { sku, onHand: 3 }), 'INVALID_ARGUMENT', { field: 'onHand' });
  expectErr(await call(admin, 'inventory.set', { sku, onHand: 0 }), 'INVALID_ARGUMENT', { field: 'onHand' });
  assert.deepEqual(await stockOf(sku), { sku, onHand: 10, reserved: 4, available: 6 });
  const adj = expectErr(await call(admin, 'inventory.adjust', { sku, delta: -7 }), 'INVALID_ARGUMENT');
  assert.equal(adj.field, 'delta', `adjust below reserved names delta: ${JSON.stringify(adj)}`);
  expectErr(await call(admin, 'inventory.adjust', { sku, delta: -7, adjustmentId: uid('adj') }), 'INVALID_ARGUMENT');
  assert.deepEqual(await stockOf(sku), { sku, onHand: 10, reserved: 4, available: 6 });
  // Exactly down to reserved is fine.
  assert.deepEqual(expectOk(await call(admin, 'inventory.adjust', { sku, delta: -6 })).stock, { sku, onHand: 4, reserved: 4, available: 0 });
  assert.deepEqual(expectOk(await call(admin, 'inventory.set', { sku, onHand: 4 })).stock, { sku, onHand: 4, reserved: 4, available: 0 });
  expectErr(await call(admin, 'inventory.adjust', { sku, delta: -1 }), 'INVALID_ARGUMENT');
  assert.deepEqual(await stockOf(sku), { sku, onHand: 4, reserved: 4, available: 0 });
  // An unknown SKU starts at 0: a negative adjust of it is refused too.
  const fresh = uid('sku');
  expectErr(await call(admin, 'inventory.adjust', { sku: fresh, delta: -1 }), 'INVALID_ARGUMENT');
  assert.deepEqual(await stockOf(fresh), { sku: fresh, onHand: 0, reserved: 0, available: 0 });
});

test('OUT_OF_STOCK names the first short item, reserves nothing and leaves the orderId free', async () => {
  const a = await freshSku(5);
  const b = await freshSku(1);
  const unknown = uid('sku');
  const orderId = uid('o');
  const e = expectErr(await call(alice, 'order.place', { orderId, items: [{ sku: a, quantity: 2 }, { sku: b, quantity: 3 }, { sku: unknown, quantity: 1 }] }), 'OUT_OF_STOCK');
  assert.equal(e.sku, b);
  assert.equal(e.available, 1);
  const e2 = expectErr(await call(alice, 'order.place', { orderId, items: [{ sku: a, quantity: 2 }, { sku: unknown, quantity: 1 }] }), 'OUT_OF_STOCK');
  assert.equal(e2.sku, unknown);
  assert.equal(e2.available, 0);
  await assertAbsent(orderId);
  assert.deepEqual(await stockOf(a), { sku: a, onHand: 5, reserved: 0, available: 5 });
  assert.deepEqual(await stockOf(b), { sku: b, onHand: 1, reserved: 0, available: 1 });
  assert.deepEqual(await stockOf(unknown), { sku: unknown, onHand: 0, reserved: 0, available: 0 });
  // The id is still free, even for another customer.
  const o = expectOk(await call(bob, 'order.place', { orderId, items: [{ sku: a, quantity: 2 }] })).order as Order;
  assert.equal(o.customerId, 'bob');
});

test('OUT_OF_STOCK: once the reply has arrived nothing stays reserved (read after reply, repeated)', async () => {
  // The first item is reserved before the second turns out short; the reply must not come
  // before that hold is gone: "nothing stays reserved", and the stock is placeable at once.
  // One at a time (a quiet server shows the gap best), alternating which read comes first.
  const failures: string[] = [];
  for (let i = 0; i < 60; i++) {
    const a = await freshSku(5);
    const b = await freshSku(1);
    const orderId = uid('o');
    expectErr(await call(alice, 'order.place', { orderId, items: [{ sku: a, quantity: 5 }, { sku: b, quantity: 2 }] }), 'OUT_OF_STOCK', { sku: b, available: 1 });
    if (i % 4 !== 3) {
      const sa = await stockOf(a);
      if (sa.reserved !== 0) failures.push(`#${i}: inventory.get ${a} right after OUT_OF_STOCK: ${JSON.stringify(sa)}`);
    } else {
      const again = await call(bob, 'order.place', { orderId: uid('o'), items: [{ sku: a, quantity: 5 }] });
      if (!again.ok) failures.push(`#${i}: order.place of all 5 of ${a} right after OUT_OF_STOCK answered ${JSON.stringify(again.error)}`);
    }
    await assertAbsent(orderId);
  }
  assert.deepEqual(failures, [], `stock held after OUT_OF_STOCK was answered:\n${failures.join('\n')}`);
});

test('__proto__ and constructor keys in frames are plain data: ignored or refused, never inherited', async () => {
  const sku = await freshSku(5);
  // Extra __proto__ / constructor fields are ignored.
  let id = uid('p');
  expectOk(await within(admin.send(`{"id":"${id}","type":"inventory.get","sku":"${sku}","__proto__":{"role":"admin","sku":"zzz"},"constructor":{"prototype":{"polluted":true}}}`, id, true)));
  // A customer cannot smuggle a customerId or role through __proto__.
  const orderId = uid('o');
  id = uid('p');
  const placed = expectOk(await within(alice.send(`{"id":"${id}","type":"order.place","orderId":"${orderId}","items":[{"sku":"${sku}","quantity":1}],"__proto__":{"customerId":"bob","role":"admin"}}`, id, true)));
  assert.equal((placed.order as Order).customerId, 'alice');
  expectErr(await call(bob, 'order.get', { orderId }), 'NOT_FOUND');
  // A required argument given only via __proto__ is missing.
  const orphan = uid('o');
  id = uid('p');
  expectErr(
    await within(admin.send(`{"id":"${id}","type":"order.place","orderId":"${orphan}","items":[{"sku":"${sku}","quantity":1}],"__proto__":{"customerId":"alice"}}`, id, true)),
    'INVALID_ARGUMENT', { field: 'customerId' },
  );
  id = uid('p');
  expectErr(
    await within(alice.send(`{"id":"${id}","type":"order.place","orderId":"${orphan}","items":[{"sku":"${sku}","__proto__":{"quantity":1}}]}`, id, true)),
    'INVALID_ARGUMENT', { field: 'items[0].quantity' },
  );
  id = uid('p');
  expectErr(
    await within(admin.send(`{"id":"${id}","__proto__":{"type":"inventory.get"},"sku":"${sku}"}`, id, true)),
    'UNKNOWN_COMMAND',
  );
  // An id only in __proto__ is a missing id.
  const r = await within(admin.send(`{"__proto__":{"id":"zz"},"type":"inventory.get","sku":"${sku}"}`, null, true));
  assert.equal(r.re, null);
  expectErr(r, 'BAD_FRAME');
  await assertAbsent(orphan);
  assert.deepEqual(await stockOf(sku), { sku, onHand: 5, reserved: 1, available: 4 });
  // Identifiers that are names of Object.prototype members are ordinary unknown names.
  // (`_` is in the identifier alphabet, so `__proto__` is a valid identifier too.)
  const protoNames = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];
  for (const name of protoNames) {
    assert.deepEqual(await stockOf(name), { sku: name, onHand: 0, reserved: 0, available: 0 });
    expectErr(await call(admin, 'order.get', { orderId: name }), 'NOT_FOUND');
    expectErr(await call(alice, 'order.get', { orderId: name }), 'NOT_FOUND');
    expectErr(await call(payments, 'order.pay', { orderId: name, paymentRef: name }), 'NOT_FOUND');
  }
  // ...and they work as ordinary names.
  assert.deepEqual(expectOk(await call(admin, 'inventory.set', { sku: '__proto__', onHand: 3 })).stock, { sku: '__proto__', onHand: 3, reserved: 0, available: 3 });
  const po = await call(alice, 'order.place', { orderId: '__proto__', items: [{ sku: '__proto__', quantity: 2 }, { sku: 'constructor', quantity: 1 }] });
  // constructor has no stock: the place is OUT_OF_STOCK, nothing reserved, the id stays free.
  expectErr(po, 'OUT_OF_STOCK', { sku: 'constructor', available: 0 });
  await eventuallyStock('__proto__', { sku: '__proto__', onHand: 3, reserved: 0, available: 3 });
  await assertAbsent('__proto__');
  const placedProto = expectOk(await call(alice, 'order.place', { orderId: '__proto__', items: [{ sku: '__proto__', quantity: 2 }] })).order as Order;
  assert.equal(placedProto.orderId, '__proto__');
  assert.equal(placedProto.customerId, 'alice');
  expectErr(await call(bob, 'order.get', { orderId: '__proto__' }), 'NOT_FOUND');
  expectErr(await call(bob, 'order.place', { orderId: '__proto__', items: [{ sku: '__proto__', quantity: 1 }] }), 'CONFLICT');
  assert.equal((await getOrder('__proto__')).status, 'awaiting_payment');
  assert.deepEqual(await stockOf('__proto__'), { sku: '__proto__', onHand: 3, reserved: 2, available: 1 });
  const listed = expectOk(await call(alice, 'order.list', { limit: 500 })).orders as Order[];
  assert.equal(listed.filter((o) => o.orderId === '__proto__').length, 1);
  // Nothing got polluted.
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  await stillAnswers(admin);
});

test('unknown extra fields are ignored and the command succeeds', async () => {
  const sku = uid('sku');
  const r = expectOk(await call(admin, 'inventory.set', { sku, onHand: 5, colour: 'blue', nested: { a: [1, 2] }, onhand: 99, ok: false, re: 'x', error: 1 }));
  assert.deepEqual(r.stock, { sku, onHand: 5, reserved: 0, available: 5 });
  const orderId = uid('o');
  const o = expectOk(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 2, colour: 'red' }], giftWrap: true, status: 'delivered', refundDue: true, history: [] })).order as Order;
  assert.equal(o.status, 'awaiting_payment');
  assert.equal(o.refundDue, false);
  assert.deepEqual(o.items, [{ sku, quantity: 2 }]);
  expectOk(await call(alice, 'order.get', { orderId, extra: 1 }));
});

// ---------------------------------------------------------------------------------------------
// Authentication

async function refused(p: Promise<OrdoClient>): Promise<number | undefined> {
  try {
    const c = await within(p, 5_000, 'upgrade answer');
    await c.close();
    return undefined;
  } catch (e) {
    return (e as { status?: number }).status;
  }
}

test('upgrade with no token, an unknown token or a non-bearer header is refused with HTTP 401', async () => {
  assert.equal(await refused(OrdoClient.connect(srv.url, undefined)), 401);
  for (const t of ['bogus', '', 'TOK-ADMIN', 'tok-admin2', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    assert.equal(await refused(OrdoClient.connect(srv.url, t)), 401, `header token ${JSON.stringify(t)}`);
    assert.equal(await refused(OrdoClient.connect(srv.url, t, { viaQuery: true })), 401, `query token ${JSON.stringify(t)}`);
  }
  assert.equal(await refused(OrdoClient.connect(srv.url, 'tok-admin ', { viaQuery: true })), 401);
  assert.equal(await refused(OrdoClient.connect(srv.url, undefined, { headers: { authorization: 'Basic tok-admin' } })), 401);
  assert.equal(await refused(OrdoClient.connect(srv.url, undefined, { headers: { authorization: 'tok-admin' } })), 401);
  assert.equal(await refused(OrdoClient.connect(srv.url, undefined, { headers: { authorization: 'Bearer' } })), 401);
  assert.equal(await refused(OrdoClient.connect(`${srv.url}?token=`, undefined)), 401);
  await stillAnswers(admin);
});

test('?token= authenticates with that token\'s principal', async () => {
  const c = await within(OrdoClient.connect(srv.url, 'tok-alice', { viaQuery: true }));
  try {
    const sku = await freshSku(5);
    const orderId = uid('o');
    const o = expectOk(await call(c, 'order.place', { orderId, items: [{ sku, quantity: 1 }] })).order as Order;
    assert.equal(o.customerId, 'alice');
    expectErr(await call(c, 'inventory.set', { sku, onHand: 1 }), 'FORBIDDEN');
  } finally {
    await c.close();
  }
});

test('the header wins over the query parameter when both are present', async () => {
  // valid header + bogus query → accepted, as the header's principal
  const c1 = await within(OrdoClient.connect(srv.url, 'bogus', { viaQuery: true, headers: { authorization: 'Bearer tok-admin' } }));
  expectOk(await call(c1, 'inventory.set', { sku: uid('sku'), onHand: 1 }));
  await c1.close();
  // bogus header + valid query → 401
  assert.equal(await refused(OrdoClient.connect(srv.url, 'tok-admin', { viaQuery: true, headers: { authorization: 'Bearer bogus' } })), 401);
  // two valid tokens: the header's principal is used
  const c2 = await within(OrdoClient.connect(srv.url, 'tok-admin', { viaQuery: true, headers: { authorization: 'Bearer tok-alice' } }));
  expectErr(await call(c2, 'inventory.set', { sku: uid('sku'), onHand: 1 }), 'FORBIDDEN');
  await c2.close();
});

// ---------------------------------------------------------------------------------------------
// Ownership

test('another customer\'s order is NOT_FOUND on get/cancel/subscribe/return, and nothing changes', async () => {
  const sku = await freshSku(5);
  const orderId = uid('o');
  expectOk(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 1 }] }));
  const before = await getOrder(orderId);
  expectErr(await call(bob, 'order.get', { orderId }), 'NOT_FOUND');
  expectErr(await call(bob, 'order.cancel', { orderId }), 'NOT_FOUND');
  expectErr(await call(bob, 'order.subscribe', { orderId }), 'NOT_FOUND');
  expectErr(await call(bob, 'order.return', { orderId }), 'NOT_FOUND');
  assert.deepEqual(await getOrder(orderId), before);
  // Drive to delivered: a return by bob is still NOT_FOUND (not INVALID_STATE, nothing revealed).
  expectOk(await call(payments, 'order.pay', { orderId, paymentRef: 'p' }));
  expectOk(await call(warehouse, 'wms.packed', { orderId }));
  expectOk(await call(carrier, 'tms.ack', { orderId, trackingNo: 't' }));
  expectOk(await call(carrier, 'tms.delivered', { orderId }));
  const delivered = await getOrder(orderId);
  for (const type of ['order.get', 'order.cancel', 'order.subscribe', 'order.return']) {
    const e = expectErr(await call(bob, type, { orderId, reason: 'mine' }), 'NOT_FOUND');
    assert.equal(e.status, undefined, 'no status revealed');
  }
  assert.deepEqual(await getOrder(orderId), delivered);
  // Bob's listing does not show it.
  const list = expectOk(await call(bob, 'order.list', { limit: 500 }));
  assert.ok(!(list.orders as Order[]).some((o) => o.orderId === orderId));
  // A customerId filter from a customer never reveals another customer's orders.
  // (PROTOCOL-NOTES: another customer's id is refused, their own is redundant and accepted.)
  expectErr(await call(bob, 'order.list', { customerId: 'alice', limit: 500 }), 'INVALID_ARGUMENT', { field: 'customerId' });
  const own = expectOk(await call(bob, 'order.list', { customerId: 'bob', limit: 500 }));
  assert.deepEqual(own.orders, (expectOk(await call(bob, 'order.list', { limit: 500 }))).orders);
  // Bob got no events for it.
  assert.ok(!bob.events.some((e) => JSON.stringify(e).includes(orderId)));
});

test('placing an orderId taken by another customer is CONFLICT and reveals nothing', async () => {
  const sku = await freshSku(5);
  const orderId = uid('o');
  expectOk(await call(alice, 'order.place', { orderId, items: [{ sku, quantity: 1 }] }));
  const before = await getOrder(orderId);
  const r = await call(bob, 'order.place', { orderId, items: [{ sku, quantity: 1 }] });
  expectErr(r, 'CONFLICT');
  assert.equal(r.order, undefined);
  assert.ok(!JSON.stringify(r).includes('alice'), `CONFLICT reveals nothing of the order: ${JSON.stringify(r)}`);
  // Same from an admin naming another customer.
  expectErr(await call(admin, 'order.place', { orderId, customerId: 'bob', items: [{ sku, quantity: 1 }] }), 'CONFLICT');
  assert.deepEqual(await getOrder(orderId), before);
  assert.deepEqual(await stockOf(sku), { sku, onHand: 5, reserved: 1, available: 4 });
});

test('a customer\'s customerId argument is ignored', async () => {
  const sku = await freshSku(5);
  const orderId = uid('o');
  const o = expectOk(await call(alice, 'order.place', { orderId, customerId: 'bob', items: [{ sku, quantity: 1 }] })).order as Order;
  assert.equal(o.customerId, 'alice');
  expectErr(await call(bob, 'order.get', { orderId }), 'NOT_FOUND');
  expectOk(await call(alice, 'order.get', { orderId }));
});

test('GET /healthz is 200 at the end and all connections still answer', async () => {
  const res = await fetch(`http://127.0.0.1:${srv.port}/healthz`);
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  for (const c of [admin, alice, bob]) await stillAnswers(c);
  for (const c of [payments, warehouse, carrier]) expectErr(await call(c, 'order.get', { orderId: uid('nope') }), 'NOT_FOUND');
});

test.run();
