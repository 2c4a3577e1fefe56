import type { Command, CommandOf } from '../protocol/commands.js';
import { invalidArgument } from '../protocol/errors.js';
import { ActorKeys, type Reply } from '../protocol/messages.js';
import type { Order, Principal, StationFeed } from '../protocol/model.js';
import type { Stats } from '../protocol/stats.js';
import { decodeCursor } from '../runtime/query/order-query.js';
import type { CommandRuntime } from './command-runtime.js';
import { inspectActor } from './inspect.js';

/** Who the gateway itself is when it reads actors for a listing or a report (never a client). */
export const SYSTEM: Principal = { role: 'admin' };

/** A command that is one actor's to answer, with nothing of the gateway's around it. */
export type ActorCommand = Exclude<Command, { type: 'order.list' | 'feed.subscribe' | 'stats.get' | 'actor.inspect' }>;

export function isActorCommand(c: Command): c is ActorCommand {
  return c.type !== 'order.list' && c.type !== 'feed.subscribe' && c.type !== 'stats.get' && c.type !== 'actor.inspect';
}

/** The actor that handles a command: the SKU, the order, or the station (warehouse, carrier). */
export function actorKeyFor(c: ActorCommand): string {
  switch (c.type) {
    case 'inventory.set':
    case 'inventory.adjust':
    case 'inventory.get':
      return ActorKeys.sku(c.sku);
    case 'wms.packed':
    case 'return.received':
      return ActorKeys.warehouse;
    case 'tms.ack':
    case 'tms.delivered':
      return ActorKeys.carrier;
    default:
      return ActorKeys.order(c.orderId);
  }
}

const FEED_ACTOR: Record<StationFeed, string> = {
  warehouse: ActorKeys.warehouse,
  carrier: ActorKeys.carrier,
  refunds: ActorKeys.refunds,
};

/** Whether an order listed by a station's queue is still waiting there. */
export const STILL_WAITING: Record<StationFeed, (o: Order) => boolean> = {
  warehouse: (o) => o.status === 'paid' || o.status === 'picking',
  carrier: (o) => o.status === 'packed',
  refunds: (o) => o.refundDue,
};

/** The orders currently waiting in a feed: the station's queue, each order read from its actor. */
export async function listFeed(rt: CommandRuntime, feed: StationFeed, tp?: string): Promise<Reply> {
  const listed = await rt.execute(FEED_ACTOR[feed], { type: 'queue.list' }, SYSTEM, tp);
  if (!listed.ok) return listed;
  const replies = await Promise.all(
    (listed.orderIds ?? []).map((orderId) => rt.execute(ActorKeys.order(orderId), { type: 'order.get', orderId }, SYSTEM, tp)),
  );
  const orders = replies.flatMap((r) => (r.ok && r.order && STILL_WAITING[feed](r.order) ? [r.order] : []));
  return { ok: true, orders };
}

export async function listOrders(rt: CommandRuntime, c: CommandOf<'order.list'>): Promise<Reply> {
  const after = c.after === undefined ? undefined : decodeCursor(c.after);
  if (c.after !== undefined && after === undefined) {
    return { ok: false, error: invalidArgument('after', 'after must be a cursor returned as `next` by order.list') };
  }
  const page = await rt.listOrders({ status: c.status, customerId: c.customerId, limit: c.limit, after });
  return { ok: true, orders: page.orders, next: page.next };
}

/** What the gateway itself answers, with no actor involved (extensions for dashboards). */
export interface GatewayViews {
  /** The latest state of the orders that changed last: the `orders` feed's first reply. */
  recentOrders(): Promise<Order[]>;
  stats(): Promise<Stats>;
}

/**
 * Runs one validated command (subscriptions aside, which the connection wraps around this).
 * `tp`: its trace context, handed to the actors it asks (`order.list` shard queries are untraced).
 */
export async function runCommand(rt: CommandRuntime, c: Command, who: Principal, views: GatewayViews, tp?: string): Promise<Reply> {
  if (isActorCommand(c)) return rt.execute(actorKeyFor(c), c, who, tp);
  if (c.type === 'order.list') return listOrders(rt, c);
  if (c.type === 'stats.get') return { ok: true, stats: await views.stats() };
  if (c.type === 'feed.subscribe') return c.feed === 'orders' ? { ok: true, orders: await views.recentOrders() } : listFeed(rt, c.feed, tp);
  return inspectActor(rt, c.key);
}
