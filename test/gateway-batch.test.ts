import assert from 'node:assert/strict';
import { test } from 'uvu';
import { EncodedReply } from '../src/gateway/encoded-reply.js';
import type { Reply } from '../src/protocol/messages.js';
import type { GatewayOutput } from '../src/runtime/kernel/envelope.js';
import { type GatewayBatchBuilder, GatewayBatchWriter, GatewayOutputList, readGatewayBatch } from '../src/runtime/hosting/gateway-batch.js';

/** The frame as the gateway built it before replies crossed as text: `re`, `ok`, then the client's keys. */
function frameOfObject(id: string, reply: Reply): unknown {
  if (!reply.ok) return { re: id, ok: false, error: reply.error };
  const frame: Record<string, unknown> = { re: id, ok: true };
  for (const [k, v] of Object.entries(reply)) if (!['ok', 'orderIds', 'reserved', 'available'].includes(k)) frame[k] = v;
  return frame;
}

function roundTrip(outputs: GatewayOutput[], w: GatewayBatchBuilder): { results: [number, EncodedReply][]; others: unknown[]; order: string[] } {
  for (const o of outputs) w.add(o);
  const text = w.take();
  assert.ok(w.empty);
  const results: [number, EncodedReply][] = [];
  const others: unknown[] = [];
  const order: string[] = [];
  readGatewayBatch(text, {
    result: (cid, r) => {
      results.push([cid, r]);
      order.push(`r${cid}`);
    },
    other: (o) => {
      others.push(o);
      order.push(o.t);
    },
  });
  return { results, others, order };
}

const order = { orderId: 'o-1', customerId: 'c "quoted" \u00e9 ✓', status: 'paid', items: [{ sku: 's:1', quantity: 2 }], history: [] };

// A host thread's batch is text; the in-thread host hands its outputs over as they are. The
// gateway must see the same in both: same order, same frames, same fields kept for itself.
const BUILDERS: [string, () => GatewayBatchBuilder][] = [
  ['as text', () => new GatewayBatchWriter()],
  ['by reference', () => new GatewayOutputList()],
];

for (const [how, builder] of BUILDERS) {
  test(`replies (${how}): their frames, events and pages, in release order`, () => {
    const replies: Reply[] = [
      { ok: true, order } as unknown as Reply,
      { ok: false, error: { code: 'NOT_FOUND', message: 'no such order: "x"' } } as Reply,
      { ok: true, orders: [], next: null },
      { ok: true, stock: undefined, keep: true } as Reply,
    ];
    const outputs: GatewayOutput[] = [
      { t: 'result', cid: 7, reply: replies[0]! },
      { t: 'evt', event: { type: 'order.updated', order, rev: 1 } } as unknown as GatewayOutput,
      { t: 'result', cid: 8, reply: replies[1]! },
      { t: 'result', cid: 9, reply: replies[2]! },
      { t: 'qres', cid: 10, page: { found: [], complete: true } } as unknown as GatewayOutput,
      { t: 'result', cid: 11, reply: replies[3]! },
    ];
    const { results, others, order: seen } = roundTrip(outputs, builder());
    assert.deepEqual(seen, ['r7', 'evt', 'r8', 'r9', 'qres', 'r11']);
    assert.deepEqual(others, [JSON.parse(JSON.stringify(outputs[1])), JSON.parse(JSON.stringify(outputs[4]))]);
    assert.deepEqual(
      results.map(([, r]) => r.outcome),
      ['ok', 'NOT_FOUND', 'ok', 'ok'],
    );
    results.forEach(([, r], i) => {
      const frame = r.frame('c"1');
      assert.ok(frame.startsWith('{"re":"c\\"1",'), frame);
      assert.deepEqual(JSON.parse(frame), frameOfObject('c"1', JSON.parse(JSON.stringify(replies[i]))));
    });
    assert.deepEqual(results[0]![1].reply, JSON.parse(JSON.stringify(replies[0])));
  });

  test(`a reply with fields only the gateway reads (${how}) keeps them for the gateway, never in the frame`, () => {
    const { results } = roundTrip([{ t: 'result', cid: 3, reply: { ok: true, orderIds: ['a', 'b'] } }], builder());
    const [[cid, r]] = results as [[number, EncodedReply]];
    assert.equal(cid, 3);
    assert.deepEqual(r.reply, { ok: true, orderIds: ['a', 'b'] });
    assert.deepEqual(JSON.parse(r.frame('q')), { re: 'q', ok: true });
  });
}

test.run();
