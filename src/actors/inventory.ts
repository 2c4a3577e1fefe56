import type { ActorBehaviour, ActorContext } from './behaviour.js';
import { invalidArgument, wireError } from '../protocol/errors.js';
import { LIMITS } from '../protocol/commands.js';
import type { Stock } from '../protocol/model.js';
import type { Incoming } from '../protocol/messages.js';

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
  /** Orders whose return was put back on hand, so a redelivered restock is applied once. */
  restocked: Set<string>;
  /** `inventory.adjust` ids already applied. */
  adjustments: Set<string>;
}

/** A journal record: the new totals, plus the one hold / id that this change touched. */
export interface InventoryRecord {
  onHand: number;
  reserved: number;
  hold?: [orderId: string, quantity: number];
  restocked?: string;
  adjustment?: string;
  /** Snapshot form: the whole state at once. */
  all?: { holds: [string, number][]; restocked: string[]; adjustments: string[] };
}

export function stockOf(s: InventoryState): Stock {
  return { sku: s.sku, onHand: s.onHand, reserved: s.reserved, available: s.onHand - s.reserved };
}

function totals(s: InventoryState): InventoryRecord {
  return { onHand: s.onHand, reserved: s.reserved };
}

export const InventoryActor: ActorBehaviour<InventoryState, InventoryRecord> = {
  kind: 'sku',

  initial(key) {
    return {
      sku: key.slice('sku:'.length),
      onHand: 0,
      reserved: 0,
      holds: new Map(),
      restocked: new Set(),
      adjustments: new Set(),
    };
  },

  receive(s, msg: Incoming, ctx: ActorContext<InventoryRecord>) {
    if (msg.kind === 'command') {
      const c = msg.command;
      switch (c.type) {
        case 'inventory.get':
          ctx.reply({ ok: true, stock: stockOf(s) });
          return s;
        case 'inventory.set':
          if (c.onHand < s.reserved) {
            ctx.note(`refused set to ${c.onHand}: ${s.reserved} reserved`);
            ctx.reply({ ok: false, error: invalidArgument('onHand', `onHand may not go below reserved (${s.reserved})`) });
            return s;
          }
          s.onHand = c.onHand;
          ctx.persist(totals(s));
          ctx.note(`onHand set to ${c.onHand}`);
          ctx.reply({ ok: true, stock: stockOf(s) });
          return s;
        case 'inventory.adjust': {
          if (c.adjustmentId !== undefined && s.adjustments.has(c.adjustmentId)) {
            ctx.note(`adjustment ${c.adjustmentId} already applied`);
            ctx.reply({ ok: true, stock: stockOf(s) });
            return s;
          }
          const next = s.onHand + c.delta;
          if (next < s.reserved || next > LIMITS.maxOnHand) {
            ctx.note(`refused adjust by ${c.delta}`);
            ctx.reply({
              ok: false,
              error: invalidArgument('delta', `onHand + delta must stay within ${s.reserved}..${LIMITS.maxOnHand}`),
            });
            return s;
          }
          s.onHand = next;
          if (c.adjustmentId !== undefined) s.adjustments.add(c.adjustmentId);
          ctx.persist({ ...totals(s), adjustment: c.adjustmentId });
          ctx.note(`adjusted by ${c.delta} to ${next}`);
          ctx.reply({ ok: true, stock: stockOf(s) });
          return s;
        }
        default:
          ctx.reply({ ok: false, error: wireError('INTERNAL', `inventory cannot handle ${c.type}`) });
          return s;
      }
    }
    if (msg.kind !== 'request') return s;
    const r = msg.request;
    switch (r.type) {
      case 'stock.reserve': {
        if (s.holds.has(r.orderId)) {
          ctx.reply({ ok: true, reserved: true });
          return s;
        }
        const available = s.onHand - s.reserved;
        if (available < r.quantity) {
          ctx.note(`refused ${r.quantity} for ${r.orderId}: ${available} available`);
          ctx.reply({ ok: true, reserved: false, available });
          return s;
        }
        s.reserved += r.quantity;
        s.holds.set(r.orderId, r.quantity);
        ctx.persist({ ...totals(s), hold: [r.orderId, r.quantity] });
        ctx.note(`reserved ${r.quantity} for ${r.orderId}`);
        ctx.reply({ ok: true, reserved: true });
        return s;
      }
      case 'stock.release':
      case 'stock.ship': {
        const q = s.holds.get(r.orderId);
        if (q !== undefined) {
          s.holds.delete(r.orderId);
          s.reserved -= q;
          // Shipping: the goods leave the warehouse, so they leave onHand together with the hold.
          if (r.type === 'stock.ship') s.onHand -= q;
          ctx.persist({ ...totals(s), hold: [r.orderId, 0] });
          ctx.note(`${r.type === 'stock.ship' ? 'shipped' : 'released'} ${q} of ${r.orderId}`);
        }
        ctx.reply({ ok: true });
        return s;
      }
      case 'stock.restock': {
        if (!s.restocked.has(r.orderId)) {
          s.restocked.add(r.orderId);
          s.onHand += r.quantity;
          ctx.persist({ ...totals(s), restocked: r.orderId });
          ctx.note(`restocked ${r.quantity} returned by ${r.orderId}`);
        }
        ctx.reply({ ok: true });
        return s;
      }
      default:
        ctx.reply({ ok: false, error: wireError('INTERNAL', `inventory cannot handle ${r.type}`) });
        return s;
    }
  },

  restore(s, rec) {
    s.onHand = rec.onHand;
    s.reserved = rec.reserved;
    if (rec.hold) {
      const [orderId, q] = rec.hold;
      if (q > 0) s.holds.set(orderId, q);
      else s.holds.delete(orderId);
    }
    if (rec.restocked !== undefined) s.restocked.add(rec.restocked);
    if (rec.adjustment !== undefined) s.adjustments.add(rec.adjustment);
    if (rec.all) {
      s.holds = new Map(rec.all.holds);
      s.restocked = new Set(rec.all.restocked);
      s.adjustments = new Set(rec.all.adjustments);
    }
    return s;
  },

  snapshot(s) {
    return [{ onHand: s.onHand, reserved: s.reserved, all: { holds: [...s.holds], restocked: [...s.restocked], adjustments: [...s.adjustments] } }];
  },

  isEmpty(s) {
    return s.onHand === 0 && s.reserved === 0 && s.holds.size === 0 && s.restocked.size === 0 && s.adjustments.size === 0;
  },
};
