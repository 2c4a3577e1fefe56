/**
 * What PROTOCOL.md says the gateway must answer to one frame, computed from the protocol text
 * alone (not from src/protocol/validate.ts): the `re` of the reply and the error code (and the
 * `field`s that may be named), or "valid" (the frame reaches the actors and may be ok).
 *
 * Where the protocol leaves a choice open (a `null` optional argument, an `id` or `reason` whose
 * length differs in UTF-16 units and in code points, a customer sending an admin-only argument),
 * every reading is listed as an alternative and a reply matching any of them passes.
 */

export const ERROR_CODES = [
  'BAD_FRAME',
  'UNKNOWN_COMMAND',
  'INVALID_ARGUMENT',
  'FORBIDDEN',
  'NOT_FOUND',
  'OUT_OF_STOCK',
  'CONFLICT',
  'INVALID_STATE',
  'ORDER_EXPIRED',
  'CANCEL_REFUSED',
  'INTERCEPTED',
  'OVERLOADED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export const COMMANDS = [
  'inventory.set',
  'inventory.adjust',
  'inventory.get',
  'order.place',
  'order.pay',
  'order.cancel',
  'order.get',
  'order.list',
  'order.subscribe',
  'feed.subscribe',
  'wms.packed',
  'tms.ack',
  'tms.delivered',
  'order.return',
  'return.received',
] as const;

export type FuzzRole = 'admin' | 'customer' | 'payments' | 'warehouse' | 'carrier';

const ROLE_MAY: Record<Exclude<FuzzRole, 'admin'>, readonly string[]> = {
  customer: ['order.place', 'order.cancel', 'order.get', 'order.list', 'order.subscribe', 'order.return', 'inventory.get'],
  payments: ['order.pay', 'order.get', 'feed.subscribe'],
  warehouse: ['wms.packed', 'return.received', 'order.get', 'feed.subscribe'],
  carrier: ['tms.ack', 'tms.delivered', 'order.get', 'feed.subscribe'],
};
const ROLE_FEED: Partial<Record<FuzzRole, string>> = { payments: 'refunds', warehouse: 'warehouse', carrier: 'carrier' };
const FEEDS = ['warehouse', 'carrier', 'refunds'];
const STATUSES = ['awaiting_payment', 'paid', 'picking', 'packed', 'dispatched', 'delivered', 'return_requested', 'returned', 'cancelled'];
const IDENT = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Domain answers a valid command may get (depending on the state it meets). */
const DOMAIN = ['NOT_FOUND', 'OUT_OF_STOCK', 'CONFLICT', 'INVALID_STATE', 'ORDER_EXPIRED', 'CANCEL_REFUSED', 'INTERCEPTED', 'OVERLOADED'];

export interface Expectation {
  /** The reply's `re`. */
  re: string | null;
  /** Whether `ok: true` is acceptable. */
  ok: boolean;
  /** Error codes that are acceptable. */
  codes: string[];
  /** For INVALID_ARGUMENT: the `field`s that may be named (any, when absent). */
  fields?: string[];
  /** A short description, for failure messages. */
  why: string;
}

type Raw = Record<string, unknown>;

function own(o: Raw, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined;
}

function has(o: Raw, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function codePoints(s: string): number {
  return [...s].length;
}

/** Argument problems: `definite` fields are invalid under every reading; `maybe` under some. */
interface ArgCheck {
  definite: Set<string>;
  maybe: Set<string>;
  /** Extra codes a valid command may get from the actor (e.g. inventory.adjust below reserved). */
  domainInvalid: Set<string>;
}

function checkArgs(type: string, f: Raw, role: FuzzRole): ArgCheck {
  const c: ArgCheck = { definite: new Set(), maybe: new Set(), domainInvalid: new Set() };
  const ident = (key: string, required: boolean, obj: Raw = f, path = key) => {
    if (!has(obj, key)) {
      if (required) c.definite.add(path);
      return;
    }
    const v = own(obj, key);
    if (v === null && !required) return void c.maybe.add(path);
    if (typeof v !== 'string' || !IDENT.test(v)) c.definite.add(path);
  };
  const integer = (key: string, min: number, max: number, required: boolean) => {
    if (!has(f, key)) {
      if (required) c.definite.add(key);
      return;
    }
    const v = own(f, key);
    if (v === null && !required) return void c.maybe.add(key);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) c.definite.add(key);
  };
  const reason = () => {
    if (!has(f, 'reason')) return;
    const v = own(f, 'reason');
    if (v === null) return void c.maybe.add('reason');
    if (typeof v !== 'string') return void c.definite.add('reason');
    const units = v.length;
    const points = codePoints(v);
    if (points > 500) c.definite.add('reason');
    else if (units > 500) c.maybe.add('reason'); // "500 chars": UTF-16 units or code points
  };
  switch (type) {
    case 'inventory.set':
      ident('sku', true);
      integer('onHand', 0, MAX_SAFE, true);
      break;
    case 'inventory.adjust':
      ident('sku', true);
      // "integer; result not below reserved": any integer is well-formed; one that cannot be
      // applied is INVALID_ARGUMENT naming delta as well, so both end the same way.
      if (!has(f, 'delta')) c.definite.add('delta');
      else {
        const v = own(f, 'delta');
        if (typeof v !== 'number' || !Number.isInteger(v)) c.definite.add('delta');
        else if (!Number.isSafeInteger(v)) c.definite.add('delta');
      }
      ident('adjustmentId', false);
      c.domainInvalid.add('delta');
      break;
    case 'inventory.get':
      ident('sku', true);
      break;
    case 'order.place': {
      ident('orderId', true);
      items(f, c);
      integer('paymentTimeoutMs', 100, 30 * 24 * 60 * 60 * 1000, false);
      if (role === 'admin') ident('customerId', true);
      break;
    }
    case 'order.pay':
      ident('orderId', true);
      ident('paymentRef', true);
      break;
    case 'order.cancel':
    case 'order.return':
      ident('orderId', true);
      reason();
      break;
    case 'order.get':
    case 'order.subscribe':
    case 'wms.packed':
    case 'tms.delivered':
    case 'return.received':
      ident('orderId', true);
      break;
    case 'tms.ack':
      ident('orderId', true);
      ident('trackingNo', true);
      break;
    case 'order.list': {
      if (has(f, 'status')) {
        const s = own(f, 'status');
        if (s === null) c.maybe.add('status');
        else if (typeof s !== 'string' || !STATUSES.includes(s)) c.definite.add('status');
      }
      if (role === 'admin') ident('customerId', false);
      else if (has(f, 'customerId')) c.maybe.add('customerId'); // "admin only": ignored or refused
      integer('limit', 1, 500, false);
      if (has(f, 'after')) {
        const a = own(f, 'after');
        if (a === null) c.maybe.add('after');
        else if (typeof a !== 'string') c.definite.add('after');
        else c.domainInvalid.add('after'); // only a `next` from the server is a cursor
      }
      break;
    }
    case 'feed.subscribe': {
      const feed = own(f, 'feed');
      if (typeof feed !== 'string' || !FEEDS.includes(feed)) c.definite.add('feed');
      break;
    }
  }
  return c;
}

function items(f: Raw, c: ArgCheck): void {
  if (!has(f, 'items')) return void c.definite.add('items');
  const v = own(f, 'items');
  if (!Array.isArray(v) || v.length < 1 || v.length > 100) return void c.definite.add('items');
  const seen = new Map<string, number>();
  v.forEach((raw, i) => {
    const path = `items[${i}]`;
    if (!isObject(raw)) return void c.definite.add(path);
    const sku = own(raw, 'sku');
    const skuOk = typeof sku === 'string' && IDENT.test(sku);
    if (!skuOk) c.definite.add(`${path}.sku`);
    const q = own(raw, 'quantity');
    if (typeof q !== 'number' || !Number.isInteger(q) || q < 1 || q > 1_000_000) c.definite.add(`${path}.quantity`);
    if (skuOk) {
      const first = seen.get(sku);
      if (first !== undefined) {
        // "SKUs distinct": either occurrence may be named.
        c.definite.add(`${path}.sku`);
        c.maybe.add(`items[${first}].sku`);
        c.maybe.add(path);
      } else seen.set(sku, i);
    }
  });
  // An item-level problem may be named by the item itself as well as by its field.
  for (const p of [...c.definite]) {
    const m = /^(items\[\d+\])\./.exec(p);
    if (m) c.maybe.add(m[1]!);
  }
}

/**
 * The acceptable answers to one parsed frame (any JSON value) sent with `role`; a non-JSON or
 * binary frame is `[BAD_FRAME]` and handled by the caller.
 */
export function expectFor(frame: unknown, role: FuzzRole): Expectation[] {
  const bad: Expectation = { re: null, ok: false, codes: ['BAD_FRAME'], why: 'not an object or no valid id' };
  if (!isObject(frame)) return [{ ...bad, why: 'not a JSON object' }];
  const id = own(frame, 'id');
  if (typeof id !== 'string' || id.length === 0) return [{ ...bad, why: 'id missing, not a string or empty' }];
  if (codePoints(id) > 128) return [{ ...bad, why: 'id longer than 128' }];
  const alts: Expectation[] = [];
  if (id.length > 128) alts.push({ ...bad, why: 'id longer than 128 UTF-16 units' });
  alts.push(...afterId(frame, id, role));
  return alts;
}

function afterId(f: Raw, id: string, role: FuzzRole): Expectation[] {
  const type = own(f, 'type');
  if (typeof type !== 'string' || !(COMMANDS as readonly string[]).includes(type)) {
    return [{ re: id, ok: false, codes: ['UNKNOWN_COMMAND'], why: 'type missing or unknown' }];
  }
  if (role !== 'admin' && !ROLE_MAY[role].includes(type)) {
    return [{ re: id, ok: false, codes: ['FORBIDDEN'], why: `${role} may not send ${type}` }];
  }
  const c = checkArgs(type, f, role);
  const out: Expectation[] = [];
  // feed.subscribe: a feed that is not the role's own is FORBIDDEN (a bad feed may be either).
  if (type === 'feed.subscribe' && role !== 'admin') {
    const feed = own(f, 'feed');
    if (typeof feed === 'string' && FEEDS.includes(feed) && feed !== ROLE_FEED[role]) {
      return [{ re: id, ok: false, codes: ['FORBIDDEN'], why: `${role} may not subscribe to ${feed}` }];
    }
    if (c.definite.has('feed')) out.push({ re: id, ok: false, codes: ['FORBIDDEN'], why: 'bad feed from a non-admin role' });
  }
  if (c.definite.size > 0) {
    // Any of the problems may be the one named, including a well-formed value that cannot apply
    // (an unknown cursor).
    out.push({ re: id, ok: false, codes: ['INVALID_ARGUMENT'], fields: [...c.definite, ...c.maybe, ...c.domainInvalid], why: `invalid ${[...c.definite].join(', ')}` });
    return out;
  }
  if (c.maybe.size > 0) {
    out.push({ re: id, ok: false, codes: ['INVALID_ARGUMENT', 'FORBIDDEN'], fields: [...c.maybe], why: `arguably invalid ${[...c.maybe].join(', ')}` });
  }
  const domain = [...DOMAIN];
  if (c.domainInvalid.size > 0) domain.push('INVALID_ARGUMENT');
  out.push({ re: id, ok: true, codes: domain, fields: c.domainInvalid.size ? [...c.domainInvalid] : undefined, why: 'valid' });
  return out;
}

/** Whether a reply matches one of the expectations; returns the reason it does not, or null. */
export function mismatch(reply: unknown, alts: Expectation[]): string | null {
  if (!isObject(reply)) return 'reply is not a JSON object';
  if (!has(reply, 're')) return 'reply has no re';
  const re = own(reply, 're');
  const ok = own(reply, 'ok');
  if (typeof ok !== 'boolean') return 'reply.ok is not a boolean';
  let err: Raw | undefined;
  if (!ok) {
    const e = own(reply, 'error');
    if (!isObject(e)) return 'a refusal without an error object';
    if (typeof own(e, 'code') !== 'string' || !(ERROR_CODES as readonly string[]).includes(own(e, 'code') as string)) {
      return `error code ${JSON.stringify(own(e, 'code'))} is not in PROTOCOL.md's list`;
    }
    if (typeof own(e, 'message') !== 'string') return 'error.message is not a string';
    const text = JSON.stringify(e);
    for (const leak of ['    at ', '/work/', 'node_modules', '.ts:', '.js:', 'tok-']) {
      if (text.includes(leak)) return `error leaks ${JSON.stringify(leak)}`;
    }
    err = e;
  }
  const reasons: string[] = [];
  for (const a of alts) {
    if (re !== a.re) {
      reasons.push(`[${a.why}] re ${JSON.stringify(re)} ≠ ${JSON.stringify(a.re)}`);
      continue;
    }
    if (ok) {
      if (a.ok) return null;
      reasons.push(`[${a.why}] ok:true, expected ${a.codes.join('/')}`);
      continue;
    }
    const code = own(err!, 'code') as string;
    if (!a.codes.includes(code)) {
      reasons.push(`[${a.why}] code ${code}, expected ${a.ok ? 'ok or ' : ''}${a.codes.join('/')}`);
      continue;
    }
    if (code === 'INVALID_ARGUMENT' && a.fields) {
      const field = own(err!, 'field');
      if (typeof field !== 'string' || !a.fields.includes(field)) {
        reasons.push(`[${a.why}] INVALID_ARGUMENT field ${JSON.stringify(field)}, expected one of ${a.fields.join(', ')}`);
        continue;
      }
    }
    return null;
  }
  return reasons.join('; ');
}
