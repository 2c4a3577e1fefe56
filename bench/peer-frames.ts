/**
 * The bench peers' reading of PROTOCOL.md frames (the Redis-Lua peer's and the minimal durable
 * server's), for the three commands they serve (`inventory.set`, `inventory.get`,
 * `order.place`): the checks a shop's front would make before touching its store, with the
 * protocol's error codes and fields; and the replies they share, in ordo's shapes, so that the
 * bench's driver and invariant checks read a peer's replies exactly as they read ordo's. Written
 * for the peers (not ordo's validator): a peer is what a shop would write without ordo.
 */

export interface Item {
  sku: string;
  quantity: number;
}

export interface Stock {
  sku: string;
  onHand: number;
  reserved: number;
  available: number;
}

export type PeerCommand =
  | { type: 'inventory.set'; sku: string; onHand: number }
  | { type: 'inventory.get'; sku: string }
  | { type: 'order.place'; orderId: string; customerId: string; items: Item[]; paymentTimeoutMs: number };

export interface WireError {
  code: string;
  message: string;
  [detail: string]: unknown;
}

export type ParsedFrame = { ok: true; id: string; command: PeerCommand } | { ok: false; id: string | null; error: WireError };

const IDENT = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_ITEMS = 100;
const MAX_QUANTITY = 1_000_000;
const PAYMENT_TIMEOUT = { min: 100, max: 30 * 24 * 60 * 60 * 1000, default: 15 * 60 * 1000 };

class Invalid extends Error {
  constructor(readonly field: string) {
    super(`${field} is invalid`);
  }
}

type Raw = Record<string, unknown>;

const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

function ident(v: unknown, field: string): string {
  if (typeof v !== 'string' || !IDENT.test(v)) throw new Invalid(field);
  return v;
}

function integer(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new Invalid(field);
  return v;
}

function items(v: unknown): Item[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > MAX_ITEMS) throw new Invalid('items');
  const seen = new Set<string>();
  return v.map((raw: unknown, i) => {
    if (!isObject(raw)) throw new Invalid(`items[${i}]`);
    const sku = ident(raw.sku, `items[${i}].sku`);
    const quantity = integer(raw.quantity, `items[${i}].quantity`, 1, MAX_QUANTITY);
    if (seen.has(sku)) throw new Invalid(`items[${i}].sku`);
    seen.add(sku);
    return { sku, quantity };
  });
}

/** One text frame to a command, or the refusal PROTOCOL.md prescribes. */
export function parseFrame(text: string): ParsedFrame {
  let f: unknown;
  try {
    f = JSON.parse(text);
  } catch {
    return { ok: false, id: null, error: { code: 'BAD_FRAME', message: 'the frame is not valid JSON' } };
  }
  if (!isObject(f)) return { ok: false, id: null, error: { code: 'BAD_FRAME', message: 'a frame must be a JSON object' } };
  const id = f.id;
  if (typeof id !== 'string' || id.length < 1 || id.length > 128) return { ok: false, id: null, error: { code: 'BAD_FRAME', message: 'id must be a string of 1..128 characters' } };
  try {
    switch (f.type) {
      case 'inventory.set':
        return { ok: true, id, command: { type: f.type, sku: ident(f.sku, 'sku'), onHand: integer(f.onHand, 'onHand', 0, Number.MAX_SAFE_INTEGER) } };
      case 'inventory.get':
        return { ok: true, id, command: { type: f.type, sku: ident(f.sku, 'sku') } };
      case 'order.place':
        return {
          ok: true,
          id,
          command: {
            type: f.type,
            orderId: ident(f.orderId, 'orderId'),
            items: items(f.items),
            paymentTimeoutMs: f.paymentTimeoutMs === undefined ? PAYMENT_TIMEOUT.default : integer(f.paymentTimeoutMs, 'paymentTimeoutMs', PAYMENT_TIMEOUT.min, PAYMENT_TIMEOUT.max),
            // Every bench connection is an admin, from whom the protocol requires `customerId`.
            customerId: ident(f.customerId, 'customerId'),
          },
        };
      default:
        return { ok: false, id, error: { code: 'UNKNOWN_COMMAND', message: `this peer serves inventory.set, inventory.get and order.place only` } };
    }
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, id, error: { code: 'INVALID_ARGUMENT', message: err.message, field: err.field } };
    throw err;
  }
}

/** A refusal frame. */
export function errorReply(id: string | null, error: WireError): string {
  return JSON.stringify({ re: id, ok: false, error });
}

/** Same items, any order (PROTOCOL.md's idempotent repeat of `order.place`). */
export function sameItems(a: Item[], b: Item[]): boolean {
  if (a.length !== b.length) return false;
  const qty = new Map(a.map((i) => [i.sku, i.quantity]));
  return b.every((i) => qty.get(i.sku) === i.quantity);
}

type PlaceCommand = Extract<PeerCommand, { type: 'order.place' }>;

/**
 * A new order's JSON as ordo replies it to a fresh `order.place` (PROTOCOL.md's order object):
 * serialised once, stored as is and sent as is in the reply.
 */
export function placedOrderJson(c: PlaceCommand, now: number): string {
  return JSON.stringify({
    orderId: c.orderId,
    customerId: c.customerId,
    items: c.items,
    status: 'awaiting_payment',
    paymentDeadline: now + c.paymentTimeoutMs,
    refundDue: false,
    history: [{ at: now, status: 'awaiting_payment', by: 'admin' }],
  });
}

export const orderReply = (id: string, orderJson: string): string => `{"re":${JSON.stringify(id)},"ok":true,"order":${orderJson}}`;
export const stockReply = (id: string, stock: Stock): string => JSON.stringify({ re: id, ok: true, stock });

export const outOfStockReply = (id: string, sku: string, available: number): string =>
  errorReply(id, { code: 'OUT_OF_STOCK', message: `not enough stock of ${sku}`, sku, available });
export const belowReservedReply = (id: string, reserved: number): string =>
  errorReply(id, { code: 'INVALID_ARGUMENT', message: `onHand must not be below reserved (${reserved})`, field: 'onHand' });

/** The answer to an `order.place` whose orderId is taken: the stored order for a repeat, else CONFLICT. */
export function existingOrderReply(id: string, c: PlaceCommand, storedJson: string): string {
  const existing = JSON.parse(storedJson) as { customerId: string; items: Item[] };
  if (existing.customerId === c.customerId && sameItems(existing.items, c.items)) return orderReply(id, storedJson);
  return errorReply(id, { code: 'CONFLICT', message: `order ${c.orderId} exists with other items or another customer` });
}
