import assert from 'node:assert/strict';
import type { OrdoClient } from '../../src/client/ordo-client.js';
import type { Order, Stock } from '../../src/protocol/model.js';

const HOLDING = new Set(['awaiting_payment', 'paid', 'picking', 'packed']);
const SHIPPED = new Set(['dispatched', 'delivered', 'return_requested']);

/**
 * Stock conservation, checked from the outside: for every SKU, `reserved` is the sum of the
 * quantities of live orders holding it, and `onHand` is the initial stock less what left with a
 * dispatch (returned orders put theirs back). Also: no order is both cancelled and dispatched.
 */
export async function checkInvariants(admin: OrdoClient, initial: Record<string, number>, orderIds: string[]): Promise<{ orders: Order[]; stock: Record<string, Stock> }> {
  const orders: Order[] = [];
  for (const orderId of orderIds) {
    const r = await admin.call('order.get', { orderId });
    if (r.ok) orders.push(r.order as Order);
  }
  const expectReserved: Record<string, number> = {};
  const expectOnHand: Record<string, number> = { ...initial };
  for (const o of orders) {
    const statuses = o.history.map((h) => h.status);
    assert.ok(!(statuses.includes('cancelled') && statuses.includes('dispatched')), `order ${o.orderId} is both cancelled and dispatched`);
    for (const i of o.items) {
      if (HOLDING.has(o.status)) expectReserved[i.sku] = (expectReserved[i.sku] ?? 0) + i.quantity;
      if (SHIPPED.has(o.status)) expectOnHand[i.sku] = (expectOnHand[i.sku] ?? 0) - i.quantity;
    }
  }
  const stock: Record<string, Stock> = {};
  for (const sku of Object.keys(initial)) {
    const r = await admin.call('inventory.get', { sku });
    assert.ok(r.ok);
    const s = r.stock as Stock;
    stock[sku] = s;
    assert.equal(s.reserved, expectReserved[sku] ?? 0, `reserved of ${sku}`);
    assert.equal(s.onHand, expectOnHand[sku], `onHand of ${sku}`);
    assert.equal(s.available, s.onHand - s.reserved);
    assert.ok(s.available >= 0, `available of ${sku} is negative`);
  }
  return { orders, stock };
}

/**
 * The same check, retried until it holds or `ms` pass: after a crash, holds of placements that
 * were never acknowledged are dropped only once their SKU has verified them with the order.
 */
export async function eventuallyInvariants(admin: OrdoClient, initial: Record<string, number>, orderIds: string[], ms = 10_000): ReturnType<typeof checkInvariants> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await checkInvariants(admin, initial, orderIds);
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
