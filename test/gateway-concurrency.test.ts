import { test } from 'uvu';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { OrdoClient } from '../src/client/ordo-client.js';
import type { Order } from '../src/protocol/model.js';
import { checkInvariants } from './helpers/invariants.js';
import { startServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
let admin: OrdoClient;

test.before(async () => {
  srv = await startServer({ workers: 2, shards: 8 });
  admin = await srv.connect('tok-admin');
});

test.after(async () => {
  await srv.destroy();
});

async function clients(n: number, token = 'tok-admin'): Promise<OrdoClient[]> {
  return Promise.all(Array.from({ length: n }, () => srv.connect(token)));
}

test('1,000 concurrent orders from 20 connections on 100 units: exactly 100 accepted', async () => {
  const sku = `hot-${randomUUID()}`;
  assert.ok((await admin.call('inventory.set', { sku, onHand: 100 })).ok);
  const conns = await clients(20);
  const ids: string[] = [];
  const replies = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => {
      const orderId = randomUUID();
      ids.push(orderId);
      return conns[i % 20]!.call('order.place', { orderId, customerId: `c${i}`, items: [{ sku, quantity: 1 }] });
    }),
  );
  const accepted = replies.filter((r) => r.ok);
  const refused = replies.filter((r) => !r.ok);
  assert.equal(accepted.length, 100);
  assert.ok(refused.every((r) => r.error?.code === 'OUT_OF_STOCK' && r.error.sku === sku && r.error.available === 0));
  const stock = await admin.call('inventory.get', { sku });
  assert.deepEqual(stock.stock, { sku, onHand: 100, reserved: 100, available: 0 });
  await checkInvariants(admin, { [sku]: 100 }, ids);
  await Promise.all(conns.map((c) => c.close()));
});

test('40 concurrent two-SKU orders, one SKU has 3 units: exactly 3 accepted, nothing leaked', async () => {
  const scarce = `scarce-${randomUUID()}`;
  const plenty = `plenty-${randomUUID()}`;
  await admin.call('inventory.set', { sku: scarce, onHand: 3 });
  await admin.call('inventory.set', { sku: plenty, onHand: 1000 });
  const conns = await clients(8);
  const ids = Array.from({ length: 40 }, () => randomUUID());
  const replies = await Promise.all(
    ids.map((orderId, i) =>
      conns[i % 8]!.call('order.place', {
        orderId,
        customerId: 'c',
        // Half list the plentiful SKU first, so compensation runs in both orders.
        items: i % 2 ? [{ sku: plenty, quantity: 2 }, { sku: scarce, quantity: 1 }] : [{ sku: scarce, quantity: 1 }, { sku: plenty, quantity: 2 }],
      }),
    ),
  );
  assert.equal(replies.filter((r) => r.ok).length, 3);
  for (const r of replies.filter((x) => !x.ok)) {
    assert.equal(r.error?.code, 'OUT_OF_STOCK');
    assert.equal(r.error?.sku, scarce);
  }
  const { stock } = await checkInvariants(admin, { [scarce]: 3, [plenty]: 1000 }, ids);
  assert.equal(stock[plenty]!.reserved, 6, 'only the 3 accepted orders hold the plentiful SKU');
  assert.equal(stock[scarce]!.available, 0);
  await Promise.all(conns.map((c) => c.close()));
});

test('200 orders where order.cancel races tms.ack: each ends cancelled xor dispatched', async () => {
  const sku = `race-${randomUUID()}`;
  await admin.call('inventory.set', { sku, onHand: 1000 });
  const [payer, packer, carrier, canceller] = await Promise.all([srv.connect('tok-payments'), srv.connect('tok-warehouse'), srv.connect('tok-carrier'), srv.connect('tok-admin')]);
  const ids = Array.from({ length: 200 }, () => randomUUID());
  await Promise.all(ids.map((orderId, i) => admin.call('order.place', { orderId, customerId: 'c', items: [{ sku, quantity: 1 + (i % 3) }] })));
  await Promise.all(ids.map((orderId) => payer!.call('order.pay', { orderId, paymentRef: `p-${orderId}` })));
  const packed = await Promise.all(ids.map((orderId) => packer!.call('wms.packed', { orderId })));
  assert.ok(packed.every((r) => r.ok && (r.order as Order).status === 'packed'));
  // The race: both commands for every order at once, from different connections and threads.
  const results = await Promise.all(
    ids.map(async (orderId, i) => {
      const cancel = canceller!.call('order.cancel', { orderId });
      const ack = carrier!.call('tms.ack', { orderId, trackingNo: `T${i}` });
      const [c, a] = i % 2 ? await Promise.all([cancel, ack]) : (await Promise.all([ack, cancel])).reverse();
      return { c: c!, a: a! };
    }),
  );
  let cancelled = 0;
  let dispatched = 0;
  for (const { c, a } of results) {
    assert.notEqual(c.ok, a.ok, 'exactly one of cancel and hand-over wins');
    if (c.ok) {
      cancelled++;
      assert.equal(a.error?.code, 'INTERCEPTED');
    } else {
      dispatched++;
      assert.equal(c.error?.code, 'CANCEL_REFUSED');
      assert.equal(c.error?.status, 'dispatched');
    }
  }
  assert.equal(cancelled + dispatched, 200);
  const { orders } = await checkInvariants(admin, { [sku]: 1000 }, ids);
  assert.equal(orders.filter((o) => o.status === 'cancelled').length, cancelled);
  assert.equal(orders.filter((o) => o.status === 'dispatched').length, dispatched);
  assert.ok(orders.filter((o) => o.status === 'cancelled').every((o) => o.refundDue));
});

test('the server is still healthy afterwards', async () => {
  const res = await fetch(`http://127.0.0.1:${srv.port}/healthz`);
  assert.equal(res.status, 200);
});

test.run();
