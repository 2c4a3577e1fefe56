import { test } from 'uvu';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { OrdoClient } from '../src/client/ordo-client.js';
import { spawnServer } from './helpers/child-server.js';
import { startServer, tempDir } from './helpers/server.js';

const ORDO = fileURLToPath(new URL('../../bin/ordo.mjs', import.meta.url));
const ordo = (...args: string[]) => spawnSync(process.execPath, [ORDO, ...args], { encoding: 'utf8', env: { ...process.env, ORDO_LOG_LEVEL: 'warn' } });

test('a second server on the same data directory refuses to start, clearly', async () => {
  const dataDir = await tempDir();
  const first = await spawnServer(dataDir);
  try {
    await assert.rejects(spawnServer(dataDir), /in use by another ordo server/);
    // compact needs the directory to itself; (inspect asks the running server instead, see cli.test.ts)
    const r = ordo('compact', '--data', dataDir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /in use by another ordo server/);
  } finally {
    await first.kill('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('SIGTERM drains the commands in flight, flushes and exits 0; nothing acknowledged is lost', async () => {
  const dataDir = await tempDir();
  try {
    const srv = await spawnServer(dataDir);
    const c = await OrdoClient.connect(srv.url, 'tok-admin');
    assert.ok((await c.call('inventory.set', { sku: 'a', onHand: 1000 })).ok);
    const replies = Array.from({ length: 300 }, (_, i) => c.call('order.place', { orderId: `o${i}`, customerId: 'c', items: [{ sku: 'a', quantity: 1 }] }));
    await new Promise((r) => setTimeout(r, 5));
    srv.proc.kill('SIGTERM');
    const answered = await Promise.all(replies);
    assert.equal(await srv.exited, 0, 'a clean exit');
    const acked = answered.filter((r) => r.ok).length;
    const again = await spawnServer(dataDir);
    const admin = await OrdoClient.connect(again.url, 'tok-admin');
    const stock = await admin.call('inventory.get', { sku: 'a' });
    assert.equal((stock.stock as { reserved: number }).reserved >= acked, true, `every acknowledged placement (${acked}) is there`);
    for (let i = 0; i < 300; i++) {
      if (answered[i]!.ok) assert.ok((await admin.call('order.get', { orderId: `o${i}` })).ok);
    }
    await admin.close();
    await again.kill('SIGTERM');

    // Operator tools on the stopped data directory.
    const shown = ordo('inspect', 'order', 'o0', '--data', dataDir);
    assert.equal(shown.status, 0, shown.stderr);
    const view = JSON.parse(shown.stdout) as { key: string; state: { order: { orderId: string; status: string } }; timers: Record<string, number> };
    assert.equal(view.key, 'order:o0');
    assert.equal(view.state.order.status, 'awaiting_payment');
    assert.ok(view.timers.payment! > 0, 'the payment deadline is listed');
    const sku = JSON.parse(ordo('inspect', 'sku', 'a', '--data', dataDir).stdout) as { state: { onHand: number } };
    assert.equal(sku.state.onHand, 1000);
    const compacted = ordo('compact', '--data', dataDir);
    assert.equal(compacted.status, 0, compacted.stderr);
    assert.match(compacted.stdout, /compacted 8 shards/);
    assert.equal(ordo('inspect', 'order', 'nope', '--data', dataDir).status, 1);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('after kill -9, inspect reads an order from the journal tail its shard shares with others', async () => {
  const dataDir = await tempDir();
  try {
    const srv = await spawnServer(dataDir);
    try {
      const c = await OrdoClient.connect(srv.url, 'tok-admin');
      assert.ok((await c.call('inventory.set', { sku: 'k', onHand: 50 })).ok);
      for (let i = 0; i < 20; i++) assert.ok((await c.call('order.place', { orderId: `k${i}`, customerId: 'c', items: [{ sku: 'k', quantity: 1 }] })).ok);
      assert.ok((await c.call('order.pay', { orderId: 'k7', paymentRef: 'P7' })).ok);
      await c.close();
    } finally {
      assert.equal(await srv.kill('SIGKILL'), 'SIGKILL');
    }
    // Nothing was snapshotted: both come from the journal, which holds every shard of a thread.
    const order = JSON.parse(ordo('inspect', 'order', 'k7', '--data', dataDir).stdout) as { state: { order: { status: string } } };
    assert.notEqual(order.state.order.status, 'awaiting_payment');
    const sku = JSON.parse(ordo('inspect', 'sku', 'k', '--data', dataDir).stdout) as { state: { onHand: number; reserved: number } };
    assert.deepEqual([sku.state.onHand, sku.state.reserved], [50, 20]);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('/healthz turns 503 while the server drains', async () => {
  const srv = await startServer();
  try {
    assert.equal((await fetch(`http://127.0.0.1:${srv.port}/healthz`)).status, 200);
    await srv.gateway.drain(0);
    const res = await fetch(`http://127.0.0.1:${srv.port}/healthz`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { status: 'draining' });
  } finally {
    await srv.destroy();
  }
});

test.run();
