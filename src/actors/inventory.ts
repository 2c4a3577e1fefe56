import type { ActorBehaviour, ActorContext } from './behaviour.js';
import { invalidArgument, wireError } from '../protocol/errors.js';
import { LIMITS } from '../protocol/commands.js';
import type { Stock } from '../protocol/model.js';
import { ActorKeys, actorId, type Incoming, type Reply } from '../protocol/messages.js';
import { ASSERTS, invariant } from '../runtime/kernel/dev-asserts.js';

/**
 * One actor per SKU. Its mailbox serialises every reservation of that SKU, which is what makes
 * oversell impossible without locks: `available` is checked and decremented in the same turn.
 * Holds are kept per order so every step from an order is idempotent (a redelivered reserve,
 * release or ship changes nothing the second time).
 */
export interface InventoryState {
  sku: string;
  onHand: number;
  reserved: number;
  /** orderId → reserved quantity, for orders between placement and dispatch or cancel. */
  holds: Map<string, number>;
  /**
   * Holds not yet confirmed by their order (orderId → when taken). An order confirms once it is
   * durable; a hold still tentative after VERIFY_AFTER_MS is checked with its order (a crash may
   * have lost the placement), and dropped if the order does not know it.
   */
  tentative: Map<string, number>;
  /** When the verification timer is due, if armed. */
  verifyAt: number | null;
  /** Tentative holds whose order has been asked (not asked twice). */
  asked: Set<string>;
  /**
   * Holds confirmed since this SKU's last journal record. A confirmation writes nothing by itself:
   * the SKU's next record carries it (its next hold, release, or the verification timer's, at
   * most VERIFY_AFTER_MS later). A crash in between, or the SKU leaving memory in between (it
   * counts as clean), loses only the confirmation: the hold, tentative again, is verified with
   * its order. Memory only.
   */
  unrecordedConfirms: string[];
  /** Orders whose return was put back on hand, so a redelivered restock is applied once. */
  restocked: Set<string>;
  /**
   * `inventory.adjust` ids already applied, with their delta: a repeat is answered, not applied,
   * and the same id with another delta is a client bug answered `CONFLICT`. Ids are per SKU.
   */
  adjustments: Map<string, number>;
}

/** A journal record: the new totals, plus the one hold / id that this change touched. */
export interface InventoryRecord {
  onHand: number;
  reserved: number;
  /** A hold taken (quantity > 0, tentative when the third element is set) or dropped (0). */
  hold?: [orderId: string, quantity: number, tentativeSince?: number];
  /** A tentative hold made firm by its order (verification). */
  confirm?: string;
  /** Tentative holds made firm by their orders since the SKU's previous record. */
  confirms?: string[];
  verifyAt?: number | null;
  restocked?: string;
  adjustment?: [id: string, delta: number];
  /** Snapshot form: the whole state at once. */
  all?: { holds: [string, number][]; restocked: string[]; adjustments: [string, number][]; tentative?: [string, number][] };
}

/** How long a hold may stay unconfirmed before the SKU asks its order about it. */
export const VERIFY_AFTER_MS = 2_000;
export const VERIFY_TIMER = 'verify';
/**
 * When a tentative hold rebuilt from disk counts as taken: long ago, so it is verified at once.
 * A hold from before a crash may be one whose placement died with the process; and asking
 * early is always safe (an order still placing answers once it has decided).
 */
const RESTORED = 0;

export function stockOf(s: InventoryState): Stock {
  return { sku: s.sku, onHand: s.onHand, reserved: s.reserved, available: s.onHand - s.reserved };
}

function totals(s: InventoryState): InventoryRecord {
  return { onHand: s.onHand, reserved: s.reserved };
}

/** The totals with one hold taken or dropped (a literal: no totals object to spread and drop). */
function holdRecord(s: InventoryState, hold: NonNullable<InventoryRecord['hold']>): InventoryRecord {
  return { onHand: s.onHand, reserved: s.reserved, hold };
}

// The answers a SKU gives most, shared: a reply is never changed once made (it is only read,
// copied across threads or serialised), and these are given once or twice per placement.
const DONE: Reply = Object.freeze({ ok: true });
const RESERVED: Reply = Object.freeze({ ok: true, reserved: true });

/** Journals `rec`, with the confirmations that arrived since the previous record. */
function persist(s: InventoryState, ctx: ActorContext<InventoryRecord>, rec: InventoryRecord): void {
  if (s.unrecordedConfirms.length > 0) {
    rec.confirms = s.unrecordedConfirms;
    s.unrecordedConfirms = [];
  }
  ctx.persist(rec);
}

/** Asks the orders of long-unconfirmed holds whether they exist; re-arms while any remain. */
function verifyHolds(s: InventoryState, ctx: ActorContext<InventoryRecord>): InventoryState {
  const now = ctx.now();
  let next: number | null = null;
  for (const [orderId, since] of s.tentative) {
    if (s.asked.has(orderId)) continue;
    if (since === RESTORED || now - since >= VERIFY_AFTER_MS) {
      s.asked.add(orderId);
      ctx.send(ActorKeys.order(orderId), { type: 'order.verify', orderId });
    } else {
      next = Math.min(next ?? Infinity, since + VERIFY_AFTER_MS);
    }
  }
  if (s.tentative.size > 0 && next === null) next = now + VERIFY_AFTER_MS;
  s.verifyAt = next;
  if (next !== null) ctx.setTimer(VERIFY_TIMER, next);
  persist(s, ctx, { ...totals(s), verifyAt: next });
  return s;
}

/** One turn of a SKU (see `InventoryActor.receive`). */
function handle(s: InventoryState, msg: Incoming, ctx: ActorContext<InventoryRecord>): InventoryState {
  if (msg.kind === 'command') {
    const c = msg.command;
    switch (c.type) {
      case 'inventory.get':
        ctx.reply({ ok: true, stock: stockOf(s) });
        return s;
      case 'inventory.set':
        if (c.onHand < s.reserved) {
          ctx.note('refused set to {}: {} reserved', c.onHand, s.reserved);
          ctx.reply({ ok: false, error: invalidArgument('onHand', `onHand may not go below reserved (${s.reserved})`) });
          return s;
        }
        s.onHand = c.onHand;
        persist(s, ctx, totals(s));
        ctx.note('onHand set to {}', c.onHand);
        ctx.reply({ ok: true, stock: stockOf(s) });
        return s;
      case 'inventory.adjust': {
        const applied = c.adjustmentId === undefined ? undefined : s.adjustments.get(c.adjustmentId);
        if (applied !== undefined && applied !== c.delta) {
          ctx.note('refused adjustment {} by {}: it was applied by {}', c.adjustmentId!, c.delta, applied);
          ctx.reply({ ok: false, error: wireError('CONFLICT', `adjustmentId ${c.adjustmentId} was already applied to ${s.sku} with delta ${applied}`) });
          return s;
        }
        if (applied !== undefined) {
          ctx.note('adjustment {} already applied', c.adjustmentId!);
          ctx.reply({ ok: true, stock: stockOf(s) });
          return s;
        }
        const next = s.onHand + c.delta;
        if (next < s.reserved || next > LIMITS.maxOnHand) {
          ctx.note('refused adjust by {}', c.delta);
          ctx.reply({
            ok: false,
            error: invalidArgument('delta', `onHand + delta must stay within ${s.reserved}..${LIMITS.maxOnHand}`),
          });
          return s;
        }
        s.onHand = next;
        const rec: InventoryRecord = totals(s);
        if (c.adjustmentId !== undefined) {
          s.adjustments.set(c.adjustmentId, c.delta);
          rec.adjustment = [c.adjustmentId, c.delta];
        }
        persist(s, ctx, rec);
        ctx.note('adjusted by {} to {}', c.delta, next);
        ctx.reply({ ok: true, stock: stockOf(s) });
        return s;
      }
      default:
        ctx.reply({ ok: false, error: wireError('INTERNAL', `inventory cannot handle ${c.type}`) });
        return s;
    }
  }
  if (msg.kind === 'timer' && msg.name === VERIFY_TIMER) return verifyHolds(s, ctx);
  if (msg.kind === 'reply' && msg.request.type === 'order.verify') {
    const orderId = msg.request.orderId;
    s.asked.delete(orderId);
    if (!s.tentative.has(orderId)) return s;
    if (msg.reply.ok && msg.reply.keep) {
      s.tentative.delete(orderId);
      persist(s, ctx, { ...totals(s), confirm: orderId });
      ctx.note('hold of {} confirmed by verification', orderId);
    } else {
      const q = s.holds.get(orderId) ?? 0;
      s.holds.delete(orderId);
      s.tentative.delete(orderId);
      s.reserved -= q;
      persist(s, ctx, holdRecord(s, [orderId, 0]));
      ctx.note('dropped {} held for {}: the order was never written', q, orderId);
    }
    return s;
  }
  if (msg.kind !== 'request') return s;
  const r = msg.request;
  switch (r.type) {
    case 'stock.reserve': {
      if (s.holds.has(r.orderId)) {
        ctx.reply(RESERVED);
        return s;
      }
      const available = s.onHand - s.reserved;
      if (available < r.quantity) {
        ctx.note('refused {} for {}: {} available', r.quantity, r.orderId, available);
        ctx.reply({ ok: true, reserved: false, available });
        return s;
      }
      s.reserved += r.quantity;
      s.holds.set(r.orderId, r.quantity);
      const now = ctx.now();
      s.tentative.set(r.orderId, now);
      const rec = holdRecord(s, [r.orderId, r.quantity, now]);
      if (s.verifyAt === null) {
        s.verifyAt = now + VERIFY_AFTER_MS;
        ctx.setTimer(VERIFY_TIMER, s.verifyAt);
        rec.verifyAt = s.verifyAt;
      }
      persist(s, ctx, rec);
      ctx.note('reserved {} for {} (tentative)', r.quantity, r.orderId);
      ctx.reply(RESERVED);
      return s;
    }
    case 'stock.confirm': {
      if (s.tentative.delete(r.orderId)) {
        s.asked.delete(r.orderId);
        // Written with this SKU's next record (see `unrecordedConfirms`): one record less per placement.
        s.unrecordedConfirms.push(r.orderId);
        ctx.note('hold of {} confirmed', r.orderId);
      }
      ctx.reply(DONE);
      return s;
    }
    case 'stock.release':
    case 'stock.ship': {
      const q = s.holds.get(r.orderId);
      if (q !== undefined) {
        s.holds.delete(r.orderId);
        s.tentative.delete(r.orderId);
        s.asked.delete(r.orderId);
        s.reserved -= q;
        // Shipping: the goods leave the warehouse, so they leave onHand together with the hold.
        if (r.type === 'stock.ship') s.onHand -= q;
        persist(s, ctx, holdRecord(s, [r.orderId, 0]));
        ctx.note(r.type === 'stock.ship' ? 'shipped {} of {}' : 'released {} of {}', q, r.orderId);
      }
      ctx.reply(DONE);
      return s;
    }
    case 'stock.restock': {
      if (!s.restocked.has(r.orderId)) {
        s.restocked.add(r.orderId);
        s.onHand += r.quantity;
        persist(s, ctx, { ...totals(s), restocked: r.orderId });
        ctx.note('restocked {} returned by {}', r.quantity, r.orderId);
      }
      ctx.reply(DONE);
      return s;
    }
    default:
      ctx.reply({ ok: false, error: wireError('INTERNAL', `inventory cannot handle ${r.type}`) });
      return s;
  }
}

/** Holds are what `reserved` counts: checked after every turn when dev asserts are on. */
function checkReserved(s: InventoryState): void {
  let held = 0;
  for (const q of s.holds.values()) held += q;
  invariant(s.reserved === held, `${s.sku}: reserved ${s.reserved} is the sum of its holds (${held})`);
}

export const InventoryActor: ActorBehaviour<InventoryState, InventoryRecord> = {
  kind: 'sku',

  initial(key) {
    return {
      sku: actorId(key),
      onHand: 0,
      reserved: 0,
      holds: new Map(),
      tentative: new Map(),
      verifyAt: null,
      asked: new Set(),
      unrecordedConfirms: [],
      restocked: new Set(),
      adjustments: new Map(),
    };
  },

  receive(s, msg: Incoming, ctx: ActorContext<InventoryRecord>) {
    const next = handle(s, msg, ctx);
    if (ASSERTS) checkReserved(next);
    return next;
  },

  restore(s, rec) {
    s.onHand = rec.onHand;
    s.reserved = rec.reserved;
    if (rec.hold) {
      const [orderId, q, since] = rec.hold;
      if (q > 0) s.holds.set(orderId, q);
      else s.holds.delete(orderId);
      if (q > 0 && since !== undefined) s.tentative.set(orderId, RESTORED);
      else s.tentative.delete(orderId);
    }
    if (rec.confirm !== undefined) s.tentative.delete(rec.confirm);
    for (const orderId of rec.confirms ?? []) s.tentative.delete(orderId);
    if (rec.verifyAt !== undefined) s.verifyAt = rec.verifyAt;
    if (rec.restocked !== undefined) s.restocked.add(rec.restocked);
    if (rec.adjustment !== undefined) s.adjustments.set(rec.adjustment[0], rec.adjustment[1]);
    if (rec.all) {
      s.holds = new Map(rec.all.holds);
      s.tentative = new Map((rec.all.tentative ?? []).map(([orderId]) => [orderId, RESTORED]));
      s.restocked = new Set(rec.all.restocked);
      s.adjustments = new Map(rec.all.adjustments);
    }
    return s;
  },

  snapshot(s) {
    return [
      {
        onHand: s.onHand,
        reserved: s.reserved,
        verifyAt: s.verifyAt,
        all: { holds: [...s.holds], tentative: [...s.tentative], restocked: [...s.restocked], adjustments: [...s.adjustments] },
      },
    ];
  },

  /** After a crash, the holds rebuilt tentative are verified before the runtime serves: stock read right after a restart is exact. */
  afterRecovery: { timer: VERIFY_TIMER, owes: (s) => [...s.tentative.values()].includes(RESTORED) },

  isEmpty(s) {
    return s.onHand === 0 && s.reserved === 0 && s.holds.size === 0 && s.restocked.size === 0 && s.adjustments.size === 0 && s.verifyAt === null;
  },
};
