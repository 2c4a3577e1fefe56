import { test } from 'uvu';
import assert from 'node:assert/strict';
import { SMOKE_OPTIONS } from '../bench/bench.js';
import { RedisOrderStore } from '../bench/redis-order-store.js';
import { parseFrame } from '../bench/peer-frames.js';
import { redisServerMissing, type RedisProcess, startRedis } from '../bench/redis-process.js';
import { runScenario } from '../bench/scenarios.js';

// The bench's Redis-Lua peer (`npm run bench -- --peer redis`). Its claims to hold ordo's
// contract (all or nothing, no oversell, the same replies) are checked here, so that a ratio to
// it compares like with like.

test('the peer refuses malformed frames with the protocol’s codes and fields', () => {
  const refused = (text: string) => {
    const r = parseFrame(text);
    return r.ok ? 'accepted' : `${r.id}:${r.error.code}:${r.error.field ?? ''}`;
  };
  assert.equal(refused('not json'), 'null:BAD_FRAME:');
  assert.equal(refused('[1]'), 'null:BAD_FRAME:');
  assert.equal(refused('{"type":"inventory.get","sku":"a"}'), 'null:BAD_FRAME:');
  assert.equal(refused('{"id":"1","type":"order.pay","orderId":"o"}'), '1:UNKNOWN_COMMAND:');
  assert.equal(refused('{"id":"2","type":"inventory.set","sku":"a","onHand":-1}'), '2:INVALID_ARGUMENT:onHand');
  assert.equal(refused('{"id":"3","type":"order.place","orderId":"o","customerId":"c","items":[]}'), '3:INVALID_ARGUMENT:items');
  assert.equal(refused('{"id":"4","type":"order.place","orderId":"o","customerId":"c","items":[{"sku":"a","quantity":1},{"sku":"a","quantity":2}]}'), '4:INVALID_ARGUMENT:items[1].sku');
  assert.equal(refused('{"id":"5","type":"order.place","orderId":"o","customerId":"c","items":[{"sku":"a","quantity":0}]}'), '5:INVALID_ARGUMENT:items[0].quantity');
  assert.equal(refused('{"id":"6","type":"order.place","orderId":"o b","customerId":"c","items":[{"sku":"a","quantity":1}]}'), '6:INVALID_ARGUMENT:orderId');
  assert.equal(refused('{"id":"7","type":"order.place","orderId":"o","customerId":"c","items":[{"sku":"a","quantity":1}]}'), 'accepted');
});

// The tests below need a real redis-server. Without one they are not registered at all (a test
// that cannot run must not count as passed), and this line says why.
const missing = redisServerMissing();
if (missing) {
  console.log(`bench-redis-peer: ${missing}: the Lua script and peer tests are not registered (not counted)`);
} else {
  let redis: RedisProcess;
  test.before(async () => {
    redis = await startRedis();
  });
  test.after(async () => {
    await redis?.stop();
  });

  test('the placement script reserves every item or none, and never oversells under concurrent orders', async () => {
    // Several connections, so that scripts from different clients really interleave in Redis.
    const stores = await Promise.all(Array.from({ length: 4 }, () => RedisOrderStore.open(redis.port)));
    const [store] = stores;
    try {
      const onHand: Record<string, number> = { a: 5, b: 3, e: 40, z: 0 };
      for (const [sku, n] of Object.entries(onHand)) assert.equal((await store.setStock(sku, n)).kind, 'set');
      const place = (s: RedisOrderStore, orderId: string, items: { sku: string; quantity: number }[]) => {
        const order = { orderId, customerId: 'c', items, paymentDeadline: Date.now() + 60_000 };
        return s.place(order, JSON.stringify({ ...order, status: 'awaiting_payment' }));
      };

      // A short second item leaves the first one untouched, and writes no order.
      assert.deepEqual(await place(store, 'short-b', [{ sku: 'a', quantity: 2 }, { sku: 'b', quantity: 4 }]), { kind: 'short', sku: 'b', available: 3 });
      assert.deepEqual(await place(store, 'unknown', [{ sku: 'e', quantity: 1 }, { sku: 'nope', quantity: 1 }]), { kind: 'short', sku: 'nope', available: 0 });
      assert.deepEqual(await place(store, 'zero', [{ sku: 'z', quantity: 1 }]), { kind: 'short', sku: 'z', available: 0 });
      assert.equal((await store.getStock('a')).reserved, 0);
      assert.equal((await store.getStock('e')).reserved, 0);
      assert.equal(await store.getOrderJson('short-b'), null);
      assert.equal((await store.getStock('nope')).onHand, 0);

      // 300 concurrent multi-item orders on 5 + 3 + 40 units: most must be refused, none oversold.
      const skus = ['a', 'b', 'e'];
      const orders = Array.from({ length: 300 }, (_, i) => {
        const picked = skus.filter(() => Math.random() < 0.6);
        const items = (picked.length ? picked : ['e']).map((sku) => ({ sku, quantity: 1 + Math.floor(Math.random() * 2) }));
        return { orderId: `o${i}`, items };
      });
      const outcomes = await Promise.all(orders.map((o, i) => place(stores[i % stores.length], o.orderId, o.items)));
      const reservedBy: Record<string, number> = { a: 0, b: 0, e: 0 };
      for (let i = 0; i < orders.length; i++) {
        const stored = await store.getOrderJson(orders[i].orderId);
        if (outcomes[i].kind === 'placed') {
          for (const it of orders[i].items) reservedBy[it.sku] += it.quantity;
          assert.ok(stored, `placed order ${orders[i].orderId} is stored`);
        } else {
          assert.equal(outcomes[i].kind, 'short');
          assert.equal(stored, null, `refused order ${orders[i].orderId} wrote nothing`);
        }
      }
      for (const sku of skus) {
        const s = await store.getStock(sku);
        assert.ok(s.reserved <= s.onHand, `${sku} oversold: ${JSON.stringify(s)}`);
        assert.equal(s.reserved, reservedBy[sku], `${sku}: reserved equals the accepted orders' quantities`);
        assert.equal(s.onHand, onHand[sku]);
        assert.equal(s.available, s.onHand - s.reserved);
      }
      assert.ok(outcomes.some((o) => o.kind === 'placed') && outcomes.some((o) => o.kind === 'short'), 'both outcomes happened');

      // A repeat of a placed order reserves nothing more; inventory.set may not go below reserved.
      const placedAt = outcomes.findIndex((o) => o.kind === 'placed');
      const before = await store.getStock('e');
      assert.equal((await place(store, orders[placedAt].orderId, orders[placedAt].items)).kind, 'exists');
      assert.deepEqual(await store.getStock('e'), before);
      if (before.reserved > 0) assert.deepEqual(await store.setStock('e', before.reserved - 1), { kind: 'below', reserved: before.reserved });
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('the peer serves the bench’s place-only scenarios and passes the same invariant checks as ordo', async () => {
    for (const name of ['spread', 'flash'] as const) {
      const r = await runScenario(name, SMOKE_OPTIONS, undefined, 'redis');
      const failed = r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
      assert.deepEqual(failed, [], `${name} against the Redis peer`);
      assert.equal(r.error, undefined, r.error);
      assert.ok(r.ok, name);
      assert.ok(r.cpu.serverUsPerReplyByProcess['redis-server'] !== undefined, 'redis-server’s CPU is measured apart');
    }
  });
}

test.run();
