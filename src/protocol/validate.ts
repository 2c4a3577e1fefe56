import { type Command, COMMAND_TYPES, type CommandType, LIMITS, ROLE_FEED, roleMaySend, roleSeesAll } from './commands.js';
import { invalidArgument, type WireError, wireError } from './errors.js';
import { parseTraceparent, type TraceParent } from './trace-context.js';
import { FEEDS, type Feed, type Item, ORDER_STATUSES, type OrderStatus, type Principal } from './model.js';

/**
 * Turns one decoded JSON frame into a typed command, or the error PROTOCOL.md prescribes.
 * Order of checks: frame shape → id → type → role → arguments ("Roles are checked before arguments").
 */
export type FrameResult =
  | { ok: true; id: string; command: Command; trace?: TraceParent }
  | { ok: false; id: string | null; error: WireError };

const IDENT = /^[A-Za-z0-9._:-]{1,128}$/;
/** Actor keys an operator may inspect: orders, SKUs, and the three stations (see ActorKeys). */
const ACTOR_KEY = /^(?:(?:order|sku):[A-Za-z0-9._:-]{1,128}|warehouse|carrier|refunds)$/;
const COMMAND_SET: ReadonlySet<string> = new Set(COMMAND_TYPES);

class ArgumentError extends Error {
  constructor(readonly field: string, readonly why: string) {
    super(why);
  }
}

type Raw = Record<string, unknown>;

function own(obj: Raw, key: string): unknown {
  // Only own properties count: `__proto__` or `constructor` never leak in from the prototype.
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

function ident(obj: Raw, key: string): string {
  const v = own(obj, key);
  if (typeof v !== 'string' || !IDENT.test(v)) {
    throw new ArgumentError(key, `${key} must be 1..128 characters of [A-Za-z0-9._:-]`);
  }
  return v;
}

function optionalIdent(obj: Raw, key: string): string | undefined {
  return own(obj, key) === undefined ? undefined : ident(obj, key);
}

function integer(obj: Raw, key: string, min: number, max: number): number {
  const v = own(obj, key);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new ArgumentError(key, `${key} must be an integer in ${min}..${max}`);
  }
  return v;
}

function optionalReason(obj: Raw): string | undefined {
  const v = own(obj, 'reason');
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > LIMITS.reasonMaxLength) {
    throw new ArgumentError('reason', `reason must be a string of at most ${LIMITS.reasonMaxLength} characters`);
  }
  return v;
}

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `items[i]` or `items[i].<rest>`: spelled out only for an error, which most items have none of. */
function itemPath(i: number, rest?: string): string {
  return rest === undefined ? `items[${i}]` : `items[${i}].${rest}`;
}

/** Up to this many items, a repeated SKU is found by comparing them with each other. */
const FEW_ITEMS = 8;

function listsSku(list: Item[], sku: string): boolean {
  for (const item of list) if (item.sku === sku) return true;
  return false;
}

function items(obj: Raw): Item[] {
  const v = own(obj, 'items');
  if (!Array.isArray(v) || v.length < 1 || v.length > LIMITS.maxItems) {
    throw new ArgumentError('items', `items must be an array of 1..${LIMITS.maxItems} items`);
  }
  // Most orders have a few items: comparing them costs less than a Set made for every order.
  const seen = v.length > FEW_ITEMS ? new Set<string>() : null;
  const list: Item[] = [];
  for (let i = 0; i < v.length; i++) {
    const raw: unknown = v[i];
    if (!isObject(raw)) throw new ArgumentError(itemPath(i), `${itemPath(i)} must be an object {sku, quantity}`);
    let sku: string;
    let quantity: number;
    try {
      sku = ident(raw, 'sku');
      quantity = integer(raw, 'quantity', 1, LIMITS.maxQuantity);
    } catch (err) {
      // Their message begins with the field's name (`sku must be …`): it becomes the item's path.
      if (err instanceof ArgumentError) throw new ArgumentError(itemPath(i, err.field), itemPath(i, err.why));
      throw err;
    }
    if (seen ? seen.has(sku) : listsSku(list, sku)) {
      throw new ArgumentError(itemPath(i, 'sku'), `${itemPath(i, 'sku')} repeats a SKU: SKUs must be distinct`);
    }
    seen?.add(sku);
    list.push({ sku, quantity });
  }
  return list;
}

function argumentsOf(type: CommandType, f: Raw, who: Principal): Command {
  switch (type) {
    case 'inventory.set':
      return { type, sku: ident(f, 'sku'), onHand: integer(f, 'onHand', 0, LIMITS.maxOnHand) };
    case 'inventory.adjust':
      return {
        type,
        sku: ident(f, 'sku'),
        delta: integer(f, 'delta', -LIMITS.maxOnHand, LIMITS.maxOnHand),
        adjustmentId: optionalIdent(f, 'adjustmentId'),
      };
    case 'inventory.get':
      return { type, sku: ident(f, 'sku') };
    case 'order.place': {
      const orderId = ident(f, 'orderId');
      const list = items(f);
      const paymentTimeoutMs =
        own(f, 'paymentTimeoutMs') === undefined
          ? LIMITS.paymentTimeoutDefaultMs
          : integer(f, 'paymentTimeoutMs', LIMITS.paymentTimeoutMinMs, LIMITS.paymentTimeoutMaxMs);
      // A customer always places for themselves; `customerId` is required from an admin and ignored otherwise.
      const customerId = who.role === 'customer' ? (who.customerId as string) : ident(f, 'customerId');
      return { type, orderId, items: list, paymentTimeoutMs, customerId };
    }
    case 'order.pay':
      return { type, orderId: ident(f, 'orderId'), paymentRef: ident(f, 'paymentRef') };
    case 'order.cancel':
      return { type, orderId: ident(f, 'orderId'), reason: optionalReason(f) };
    case 'order.return':
      return { type, orderId: ident(f, 'orderId'), reason: optionalReason(f) };
    case 'order.get':
    case 'order.subscribe':
    case 'wms.packed':
    case 'tms.delivered':
    case 'return.received':
      return { type, orderId: ident(f, 'orderId') };
    case 'tms.ack':
      return { type, orderId: ident(f, 'orderId'), trackingNo: ident(f, 'trackingNo') };
    case 'stats.get':
      return { type };
    case 'order.list': {
      const s = own(f, 'status');
      if (s !== undefined && !(typeof s === 'string' && (ORDER_STATUSES as readonly string[]).includes(s))) {
        throw new ArgumentError('status', `status must be one of ${ORDER_STATUSES.join(', ')}`);
      }
      const limit =
        own(f, 'limit') === undefined ? LIMITS.listDefault : integer(f, 'limit', 1, LIMITS.listMax);
      const a = own(f, 'after');
      if (a !== undefined && a !== null && (typeof a !== 'string' || a.length > 512)) {
        throw new ArgumentError('after', 'after must be a cursor returned as `next` by order.list');
      }
      let customerId = who.role === 'customer' || roleSeesAll(who.role) ? optionalIdent(f, 'customerId') : undefined;
      if (who.role === 'customer') {
        // Silently ignoring another customer's id would hand back the caller's own orders as if
        // they were the ones asked for: a client bug hidden. Their own id is just redundant.
        if (customerId !== undefined && customerId !== who.customerId) {
          throw new ArgumentError('customerId', 'a customer lists only their own orders: omit customerId');
        }
        customerId = who.customerId;
      }
      return {
        type,
        status: s as OrderStatus | undefined,
        customerId,
        limit,
        after: typeof a === 'string' ? a : undefined,
      };
    }
    case 'actor.inspect': {
      const key = own(f, 'key');
      if (typeof key !== 'string' || !ACTOR_KEY.test(key)) {
        throw new ArgumentError('key', 'key must be order:<orderId>, sku:<sku>, warehouse, carrier or refunds');
      }
      return { type, key };
    }
    case 'feed.subscribe': {
      const feed = own(f, 'feed');
      if (typeof feed !== 'string' || !(FEEDS as readonly string[]).includes(feed)) {
        throw new ArgumentError('feed', `feed must be one of ${FEEDS.join(', ')}`);
      }
      if (!roleSeesAll(who.role) && ROLE_FEED[who.role] !== feed) {
        throw new RoleError(`role ${who.role} may not subscribe to the ${feed} feed`);
      }
      return { type, feed: feed as Feed };
    }
  }
}

class RoleError extends Error {}

/** Validates a parsed frame (any JSON value) sent by `who`. Never throws. */
export function validateFrame(frame: unknown, who: Principal): FrameResult {
  if (!isObject(frame)) {
    return { ok: false, id: null, error: wireError('BAD_FRAME', 'a frame must be a JSON object') };
  }
  const id = own(frame, 'id');
  if (typeof id !== 'string' || id.length < 1 || id.length > LIMITS.idMaxLength) {
    return { ok: false, id: null, error: wireError('BAD_FRAME', 'id must be a string of 1..128 characters') };
  }
  const type = own(frame, 'type');
  if (typeof type !== 'string' || !COMMAND_SET.has(type)) {
    return {
      ok: false,
      id,
      error: wireError('UNKNOWN_COMMAND', typeof type === 'string' ? `unknown command type` : 'type is missing'),
    };
  }
  const commandType = type as CommandType;
  if (!roleMaySend(who.role, commandType)) {
    return { ok: false, id, error: wireError('FORBIDDEN', `role ${who.role} may not send ${commandType}`) };
  }
  try {
    const command = argumentsOf(commandType, frame, who);
    // An extension, ignored when malformed (trace-context.ts says why); never a refusal.
    const trace = parseTraceparent(own(frame, 'traceparent'));
    return trace ? { ok: true, id, command, trace } : { ok: true, id, command };
  } catch (err) {
    if (err instanceof ArgumentError) return { ok: false, id, error: invalidArgument(err.field, err.why) };
    if (err instanceof RoleError) return { ok: false, id, error: wireError('FORBIDDEN', err.message) };
    throw err;
  }
}
