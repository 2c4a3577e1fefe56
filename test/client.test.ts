import assert from 'node:assert/strict';
import { test } from 'uvu';
import { type Client, connect, ConnectError, type Order, OrdoError } from '../src/client/index.js';
import { startServer, type TestServer } from './helpers/server.js';
import { uid, within } from './helpers/wire.js';
import { WsProxy } from './helpers/ws-proxy.js';

// The typed client (ordo/client) against a real server, with a proxy in between for the faults.
// On Node 20 there is no global WebSocket, so `connect` runs on the ws fallback here.

let srv: TestServer;
let proxy: WsProxy;
const open: Client[] = [];
const FAST = { initialMs: 20, maxMs: 100 };

test.before(async () => {
  srv = await startServer({ workers: 1, shards: 4 });
  proxy = await WsProxy.start(srv.url);
});

test.after(async () => {
  for (const c of open) c.close();
  await proxy?.close();
  await srv?.destroy();
});

test.after.each(() => {
  proxy.answer = null;
  proxy.onReply = null;
});

async function client(url = proxy.url, token = 'tok-admin', timeoutMs = 5_000): Promise<Client> {
  const c = await connect({ url, token, timeoutMs, backoff: FAST });
  open.push(c);
  return c;
}

/** Resolves when `predicate` holds for a value the listener received. */
function waitFor<T>(seen: T[], predicate: (v: T) => boolean, what: string): Promise<T> {
  return within(
    new Promise<T>((resolve) => {
      const tick = () => {
        const hit = seen.find(predicate);
        if (hit) resolve(hit);
        else setTimeout(tick, 10);
      };
      tick();
    }),
    5_000,
    what,
  );
}

async function stockUp(c: Client, onHand = 100): Promise<string> {
  const sku = uid('sku');
  await c.request('inventory.set', { sku, onHand });
  return sku;
}

test('replies come back typed; refusals reject with the code and details', async () => {
  const c = await client();
  const sku = await stockUp(c, 3);
  const { stock } = await c.request('inventory.get', { sku });
  assert.deepEqual(stock, { sku, onHand: 3, reserved: 0, available: 3 });
  const err = await c.request('order.place', { orderId: uid('o'), customerId: 'ana', items: [{ sku, quantity: 5 }] }).catch((e: unknown) => e);
  assert.ok(err instanceof OrdoError, String(err));
  assert.equal(err.code, 'OUT_OF_STOCK');
  assert.deepEqual(err.details, { sku, available: 3 });
});

// Compile-time checks (never run): arguments and results are typed per command.
export function typingChecks(c: Client): void {
  // @ts-expect-error order.pay needs a paymentRef
  void c.request('order.pay', { orderId: 'o' });
  // @ts-expect-error no such command
  void c.request('order.delete', { orderId: 'o' });
  void c.request('order.list', { status: 'paid' }).then((r) => r.next satisfies string | null);
  // @ts-expect-error a stock result has no order
  void c.request('inventory.get', { sku: 's' }).then((r) => r.order);
}

test('a wrong token rejects connect with ConnectError 401', async () => {
  const err = await connect({ url: srv.url, token: 'not-a-token' }).catch((e: unknown) => e);
  assert.ok(err instanceof ConnectError, String(err));
  assert.equal(err.status, 401);
});

test('a call without a reply rejects with TIMEOUT after its own timeout', async () => {
  const c = await client();
  proxy.onReply = (_r, cmd) => (cmd?.type === 'order.get' ? 'drop' : 'forward');
  const started = Date.now();
  const err = await c.request('order.get', { orderId: uid('o') }, { timeoutMs: 300 }).catch((e: unknown) => e);
  const took = Date.now() - started;
  assert.ok(err instanceof OrdoError && err.code === 'TIMEOUT', String(err));
  assert.ok(took >= 290 && took < 3_000, `timed out after ${took} ms`);
  // The connection is still usable after a timeout.
  proxy.onReply = null;
  assert.equal((await c.request('inventory.get', { sku: 'x' })).stock.onHand, 0);
});

test('OVERLOADED / UNAVAILABLE: an idempotent command is retried with the same ids', async () => {
  const c = await client();
  const sku = await stockUp(c);
  const orderId = uid('o');
  await c.request('order.place', { orderId, customerId: 'ana', items: [{ sku, quantity: 1 }] });
  let refusals = 0;
  proxy.answer = (cmd) => (cmd.type === 'order.pay' && refusals++ < 2 ? { re: cmd.id, ok: false, error: { code: refusals === 1 ? 'UNAVAILABLE' : 'OVERLOADED', message: 'later' } } : undefined);
  const { order } = await c.request('order.pay', { orderId, paymentRef: 'pay-1' });
  assert.equal(order.paymentRef, 'pay-1');
  assert.equal(proxy.count('order.pay', (f) => f.orderId === orderId && f.paymentRef === 'pay-1'), 3, 'two refusals, then the same command again');
});

test('OVERLOADED: inventory.adjust without adjustmentId is not retried', async () => {
  const c = await client();
  const sku = await stockUp(c, 10);
  proxy.answer = (cmd) => (cmd.type === 'inventory.adjust' ? { re: cmd.id, ok: false, error: { code: 'OVERLOADED', message: 'later' } } : undefined);
  const err = await c.request('inventory.adjust', { sku, delta: 5 }).catch((e: unknown) => e);
  assert.ok(err instanceof OrdoError && err.code === 'OVERLOADED', String(err));
  assert.equal(proxy.count('inventory.adjust', (f) => f.sku === sku), 1);
});

test('reply lost to a dropped connection: order.place is re-sent after reconnecting and applied once', async () => {
  const c = await client();
  const sku = await stockUp(c, 10);
  const orderId = uid('o');
  let cut = false;
  proxy.onReply = (_r, cmd) => (cmd?.type === 'order.place' && cmd.orderId === orderId && !cut ? ((cut = true), 'cut') : 'forward');
  const before = proxy.connections;
  const { order } = await c.request('order.place', { orderId, customerId: 'ana', items: [{ sku, quantity: 4 }] });
  assert.equal(order.orderId, orderId);
  assert.ok(cut, 'the first reply was cut');
  assert.ok(proxy.connections > before, 'the client reconnected');
  assert.equal(proxy.count('order.place', (f) => f.orderId === orderId), 2);
  const { stock } = await c.request('inventory.get', { sku });
  assert.equal(stock.reserved, 4, 'reserved once, not twice');
});

test('reply lost: inventory.adjust without adjustmentId rejects CONNECTION_LOST and is not re-sent', async () => {
  const c = await client();
  const sku = await stockUp(c, 10);
  proxy.onReply = (_r, cmd) => (cmd?.type === 'inventory.adjust' && cmd.sku === sku ? 'cut' : 'forward');
  const err = await c.request('inventory.adjust', { sku, delta: 5 }).catch((e: unknown) => e);
  assert.ok(err instanceof OrdoError && err.code === 'CONNECTION_LOST', String(err));
  proxy.onReply = null;
  const { stock } = await c.request('inventory.get', { sku });
  assert.equal(stock.onHand, 15, 'applied once by the server, never sent again');
  assert.equal(proxy.count('inventory.adjust', (f) => f.sku === sku), 1);
});

test('reply lost: inventory.adjust with an adjustmentId is re-sent and applied once', async () => {
  const c = await client();
  const sku = await stockUp(c, 10);
  let cut = false;
  proxy.onReply = (_r, cmd) => (cmd?.type === 'inventory.adjust' && !cut ? ((cut = true), 'cut') : 'forward');
  const { stock } = await c.request('inventory.adjust', { sku, delta: 5, adjustmentId: uid('adj') });
  assert.ok(cut);
  assert.equal(stock.onHand, 15);
  assert.equal(proxy.count('inventory.adjust', (f) => f.sku === sku), 2);
});

test('after a dropped connection, subscriptions are renewed and a change made meanwhile is delivered', async () => {
  const c = await client();
  const admin = await srv.connect('tok-admin');
  const sku = await stockUp(c);
  const orderId = uid('o');
  await c.request('order.place', { orderId, customerId: 'ana', items: [{ sku, quantity: 1 }] });
  const seen: Order[] = [];
  const fed: Order[] = [];
  const sub = await c.subscribeOrder(orderId, (o) => seen.push(o));
  assert.equal(sub.order.status, 'awaiting_payment');
  await c.subscribeFeed('orders', (o) => fed.push(o));
  // Cut, and change the order while the client is away: it must learn of it once back.
  proxy.dropAll();
  assert.equal((await admin.call('order.pay', { orderId, paymentRef: 'p-1' })).ok, true);
  await waitFor(seen, (o) => o.status === 'paid' || o.status === 'picking', 'the missed payment');
  assert.equal(proxy.count('order.subscribe', (f) => f.orderId === orderId), 2, 'order.subscribe was sent again, once');
  assert.equal(proxy.count('feed.subscribe', (f) => f.feed === 'orders'), 2, 'feed.subscribe too');
  // And live events flow again on the new connection.
  assert.equal((await admin.call('order.cancel', { orderId })).ok, true);
  await waitFor(seen, (o) => o.status === 'cancelled', 'the cancellation after reconnecting');
  await waitFor(fed, (o) => o.orderId === orderId && o.status === 'cancelled', 'the orders feed after reconnecting');
  const statuses = seen.map((o) => o.history.length);
  assert.deepEqual(statuses, [...statuses].sort((a, b) => a - b), 'never an older state after a newer one');
});

test('the server itself going away and coming back: the client reconnects and resubscribes', async () => {
  const local = await startServer({ workers: 1, shards: 2 });
  const port = local.port;
  let restarted: TestServer | undefined;
  try {
    const c = await client(local.url);
    const sku = await stockUp(c);
    const orderId = uid('o');
    await c.request('order.place', { orderId, customerId: 'ana', items: [{ sku, quantity: 1 }] });
    const seen: Order[] = [];
    await c.subscribeOrder(orderId, (o) => seen.push(o));
    const lost = new Promise<void>((resolve) => {
      const poll = () => (c.state === 'reconnecting' ? resolve() : setTimeout(poll, 5));
      poll();
    });
    await local.stop();
    await within(lost, 5_000, 'the client noticing the loss');
    restarted = await startServer({ workers: 1, shards: 2, dataDir: local.dataDir, gateway: { port } });
    // A retryable command issued while away waits for the connection instead of failing.
    const { order } = await c.request('order.pay', { orderId, paymentRef: 'p-2' });
    assert.equal(order.paymentRef, 'p-2');
    await waitFor(seen, (o) => o.status === 'paid' || o.status === 'picking', 'the payment, through the renewed subscription');
    assert.equal(c.state, 'open');
  } finally {
    await restarted?.destroy();
    await local.destroy();
  }
});

test('close() rejects what is in flight with CLOSED and refuses new calls', async () => {
  const c = await client();
  proxy.onReply = (_r, cmd) => (cmd?.type === 'order.get' ? 'drop' : 'forward');
  const pending = c.request('order.get', { orderId: uid('o') });
  c.close();
  const err = await pending.catch((e: unknown) => e);
  assert.ok(err instanceof OrdoError && err.code === 'CLOSED', String(err));
  const after = await c.request('inventory.get', { sku: 'x' }).catch((e: unknown) => e);
  assert.ok(after instanceof OrdoError && after.code === 'CLOSED', String(after));
});

test.run();
