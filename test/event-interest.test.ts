import assert from 'node:assert/strict';
import { test } from 'uvu';
import type { ActorEvent } from '../src/protocol/messages.js';
import type { Order } from '../src/protocol/model.js';
import type { Stats } from '../src/protocol/stats.js';
import { startServer } from './helpers/server.js';
import { call, expectOk, uid } from './helpers/wire.js';

async function until(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Events reach the gateway only while it has subscribers; the dashboard's views (the `orders`
// feed's first reply, the busiest SKUs) are kept by the host threads and stay complete anyway.

test('no subscriber: no event crosses to the gateway, yet the orders feed and stats.get show every placement; a subscriber brings events back', async () => {
  const srv = await startServer({ workers: 2, shards: 8 });
  try {
    const crossed: ActorEvent[] = [];
    srv.runtime.onEvent((e) => crossed.push(e));
    const admin = await srv.connect('tok-admin');
    const skus = [uid('sku'), uid('sku')];
    for (const sku of skus) expectOk(await call(admin, 'inventory.set', { sku, onHand: 100 }));
    // Orders on both host threads (8 shards over 2 hosts), placed while nobody listens.
    const placed: string[] = [];
    for (let i = 0; i < 12; i++) {
      const orderId = uid('o');
      placed.push(orderId);
      expectOk(await call(admin, 'order.place', { orderId, customerId: 'ana', items: [{ sku: skus[i % 2]!, quantity: i % 2 === 0 ? 1 : 2 }] }));
    }
    assert.equal(crossed.length, 0, 'no event left a host thread while nobody subscribed');

    const stats = expectOk(await call(admin, 'stats.get')).stats as Stats;
    const busiest = new Map(stats.busiestSkus.map((b) => [b.sku, b.placements]));
    assert.equal(busiest.get(skus[0]!), 6, 'placements counted on the hosts, merged');
    assert.equal(busiest.get(skus[1]!), 6);

    const watcher = await srv.connect('tok-admin');
    const first = expectOk(await call(watcher, 'feed.subscribe', { feed: 'orders' })).orders as Order[];
    const shown = new Set(first.map((o) => o.orderId));
    for (const id of placed) assert.ok(shown.has(id), `the feed's first reply shows ${id}, placed before anyone listened`);
    const times = first.map((o) => o.history[o.history.length - 1]!.at);
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'oldest change first, across both hosts');

    // Now someone listens: a change made now reaches the gateway and the subscriber.
    const seen: string[] = [];
    watcher.onEvent((e) => {
      const o = (e as { order?: Order }).order;
      if (o) seen.push(o.orderId);
    });
    expectOk(await call(admin, 'order.pay', { orderId: placed[0]!, paymentRef: 'p1' }));
    await until('the subscriber sees the payment', 5_000, () => seen.includes(placed[0]!));
    assert.ok(crossed.some((e) => e.type === 'order.updated' && e.order.orderId === placed[0]), 'the event crossed');

    // The last subscriber leaves: events stop crossing again.
    // (The server learns of the close a moment later: each probe changes another order.)
    await watcher.close();
    let next = 1;
    await until('events stop once the last subscriber left', 5_000, async () => {
      const before = crossed.length;
      expectOk(await call(admin, 'order.cancel', { orderId: placed[next++]! }));
      return crossed.length === before;
    });
    const before = crossed.length;
    expectOk(await call(admin, 'order.cancel', { orderId: placed[next]! }));
    assert.equal(crossed.length, before, 'no event after the last subscriber left');
  } finally {
    await srv.destroy();
  }
});

test.run();
