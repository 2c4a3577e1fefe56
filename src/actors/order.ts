import type { ActorBehaviour } from './behaviour.js';
import { wireError } from '../protocol/errors.js';
import type { Command } from '../protocol/commands.js';
import { ActorKeys, type ActorRequest, actorId, type Incoming, type Reply } from '../protocol/messages.js';
import { CANCELLABLE, type Order, type Principal } from '../protocol/model.js';
import { place, takeReserveAnswer } from './order-placement.js';
import {
  announce,
  cancel,
  type Ctx,
  fail,
  invalidState,
  move,
  notFound,
  ok,
  type OrderRecord,
  type OrderState,
  type OrderSummary,
  PAYMENT_TIMER,
  replyWhenApplied,
  save,
  sendToEachSku,
  setRefundDue,
  visibleTo,
} from './order-state.js';

export { orderView, PAYMENT_TIMER, type OrderRecord, type OrderState, type OrderSummary } from './order-state.js';

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
    // The saved copy, whose JSON is the record's (`orderText`): `save` is the turn's last change.
    return { ok: true, order: save(s, ctx)!, orderText: ctx.journaledText() };
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
        ctx.note('cancel refused in {}', o.status);
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
    ctx.note(keep ? 'hold verification: keep' : 'hold verification: drop');
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

/** A reply to one of this order's own requests (not `ctx.answer`, which answers a kept sender). */
function onReply(s: OrderState, id: number, r: ActorRequest, reply: Reply, from: string, ctx: Ctx): void {
  const w = s.awaiting;
  if (w && w.ids.delete(id) && w.ids.size === 0) {
    s.awaiting = null;
    ctx.answer(w.handle, w.reply());
    ctx.unstashAll();
  }
  if (r.type === 'stock.reserve') return takeReserveAnswer(s, id, reply, ctx);
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

/**
 * One actor per order. It is the arbiter of every status change, in particular of the
 * interceptor: `order.cancel` and the carrier's hand-over request are both messages in this
 * mailbox, and whichever is taken first wins. No order can end both cancelled and dispatched.
 */
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
        onReply(s, msg.id, msg.request, msg.reply, msg.from, ctx);
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
    return [{ order: s.order }];
  },

  /** Every order record is the whole order. */
  isFullState: () => true,

  /** [customerId, status, placedAt]: enough to filter and sort `order.list` without loading the order. */
  summary(s): OrderSummary | undefined {
    const o = s.order;
    return o ? [o.customerId, o.status, o.history[0]!.at] : undefined;
  },
};
