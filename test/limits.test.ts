import { test } from 'uvu';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OrdoClient } from '../src/client/ordo-client.js';
import { loadTokens } from '../src/gateway/tokens.js';
import { LocalSystem } from '../src/runtime/testing/local-system.js';
import { ADMIN } from './helpers/principals.js';
import { startServer, tempDir } from './helpers/server.js';

test('a mailbox at its hard limit answers OVERLOADED and drops nothing it accepted', async () => {
  const sys = await LocalSystem.create({ shards: 1, mailboxHardLimit: 5 });
  await sys.ask('sku:A', { type: 'inventory.set', sku: 'A', onHand: 0 }, ADMIN);
  const replies = Array.from({ length: 8 }, () => sys.send('sku:A', { type: 'inventory.adjust', sku: 'A', delta: 1 }, ADMIN));
  await sys.settle();
  const got = await Promise.all(replies);
  const ok = got.filter((r) => r.ok).length;
  assert.equal(ok, 5);
  assert.deepEqual(got.filter((r) => !r.ok).map((r) => !r.ok && r.error.code), ['OVERLOADED', 'OVERLOADED', 'OVERLOADED']);
  const stock = await sys.ask('sku:A', { type: 'inventory.get', sku: 'A' }, ADMIN);
  assert.equal(stock.ok && stock.stock?.onHand, 5, 'exactly the accepted adjustments were applied');
  assert.equal(sys.shards[0]!.overloaded, 3);
});

test('gateway limits: in-flight back-pressure, connections per token, slow subscribers, origins', async () => {
  const srv = await startServer({
    gateway: { maxInFlightPerConnection: 1024, maxConnectionsPerToken: 3, maxBufferedBytes: 65536, allowedOrigins: ['https://shop.example'] },
  });
  try {
    // 3,000 commands at once on one connection: the server stops reading past 1,024 in flight,
    // and still answers every single one.
    const c = await srv.connect('tok-admin');
    await c.call('inventory.set', { sku: 'bp', onHand: 0 });
    const replies = await Promise.all(Array.from({ length: 3000 }, (_, i) => c.call('inventory.adjust', { sku: 'bp', delta: 1, adjustmentId: `a${i}` })));
    assert.equal(replies.filter((r) => r.ok).length, 3000);
    assert.equal(((await c.call('inventory.get', { sku: 'bp' })).stock as { onHand: number }).onHand, 3000);
    const metrics = await (await fetch(`http://127.0.0.1:${srv.port}/metrics`)).text();
    assert.match(metrics, /ordo_backpressure_pauses_total [1-9]/);

    // A fourth connection for the same token is refused at the upgrade.
    const more = [await srv.connect('tok-admin'), await srv.connect('tok-admin')];
    await assert.rejects(OrdoClient.connect(srv.url, 'tok-admin'), (e: { status?: number }) => e.status === 429);
    await Promise.all(more.map((m) => m.close()));

    // Browser origins: a listed one is accepted, another is refused (403).
    const fromShop = await OrdoClient.connect(srv.url, 'tok-alice', { headers: { origin: 'https://shop.example' } });
    await fromShop.close();
    await assert.rejects(OrdoClient.connect(srv.url, 'tok-alice', { headers: { origin: 'https://evil.example' } }), (e: { status?: number }) => e.status === 403);

    // A subscriber that never reads is disconnected (1008) instead of growing the server's memory.
    // Events are made large (orders of 100 long SKU names, ~15 KB each) so that the kernel's socket
    // buffers fill up quickly and the server's own buffer starts to grow.
    const slow = await OrdoClient.connect(srv.url, 'tok-warehouse');
    await slow.call('feed.subscribe', { feed: 'warehouse' });
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const payer = await OrdoClient.connect(srv.url, 'tok-payments');
    const skus = Array.from({ length: 100 }, (_, i) => `${'s'.repeat(110)}-${i}`);
    await Promise.all(skus.map((sku) => c.call('inventory.set', { sku, onHand: 1_000_000 })));
    for (let i = 0; i < 3000 && slow.closeCode === null; i++) {
      const orderId = `slow-${i}`;
      await c.call('order.place', { orderId, customerId: 'bob', items: skus.map((sku) => ({ sku, quantity: 1 })) });
      await payer.call('order.pay', { orderId, paymentRef: 'p' });
      if (i % 100 === 99 && /ordo_slow_consumer_disconnects_total [1-9]/.test(await (await fetch(`http://127.0.0.1:${srv.port}/metrics`)).text())) break;
    }
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    assert.equal(await slow.waitForClose(), 1008);
    await payer.close();
    const after = await (await fetch(`http://127.0.0.1:${srv.port}/metrics`)).text();
    assert.match(after, /ordo_slow_consumer_disconnects_total [1-9]/);
  } finally {
    await srv.destroy();
  }
});

test('generated tokens: one per role, file mode 0600, reused on the next start', async () => {
  const dir = await tempDir();
  const first = await loadTokens(undefined, dir);
  assert.equal(first.generated, true);
  assert.equal((await stat(join(dir, 'tokens.json'))).mode & 0o777, 0o600);
  const roles = Object.values(first.entries).map((p) => p.role).sort();
  assert.deepEqual(roles, ['admin', 'carrier', 'customer', 'observer', 'payments', 'warehouse']);
  assert.equal(Object.values(first.entries).find((p) => p.role === 'customer')!.customerId, 'demo');
  const again = await loadTokens(undefined, dir);
  assert.equal(again.generated, false);
  assert.deepEqual(again.entries, first.entries);
  await assert.rejects(loadTokens('{"t": {"role": "customer"}}', dir), /customerId/);
  await assert.rejects(loadTokens('not json', dir), /not valid JSON/);
  await assert.rejects(loadTokens('{"t": {"role": "root"}}', dir), /expected one of/);
});

test.run();
