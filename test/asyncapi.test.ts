import { test } from 'uvu';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { OrdoClient, ReplyFrame } from '../src/client/ordo-client.js';
import { COMMAND_TYPES } from '../src/protocol/commands.js';
import { ERROR_CODES } from '../src/protocol/errors.js';
import { ASYNCAPI_PATH, type Contract, loadContract, why } from './helpers/asyncapi.js';
import { startServer } from './helpers/server.js';
import { uid, within } from './helpers/wire.js';

/** docs/asyncapi.yaml is a valid AsyncAPI document and says what src/protocol and the server do. */

let contract: Contract;
test.before(async () => {
  contract = await loadContract();
});

test('the document is valid AsyncAPI: no error or warning from the parser', () => {
  const serious = contract.diagnostics.filter((d) => d.severity <= 1);
  assert.deepEqual(serious, [], JSON.stringify(serious, null, 2));
});

test('every command type of src/protocol has a command message with its reply, and no other', () => {
  assert.deepEqual([...contract.commands.keys()].sort(), [...COMMAND_TYPES].sort());
  for (const type of COMMAND_TYPES) {
    const names = contract.replies.get(type)!.map((r) => r.name);
    assert.ok(names.includes('errorReply'), `${type} may be refused`);
    assert.equal(names.length, 2, `${type}: one result reply and the refusal`);
  }
  assert.deepEqual([...contract.events.keys()].sort(), ['feed', 'order.updated']);
});

test('the error codes are those of src/protocol, and the document names PROTOCOL.md\'s version', async () => {
  assert.deepEqual(contract.errorCodes, [...ERROR_CODES]);
  const protocol = await readFile(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  const version = /^# ordo wire protocol, version (\S+)/m.exec(protocol)?.[1];
  assert.ok(version, 'PROTOCOL.md states its version');
  assert.match(await readFile(ASYNCAPI_PATH, 'utf8'), new RegExp(`^  version: '${version.replace('.', '\\.')}'$`, 'm'));
});

/** Representative frames of the conformance suite (test/gateway-protocol.test.ts). */
const VALID: Record<string, object> = {
  'inventory.set': { id: 'c1', type: 'inventory.set', sku: 'mug', onHand: 100 },
  'inventory.adjust': { id: 'c2', type: 'inventory.adjust', sku: 'mug', delta: -3, adjustmentId: 'adj-1' },
  'inventory.get': { id: 'c3', type: 'inventory.get', sku: 'probe' },
  'order.place': { id: 'c4', type: 'order.place', orderId: 'o-1', customerId: 'alice', items: [{ sku: 'mug', quantity: 2 }], paymentTimeoutMs: 60_000 },
  'order.pay': { id: 'c5', type: 'order.pay', orderId: 'o-1', paymentRef: 'P1' },
  'order.cancel': { id: 'c6', type: 'order.cancel', orderId: 'o-1', reason: 'changed my mind' },
  'order.get': { id: 'x'.repeat(128), type: 'order.get', orderId: 'o-1' },
  'order.list': { id: 'c8', type: 'order.list', status: 'paid', limit: 500, after: null },
  'order.subscribe': { id: 'c9', type: 'order.subscribe', orderId: 'o-1' },
  'feed.subscribe': { id: 'c10', type: 'feed.subscribe', feed: 'refunds' },
  'wms.packed': { id: 'c11', type: 'wms.packed', orderId: 'o-1' },
  'tms.ack': { id: 'c12', type: 'tms.ack', orderId: 'o-1', trackingNo: 'TRK-1' },
  'tms.delivered': { id: 'c13', type: 'tms.delivered', orderId: 'o-1' },
  'order.return': { id: 'c14', type: 'order.return', orderId: 'o-1' },
  'return.received': { id: 'c15', type: 'return.received', orderId: 'o-1' },
  'actor.inspect': { id: 'c16', type: 'actor.inspect', key: 'sku:mug', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
  'stats.get': { id: 'c17', type: 'stats.get' },
};

/** Frames the server refuses, each for one reason the schema states. */
const INVALID: [string, object][] = [
  ['order.get', { id: '', type: 'order.get', orderId: 'o-1' }],
  ['order.get', { id: 'x'.repeat(129), type: 'order.get', orderId: 'o-1' }],
  ['order.get', { id: 'c', type: 'order.get', orderId: 'has space' }],
  ['order.place', { id: 'c', type: 'order.place', orderId: 'o', items: [{ sku: 'a', quantity: 1 }, { sku: 'b', quantity: 0 }] }],
  ['order.place', { id: 'c', type: 'order.place', orderId: 'o', items: [] }],
  ['order.place', { id: 'c', type: 'order.place', orderId: 'o', items: [{ sku: 'a', quantity: 1.5 }] }],
  ['order.place', { id: 'c', type: 'order.place', orderId: 'o', items: [{ sku: 'a', quantity: 1 }], paymentTimeoutMs: 99 }],
  ['inventory.set', { id: 'c', type: 'inventory.set', sku: 'a', onHand: -1 }],
  ['order.list', { id: 'c', type: 'order.list', status: 'lost' }],
  ['order.list', { id: 'c', type: 'order.list', limit: 501 }],
  ['order.cancel', { id: 'c', type: 'order.cancel', orderId: 'o', reason: 'r'.repeat(501) }],
  ['feed.subscribe', { id: 'c', type: 'feed.subscribe', feed: 'kitchen' }],
  ['tms.ack', { id: 'c', type: 'tms.ack', orderId: 'o' }],
  ['actor.inspect', { id: 'c', type: 'actor.inspect', key: 'shelf:1' }],
  ['order.get', { id: 'c', type: 'order.get', orderId: 'o', traceparent: 'not-a-trace' }],
];

test('representative commands validate against their schema; invalid ones do not', () => {
  for (const type of COMMAND_TYPES) {
    const v = contract.commands.get(type)!;
    assert.ok(VALID[type], `a sample of ${type}`);
    assert.ok(v(VALID[type]), `${type}: ${why(v)}`);
    // Unknown extra fields are ignored (PROTOCOL.md, "Frames").
    assert.ok(v({ ...VALID[type], colour: 'teal' }), `${type} with an extra field`);
  }
  for (const [type, frame] of INVALID) {
    assert.equal(contract.commands.get(type)!(frame), false, `${JSON.stringify(frame).slice(0, 120)} must not validate`);
  }
});

test('frames a real server sends (replies, refusals, events) validate against the document', async () => {
  const srv = await startServer();
  const seen = { replies: new Set<string>(), events: new Set<string>(), codes: new Set<string>() };
  /** Sends a command (checked against its schema: valid, or invalid when `invalid`) and checks the reply. */
  const check = async (c: OrdoClient, type: string, args: Record<string, unknown> = {}, invalid = false): Promise<ReplyFrame> => {
    const frame = { id: 'probe', type, ...args };
    const cmd = contract.commands.get(type);
    if (cmd) assert.equal(cmd(frame), !invalid, `${type} command as sent: ${why(cmd)}`);
    const r = await c.call(type, args);
    const candidates = contract.replies.get(type) ?? contract.replies.get('order.get')!.filter((x) => x.name === 'errorReply');
    const match = candidates.find((x) => x.validate(r));
    assert.ok(match, `reply to ${type} ${JSON.stringify(r)} matches none of ${candidates.map((x) => x.name)}: ${candidates.map((x) => why(x.validate)).join(' | ')}`);
    seen.replies.add(match.name);
    if (r.error) seen.codes.add(r.error.code);
    return r;
  };
  try {
    const admin = await srv.connect('tok-admin');
    const alice = await srv.connect('tok-alice');
    const events: object[] = [];
    // o1's seven changes after order.subscribe, its entry into the carrier feed and the refunds feed.
    const expected = 9;
    const allEvents = new Promise<void>((resolve) => admin.onEvent((e) => events.push(e) >= expected && resolve()));
    const sku = uid('sku');
    const [o1, o2] = [uid('o'), uid('o')];
    await check(admin, 'inventory.set', { sku, onHand: 10 });
    await check(admin, 'inventory.adjust', { sku, delta: 2, adjustmentId: uid('adj') });
    await check(alice, 'inventory.get', { sku });
    await check(admin, 'feed.subscribe', { feed: 'refunds' });
    await check(admin, 'feed.subscribe', { feed: 'carrier' });
    await check(alice, 'order.place', { orderId: o1, items: [{ sku, quantity: 2 }] });
    await check(admin, 'order.subscribe', { orderId: o1 });
    await check(admin, 'order.pay', { orderId: o1, paymentRef: 'P1' });
    // The move to picking follows the payment's reply (PROTOCOL-NOTES); packing before it would
    // skip picking, and its event, which the protocol allows.
    await within(
      new Promise<void>((resolve) => {
        const picked = () => events.some((e) => (e as { order?: { status?: string } }).order?.status === 'picking');
        if (picked()) return resolve();
        admin.onEvent(() => picked() && resolve());
      }),
      10_000,
      'o1 to move to picking',
    );
    await check(admin, 'wms.packed', { orderId: o1 });
    await check(admin, 'tms.ack', { orderId: o1, trackingNo: 'T1' });
    await check(admin, 'tms.delivered', { orderId: o1 });
    await check(alice, 'order.return', { orderId: o1, reason: 'too small' });
    await check(admin, 'return.received', { orderId: o1 });
    await check(alice, 'order.place', { orderId: o2, items: [{ sku, quantity: 1 }] });
    await check(alice, 'order.cancel', { orderId: o2, reason: 'changed my mind' });
    await check(alice, 'order.get', { orderId: o2 });
    await check(admin, 'order.list', { limit: 1 });
    await check(admin, 'actor.inspect', { key: `order:${o1}` });
    await check(admin, 'stats.get', {});
    await check(admin, 'feed.subscribe', { feed: 'orders' });
    // Refusals, one of each kind a single node gives without waiting for a deadline.
    await check(alice, 'order.place', { orderId: uid('o'), items: [{ sku, quantity: 999 }] }); // OUT_OF_STOCK
    await check(alice, 'order.cancel', { orderId: o1 }); // CANCEL_REFUSED (returned)
    await check(admin, 'order.pay', { orderId: o2, paymentRef: 'P2' }); // INVALID_STATE
    await check(alice, 'order.place', { orderId: o2, items: [{ sku, quantity: 3 }] }); // CONFLICT
    await check(alice, 'order.get', { orderId: uid('nobody') }); // NOT_FOUND
    await check(alice, 'inventory.set', { sku, onHand: 1 }); // FORBIDDEN
    await check(admin, 'order.place', { orderId: 'x', customerId: 'c', items: [{ sku, quantity: 0 }] }, true); // INVALID_ARGUMENT items[0].quantity
    await check(admin, 'order.ship', {}); // UNKNOWN_COMMAND
    const bad = await admin.send('{"id":', null, true);
    assert.ok(contract.replies.get('order.get')!.find((x) => x.name === 'errorReply')!.validate(bad), `BAD_FRAME ${JSON.stringify(bad)}`);
    seen.codes.add(bad.error!.code);

    // Events of the subscription and of both feeds (the one settles after the reply that caused it).
    // The time limit starts after the scenario: on a loaded machine the scenario itself may be slow.
    await within(allEvents, 10_000, `${expected} events (got ${events.length})`);
    for (const e of events) {
      const name = (e as { event: string }).event;
      const v = contract.events.get(name);
      assert.ok(v, `event ${name} is in the document`);
      assert.ok(v(e), `${JSON.stringify(e).slice(0, 200)}: ${why(v)}`);
      seen.events.add(name);
    }
    assert.deepEqual([...seen.events].sort(), ['feed', 'order.updated']);
    assert.deepEqual([...seen.replies].sort(), ['actorReply', 'errorReply', 'orderPageReply', 'orderReply', 'ordersReply', 'statsReply', 'stockReply']);
    assert.deepEqual(
      [...seen.codes].sort(),
      ['BAD_FRAME', 'CANCEL_REFUSED', 'CONFLICT', 'FORBIDDEN', 'INVALID_ARGUMENT', 'INVALID_STATE', 'NOT_FOUND', 'OUT_OF_STOCK', 'UNKNOWN_COMMAND'],
    );
  } finally {
    await srv.destroy();
  }
});

test('a refusal that names a detail the document does not know fails validation (the check has teeth)', () => {
  const refusal = contract.replies.get('order.get')!.find((x) => x.name === 'errorReply')!.validate;
  assert.ok(refusal({ re: 'c1', ok: false, error: { code: 'INVALID_ARGUMENT', message: 'm', field: 'items[2].quantity' } }));
  assert.equal(refusal({ re: 'c1', ok: false, error: { code: 'INVALID_ARGUMENT', message: 'm', stack: 'at x' } }), false);
  assert.equal(refusal({ re: 'c1', ok: false, error: { code: 'TEAPOT', message: 'm' } }), false);
  const orderReply = contract.replies.get('order.get')!.find((x) => x.name === 'orderReply')!.validate;
  assert.equal(orderReply({ re: 'c1', ok: true, order: { orderId: 'o' } }), false);
});

test.run();
