import { test } from 'uvu';
import assert from 'node:assert/strict';
import type { AnyBehaviour } from '../src/actors/index.js';
import { clientReplyTail } from '../src/gateway/encoded-reply.js';
import { JournaledText, recordFieldJson } from '../src/protocol/journaled-text.js';
import type { Reply } from '../src/protocol/messages.js';
import type { Order } from '../src/protocol/model.js';
import { LocalSystem } from '../src/runtime/testing/local-system.js';
import { Shop, expectOrder } from './helpers/local.js';
import { ADMIN } from './helpers/principals.js';

/** The order's JSON a reply's tail was written with. */
const orderInTail = (r: Reply) => clientReplyTail(r).slice('"ok":true,"order":'.length, -1);

test("a field's JSON is its record's text once the record is encoded, and never itself serialised", () => {
  const text = new JournaledText();
  const order = { a: 1, b: [2, 'ü "x"'] };
  assert.equal(recordFieldJson(text, 'order'), undefined, 'not yet encoded: serialised as usual');
  text.records = JSON.stringify([{ order }]);
  assert.equal(recordFieldJson(text, 'order'), JSON.stringify(order));
  assert.equal(recordFieldJson(undefined, 'order'), undefined);
  // A reply carrying it is written without it, whole or as a client's tail.
  const reply = { ok: true, order, orderText: text } as unknown as Reply;
  assert.equal(JSON.stringify(reply), `{"ok":true,"order":${JSON.stringify(order)}}`);
  assert.equal(clientReplyTail(reply), `"ok":true,"order":${JSON.stringify(order)}}`);
});

test('a placement and a payment reply with the very text their turn journaled', async () => {
  const shop = await Shop.open();
  await shop.stock('A', 5);
  const placed = await shop.place('o1', [{ sku: 'A', quantity: 2 }]);
  const o = expectOrder(placed);
  assert.ok(placed.ok && placed.orderText?.records, 'the placement reply carries its record text');
  assert.equal(recordFieldJson(placed.orderText, 'order'), JSON.stringify(o));
  assert.equal(orderInTail(placed), JSON.stringify(o));
  const paid = await shop.pay('o1');
  const p = expectOrder(paid);
  assert.equal(p.status, 'paid');
  assert.ok(paid.ok && paid.orderText?.records, 'the payment reply carries its record text');
  assert.equal(recordFieldJson(paid.orderText, 'order'), JSON.stringify(p));
  // The order read back (its turn wrote no record) is serialised as usual.
  const read = await shop.sys.ask('order:o1', { type: 'order.get', orderId: 'o1' }, ADMIN);
  assert.ok(read.ok && read.orderText === undefined);
  assert.equal(orderInTail(read), JSON.stringify(read.order as Order));
});

/** A test-only kind: persists `records` records `{ order }` per command and replies with that order and the turn's text. */
const Recorder: AnyBehaviour = {
  kind: 'recorder',
  initial: () => ({ n: 0 }),
  receive(s, msg, ctx) {
    if (msg.kind !== 'command') return s;
    const c = msg.command as unknown as { records: number };
    const order = { n: ++s.n, note: 'ü "quoted"' };
    for (let i = 0; i < c.records; i++) ctx.persist({ order });
    ctx.reply({ ok: true, order: order as never, orderText: ctx.journaledText() });
    return s;
  },
  restore: (s, r: { order: { n: number } }) => ({ n: r.order.n }),
  isEmpty: (s) => s.n === 0,
  snapshot: (s) => [{ order: { n: s.n, note: 'ü "quoted"' } }],
};

test('only a turn with exactly one record fills its text: with two or none, the reply is serialised as usual', async () => {
  const sys = await LocalSystem.create({ shards: 1, extraBehaviours: new Map([['recorder', Recorder]]) });
  const one = await sys.ask('recorder:r', { type: 'x', records: 1 } as never, ADMIN);
  assert.ok(one.ok);
  assert.equal(recordFieldJson(one.orderText, 'order'), JSON.stringify(one.order), 'one record: its JSON, escapes and all');
  assert.equal(orderInTail(one), JSON.stringify(one.order));
  for (const records of [2, 0]) {
    const r = await sys.ask('recorder:r', { type: 'x', records } as never, ADMIN);
    assert.ok(r.ok);
    assert.equal(r.orderText?.records, null, `${records} records: no text to share`);
    assert.equal(orderInTail(r), JSON.stringify(r.order));
  }
});

test.run();
