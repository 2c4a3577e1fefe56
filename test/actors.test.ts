import { test } from 'uvu';
import assert from 'node:assert/strict';
import { Shop, expectError, expectOrder } from './helpers/local.js';
import { ADMIN, ALICE, BOB, CARRIER } from './helpers/principals.js';

/** An actor's message log as exact lines: [from, message, decisions, outcome], oldest first. */
const lines = (log: { from: string; message: string; decisions: string[]; outcome?: string }[]) => log.map((e) => [e.from, e.message, e.decisions, e.outcome]);

test('placing reserves every item and the SKU logs say so', async () => {
  const shop = await Shop.open();
  await shop.stock('A', 5);
  await shop.stock('B', 2);
  const o = expectOrder(await shop.place('o1', [{ sku: 'A', quantity: 2 }, { sku: 'B', quantity: 1 }]));
  assert.equal(o.status, 'awaiting_payment');
  assert.deepEqual(o.history.map((h) => [h.status, h.by]), [['awaiting_payment', 'customer']]);
  assert.deepEqual(await shop.getStock('A'), { sku: 'A', onHand: 5, reserved: 2, available: 3 });
  assert.deepEqual(await shop.getStock('B'), { sku: 'B', onHand: 2, reserved: 1, available: 1 });
  assert.deepEqual(lines(shop.log('sku:A')), [
    ['client(admin)', 'inventory.set', ['onHand set to 5'], 'ok'],
    ['order:o1', 'stock.reserve', ['reserved 2 for o1 (tentative)'], 'ok'],
    ['order:o1', 'stock.confirm', ['hold of o1 confirmed'], undefined],
    ['client(admin)', 'inventory.get', [], 'ok'],
  ]);
});

test('a short SKU refuses the whole order and the other holds are compensated', async () => {
  const shop = await Shop.open();
  await shop.stock('A', 5);
  await shop.stock('B', 1);
  const err = expectError(await shop.place('o1', [{ sku: 'A', quantity: 2 }, { sku: 'B', quantity: 3 }, { sku: 'C', quantity: 1 }]), 'OUT_OF_STOCK');
  assert.equal(err.sku, 'B');
  assert.equal(err.available, 1);
  assert.equal((await shop.getStock('A')).reserved, 0);
  assert.equal((await shop.getStock('B')).reserved, 0);
  assert.equal(await shop.order('o1'), null, 'no order exists');
  // The compensation is in A's log: reserved, then released by the same order.
  const a = shop.log('sku:A').filter((e) => e.from === 'order:o1').map((e) => e.message);
  assert.deepEqual(a, ['stock.reserve', 'stock.release']);
  // The orderId stays free.
  await shop.stock('B', 10);
  expectOrder(await shop.place('o1', [{ sku: 'B', quantity: 3 }]));
});

test('an adjustmentId is applied once, a different delta under it is CONFLICT, and both survive a restart', async () => {
  let shop = await Shop.open();
  const adjust = (delta: number, adjustmentId?: string) => shop.sys.ask('sku:A', { type: 'inventory.adjust', sku: 'A', delta, adjustmentId }, ADMIN);
  assert.ok((await adjust(5, 'adj-1')).ok);
  assert.ok((await adjust(5, 'adj-1')).ok);
  expectError(await adjust(4, 'adj-1'), 'CONFLICT');
  assert.deepEqual(shop.log('sku:A').slice(-3).map((e) => e.decisions), [
    ['adjusted by 5 to 5'],
    ['adjustment adj-1 already applied'],
    ['refused adjustment adj-1 by 4: it was applied by 5'],
  ]);
  shop = new Shop(await shop.sys.restart());
  expectError(await adjust(4, 'adj-1'), 'CONFLICT');
  assert.ok((await adjust(5, 'adj-1')).ok);
  assert.deepEqual(await shop.getStock('A'), { sku: 'A', onHand: 5, reserved: 0, available: 5 });
});

test('the payment timer cancels an unpaid order and releases its stock', async () => {
  const shop = await Shop.open();
  await shop.stock('A', 3);
  const placed = expectOrder(await shop.place('o1', [{ sku: 'A', quantity: 3 }], ALICE, 1_000));
  assert.equal(placed.paymentDeadline, shop.sys.clock.now() + 1_000);
  await shop.sys.advance(999);
  assert.equal((await shop.order('o1'))!.status, 'awaiting_payment');
  await shop.sys.advance(1);
  const o = (await shop.order('o1'))!;
  assert.equal(o.status, 'cancelled');
  assert.equal(o.reason, 'payment_timeout');
  assert.equal(o.history.at(-1)!.by, 'timer');
  assert.equal((await shop.getStock('A')).reserved, 0);
  assert.deepEqual(lines(shop.log('order:o1')), [
    ['client(customer)', 'order.place', ['placing: asked 1 SKU(s) for stock'], undefined],
    ['sku:A', 'reply ok', [`placed; payment due at ${placed.paymentDeadline}`], 'ok'],
    ['client(admin)', 'order.get', [], 'ok'],
    ['timer', 'timer payment', ['→ cancelled (by timer)'], undefined],
    ['sku:A', 'reply ok', [], undefined], // the release of its hold
    ['client(admin)', 'order.get', [], 'ok'],
  ]);
});

test('a payment at the deadline is ORDER_EXPIRED even before the timer ran', async () => {
  const shop = await Shop.open();
  await shop.stock('A', 3);
  expectOrder(await shop.place('o1', [{ sku: 'A', quantity: 1 }], ALICE, 500));
  shop.sys.clock.advance(0);
  // Move the clock without letting timers run first: the payment arrives exactly at the deadline.
  shop.sys.clock.set(shop.sys.clock.now() + 500);
  expectError(await shop.pay('o1'), 'ORDER_EXPIRED');
  assert.equal((await shop.order('o1'))!.status, 'cancelled');
  assert.equal((await shop.getStock('A')).reserved, 0);
});

test('pay → picking → packed → dispatched ships the stock out of onHand', async () => {
  const shop = await Shop.open();
  await shop.stock('A', 10);
  const placed = expectOrder(await shop.place('o1', [{ sku: 'A', quantity: 4 }]));
  assert.equal(expectOrder(await shop.pay('o1', 'p1')).status, 'paid');
  const picking = (await shop.order('o1'))!;
  assert.equal(picking.status, 'picking');
  assert.equal(picking.history.at(-1)!.by, 'system');
  assert.ok(shop.sys.events.some((e) => e.type === 'feed' && e.feed === 'warehouse' && e.order.orderId === 'o1'));
  assert.equal(expectOrder(await shop.pay('o1', 'p1')).status, 'picking', 'same paymentRef is an idempotent repeat');
  expectError(await shop.pay('o1', 'p2'), 'INVALID_STATE');
  assert.equal(expectOrder(await shop.pack('o1')).status, 'packed');
  assert.equal(expectOrder(await shop.pack('o1')).status, 'packed');
  assert.equal(expectOrder(await shop.ack('o1', 'T1')).status, 'dispatched');
  assert.equal(expectOrder(await shop.ack('o1', 'T1')).trackingNo, 'T1');
  expectError(await shop.ack('o1', 'T2'), 'INVALID_STATE');
  assert.deepEqual(await shop.getStock('A'), { sku: 'A', onHand: 6, reserved: 0, available: 6 });
  const err = expectError(await shop.cancel('o1'), 'CANCEL_REFUSED');
  assert.equal(err.status, 'dispatched');
  // The carrier asked the order for the hand-over; the order's log shows it granted it.
  assert.deepEqual(lines(shop.log('order:o1')), [
    ['client(customer)', 'order.place', ['placing: asked 1 SKU(s) for stock'], undefined],
    ['sku:A', 'reply ok', [`placed; payment due at ${placed.paymentDeadline}`], 'ok'],
    ['client(payments)', 'order.pay', ['→ paid (by payments)'], 'ok'],
    ['warehouse', 'reply ok', ['→ picking (by system)'], undefined],
    ['client(admin)', 'order.get', [], 'ok'],
    ['client(payments)', 'order.pay', [], 'ok'],
    ['client(payments)', 'order.pay', [], 'INVALID_STATE'],
    ['warehouse', 'order.pack', ['→ packed (by warehouse)'], undefined],
    ['carrier', 'reply ok', [], 'ok'],
    ['warehouse', 'order.pack', [], 'ok'],
    ['carrier', 'order.handover', ['→ dispatched (by carrier)'], undefined],
    ['sku:A', 'reply ok', [], 'ok'],
    ['carrier', 'order.handover', [], 'ok'],
    ['carrier', 'order.handover', [], 'INVALID_STATE'],
    ['client(admin)', 'order.cancel', ['cancel refused in dispatched'], 'CANCEL_REFUSED'],
  ]);
});

test('cancel before the hand-over wins: the carrier is INTERCEPTED, stock returns, refund due', async () => {
  const shop = await Shop.open();
  await shop.stock('A', 10);
  expectOrder(await shop.place('o1', [{ sku: 'A', quantity: 4 }]));
  await shop.pay('o1');
  await shop.pack('o1');
  const c = expectOrder(await shop.cancel('o1', ALICE));
  assert.equal(c.status, 'cancelled');
  assert.equal(c.reason, 'customer');
  assert.equal(c.refundDue, true);
  expectError(await shop.ack('o1'), 'INTERCEPTED');
  assert.deepEqual(await shop.getStock('A'), { sku: 'A', onHand: 10, reserved: 0, available: 10 });
  const carrierQueue = await shop.sys.ask('carrier', { type: 'queue.list' }, ADMIN);
  assert.ok(carrierQueue.ok);
  assert.deepEqual(carrierQueue.orderIds, []);
  const refunds = await shop.sys.ask('refunds', { type: 'queue.list' }, ADMIN);
  assert.ok(refunds.ok && refunds.orderIds?.includes('o1'));
});

test('cancel and hand-over sent in the same instant: whichever the order takes first wins', async () => {
  for (const first of ['cancel', 'ack'] as const) {
    const shop = await Shop.open();
    await shop.stock('A', 10);
    expectOrder(await shop.place('o1', [{ sku: 'A', quantity: 1 }]));
    await shop.pay('o1');
    await shop.pack('o1');
    const sends = first === 'cancel'
      ? [shop.sys.send('order:o1', { type: 'order.cancel', orderId: 'o1' }, ADMIN), shop.sys.send('carrier', { type: 'tms.ack', orderId: 'o1', trackingNo: 'T' }, CARRIER)]
      : [shop.sys.send('carrier', { type: 'tms.ack', orderId: 'o1', trackingNo: 'T' }, CARRIER), shop.sys.send('order:o1', { type: 'order.cancel', orderId: 'o1' }, ADMIN)];
    await shop.sys.settle();
    const [r1, r2] = await Promise.all(sends);
    const o = (await shop.order('o1'))!;
    const stock = await shop.getStock('A');
    // Exactly one of the two succeeded and the order shows that one.
    assert.equal([r1!.ok, r2!.ok].filter(Boolean).length, 1);
    const statuses = o.history.map((h) => h.status);
    assert.ok(!(statuses.includes('cancelled') && statuses.includes('dispatched')));
    if (o.status === 'cancelled') assert.deepEqual(stock, { sku: 'A', onHand: 10, reserved: 0, available: 10 });
    else assert.deepEqual(stock, { sku: 'A', onHand: 9, reserved: 0, available: 9 });
  }
});

test('delivery, return and restock happen once; the refund is due', async () => {
  const shop = await Shop.open();
  await shop.stock('A', 5);
  expectOrder(await shop.place('o1', [{ sku: 'A', quantity: 2 }]));
  await shop.pay('o1');
  await shop.pack('o1');
  await shop.ack('o1');
  assert.equal(expectOrder(await shop.deliver('o1')).status, 'delivered');
  assert.equal(expectOrder(await shop.deliver('o1')).status, 'delivered');
  const r = expectOrder(await shop.sys.ask('order:o1', { type: 'order.return', orderId: 'o1', reason: 'too small' }, ALICE));
  assert.equal(r.status, 'return_requested');
  assert.equal(r.reason, 'too small');
  for (let i = 0; i < 2; i++) {
    const got = expectOrder(await shop.sys.ask('warehouse', { type: 'return.received', orderId: 'o1' }, { role: 'warehouse' }));
    assert.equal(got.status, 'returned');
    assert.equal(got.refundDue, true);
  }
  assert.deepEqual(await shop.getStock('A'), { sku: 'A', onHand: 5, reserved: 0, available: 5 });
});

test('ownership: another customer sees NOT_FOUND and a taken orderId is CONFLICT', async () => {
  const shop = await Shop.open();
  await shop.stock('A', 5);
  expectOrder(await shop.place('o1', [{ sku: 'A', quantity: 1 }], ALICE));
  expectError(await shop.sys.ask('order:o1', { type: 'order.get', orderId: 'o1' }, BOB), 'NOT_FOUND');
  expectError(await shop.sys.ask('order:o1', { type: 'order.cancel', orderId: 'o1' }, BOB), 'NOT_FOUND');
  expectError(await shop.place('o1', [{ sku: 'A', quantity: 1 }], BOB), 'CONFLICT');
  expectError(await shop.place('o1', [{ sku: 'A', quantity: 2 }], ALICE), 'CONFLICT');
  expectOrder(await shop.place('o1', [{ sku: 'A', quantity: 1 }], ALICE));
  assert.equal((await shop.getStock('A')).reserved, 1, 'the repeat reserved nothing more');
});

test('a restart rebuilds orders, stock, timers and unanswered requests from the journal', async () => {
  const shop = await Shop.open();
  await shop.stock('A', 5);
  expectOrder(await shop.place('o1', [{ sku: 'A', quantity: 2 }], ALICE, 10_000));
  expectOrder(await shop.place('o2', [{ sku: 'A', quantity: 1 }], ALICE, 10_000));
  await shop.pay('o2');
  const after = new Shop(await shop.sys.restart());
  assert.equal((await after.order('o1'))!.status, 'awaiting_payment');
  assert.equal((await after.order('o2'))!.status, 'picking');
  assert.deepEqual(await after.getStock('A'), { sku: 'A', onHand: 5, reserved: 3, available: 2 });
  await after.sys.advance(10_000);
  assert.equal((await after.order('o1'))!.status, 'cancelled');
  assert.equal((await after.getStock('A')).reserved, 1);
});

test('holds are confirmed once the order is written; a hold whose order never was is dropped', async () => {
  const shop = await Shop.open();
  await shop.stock('A', 5);
  expectOrder(await shop.place('o1', [{ sku: 'A', quantity: 2 }]));
  const sku = shop.sys.shardFor('sku:A').cells.peek('sku:A')!.state as { tentative: Map<string, number> };
  assert.equal(sku.tentative.size, 0, 'the order confirmed its hold');
  const confirm = shop.log('sku:A').find((e) => e.message === 'stock.confirm' && e.from === 'order:o1');
  assert.ok(confirm, 'the SKU received the confirmation');
  assert.equal(confirm.outcome, undefined, 'a one-way notice: nobody to answer');
  assert.deepEqual(
    shop.log('order:o1').filter((e) => e.from === 'sku:A').map((e) => e.message),
    ['reply ok'],
    'the order heard from the SKU once (its reserve), not for the confirmation',
  );
  assert.equal(shop.sys.shardFor('order:o1').cells.peek('order:o1')?.outbox.size ?? 0, 0, 'the order owes and awaits nothing');
  // A hold from a placement that died before its order was written (as after a crash).
  shop.sys.shardFor('sku:A').deliver({ t: 'req', to: 'sku:A', from: 'order:ghost', id: 1, request: { type: 'stock.reserve', orderId: 'ghost', quantity: 3 } });
  await shop.sys.settle();
  assert.equal((await shop.getStock('A')).reserved, 5);
  await shop.sys.advance(2_000);
  assert.equal((await shop.getStock('A')).reserved, 2, 'the ghost hold was dropped after verification');
  // The SKU asked the order and acted on its answer (the empty order actor itself left memory).
  assert.deepEqual(lines(shop.log('sku:A')), [
    ['client(admin)', 'inventory.set', ['onHand set to 5'], 'ok'],
    ['order:o1', 'stock.reserve', ['reserved 2 for o1 (tentative)'], 'ok'],
    ['order:o1', 'stock.confirm', ['hold of o1 confirmed'], undefined],
    ['order:ghost', 'stock.reserve', ['reserved 3 for ghost (tentative)'], 'ok'],
    ['client(admin)', 'inventory.get', [], 'ok'],
    ['timer', 'timer verify', [], undefined],
    ['order:ghost', 'reply ok', ['dropped 3 held for ghost: the order was never written'], undefined],
    ['client(admin)', 'inventory.get', [], 'ok'],
  ]);
});

test("a confirmation rides on the SKU's next record; one a crash loses costs only a verification", async () => {
  const shop = await Shop.open();
  await shop.stock('A', 5);
  const skuRecords = async (sys = shop.sys) => (await sys.shardFor('sku:A').store.readTail('sku:A')).flatMap((rec) => (rec.r ?? []) as { hold?: unknown; confirms?: string[] }[]);
  expectOrder(await shop.place('o1', [{ sku: 'A', quantity: 2 }]));
  assert.deepEqual(lines(shop.log('sku:A')), [
    ['client(admin)', 'inventory.set', ['onHand set to 5'], 'ok'],
    ['order:o1', 'stock.reserve', ['reserved 2 for o1 (tentative)'], 'ok'],
    ['order:o1', 'stock.confirm', ['hold of o1 confirmed'], undefined],
  ]);
  assert.deepEqual((await skuRecords()).map((r) => r.confirms), [undefined, undefined], 'stock set, hold of o1: the confirmation wrote nothing');
  expectOrder(await shop.place('o2', [{ sku: 'A', quantity: 1 }]));
  const last = (await skuRecords()).at(-1)!;
  assert.deepEqual([(last.hold as unknown[]).slice(0, 2), last.confirms], [['o2', 1], ['o1']], "o2's hold carries o1's confirmation");

  // A crash now: o2's confirmation was never written, so its hold comes back tentative, and
  // recovery verifies it with its order before the system serves (no clock advance needed).
  const after = new Shop(await shop.sys.restart());
  const tentative = () => (after.sys.shardFor('sku:A').cells.peek('sku:A')!.state as { tentative: Map<string, number> }).tentative;
  assert.equal(tentative().size, 0);
  assert.equal((await after.getStock('A')).reserved, 3, 'verified with its order and kept');
  assert.deepEqual(
    after.log('sku:A').slice(0, 2).map((e) => [e.from, e.message, e.decisions]),
    [
      ['timer', 'timer verify', []],
      ['order:o2', 'reply ok', ['hold of o2 confirmed by verification']],
    ],
  );
});

test('after a crash, holds of placements that were never written are dropped before the system serves', async () => {
  const shop = await Shop.open();
  await shop.stock('A', 5);
  await shop.stock('B', 5);
  expectOrder(await shop.place('kept', [{ sku: 'A', quantity: 1 }]));
  // Two placements that die with the process: their SKUs journaled the holds, the orders nothing.
  shop.sys.shardFor('sku:A').deliver({ t: 'req', to: 'sku:A', from: 'order:ghost1', id: 1, request: { type: 'stock.reserve', orderId: 'ghost1', quantity: 3 } });
  shop.sys.shardFor('sku:B').deliver({ t: 'req', to: 'sku:B', from: 'order:ghost2', id: 1, request: { type: 'stock.reserve', orderId: 'ghost2', quantity: 2 } });
  await shop.sys.settle();
  assert.equal((await shop.getStock('A')).reserved, 4);
  const after = new Shop(await shop.sys.restart());
  // The very first reads, at the same simulated instant as the crash: exact.
  assert.deepEqual(await after.getStock('A'), { sku: 'A', onHand: 5, reserved: 1, available: 4 });
  assert.deepEqual(await after.getStock('B'), { sku: 'B', onHand: 5, reserved: 0, available: 5 });
  assert.deepEqual(
    after.log('sku:A').slice(0, 2).map((e) => [e.from, e.message, e.decisions]),
    [
      ['timer', 'timer verify', []],
      ['order:ghost1', 'reply ok', ['dropped 3 held for ghost1: the order was never written']],
    ],
  );
});

test.run();
