/**
 * The Redis-Lua peer's front: a Node WebSocket server speaking ordo's frames for
 * `inventory.set`, `inventory.get` and `order.place`, keeping everything in Redis through ioredis
 * (redis-order-store.ts: one Lua script per placement). It answers a command only after Redis
 * has answered it, and Redis (started by the bench with `appendfsync always`) answers only once
 * the change is fsynced: `ok` means durable here too. Replies have ordo's shapes (PROTOCOL.md),
 * so the bench drives and checks it with the same driver and the same invariant checks.
 *
 * Run as a child process (`node dist/bench/redis-peer-server.js --port N --redis-port M`), like
 * ordo and the ceiling, so that its CPU is measured apart from the generator's.
 */
import { readinessServer } from './readiness.js';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';
import { type Item, type NewOrder, RedisOrderStore } from './redis-order-store.js';
import { errorReply, parseFrame, type PeerCommand } from './redis-peer-frames.js';

/** Same items, any order (PROTOCOL.md's idempotent repeat of `order.place`). */
function sameItems(a: Item[], b: Item[]): boolean {
  if (a.length !== b.length) return false;
  const qty = new Map(a.map((i) => [i.sku, i.quantity]));
  return b.every((i) => qty.get(i.sku) === i.quantity);
}

const orderReply = (id: string, orderJson: string) => `{"re":${JSON.stringify(id)},"ok":true,"order":${orderJson}}`;
const stockReply = (id: string, stock: object) => JSON.stringify({ re: id, ok: true, stock });

async function execute(store: RedisOrderStore, id: string, c: PeerCommand): Promise<string> {
  switch (c.type) {
    case 'inventory.get':
      return stockReply(id, await store.getStock(c.sku));
    case 'inventory.set': {
      const r = await store.setStock(c.sku, c.onHand);
      if (r.kind === 'below') return errorReply(id, { code: 'INVALID_ARGUMENT', message: `onHand must not be below reserved (${r.reserved})`, field: 'onHand' });
      return stockReply(id, r.stock);
    }
    case 'order.place': {
      const now = Date.now();
      const order: NewOrder = { orderId: c.orderId, customerId: c.customerId, items: c.items, paymentDeadline: now + c.paymentTimeoutMs };
      // Serialised once: stored as is by the script and sent as is in the reply.
      const json = JSON.stringify({
        orderId: order.orderId,
        customerId: order.customerId,
        items: order.items,
        status: 'awaiting_payment',
        paymentDeadline: order.paymentDeadline,
        refundDue: false,
        history: [{ at: now, status: 'awaiting_payment', by: 'admin' }],
      });
      const r = await store.place(order, json);
      if (r.kind === 'placed') return orderReply(id, json);
      if (r.kind === 'short') return errorReply(id, { code: 'OUT_OF_STOCK', message: `not enough stock of ${r.sku}`, sku: r.sku, available: r.available });
      const existing = JSON.parse(r.json) as { customerId: string; items: Item[] };
      if (existing.customerId === c.customerId && sameItems(existing.items, c.items)) return orderReply(id, r.json);
      return errorReply(id, { code: 'CONFLICT', message: `order ${c.orderId} exists with other items or another customer` });
    }
  }
}

/** Starts the front on `port`, its store on the Redis at `redisPort`; resolves once it takes commands. */
export async function startRedisPeerServer(opts: { port: number; redisPort: number; token: string; host?: string }): Promise<{ port: number; close(): Promise<void> }> {
  const store = await RedisOrderStore.open(opts.redisPort);
  const expectedAuth = `Bearer ${opts.token}`;
  // Listening only once Redis is connected and the scripts loaded: ready from its first probe.
  const http = readinessServer();
  // Same socket settings as ordo's gateway: no compression, 64 KiB frames; one bearer token (admin).
  const wss = new WebSocketServer({
    server: http,
    path: '/ws',
    maxPayload: 64 * 1024,
    perMessageDeflate: false,
    verifyClient: (info, done) => (info.req.headers.authorization === expectedAuth ? done(true) : done(false, 401)),
  });
  const onFrame = (ws: WebSocket, text: string): void => {
    const parsed = parseFrame(text);
    if (!parsed.ok) {
      ws.send(errorReply(parsed.id, parsed.error));
      return;
    }
    execute(store, parsed.id, parsed.command).then(
      (reply) => ws.send(reply),
      // Redis unreachable or a script error: nothing was acknowledged, the client is told so.
      () => ws.send(errorReply(parsed.id, { code: 'INTERNAL', message: 'the store failed' })),
    );
  };
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (isBinary) ws.send(errorReply(null, { code: 'BAD_FRAME', message: 'frames must be UTF-8 JSON text, not binary' }));
      else onFrame(ws, data.toString());
    });
  });
  return new Promise((resolve) => {
    http.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      const addr = http.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : opts.port,
        close: () =>
          new Promise<void>((r) => {
            for (const c of wss.clients) c.terminate();
            wss.close(() => http.close(() => void store.close().finally(r)));
          }),
      });
    });
  });
}

// Entry point when run as a child process. The token comes from the environment, not argv.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, 'redis-port': { type: 'string' }, host: { type: 'string' } }, strict: true });
  const token = process.env.ORDO_BENCH_PEER_TOKEN;
  if (!token || !values['redis-port']) {
    console.error('redis-peer: --redis-port and ORDO_BENCH_PEER_TOKEN are required');
    process.exit(2);
  }
  const srv = await startRedisPeerServer({ port: Number(values.port ?? 0), redisPort: Number(values['redis-port']), token, host: values.host });
  console.log(`redis-peer listening on ws://127.0.0.1:${srv.port}/ws`);
  const stop = () => void srv.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
