import assert from 'node:assert/strict';
import { LocalSystem } from '../../src/runtime/testing/local-system.js';
import type { Reply } from '../../src/protocol/messages.js';
import type { Item, Order, Stock } from '../../src/protocol/model.js';
import { ADMIN, CARRIER, PAYMENTS, WAREHOUSE } from './principals.js';
import type { Principal } from '../../src/protocol/model.js';

/** Small conveniences over LocalSystem for actor tests: each call sends and settles. */
export class Shop {
  constructor(readonly sys: LocalSystem) {}

  static async open(shards = 4): Promise<Shop> {
    return new Shop(await LocalSystem.create({ shards }));
  }

  async stock(sku: string, onHand: number): Promise<void> {
    const r = await this.sys.ask(`sku:${sku}`, { type: 'inventory.set', sku, onHand }, ADMIN);
    assert.ok(r.ok);
  }

  async getStock(sku: string): Promise<Stock> {
    const r = await this.sys.ask(`sku:${sku}`, { type: 'inventory.get', sku }, ADMIN);
    assert.ok(r.ok && r.stock);
    return r.stock;
  }

  place(orderId: string, items: Item[], who: Principal & { customerId?: string } = { role: 'customer', customerId: 'alice' }, paymentTimeoutMs = 60_000): Promise<Reply> {
    return this.sys.ask(
      `order:${orderId}`,
      { type: 'order.place', orderId, items, paymentTimeoutMs, customerId: who.customerId ?? 'alice' },
      who,
    );
  }

  pay(orderId: string, paymentRef = `pay-${orderId}`): Promise<Reply> {
    return this.sys.ask(`order:${orderId}`, { type: 'order.pay', orderId, paymentRef }, PAYMENTS);
  }

  cancel(orderId: string, who: Principal = ADMIN): Promise<Reply> {
    return this.sys.ask(`order:${orderId}`, { type: 'order.cancel', orderId }, who);
  }

  pack(orderId: string): Promise<Reply> {
    return this.sys.ask('warehouse', { type: 'wms.packed', orderId }, WAREHOUSE);
  }

  ack(orderId: string, trackingNo = `trk-${orderId}`): Promise<Reply> {
    return this.sys.ask('carrier', { type: 'tms.ack', orderId, trackingNo }, CARRIER);
  }

  deliver(orderId: string): Promise<Reply> {
    return this.sys.ask('carrier', { type: 'tms.delivered', orderId }, CARRIER);
  }

  async order(orderId: string): Promise<Order | null> {
    const r = await this.sys.ask(`order:${orderId}`, { type: 'order.get', orderId }, ADMIN);
    return r.ok ? (r.order ?? null) : null;
  }

  /** What the actor received and decided, newest last. */
  log(key: string): { from: string; message: string; decisions: string[]; outcome?: string }[] {
    return this.sys.shardFor(key).logOf(key) as never;
  }
}

export function expectError(r: Reply, code: string): Extract<Reply, { ok: false }>['error'] {
  assert.equal(r.ok, false, `expected ${code}, got ok`);
  if (r.ok) throw new Error('unreachable');
  assert.equal(r.error.code, code);
  return r.error;
}

export function expectOrder(r: Reply): Order {
  assert.ok(r.ok, `expected ok, got ${JSON.stringify(r)}`);
  if (!r.ok || !r.order) throw new Error('no order in reply');
  return r.order;
}
