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
import { parseArgs } from 'node:util';
import { RedisOrderStore } from './redis-order-store.js';
import { isEntryPoint, type PeerFront, servePeerProcess, startPeerFront } from './peer-front.js';
import {
  belowReservedReply,
  errorReply,
  existingOrderReply,
  orderReply,
  outOfStockReply,
  parseFrame,
  type PeerCommand,
  placedOrderJson,
  stockReply,
} from './peer-frames.js';

async function execute(store: RedisOrderStore, id: string, c: PeerCommand): Promise<string> {
  switch (c.type) {
    case 'inventory.get':
      return stockReply(id, await store.getStock(c.sku));
    case 'inventory.set': {
      const r = await store.setStock(c.sku, c.onHand);
      return r.kind === 'below' ? belowReservedReply(id, r.reserved) : stockReply(id, r.stock);
    }
    case 'order.place': {
      const now = Date.now();
      const json = placedOrderJson(c, now);
      const r = await store.place({ orderId: c.orderId, customerId: c.customerId, items: c.items, paymentDeadline: now + c.paymentTimeoutMs }, json);
      if (r.kind === 'placed') return orderReply(id, json);
      if (r.kind === 'short') return outOfStockReply(id, r.sku, r.available);
      return existingOrderReply(id, c, r.json);
    }
  }
}

/** Starts the front on `port`, its store on the Redis at `redisPort`; resolves once it takes commands. */
export async function startRedisPeerServer(opts: { port: number; redisPort: number; token: string; host?: string }): Promise<PeerFront> {
  // Listening only once Redis is connected and the scripts loaded: ready from its first probe.
  const store = await RedisOrderStore.open(opts.redisPort);
  const front = await startPeerFront({
    ...opts,
    onFrame(text, send) {
      const parsed = parseFrame(text);
      if (!parsed.ok) return send(errorReply(parsed.id, parsed.error));
      execute(store, parsed.id, parsed.command).then(
        send,
        // Redis unreachable or a script error: nothing was acknowledged, the client is told so.
        () => send(errorReply(parsed.id, { code: 'INTERNAL', message: 'the store failed' })),
      );
    },
  });
  return {
    port: front.port,
    async close() {
      await front.close();
      // Stopping: a Redis already gone has nothing left to lose.
      await store.close().catch(() => {});
    },
  };
}

// Entry point when run as a child process. The token comes from the environment, not argv.
if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, 'redis-port': { type: 'string' }, host: { type: 'string' } }, strict: true });
  const token = process.env.ORDO_BENCH_PEER_TOKEN;
  if (!token || !values['redis-port']) {
    console.error('redis-peer: --redis-port and ORDO_BENCH_PEER_TOKEN are required');
    process.exit(2);
  }
  servePeerProcess('redis-peer', await startRedisPeerServer({ port: Number(values.port ?? 0), redisPort: Number(values['redis-port']), token, host: values.host }));
}
