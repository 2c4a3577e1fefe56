import type { ActorBehaviour, ActorContext, ReplyHandle } from './behaviour.js';
import { type WireError, wireError } from '../protocol/errors.js';
import type { Command } from '../protocol/commands.js';
import {
  type Actor,
  CANCELLABLE,
  type StationFeed,
  type Item,
  type Order,
  type OrderStatus,
  type Principal,
  type Role,
} from '../protocol/model.js';
import { ActorKeys, type ActorRequest, actorId, type Incoming, type Reply } from '../protocol/messages.js';

/**
 * One actor per order. It is the arbiter of every status change, in particular of the
 * interceptor: `order.cancel` and the carrier's hand-over request are both messages in this
 * mailbox, and whichever is taken first wins. No order can end both cancelled and dispatched.
 */
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
  /** sku → answer; a SKU missing here has not answered yet. (A Map: a SKU may be named `__proto__`.) */
  answers: Map<string, { reserved: boolean; available?: number }>;
}

/**
 * The journal record of an order: its whole durable state, which is small. `placing` is always
 * null (a placement in progress is never written: see `place`); the field stays for the format.
 */
export interface OrderRecord {
  order: Order | null;
  placing: null;
}

export const PAYMENT_TIMER = 'payment';

export type OrderSummary = [customerId: string, status: OrderStatus, placedAt: number];

/** A copy that later turns cannot change: replies and events leave after the journal write. */
export function orderView(o: Order): Order {
  return { ...o, history: o.history.slice() };
}

const ok = (order: Order): Reply => ({ ok: true, order: orderView(order) });
const fail = (error: WireError): Reply => ({ ok: false, error });
const notFound = (): Reply => fail(wireError('NOT_FOUND', 'no such order'));
const invalidState = (o: Order, what: string): Reply =>
  fail(wireError('INVALID_STATE', `${what} is not allowed in status ${o.status}`, { status: o.status }));

function sameItems(a: Item[], b: Item[]): boolean {
  if (a.length !== b.length) return false;
  const m = new Map(a.map((i) => [i.sku, i.quantity]));
  return b.every((i) => m.get(i.sku) === i.quantity);
}

function visibleTo(o: Order, who: Principal): boolean {
  return who.role !== 'customer' || o.customerId === who.customerId;
}

type Ctx = ActorContext<OrderRecord>;

function save(s: OrderState, ctx: Ctx): void {
  ctx.persist({ order: s.order, placing: null });
  if (s.order) ctx.publish({ type: 'order.updated', order: orderView(s.order), rev: s.order.history.length });
}

function move(s: OrderState, status: OrderStatus, by: Actor, ctx: Ctx): Order {
  const o = s.order as Order;
  o.status = status;
  o.history.push({ at: ctx.now(), status, by });
  ctx.note(`→ ${status} (by ${by})`);
  return o;
}

function announce(o: Order, feed: StationFeed, ctx: Ctx): void {
  ctx.publish({ type: 'feed', feed, order: orderView(o) });
}

function sendToEachSku(o: Order, ctx: Ctx, make: (i: Item) => ActorRequest): number[] {
  return o.items.map((i) => ctx.send(ActorKeys.sku(i.sku), make(i)));
}

/** Answers the current sender once every request in `ids` is acknowledged (at once if none). */
function replyWhenApplied(s: OrderState, ids: number[], reply: () => Reply, ctx: Ctx): void {
  if (ids.length === 0) return ctx.reply(reply());
  s.awaiting = { handle: ctx.defer(), ids: new Set(ids), reply };
}

function cancel(s: OrderState, by: Actor, reason: string, ctx: Ctx, note?: string): number[] {
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

function setRefundDue(o: Order, ctx: Ctx): number {
  o.refundDue = true;
  announce(o, 'refunds', ctx);
  return ctx.send(ActorKeys.refunds, { type: 'queue.add', orderId: o.orderId });
}

function place(s: OrderState, c: Extract<Command, { type: 'order.place' }>, who: Principal, ctx: Ctx): void {
  const o = s.order;
  if (o) {
    if (o.customerId === c.customerId && sameItems(o.items, c.items)) ctx.reply(ok(o));
    else ctx.reply(fail(wireError('CONFLICT', 'orderId is already taken')));
    return;
  }
  const now = ctx.now();
  s.placing = {
    customerId: c.customerId,
    items: c.items,
    by: who.role,
    placedAt: now,
    paymentDeadline: now + c.paymentTimeoutMs,
    answers: new Map(),
  };
  // All SKUs are asked at once; each answers from its own mailbox. On the first refusal found
  // once all have answered, every granted hold is released again: all or nothing, no lock.
  // Nothing is journaled yet (presumed abort): a SKU journals its hold as tentative, and a hold
  // whose order never got written is dropped when the SKU asks the order about it (order.verify).
  // That keeps one disk write off the path of every placement.
  for (const i of c.items) {
    ctx.send(ActorKeys.sku(i.sku), { type: 'stock.reserve', orderId: s.orderId, quantity: i.quantity }, { journal: false });
  }
  s.placeReply = ctx.defer();
  ctx.note(`placing: asked ${c.items.length} SKU(s) for stock`);
}

function finishPlacing(s: OrderState, ctx: Ctx): void {
  const p = s.placing as Placing;
  if (!p.items.every((i) => p.answers.has(i.sku))) return;
  const short = p.items.find((i) => !p.answers.get(i.sku)!.reserved);
  s.placing = null;
  let reply: Reply;
  const released: number[] = [];
  if (short) {
    for (const i of p.items) {
      // Unjournaled like the reserves: these holds are still tentative, and one whose release
      // a crash loses is dropped when its SKU verifies it with this (never written) order.
      if (p.answers.get(i.sku)!.reserved) released.push(ctx.send(ActorKeys.sku(i.sku), { type: 'stock.release', orderId: s.orderId }, { journal: false }));
    }
    const available = p.answers.get(short.sku)!.available ?? 0;
    // Nothing to write: a placement is never durable before it succeeds (presumed abort), so a
    // refused order leaves no trace and its actor leaves memory at once.
    ctx.note(`refused: ${short.sku} has ${available} of ${short.quantity}; holds released`);
    reply = fail(
      wireError('OUT_OF_STOCK', `not enough stock of ${short.sku}`, { sku: short.sku, available }),
    );
  } else {
    s.order = {
      orderId: s.orderId,
      customerId: p.customerId,
      items: p.items,
      status: 'awaiting_payment',
      paymentDeadline: p.paymentDeadline,
      refundDue: false,
      history: [{ at: p.placedAt, status: 'awaiting_payment', by: p.by }],
    };
    ctx.setTimer(PAYMENT_TIMER, p.paymentDeadline);
    ctx.note(`placed; payment due at ${p.paymentDeadline}`);
    save(s, ctx);
    // Off the reply's path: the holds become firm once this order is durable. A one-way notice,
    // not journaled: a confirmation a crash loses is made up for by the SKU verifying its hold
    // with this order, so neither side spends a turn or a record on answering it.
    for (const i of p.items) ctx.tell(ActorKeys.sku(i.sku), { type: 'stock.confirm', orderId: s.orderId });
    reply = ok(s.order);
  }
  const handle = s.placeReply;
  s.placeReply = null;
  if (handle !== null && released.length > 0) {
    // OUT_OF_STOCK is answered once the other holds are released: "nothing stays reserved".
    s.awaiting = { handle, ids: new Set(released), reply: () => reply };
    return;
  }
  if (handle !== null) ctx.answer(handle, reply);
  ctx.unstashAll();
}

/** Returns the reply, or null when it will be sent later. */
function pay(s: OrderState, o: Order, c: Extract<Command, { type: 'order.pay' }>, who: Principal, ctx: Ctx): Reply | null {
  if (o.status === 'awaiting_payment') {
    // The deadline is a fact of the order, not of the timer: a payment at or after it is too late
    // even if the timer has not run yet, and then the order expires right here.
    if (ctx.now() >= o.paymentDeadline) {
      const ids = cancel(s, 'timer', 'payment_timeout', ctx);
      replyWhenApplied(s, ids, () => fail(wireError('ORDER_EXPIRED', 'the payment deadline has passed')), ctx);
      return null;
    }
    move(s, 'paid', who.role, ctx);
    o.paymentRef = c.paymentRef;
    ctx.cancelTimer(PAYMENT_TIMER);
    ctx.send(ActorKeys.warehouse, { type: 'queue.add', orderId: o.orderId });
    save(s, ctx);
    return ok(o);
  }
  if (o.status === 'cancelled') {
    return o.reason === 'payment_timeout'
      ? fail(wireError('ORDER_EXPIRED', 'the payment deadline has passed'))
      : invalidState(o, 'order.pay');
  }
  return o.paymentRef === c.paymentRef ? ok(o) : invalidState(o, 'order.pay with another paymentRef');
}

function command(s: OrderState, c: Command, who: Principal, ctx: Ctx): void {
  if (c.type === 'order.place') return place(s, c, who, ctx);
  const o = s.order;
  if (!o || !visibleTo(o, who)) return ctx.reply(notFound());
  switch (c.type) {
    case 'order.get':
    case 'order.subscribe':
      return ctx.reply(ok(o));
    case 'order.pay': {
      const r = pay(s, o, c, who, ctx);
      if (r) ctx.reply(r);
      return;
    }
    case 'order.cancel':
      if (o.status === 'cancelled') return ctx.reply(ok(o));
      if (!CANCELLABLE.has(o.status)) {
        ctx.note(`cancel refused in ${o.status}`);
        return ctx.reply(
          fail(wireError('CANCEL_REFUSED', `the order is ${o.status}: only a return is possible`, { status: o.status })),
        );
      }
      return replyWhenApplied(s, cancel(s, who.role, who.role === 'admin' ? 'admin' : 'customer', ctx, c.reason), () => ok(o), ctx);
    case 'order.return':
      if (o.status === 'return_requested') return ctx.reply(ok(o));
      if (o.status !== 'delivered') return ctx.reply(invalidState(o, 'order.return'));
      move(s, 'return_requested', who.role, ctx);
      o.reason = c.reason ?? 'customer';
      save(s, ctx);
      return ctx.reply(ok(o));
    default:
      return ctx.reply(fail(wireError('INTERNAL', `the order actor cannot handle ${c.type}`)));
  }
}

function request(s: OrderState, r: ActorRequest, ctx: Ctx): void {
  const o = s.order;
  if (r.type === 'order.verify') {
    // A SKU holds stock for this order that was never confirmed. Keep it only if the order was
    // written and still holds stock; otherwise the placement died before it was acknowledged.
    const keep = o !== null && o.status !== 'cancelled';
    ctx.note(`hold verification: ${keep ? 'keep' : 'drop'}`);
    return ctx.reply({ ok: true, keep });
  }
  if (!o) return ctx.reply(notFound());
  switch (r.type) {
    case 'order.pack':
      if (o.status === 'packed') return ctx.reply(ok(o));
      if (o.status !== 'paid' && o.status !== 'picking') return ctx.reply(invalidState(o, 'wms.packed'));
      move(s, 'packed', r.by, ctx);
      announce(o, 'carrier', ctx);
      save(s, ctx);
      return replyWhenApplied(s, [ctx.send(ActorKeys.carrier, { type: 'queue.add', orderId: o.orderId })], () => ok(o), ctx);
    case 'order.handover':
      // The interceptor's point. From here on cancellation is refused.
      if (o.status === 'cancelled') {
        ctx.note('hand-over refused: cancelled, parcel intercepted');
        return ctx.reply(fail(wireError('INTERCEPTED', 'the order is cancelled: the parcel must not leave')));
      }
      if (o.status === 'dispatched' && o.trackingNo === r.trackingNo) return ctx.reply(ok(o));
      if (o.status !== 'packed') return ctx.reply(invalidState(o, 'tms.ack'));
      move(s, 'dispatched', r.by, ctx);
      o.trackingNo = r.trackingNo;
      save(s, ctx);
      return replyWhenApplied(s, sendToEachSku(o, ctx, () => ({ type: 'stock.ship', orderId: o.orderId })), () => ok(o), ctx);
    case 'order.deliver':
      if (o.status === 'delivered') return ctx.reply(ok(o));
      if (o.status !== 'dispatched') return ctx.reply(invalidState(o, 'tms.delivered'));
      move(s, 'delivered', r.by, ctx);
      save(s, ctx);
      return ctx.reply(ok(o));
    case 'order.receive_return':
      if (o.status === 'returned') return ctx.reply(ok(o));
      if (o.status !== 'return_requested') return ctx.reply(invalidState(o, 'return.received'));
      move(s, 'returned', r.by, ctx);
      const ids = sendToEachSku(o, ctx, (i) => ({ type: 'stock.restock', orderId: o.orderId, quantity: i.quantity }));
      ids.push(setRefundDue(o, ctx));
      save(s, ctx);
      return replyWhenApplied(s, ids, () => ok(o), ctx);
    default:
      return ctx.reply(fail(wireError('INTERNAL', `the order actor cannot handle ${r.type}`)));
  }
}

/** Answers to this order's own requests. */
function answer(s: OrderState, id: number, r: ActorRequest, reply: Reply, from: string, ctx: Ctx): void {
  const w = s.awaiting;
  if (w && w.ids.delete(id) && w.ids.size === 0) {
    s.awaiting = null;
    ctx.answer(w.handle, w.reply());
    ctx.unstashAll();
  }
  if (r.type === 'stock.reserve') {
    if (!s.placing) return; // a late repeat after the placement finished
    const sku = actorId(from);
    s.placing.answers.set(sku, reply.ok ? { reserved: reply.reserved === true, available: reply.available } : { reserved: false, available: 0 });
    finishPlacing(s, ctx);
    return;
  }
  const o = s.order;
  if (!o || r.type !== 'queue.add') return;
  if (from === ActorKeys.warehouse) {
    if (o.status === 'paid') {
      move(s, 'picking', 'system', ctx);
      announce(o, 'warehouse', ctx);
      save(s, ctx);
    } else if (o.status !== 'picking') {
      // Packed or cancelled before the warehouse took it: its queue entry is stale.
      ctx.send(ActorKeys.warehouse, { type: 'queue.remove', orderId: o.orderId });
    }
  } else if (from === ActorKeys.carrier && o.status !== 'packed') {
    ctx.send(ActorKeys.carrier, { type: 'queue.remove', orderId: o.orderId });
  }
}

export const OrderActor: ActorBehaviour<OrderState, OrderRecord> = {
  kind: 'order',

  initial(key) {
    return { orderId: actorId(key), order: null, placing: null, placeReply: null, awaiting: null };
  },

  receive(s, msg: Incoming, ctx) {
    switch (msg.kind) {
      case 'command':
        if (s.placing || s.awaiting) ctx.stash();
        else if (msg.command.type === 'queue.list') ctx.reply(fail(wireError('INTERNAL', 'not a queue')));
        else command(s, msg.command, msg.principal, ctx);
        return s;
      case 'request':
        if (s.placing || s.awaiting) ctx.stash();
        else request(s, msg.request, ctx);
        return s;
      case 'reply':
        answer(s, msg.id, msg.request, msg.reply, msg.from, ctx);
        return s;
      case 'timer':
        if (msg.name === PAYMENT_TIMER && s.order?.status === 'awaiting_payment') {
          cancel(s, 'timer', 'payment_timeout', ctx);
        }
        return s;
    }
  },

  restore(s, rec) {
    s.order = rec.order;
    // A placement in progress lives in memory only (its client re-sends after a crash).
    s.placing = null;
    return s;
  },

  isEmpty(s) {
    return s.order === null && s.placing === null;
  },

  snapshot(s) {
    return [{ order: s.order, placing: null }];
  },

  /** Every order record is the whole order. */
  isFullState: () => true,

  /** [customerId, status, placedAt]: enough to filter and sort `order.list` without loading the order. */
  summary(s): OrderSummary | undefined {
    const o = s.order;
    return o ? [o.customerId, o.status, o.history[0]!.at] : undefined;
  },
};
