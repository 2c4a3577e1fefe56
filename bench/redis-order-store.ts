/**
 * The Redis-Lua peer's data and its one script per command: what a shop would write without
 * actors. Each SKU is a hash `stock:<sku>` (`onHand`, `reserved`); each order a string
 * `order:<orderId>` (its JSON, as the reply carries it); every unpaid order's payment deadline a
 * member of the sorted set `deadlines` (what a sweeper would cancel from; ordo's placement arms
 * a durable deadline too, so both write the same facts). No sweeper runs: the bench never pays.
 *
 * A placement is one script, run atomically by Redis (nothing else runs between its commands):
 * it checks every item, and only if all are available reserves them all and writes the order.
 * Redis is single-threaded, so scripts on the same SKUs are serialised: no oversell by
 * construction, as in ordo a SKU's mailbox serialises its reservations. With `appendfsync always`
 * the script's writes are in the fsynced append-only file before Redis sends its reply.
 *
 * The scripts are loaded once (`SCRIPT LOAD`) and run by their SHA (`EVALSHA`): no script text
 * on the wire per order.
 */
import { Redis } from 'ioredis';
import type { Item, Stock } from './peer-frames.js';

/**
 * KEYS: the order, the deadlines set, then one stock hash per item.
 * ARGV: the order's JSON, its payment deadline, its id, then each item's quantity.
 * Returns `{'placed'}`, `{'short', i, available}` for the first item `i` (1-based) that cannot be
 * covered (nothing written), or `{'exists', json}` when the order id is taken (nothing written).
 */
export const PLACE_ORDER_LUA = `
local existing = redis.call('GET', KEYS[1])
if existing then return {'exists', existing} end
local items = #KEYS - 2
for i = 1, items do
  local s = redis.call('HMGET', KEYS[i + 2], 'onHand', 'reserved')
  local available = (tonumber(s[1]) or 0) - (tonumber(s[2]) or 0)
  if available < tonumber(ARGV[i + 3]) then return {'short', i, available} end
end
for i = 1, items do
  redis.call('HINCRBY', KEYS[i + 2], 'reserved', ARGV[i + 3])
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return {'placed'}
`;

/**
 * KEYS: the stock hash. ARGV: the new onHand. Refuses an onHand below what is reserved
 * (PROTOCOL.md's `inventory.set`). Returns `{'set', reserved}` or `{'below', reserved}`.
 */
export const SET_STOCK_LUA = `
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved')) or 0
if tonumber(ARGV[1]) < reserved then return {'below', reserved} end
redis.call('HSET', KEYS[1], 'onHand', ARGV[1], 'reserved', reserved)
return {'set', reserved}
`;

export type { Item, Stock } from './peer-frames.js';

/** A new order as the peer stores and returns it (PROTOCOL.md's order object). */
export interface NewOrder {
  orderId: string;
  customerId: string;
  items: Item[];
  paymentDeadline: number;
}

export type PlaceOutcome =
  | { kind: 'placed' }
  | { kind: 'short'; sku: string; available: number }
  | { kind: 'exists'; json: string };

export type SetOutcome = { kind: 'set'; stock: Stock } | { kind: 'below'; reserved: number };

const stockKey = (sku: string) => `stock:${sku}`;
const orderKey = (orderId: string) => `order:${orderId}`;
const DEADLINES = 'deadlines';

export class RedisOrderStore {
  private constructor(
    readonly redis: Redis,
    private readonly placeSha: string,
    private readonly setSha: string,
  ) {}

  /** Connects to Redis and loads the scripts. */
  static async open(port: number, host = '127.0.0.1'): Promise<RedisOrderStore> {
    // ioredis as a shop would configure it: its defaults (one connection, commands pipelined on it).
    const redis = new Redis({ port, host, lazyConnect: true });
    await redis.connect();
    const placeSha = (await redis.script('LOAD', PLACE_ORDER_LUA)) as string;
    const setSha = (await redis.script('LOAD', SET_STOCK_LUA)) as string;
    return new RedisOrderStore(redis, placeSha, setSha);
  }

  /** Reserves every item and writes the order, or writes nothing. `json` is the order as stored and replied. */
  async place(order: NewOrder, json: string): Promise<PlaceOutcome> {
    const keys = [orderKey(order.orderId), DEADLINES];
    const quantities: number[] = [];
    for (const it of order.items) {
      keys.push(stockKey(it.sku));
      quantities.push(it.quantity);
    }
    const r = (await this.redis.evalsha(this.placeSha, keys.length, ...keys, json, order.paymentDeadline, order.orderId, ...quantities)) as [string, ...(string | number)[]];
    switch (r[0]) {
      case 'placed':
        return { kind: 'placed' };
      case 'short':
        return { kind: 'short', sku: order.items[(r[1] as number) - 1].sku, available: Math.max(0, r[2] as number) };
      case 'exists':
        return { kind: 'exists', json: r[1] as string };
      default:
        throw new Error(`unexpected reply from the placement script: ${JSON.stringify(r)}`);
    }
  }

  async setStock(sku: string, onHand: number): Promise<SetOutcome> {
    const r = (await this.redis.evalsha(this.setSha, 1, stockKey(sku), onHand)) as [string, number];
    if (r[0] === 'below') return { kind: 'below', reserved: r[1] };
    return { kind: 'set', stock: { sku, onHand, reserved: r[1], available: onHand - r[1] } };
  }

  /** An unknown SKU is all zero, as in ordo. */
  async getStock(sku: string): Promise<Stock> {
    const [onHandRaw, reservedRaw] = await this.redis.hmget(stockKey(sku), 'onHand', 'reserved');
    const onHand = Number(onHandRaw ?? 0);
    const reserved = Number(reservedRaw ?? 0);
    return { sku, onHand, reserved, available: onHand - reserved };
  }

  /** The stored order's JSON, or null. */
  getOrderJson(orderId: string): Promise<string | null> {
    return this.redis.get(orderKey(orderId));
  }

  close(): Promise<void> {
    return this.redis.quit().then(() => {});
  }
}
