import { test } from 'uvu';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.js';
import { call, expectErr, expectOk } from './helpers/wire.js';

/** The admin-only `actor.inspect` extension (PROTOCOL-NOTES.md), on a live runtime. */

test('actor.inspect: an order, a SKU and a station as plain JSON; checked like every command', async () => {
  const srv = await startServer();
  try {
    const admin = await srv.connect('tok-admin');
    const alice = await srv.connect('tok-alice');
    expectOk(await call(admin, 'inventory.set', { sku: 'ai-mug', onHand: 4 }));
    expectOk(await call(alice, 'order.place', { orderId: 'ai-1', items: [{ sku: 'ai-mug', quantity: 3 }] }));

    const order = expectOk(await call(admin, 'actor.inspect', { key: 'order:ai-1' })).actor as { key: string; state: { order: { customerId: string } }; timers: Record<string, number>; log: unknown[] };
    assert.equal(order.key, 'order:ai-1');
    assert.equal(order.state.order.customerId, 'alice');
    assert.equal(typeof order.timers.payment, 'number');
    assert.ok(order.log.length >= 1);

    const sku = expectOk(await call(admin, 'actor.inspect', { key: 'sku:ai-mug' })).actor as { state: { holds: Record<string, number> } };
    // `holds` is a Map inside the actor: it must arrive as an object, not as `{}`.
    assert.deepEqual(Object.keys(sku.state.holds), ['ai-1']);

    // The warehouse actor exists once a paid order was handed to it (shortly after the reply).
    expectOk(await call(admin, 'order.pay', { orderId: 'ai-1', paymentRef: 'p-1' }));
    const deadline = Date.now() + 5_000;
    let station = await call(admin, 'actor.inspect', { key: 'warehouse' });
    // Until it lists the order: the station may be inspected (and answer) before the hand-off lands.
    const lists = () => station.ok && JSON.stringify(station.actor).includes('ai-1');
    while (!lists() && Date.now() < deadline) station = await call(admin, 'actor.inspect', { key: 'warehouse' });
    assert.ok(JSON.stringify(expectOk(station).actor).includes('ai-1'), 'the warehouse lists the paid order');
    expectErr(await call(admin, 'actor.inspect', { key: 'order:nobody' }), 'NOT_FOUND');
    for (const key of [undefined, '', 'order:', 'shelf:1', 'order:a b', 42, 'order:' + 'x'.repeat(129)]) {
      expectErr(await call(admin, 'actor.inspect', { key }), 'INVALID_ARGUMENT', { field: 'key' });
    }
    // Roles before arguments: a customer is refused whatever the key.
    expectErr(await call(alice, 'actor.inspect', { key: 'order:ai-1' }), 'FORBIDDEN');
    expectErr(await call(alice, 'actor.inspect', {}), 'FORBIDDEN');
  } finally {
    await srv.destroy();
  }
});

test.run();
