import { test } from 'uvu';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OrdoClient } from '../src/client/ordo-client.js';
import { spawnServer } from './helpers/child-server.js';
import type { ExportedSpan } from './helpers/otel-file-export.js';
import { withTempDir } from './helpers/server.js';
import { call, expectOk } from './helpers/wire.js';

/**
 * The real server, as an operator runs it with an SDK: `node --import <setup> dist/src/main.js`.
 * The preloaded module runs on the host threads too (they inherit execArgv), so the turns and
 * commits there are recorded, in the trace of the command that caused them.
 */

const SETUP = fileURLToPath(new URL('./helpers/otel-file-export.js', import.meta.url));
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';

async function spansIn(file: string): Promise<ExportedSpan[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ExportedSpan);
}

test('a traced frame is answered as usual, and its gateway span, the turns on the host threads and their commits share its trace', async () => {
  await withTempDir('ordo-trace-live-', async (dir) => {
    const file = join(dir, 'spans.jsonl');
    const srv = await spawnServer(join(dir, 'data'), { ORDO_TEST_SPANS: file }, [], ['--import', SETUP]);
    const clients: OrdoClient[] = [];
    try {
      const admin = await OrdoClient.connect(srv.url, 'tok-admin');
      const alice = await OrdoClient.connect(srv.url, 'tok-alice');
      clients.push(admin, alice);
      for (const sku of ['A', 'B', 'C']) expectOk(await call(admin, 'inventory.set', { sku, onHand: 5 }));
      const items = [{ sku: 'A', quantity: 1 }, { sku: 'B', quantity: 1 }, { sku: 'C', quantity: 1 }];
      const placed = expectOk(await call(alice, 'order.place', { orderId: 'o1', customerId: 'alice', items, paymentTimeoutMs: 60_000, traceparent: `00-${TRACE}-${CLIENT_SPAN}-01` }));
      assert.equal((placed as { order?: { status: string } }).order?.status, 'awaiting_payment');

      // The SKUs' confirmations follow the reply (one-way notices): wait for their turns.
      let spans: ExportedSpan[] = [];
      for (let i = 0; i < 100; i++) {
        spans = (await spansIn(file)).filter((s) => s.traceId === TRACE);
        if (spans.filter((s) => s.attributes['ordo.message'] === 'stock.confirm').length === 3) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const gateway = spans.filter((s) => s.name === 'ordo order.place');
      assert.equal(gateway.length, 1, `one gateway span: ${JSON.stringify(spans.map((s) => s.name))}`);
      assert.equal(gateway[0]!.parentSpanId, CLIENT_SPAN);
      const mainThread = gateway[0]!.thread;

      const turns = spans.filter((s) => s.name.startsWith('ordo turn '));
      const byId = new Map(turns.map((s) => [s.spanId, s]));
      for (const s of turns) assert.notEqual(s.thread, mainThread, `${s.name} ran on a host thread`);
      const place = turns.filter((s) => s.attributes['ordo.message'] === 'order.place');
      assert.equal(place.length, 1);
      assert.equal(place[0]!.parentSpanId, gateway[0]!.spanId, 'the first turn is a child of the gateway span');
      const reserves = turns.filter((s) => s.attributes['ordo.message'] === 'stock.reserve');
      assert.deepEqual(reserves.map((s) => s.attributes['ordo.actor']).sort(), ['sku:A', 'sku:B', 'sku:C']);
      for (const s of reserves) assert.equal(s.parentSpanId, place[0]!.spanId);
      const replies = turns.filter((s) => s.attributes['ordo.message'] === 'reply ok');
      assert.equal(replies.length, 3);
      for (const s of replies) assert.equal(byId.get(s.parentSpanId!)?.attributes['ordo.message'], 'stock.reserve', 'a reply turn is a child of the SKU turn that answered');
      assert.equal(turns.length, 10, 'place, 3 holds, 3 replies, 3 confirmations');

      // The holds and the order's record are journaled by commits linked to their turns.
      const commits = spans.filter((s) => s.name === 'ordo journal commit');
      assert.ok(commits.length >= 1);
      const linked = new Set(commits.flatMap((c) => c.links));
      for (const s of reserves) assert.ok(linked.has(s.spanId), `the commit of ${s.attributes['ordo.actor']}'s hold links to its turn`);
      const final = replies.filter((s) => s.attributes['ordo.outcome'] === 'ok');
      assert.equal(final.length, 1);
      assert.ok(linked.has(final[0]!.spanId), 'the order record\'s commit links to the final turn');
      assert.equal(spans.length, 1 + turns.length + commits.length, 'nothing else in the trace');

      // A frame without traceparent: with an SDK, the gateway's span starts a trace of its own,
      // and the command's turn continues it.
      const before = (await spansIn(file)).length;
      expectOk(await call(admin, 'inventory.get', { sku: 'A' }));
      let fresh: ExportedSpan[] = [];
      for (let i = 0; i < 100 && fresh.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 20));
        fresh = (await spansIn(file)).slice(before);
      }
      const root = fresh.find((s) => s.name === 'ordo inventory.get');
      assert.ok(root && root.parentSpanId === undefined && root.traceId !== TRACE, 'the gateway span is a new root');
      assert.deepEqual(fresh.filter((s) => s !== root).map((s) => [s.name, s.traceId, s.parentSpanId]), [['ordo turn sku', root.traceId, root.spanId]]);
    } finally {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await srv.kill('SIGTERM');
    }
  });
});

test.run();
