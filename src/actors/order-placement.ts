import type { Command } from '../protocol/commands.js';
import { wireError } from '../protocol/errors.js';
import { ActorKeys, type Reply } from '../protocol/messages.js';
import type { Item, Principal } from '../protocol/model.js';
import { type Ctx, fail, ok, type OrderState, PAYMENT_TIMER, type Placing, save, type StockAnswer } from './order-state.js';

/** Placement's requests are kept in memory only (see below). */
const UNJOURNALED = { journal: false } as const;

// Placement with presumed abort: every SKU is asked at once, nothing is journaled until all have
// answered, and a placement that dies before the order is written leaves only tentative holds,
// which their SKUs drop once the order says it does not know them (order.verify).

function sameItems(a: Item[], b: Item[]): boolean {
  if (a.length !== b.length) return false;
  const m = new Map(a.map((i) => [i.sku, i.quantity]));
  return b.every((i) => m.get(i.sku) === i.quantity);
}

export function place(s: OrderState, c: Extract<Command, { type: 'order.place' }>, who: Principal, ctx: Ctx): void {
  const o = s.order;
  if (o) {
    if (o.customerId === c.customerId && sameItems(o.items, c.items)) ctx.reply(ok(o));
    else ctx.reply(fail(wireError('CONFLICT', 'orderId is already taken')));
    return;
  }
  const now = ctx.now();
  // All SKUs are asked at once; each answers from its own mailbox. On the first refusal found
  // once all have answered, every granted hold is released again: all or nothing, no lock.
  // Nothing is journaled yet (presumed abort): a SKU journals its hold as tentative, and a hold
  // whose order never got written is dropped when the SKU asks the order about it (order.verify).
  // That keeps one disk write off the path of every placement.
  const asked = c.items.map((i) => ctx.send(ActorKeys.sku(i.sku), { type: 'stock.reserve', orderId: s.orderId, quantity: i.quantity }, UNJOURNALED));
  s.placing = {
    customerId: c.customerId,
    items: c.items,
    by: who.role,
    placedAt: now,
    paymentDeadline: now + c.paymentTimeoutMs,
    asked,
    answers: new Array<StockAnswer | undefined>(c.items.length).fill(undefined),
    unanswered: c.items.length,
  };
  s.placeReply = ctx.defer();
  ctx.note('placing: asked {} SKU(s) for stock', c.items.length);
}

/** Decides the placement once every SKU has answered. */
function finishPlacing(s: OrderState, p: Placing, ctx: Ctx): void {
  const answers = p.answers as StockAnswer[];
  const shortAt = answers.findIndex((a) => !a.reserved);
  s.placing = null;
  let reply: Reply;
  let released: number[] | null = null;
  if (shortAt >= 0) {
    const short = p.items[shortAt]!;
    // Unjournaled like the reserves: these holds are still tentative, and one whose release
    // a crash loses is dropped when its SKU verifies it with this (never written) order.
    released = p.items
      .filter((_, n) => answers[n]!.reserved)
      .map((i) => ctx.send(ActorKeys.sku(i.sku), { type: 'stock.release', orderId: s.orderId }, UNJOURNALED));
    const available = answers[shortAt]!.available ?? 0;
    // Nothing to write: a placement is never durable before it succeeds (presumed abort), so a
    // refused order leaves no trace and its actor leaves memory at once.
    ctx.note('refused: {} has {} of {}; holds released', short.sku, available, short.quantity);
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
    ctx.note('placed; payment due at {}', p.paymentDeadline);
    // The client is shown the same copy of the order as the event (both leave unchanged).
    const view = save(s, ctx);
    // Off the reply's path: the holds become firm once this order is durable. A one-way notice,
    // not journaled: a confirmation a crash loses is made up for by the SKU verifying its hold
    // with this order, so neither side spends a turn or a record on answering it.
    for (const i of p.items) ctx.tell(ActorKeys.sku(i.sku), { type: 'stock.confirm', orderId: s.orderId });
    // Its JSON is the record's, encoded once (`orderText`): nothing changes the order after `save`.
    reply = { ok: true, order: view!, orderText: ctx.journaledText() };
  }
  const handle = s.placeReply;
  s.placeReply = null;
  if (handle !== null && released !== null && released.length > 0) {
    // OUT_OF_STOCK is answered once the other holds are released: "nothing stays reserved".
    s.awaiting = { handle, ids: new Set(released), reply: () => reply };
    return;
  }
  if (handle !== null) ctx.answer(handle, reply);
  ctx.unstashAll();
}

/** A SKU answered this order's reservation `id`: counted, and the placement decided once all have. */
export function takeReserveAnswer(s: OrderState, id: number, reply: Reply, ctx: Ctx): void {
  const p = s.placing;
  if (!p) return; // a late repeat after the placement finished
  const n = p.asked.indexOf(id);
  if (n < 0 || p.answers[n] !== undefined) return; // not this placement's, or a repeat
  p.answers[n] = reply.ok ? { reserved: reply.reserved === true, available: reply.available } : { reserved: false, available: 0 };
  if (--p.unanswered === 0) finishPlacing(s, p, ctx);
}
