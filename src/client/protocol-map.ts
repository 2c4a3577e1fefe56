import type { CommandType } from '../protocol/commands.js';
import type { ErrorDetails } from '../protocol/errors.js';
import type { Feed, Item, Order, OrderStatus, Stock } from '../protocol/model.js';
import type { Stats } from '../protocol/stats.js';

/**
 * What each command takes on the wire (PROTOCOL.md, "Commands"): the arguments a client sends,
 * defaults left optional. The runtime's own `Command` type is the shape after validation.
 */
export interface CommandArgs {
  'inventory.set': { sku: string; onHand: number };
  'inventory.adjust': { sku: string; delta: number; adjustmentId?: string };
  'inventory.get': { sku: string };
  'order.place': { orderId: string; items: Item[]; paymentTimeoutMs?: number; customerId?: string };
  'order.pay': { orderId: string; paymentRef: string };
  'order.cancel': { orderId: string; reason?: string };
  'order.get': { orderId: string };
  'order.list': { status?: OrderStatus; customerId?: string; limit?: number; after?: string | null };
  'order.subscribe': { orderId: string };
  'feed.subscribe': { feed: Feed };
  'wms.packed': { orderId: string };
  'tms.ack': { orderId: string; trackingNo: string };
  'tms.delivered': { orderId: string };
  'order.return': { orderId: string; reason?: string };
  'return.received': { orderId: string };
  'stats.get': Record<string, never>;
  /** Admin only: an actor's state, timers and message log (its shape may change between versions). */
  'actor.inspect': { key: string };
}

type OrderResult = { order: Order };

/** What an `ok` reply carries for each command (its result keys). */
export interface CommandResults {
  'inventory.set': { stock: Stock };
  'inventory.adjust': { stock: Stock };
  'inventory.get': { stock: Stock };
  'order.place': OrderResult;
  'order.pay': OrderResult;
  'order.cancel': OrderResult;
  'order.get': OrderResult;
  'order.list': { orders: Order[]; next: string | null };
  'order.subscribe': OrderResult;
  'feed.subscribe': { orders: Order[] };
  'wms.packed': OrderResult;
  'tms.ack': OrderResult;
  'tms.delivered': OrderResult;
  'order.return': OrderResult;
  'return.received': OrderResult;
  'stats.get': { stats: Stats };
  'actor.inspect': { actor: unknown };
}

// Compile-time check that both maps name exactly the protocol's commands, no more, no fewer.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const argsCoverCommands: Same<keyof CommandArgs, CommandType> = true;
const resultsCoverCommands: Same<keyof CommandResults, CommandType> = true;
void argsCoverCommands;
void resultsCoverCommands;

/** Pushed frames. */
export type EventFrame = { event: 'order.updated'; order: Order } | { event: 'feed'; feed: Feed; order: Order };

/** A refusal as it arrives in `error`. */
export interface ReplyError extends ErrorDetails {
  code: string;
  message: string;
}
