import type { ActorContext, ReplyHandle } from './behaviour.js';
import { type WireError, wireError } from '../protocol/errors.js';
import { ActorKeys, type ActorRequest, type Reply } from '../protocol/messages.js';
import type { ChangedBy, Item, Order, OrderStatus, Principal, Role, StationFeed } from '../protocol/model.js';

// An order actor's state and record, and the small steps every one of its handlers takes
// (answer, write, move to a status, cancel). The handlers are in order.ts and order-placement.ts.

/** What an order actor holds: the order once written, and the step in progress, if any. */
export interface OrderState {
  orderId: string;
  order: Order | null;
  /** Set while the SKUs are being asked for stock; the order does not exist until all have answered. */
  placing: Placing | null;
  /** The client waiting for the placement's outcome (in memory only: after a crash it re-sends). */
  placeReply: ReplyHandle | null;
  /**
   * A step whose answer waits until the other actors have applied its effects (stock released,
   * shipped or restocked, queues updated), so a client reading right after the reply sees them.
   * Other messages are stashed meanwhile. In memory only: after a crash the client re-sends.
   */
  awaiting: { handle: ReplyHandle; ids: Set<number>; reply: () => Reply } | null;
}

export interface Placing {
  customerId: string;
  items: Item[];
  by: Role;
  placedAt: number;
  paymentDeadline: number;
  /** The id of the `stock.reserve` sent for each item, in the items' order: a reply names its request by id. */
  asked: number[];
  /** Each item's answer, in the items' order; undefined until its SKU has answered. */
  answers: (StockAnswer | undefined)[];
  /** How many SKUs have yet to answer. */
  unanswered: number;
}

/** What a SKU answered a reservation: held, or how much it could still offer. */
export interface StockAnswer {
  reserved: boolean;
  available?: number;
}

/**
 * The journal record of an order: its whole durable state, which is small. A placement in
 * progress is never written (see order-placement.ts).
 */
export interface OrderRecord {
  order: Order | null;
}

export const PAYMENT_TIMER = 'payment';

export type OrderSummary = [customerId: string, status: OrderStatus, placedAt: number];

/** A copy that later turns cannot change: replies and events leave after the journal write. */
export function orderView(o: Order): Order {
  return { ...o, history: o.history.slice() };
}

export const ok = (order: Order): Reply => ({ ok: true, order: orderView(order) });
export const fail = (error: WireError): Reply => ({ ok: false, error });
export const notFound = (): Reply => fail(wireError('NOT_FOUND', 'no such order'));
export const invalidState = (o: Order, what: string): Reply =>
  fail(wireError('INVALID_STATE', `${what} is not allowed in status ${o.status}`, { status: o.status }));

export function visibleTo(o: Order, who: Principal): boolean {
  return who.role !== 'customer' || o.customerId === who.customerId;
}

export type Ctx = ActorContext<OrderRecord>;

/** Journals the order and publishes its update; returns the copy the event carries (none: no order). */
export function save(s: OrderState, ctx: Ctx): Order | undefined {
  ctx.persist({ order: s.order });
  if (!s.order) return undefined;
  const view = orderView(s.order);
  ctx.publish({ type: 'order.updated', order: view, rev: s.order.history.length });
  return view;
}

export function move(s: OrderState, status: OrderStatus, by: ChangedBy, ctx: Ctx): Order {
  const o = s.order as Order;
  o.status = status;
  o.history.push({ at: ctx.now(), status, by });
  ctx.note('→ {} (by {})', status, by);
  return o;
}

export function announce(o: Order, feed: StationFeed, ctx: Ctx): void {
  ctx.publish({ type: 'feed', feed, order: orderView(o) });
}

export function sendToEachSku(o: Order, ctx: Ctx, make: (i: Item) => ActorRequest): number[] {
  return o.items.map((i) => ctx.send(ActorKeys.sku(i.sku), make(i)));
}

/** Answers the current sender once every request in `ids` is acknowledged (at once if none). */
export function replyWhenApplied(s: OrderState, ids: number[], reply: () => Reply, ctx: Ctx): void {
  if (ids.length === 0) return ctx.reply(reply());
  s.awaiting = { handle: ctx.defer(), ids: new Set(ids), reply };
}

export function cancel(s: OrderState, by: ChangedBy, reason: string, ctx: Ctx, note?: string): number[] {
  const o = s.order as Order;
  const from = o.status;
  move(s, 'cancelled', by, ctx);
  o.reason = reason;
  if (note !== undefined) o.cancelNote = note;
  ctx.cancelTimer(PAYMENT_TIMER);
  const ids = sendToEachSku(o, ctx, () => ({ type: 'stock.release', orderId: o.orderId }));
  if (from === 'paid' || from === 'picking') ids.push(ctx.send(ActorKeys.warehouse, { type: 'queue.remove', orderId: o.orderId }));
  if (from === 'packed') ids.push(ctx.send(ActorKeys.carrier, { type: 'queue.remove', orderId: o.orderId }));
  if (from !== 'awaiting_payment') ids.push(setRefundDue(o, ctx));
  save(s, ctx);
  return ids;
}

export function setRefundDue(o: Order, ctx: Ctx): number {
  o.refundDue = true;
  announce(o, 'refunds', ctx);
  return ctx.send(ActorKeys.refunds, { type: 'queue.add', orderId: o.orderId });
}
