import type { Command } from './commands.js';
import type { WireError } from './errors.js';
import type { JournaledText } from './journaled-text.js';
import type { Order, Principal, Role, StationFeed, Stock } from './model.js';
import type { Stats } from './stats.js';

/**
 * Messages between actors. Every request travels through the sender's outbox: it is journaled
 * with the state change that produced it, re-sent after a crash until answered, and receivers
 * treat repeats as no-ops (idempotent per order and step).
 */
export type ActorRequest =
  // order → inventory (one SKU each)
  | { type: 'stock.reserve'; orderId: string; quantity: number }
  | { type: 'stock.confirm'; orderId: string }
  | { type: 'stock.release'; orderId: string }
  | { type: 'stock.ship'; orderId: string }
  | { type: 'stock.restock'; orderId: string; quantity: number }
  // order → warehouse / carrier / refunds: keep their queues of waiting orders
  | { type: 'queue.add'; orderId: string }
  | { type: 'queue.remove'; orderId: string }
  // warehouse / carrier → order: the order actor decides every status change
  // (`by` is the role of the client whose command started the step, for the order's history)
  | { type: 'order.pack'; orderId: string; by: Role }
  | { type: 'order.receive_return'; orderId: string; by: Role }
  | { type: 'order.handover'; orderId: string; trackingNo: string; by: Role }
  | { type: 'order.deliver'; orderId: string; by: Role }
  // inventory → order: "do you still want the hold I gave you?" (for holds never confirmed)
  | { type: 'order.verify'; orderId: string };

/** Every answer, to a client or to an actor, has this shape. */
export type Reply = ({ ok: true } & ReplyResult) | { ok: false; error: WireError };

export interface ReplyResult {
  order?: Order;
  /**
   * Internal, never sent: the text `order` was journaled as in the turn that made this reply
   * (protocol/journaled-text.ts), so that the reply is written without serialising it again.
   */
  orderText?: JournaledText;
  stock?: Stock;
  orders?: Order[];
  orderIds?: string[];
  next?: string | null;
  /** stock.reserve: what the SKU could still offer when it refused. */
  available?: number;
  reserved?: boolean;
  /** actor.inspect (extension): the actor's state, timers, outbox and message log, as plain JSON. */
  actor?: unknown;
  /** order.verify: whether the order keeps its hold. */
  keep?: boolean;
  /** stats.get (extension). */
  stats?: Stats;
}

/** Commands that the gateway sends to actors but clients cannot: reads of the feeds' queues. */
export type InternalCommand = { type: 'queue.list' };

/** What an actor's behaviour receives. */
export type Incoming =
  | { kind: 'command'; command: Command | InternalCommand; principal: Principal }
  | { kind: 'request'; from: string; request: ActorRequest }
  | { kind: 'reply'; from: string; id: number; request: ActorRequest; reply: Reply }
  | { kind: 'timer'; name: string };

/** Pushed to the gateway after the change that caused them is durable. */
export type ActorEvent =
  | { type: 'order.updated'; order: Order; rev: number }
  | { type: 'feed'; feed: StationFeed; order: Order };

/** Well-known actor keys. Orders and SKUs have one actor each; the WMS, TMS and refunds ledger one each. */
export const ActorKeys = {
  order: (orderId: string) => `order:${orderId}`,
  sku: (sku: string) => `sku:${sku}`,
  warehouse: 'warehouse',
  carrier: 'carrier',
  refunds: 'refunds',
} as const;

/**
 * The one parser of actor keys, beside their constructors: `kind:id` for keyed actors (orders,
 * SKUs), the bare kind for singletons (warehouse, carrier, refunds).
 */
export function parseActorKey(key: string): { kind: string; id: string } {
  const i = key.indexOf(':');
  return i < 0 ? { kind: key, id: '' } : { kind: key.slice(0, i), id: key.slice(i + 1) };
}

/** The kind part of an actor's key (`sku:mug` → `sku`), without the pair `parseActorKey` builds (it runs per message). */
export function actorKind(key: string): string {
  const i = key.indexOf(':');
  return i < 0 ? key : key.slice(0, i);
}

/** The id part of a keyed actor's key (`sku:mug` → `mug`). */
export function actorId(key: string): string {
  const i = key.indexOf(':');
  return i < 0 ? '' : key.slice(i + 1);
}
