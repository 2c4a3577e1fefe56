import { test } from 'uvu';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { SMOKE_OPTIONS } from '../bench/bench.js';
import { RECORDS_FILE } from '../bench/minimal-peer-server.js';
import { runScenario } from '../bench/scenarios.js';
import { BENCH_TOKENS, type ServerProcess, startMinimalPeer } from '../bench/server-process.js';
import { OrdoClient, type ReplyFrame } from '../src/client/ordo-client.js';

// The bench's minimal durable peer (`npm run bench -- --peer minimal`): the floor ordo is
// measured against. Its claims to hold ordo's contract (all or nothing, no oversell, the same
// replies, `ok` only once written) are checked here, so that a ratio to it compares like with like.

test('the minimal peer serves the bench’s place-only scenarios and passes the same invariant checks as ordo', async () => {
  for (const name of ['spread', 'hot', 'flash'] as const) {
    const r = await runScenario(name, SMOKE_OPTIONS, undefined, 'minimal');
    const failed = r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    assert.deepEqual(failed, [], `${name} against the minimal peer`);
    assert.equal(r.error, undefined, r.error);
    assert.ok(r.ok, name);
    assert.ok(r.measuredReplies > 0 || name === 'flash', `${name}: replies were measured`);
  }
});

/** Waits until the killed peer's process is gone. */
async function exited(srv: ServerProcess): Promise<void> {
  while (srv.exit === null) await new Promise((r) => setTimeout(r, 20));
}

test('what the minimal peer acknowledged survives kill -9: stock, orders and repeats after a restart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ordo-minimal-peer-'));
  let srv = await startMinimalPeer({ dataDir: dir });
  try {
    const clients = await Promise.all(Array.from({ length: 8 }, () => OrdoClient.connect(srv.url, BENCH_TOKENS.admin, { keepEvents: false })));
    assert.equal((await clients[0].call('inventory.set', { sku: 'a', onHand: 50 })).ok, true);
    assert.equal((await clients[0].call('inventory.set', { sku: 'b', onHand: 20 })).ok, true);
    // 120 concurrent two-item orders on 50 + 20 units: many are refused, none oversold.
    const orders = Array.from({ length: 120 }, (_, i) => ({ orderId: `o${i}`, customerId: `c${i % 7}`, items: [{ sku: 'a', quantity: 1 }, { sku: 'b', quantity: 1 + (i % 2) }] }));
    const replies = await Promise.all(orders.map((o, i) => clients[i % clients.length].call('order.place', o)));
    const placed = orders.filter((_, i) => replies[i].ok);
    const refused = replies.filter((r) => !r.ok);
    assert.ok(placed.length > 0 && refused.length > 0, `both outcomes: ${placed.length} placed`);
    for (const r of refused) assert.equal(r.error?.code, 'OUT_OF_STOCK');
    const heldB = placed.reduce((n, o) => n + o.items[1].quantity, 0);
    assert.ok(heldB <= 20 && placed.length <= 50, 'nothing oversold');
    await Promise.all(clients.map((c) => c.close()));

    // Acknowledged, so written before the reply: one line per inventory.set and per placement.
    const lines = (await readFile(join(dir, RECORDS_FILE), 'utf8')).split('\n').filter(Boolean);
    assert.equal(lines.length, 2 + placed.length);

    process.kill(srv.pid, 'SIGKILL');
    await exited(srv);
    srv = await startMinimalPeer({ dataDir: dir });
    const c = await OrdoClient.connect(srv.url, BENCH_TOKENS.admin, { keepEvents: false });
    try {
      const stock = async (sku: string) => (await c.call('inventory.get', { sku })).stock as { reserved: number } | undefined;
      assert.deepEqual(await stock('a'), { sku: 'a', onHand: 50, reserved: placed.length, available: 50 - placed.length });
      assert.deepEqual(await stock('b'), { sku: 'b', onHand: 20, reserved: heldB, available: 20 - heldB });
      // A repeat of an acknowledged order is answered with it, and reserves nothing more.
      const again = await c.call('order.place', placed[0]);
      assert.equal(again.ok, true);
      assert.equal((again.order as { orderId: string }).orderId, placed[0].orderId);
      assert.equal((await stock('a'))?.reserved, placed.length);
      // The same id with other items is a conflict; inventory.set may not go below reserved.
      assert.equal((await c.call('order.place', { ...placed[0], items: [{ sku: 'a', quantity: 9 }] })).error?.code, 'CONFLICT');
      assert.equal((await c.call('inventory.set', { sku: 'b', onHand: heldB - 1 })).error?.field, 'onHand');
    } finally {
      await c.close();
    }
  } finally {
    await srv.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the minimal peer refuses bad frames and unknown tokens, and stays up', async () => {
  const srv = await startMinimalPeer();
  try {
    const refusedStatus = await new Promise<number>((resolve) => {
      const ws = new WebSocket(srv.url, { headers: { authorization: 'Bearer wrong' } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => {});
    });
    assert.equal(refusedStatus, 401);

    const ws = new WebSocket(srv.url, { headers: { authorization: `Bearer ${BENCH_TOKENS.admin}` } });
    await new Promise((r) => ws.once('open', r));
    const next = () => new Promise<ReplyFrame>((r) => ws.once('message', (d) => r(JSON.parse(d.toString()) as ReplyFrame)));
    const ask = async (frame: string | Buffer) => {
      const reply = next();
      ws.send(frame);
      const r = await reply;
      return `${r.re}:${r.error?.code ?? 'ok'}:${r.error?.field ?? ''}`;
    };
    assert.equal(await ask('not json'), 'null:BAD_FRAME:');
    assert.equal(await ask(Buffer.from('{"id":"1"}')), 'null:BAD_FRAME:');
    assert.equal(await ask('{"id":"2","type":"order.pay","orderId":"o"}'), '2:UNKNOWN_COMMAND:');
    assert.equal(await ask('{"id":"3","type":"order.place","orderId":"o","customerId":"c","items":[{"sku":"a","quantity":0}]}'), '3:INVALID_ARGUMENT:items[0].quantity');
    assert.equal(await ask('{"id":"4","type":"inventory.get","sku":"a"}'), '4:ok:');
    ws.close();
    assert.equal(srv.exit, null, 'still running');
  } finally {
    await srv.stop();
  }
});

test.run();
