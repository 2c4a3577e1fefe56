import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Item, Order, OrderStatus, Role, Stock } from '../../src/protocol/model.js';

/**
 * A reference model of PROTOCOL.md's order lifecycle and stock rules, written from the protocol
 * (not from the actors), plus a generator of random command sequences and a runner that checks
 * every reply and the whole observable state against the model after every step.
 *
 * The runner is transport-agnostic: an `Executor` sends one action (in-process `LocalSystem` or a
 * real socket) and reads orders and stock back.
 */

// ---------------------------------------------------------------------------------------------
// Operations (what fast-check generates) and actions (what is sent)

export type Who = 'alice' | 'bob' | 'admin' | 'payments' | 'warehouse' | 'carrier';

export type Op =
  | { k: 'place'; o: number; who: number; items: { s: number; q: number }[]; t: number }
  | { k: 'replace'; o: number; who: number; shuffle: boolean }
  | { k: 'pay'; o: number; ref: number }
  | { k: 'cancel'; o: number; who: number; note: boolean }
  | { k: 'pack'; o: number }
  | { k: 'ack'; o: number; trk: number }
  | { k: 'deliver'; o: number }
  | { k: 'return'; o: number; who: number; reason: boolean }
  | { k: 'received'; o: number }
  | { k: 'adjust'; s: number; delta: number; adj: number }
  | { k: 'set'; s: number; onHand: number }
  | { k: 'get'; o: number; who: number }
  /** The next lifecycle step of an order, whatever its status (keeps long lifecycles likely). */
  | { k: 'next'; o: number; v: number }
  | { k: 'advance'; ms: number }
  | { k: 'skew'; ms: number }
  | { k: 'snapshot' }
  | { k: 'restart' }
  /** Commands sent at once (2–3, concurrently): checked for linearizability. */
  | { k: 'burst'; ops: Op[] };

export interface Action {
  type: string;
  who: Who;
  args: Record<string, unknown>;
}

/** Payment timeouts the generator picks from (ms); the socket variant overrides them. */
export const TIMEOUTS = [100, 1_000, 5_000, 60_000];
const ADJ_DELTAS = [5, -2, 3];
const CUSTOMERS: Who[] = ['alice', 'bob'];

export function opArb(opts: { clock: boolean; restarts?: boolean; bursts?: boolean }): fc.Arbitrary<Op> {
  const o = fc.nat({ max: 4 });
  const custOrAdmin = fc.nat({ max: 2 }); // 0 alice, 1 bob, 2 admin
  // s = 3 is a SKU nobody stocked (rare); other indices wrap onto the scenario's SKUs.
  const sku = fc.oneof({ weight: 12, arbitrary: fc.nat({ max: 2 }) }, { weight: 1, arbitrary: fc.constant(3) });
  const items = fc.uniqueArray(fc.record({ s: sku, q: fc.integer({ min: 1, max: 3 }) }), {
    minLength: 1,
    maxLength: 3,
    selector: (i) => i.s,
  });
  const arbs: fc.WeightedArbitrary<Op>[] = [
    { weight: 6, arbitrary: fc.record({ k: fc.constant('place' as const), o, who: fc.nat({ max: 3 }), items, t: fc.nat({ max: TIMEOUTS.length - 1 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('replace' as const), o, who: fc.nat({ max: 3 }), shuffle: fc.boolean() }) },
    { weight: 5, arbitrary: fc.record({ k: fc.constant('pay' as const), o, ref: fc.nat({ max: 1 }) }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('cancel' as const), o, who: custOrAdmin, note: fc.boolean() }) },
    { weight: 4, arbitrary: fc.record({ k: fc.constant('pack' as const), o }) },
    { weight: 4, arbitrary: fc.record({ k: fc.constant('ack' as const), o, trk: fc.nat({ max: 1 }) }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('deliver' as const), o }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('return' as const), o, who: custOrAdmin, reason: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('received' as const), o }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('adjust' as const), s: fc.nat({ max: 2 }), delta: fc.integer({ min: -5, max: 8 }), adj: fc.integer({ min: -1, max: 2 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('set' as const), s: fc.nat({ max: 2 }), onHand: fc.nat({ max: 12 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('get' as const), o, who: custOrAdmin }) },
    { weight: 14, arbitrary: fc.record({ k: fc.constant('next' as const), o, v: fc.nat({ max: 5 }) }) },
  ];
  if (opts.clock) {
    arbs.push({ weight: 3, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.constantFrom(1, 99, 100, 900, 1_000, 4_000, 60_000) }) });
    arbs.push({ weight: 1, arbitrary: fc.record({ k: fc.constant('skew' as const), ms: fc.constantFrom(100, 1_000, 5_000) }) });
  }
  if (opts.bursts) {
    const inner = fc.oneof(...arbs);
    arbs.push({ weight: 4, arbitrary: fc.record({ k: fc.constant('burst' as const), ops: fc.array(inner, { minLength: 2, maxLength: 3 }) }) });
  }
  if (opts.restarts) {
    arbs.push({ weight: 1, arbitrary: fc.constant({ k: 'snapshot' as const }) });
    arbs.push({ weight: 1, arbitrary: fc.constant({ k: 'restart' as const }) });
  }
  return fc.oneof(...arbs);
}

export interface Scenario {
  /** Initial onHand of each SKU (2 or 3 SKUs). */
  initial: number[];
  orders: number;
  /** Actors kept in memory per shard (small values force passivation and reactivation). */
  maxActive: number;
  ops: Op[];
}

export function scenarioArb(opts: { clock: boolean; restarts?: boolean; bursts?: boolean; maxOps: number }): fc.Arbitrary<Scenario> {
  return fc.record({
    initial: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 2, maxLength: 3 }),
    orders: fc.integer({ min: 3, max: 5 }),
    maxActive: fc.constantFrom(20_000, 1, 2, 3),
    ops: fc.array(opArb(opts), { minLength: 1, maxLength: opts.maxOps, size: 'max' }),
  });
}

// ---------------------------------------------------------------------------------------------
// The model

const HOLDING = new Set<OrderStatus>(['awaiting_payment', 'paid', 'picking', 'packed']);
const SHIPPED = new Set<OrderStatus>(['dispatched', 'delivered', 'return_requested']);
const CANCELLABLE = HOLDING;

interface MHist {
  status: OrderStatus;
  by: string;
  /** When the change may have happened (inclusive). */
  lo: number;
  hi: number;
}

interface MOrder {
  orderId: string;
  customerId: string;
  items: Item[];
  status: OrderStatus;
  reason?: string;
  paymentDeadline: number;
  paymentRef?: string;
  trackingNo?: string;
  refundDue: boolean;
  history: MHist[];
}

export interface Reply {
  ok: boolean;
  order?: unknown;
  stock?: unknown;
  error?: { code: string; status?: string; sku?: string; available?: number; field?: string; message?: string };
}

function roleOf(who: Who): Role {
  return who === 'alice' || who === 'bob' ? 'customer' : who;
}

function sameItems(a: Item[], b: Item[]): boolean {
  if (a.length !== b.length) return false;
  const m = new Map(a.map((i) => [i.sku, i.quantity]));
  return b.every((i) => m.get(i.sku) === i.quantity);
}

export class Model {
  readonly stock = new Map<string, { onHand: number; reserved: number }>();
  readonly orders = new Map<string, MOrder>();
  readonly adjSum = new Map<string, number>();
  private readonly adjIds = new Map<string, Set<string>>();
  /** The time window of the step being checked: [lo, hi] (equal on a simulated clock). */
  lo = 0;
  hi = 0;
  /**
   * Whether paid → picking happens within the payment's step (sequential commands). In a burst
   * of concurrent commands it is a step of its own (`pick`), which other commands may precede.
   */
  immediatePicking = true;

  constructor(
    readonly initial: Record<string, number>,
    readonly unknownSku: string,
  ) {
    for (const [sku, n] of Object.entries(initial)) {
      this.stock.set(sku, { onHand: n, reserved: 0 });
      this.adjSum.set(sku, 0);
    }
  }

  clone(): Model {
    const m = new Model(this.initial, this.unknownSku);
    for (const [k, v] of this.stock) m.stock.set(k, { ...v });
    for (const [k, o] of this.orders) m.orders.set(k, this.snapshot(o));
    for (const [k, v] of this.adjSum) m.adjSum.set(k, v);
    for (const [k, v] of this.adjIds) m.adjIds.set(k, new Set(v));
    m.lo = this.lo;
    m.hi = this.hi;
    m.immediatePicking = this.immediatePicking;
    return m;
  }

  /** The runtime's own hand-over of a paid order to the warehouse. */
  pick(orderId: string): void {
    const o = this.orders.get(orderId);
    if (o?.status === 'paid') this.push(o, 'picking', 'system');
  }

  private st(sku: string): { onHand: number; reserved: number } {
    let s = this.stock.get(sku);
    if (!s) this.stock.set(sku, (s = { onHand: 0, reserved: 0 }));
    return s;
  }

  private push(o: MOrder, status: OrderStatus, by: string, lo = this.lo, hi = this.hi): void {
    o.status = status;
    o.history.push({ status, by, lo, hi });
  }

  private snapshot(o: MOrder): MOrder {
    return { ...o, items: o.items.map((i) => ({ ...i })), history: o.history.map((h) => ({ ...h })) };
  }

  private cancelOrder(o: MOrder, by: string, reason: string, lo = this.lo, hi = this.hi): void {
    const from = o.status;
    for (const i of o.items) this.st(i.sku).reserved -= i.quantity;
    this.push(o, 'cancelled', by, lo, hi);
    o.reason = reason;
    if (from !== 'awaiting_payment') o.refundDue = true;
  }

  /** Simulated time moved to `now` and the due timers ran. */
  timersRan(now: number): void {
    for (const o of this.orders.values()) {
      if (o.status === 'awaiting_payment' && o.paymentDeadline <= now) this.cancelOrder(o, 'timer', 'payment_timeout', o.paymentDeadline, now);
    }
  }

  /** Checks one reply against the model's prediction and applies the step to the model. */
  step(a: Action, r: Reply, ctx: string): void {
    const fail = (msg: string) => assert.fail(`${ctx}: ${msg}; reply ${JSON.stringify(r)}`);
    const expectOk = (o: MOrder) => {
      if (!r.ok) fail(`expected ok`);
      this.compareOrder(r.order as Order, o, ctx);
    };
    const expectErr = (code: string, details: Record<string, unknown> = {}) => {
      if (r.ok) fail(`expected ${code}`);
      assert.equal(r.error?.code, code, `${ctx}: error code; reply ${JSON.stringify(r)}`);
      for (const [k, v] of Object.entries(details)) {
        assert.deepEqual((r.error as Record<string, unknown>)[k], v, `${ctx}: error.${k}; reply ${JSON.stringify(r)}`);
      }
    };
    const orderId = a.args.orderId as string;
    const o = orderId === undefined ? undefined : this.orders.get(orderId);
    const role = roleOf(a.who);
    const visible = o !== undefined && (role !== 'customer' || o.customerId === a.who);

    switch (a.type) {
      case 'order.place': {
        const items = a.args.items as Item[];
        const customerId = role === 'customer' ? a.who : (a.args.customerId as string);
        if (o) {
          if (o.customerId === customerId && sameItems(o.items, items)) expectOk(o);
          else expectErr('CONFLICT');
          return;
        }
        const short = items.find((i) => this.st(i.sku).onHand - this.st(i.sku).reserved < i.quantity);
        if (short) {
          expectErr('OUT_OF_STOCK', { sku: short.sku, available: this.st(short.sku).onHand - this.st(short.sku).reserved });
          return;
        }
        for (const i of items) this.st(i.sku).reserved += i.quantity;
        const t = a.args.paymentTimeoutMs as number;
        if (!r.ok) fail('expected ok');
        const got = (r.order as Order).paymentDeadline;
        assert.ok(got >= this.lo + t && got <= this.hi + t, `${ctx}: paymentDeadline ${got} not in [${this.lo + t}, ${this.hi + t}]`);
        const n: MOrder = {
          orderId,
          customerId,
          items: items.map((i) => ({ ...i })),
          status: 'awaiting_payment',
          paymentDeadline: got,
          refundDue: false,
          history: [],
        };
        this.push(n, 'awaiting_payment', role);
        this.orders.set(orderId, n);
        expectOk(n);
        return;
      }
      case 'order.pay': {
        if (!o) return expectErr('NOT_FOUND');
        const ref = a.args.paymentRef as string;
        if (o.status === 'awaiting_payment') {
          if (this.lo >= o.paymentDeadline) {
            expectErr('ORDER_EXPIRED');
            this.cancelOrder(o, 'timer', 'payment_timeout');
            return;
          }
          this.push(o, 'paid', role);
          o.paymentRef = ref;
          expectOk(this.snapshot(o));
          // The runtime hands a paid order to the warehouse by itself, settled before the reply.
          if (this.immediatePicking) this.push(o, 'picking', 'system');
          return;
        }
        if (o.status === 'cancelled') {
          // The table says INVALID_STATE for a cancelled order; a payment after the deadline is
          // also ORDER_EXPIRED. Both are accepted where both rules apply.
          const codes = this.lo >= o.paymentDeadline ? ['INVALID_STATE', 'ORDER_EXPIRED'] : ['INVALID_STATE'];
          if (r.ok || !codes.includes(r.error!.code)) fail(`expected one of ${codes.join('/')}`);
          if (r.error!.code === 'INVALID_STATE') assert.equal(r.error!.status, 'cancelled', `${ctx}: error.status`);
          return;
        }
        if (o.paymentRef === ref) return expectOk(o);
        return expectErr('INVALID_STATE', { status: o.status });
      }
      case 'order.cancel': {
        if (!o || !visible) return expectErr('NOT_FOUND');
        if (o.status === 'cancelled') return expectOk(o);
        if (!CANCELLABLE.has(o.status)) return expectErr('CANCEL_REFUSED', { status: o.status });
        if (o.status === 'awaiting_payment' && this.lo >= o.paymentDeadline && r.ok && (r.order as Order).reason === 'payment_timeout') {
          // The deadline passed and the timer has not run yet: expiring it here is as good.
          this.cancelOrder(o, 'timer', 'payment_timeout');
        } else {
          this.cancelOrder(o, role, role === 'admin' ? 'admin' : 'customer');
        }
        return expectOk(o);
      }
      case 'order.get':
        if (!o || !visible) return expectErr('NOT_FOUND');
        return expectOk(o);
      case 'wms.packed':
        if (!o) return expectErr('NOT_FOUND');
        if (o.status === 'packed') return expectOk(o);
        if (o.status !== 'paid' && o.status !== 'picking') return expectErr('INVALID_STATE', { status: o.status });
        this.push(o, 'packed', role);
        return expectOk(o);
      case 'tms.ack': {
        if (!o) return expectErr('NOT_FOUND');
        const trk = a.args.trackingNo as string;
        if (o.status === 'cancelled') return expectErr('INTERCEPTED');
        if (o.status === 'dispatched' && o.trackingNo === trk) return expectOk(o);
        if (o.status !== 'packed') return expectErr('INVALID_STATE', { status: o.status });
        this.push(o, 'dispatched', role);
        o.trackingNo = trk;
        for (const i of o.items) {
          const s = this.st(i.sku);
          s.reserved -= i.quantity;
          s.onHand -= i.quantity;
        }
        return expectOk(o);
      }
      case 'tms.delivered':
        if (!o) return expectErr('NOT_FOUND');
        if (o.status === 'delivered') return expectOk(o);
        if (o.status !== 'dispatched') return expectErr('INVALID_STATE', { status: o.status });
        this.push(o, 'delivered', role);
        return expectOk(o);
      case 'order.return': {
        if (!o || !visible) return expectErr('NOT_FOUND');
        if (o.status === 'return_requested') return expectOk(o);
        if (o.status !== 'delivered') return expectErr('INVALID_STATE', { status: o.status });
        this.push(o, 'return_requested', role);
        if (a.args.reason !== undefined) o.reason = a.args.reason as string;
        else {
          // The protocol does not name a default reason: take the server's, which must be a string.
          if (!r.ok) fail('expected ok');
          const got = (r.order as Order).reason;
          assert.equal(typeof got, 'string', `${ctx}: return_requested carries a reason`);
          o.reason = got;
        }
        return expectOk(o);
      }
      case 'return.received':
        if (!o) return expectErr('NOT_FOUND');
        if (o.status === 'returned') return expectOk(o);
        if (o.status !== 'return_requested') return expectErr('INVALID_STATE', { status: o.status });
        this.push(o, 'returned', role);
        o.refundDue = true;
        for (const i of o.items) this.st(i.sku).onHand += i.quantity;
        return expectOk(o);
      case 'inventory.adjust': {
        const sku = a.args.sku as string;
        const delta = a.args.delta as number;
        const id = a.args.adjustmentId as string | undefined;
        const s = this.st(sku);
        let ids = this.adjIds.get(sku);
        if (!ids) this.adjIds.set(sku, (ids = new Set()));
        if (id !== undefined && ids.has(id)) return this.expectStock(r, sku, ctx);
        if (s.onHand + delta < s.reserved) return expectErr('INVALID_ARGUMENT', { field: 'delta' });
        s.onHand += delta;
        this.adjSum.set(sku, (this.adjSum.get(sku) ?? 0) + delta);
        if (id !== undefined) ids.add(id);
        return this.expectStock(r, sku, ctx);
      }
      case 'inventory.set': {
        const sku = a.args.sku as string;
        const onHand = a.args.onHand as number;
        const s = this.st(sku);
        if (onHand < s.reserved) return expectErr('INVALID_ARGUMENT', { field: 'onHand' });
        // Counted as an adjustment by the difference, for the conservation check.
        this.adjSum.set(sku, (this.adjSum.get(sku) ?? 0) + onHand - s.onHand);
        s.onHand = onHand;
        return this.expectStock(r, sku, ctx);
      }
      case 'inventory.get':
        return this.expectStock(r, a.args.sku as string, ctx);
      default:
        throw new Error(`the model has no rule for ${a.type}`);
    }
  }

  expectStock(r: Reply, sku: string, ctx: string): void {
    assert.ok(r.ok, `${ctx}: expected ok stock; reply ${JSON.stringify(r)}`);
    const s = this.st(sku);
    assert.deepEqual(r.stock, { sku, onHand: s.onHand, reserved: s.reserved, available: s.onHand - s.reserved }, `${ctx}: stock of ${sku}`);
  }

  /** The server's order against the model's. */
  compareOrder(got: Order, want: MOrder, ctx: string): void {
    assert.ok(got && typeof got === 'object', `${ctx}: reply carries an order`);
    const view = (o: { orderId: string; customerId: string; items: Item[]; status: string; reason?: string; paymentDeadline: number; paymentRef?: string; trackingNo?: string; refundDue: boolean; history: { status: string; by: string }[] }) => ({
      orderId: o.orderId,
      customerId: o.customerId,
      items: o.items,
      status: o.status,
      reason: o.reason,
      paymentDeadline: o.paymentDeadline,
      paymentRef: o.paymentRef,
      trackingNo: o.trackingNo,
      refundDue: o.refundDue,
      history: o.history.map((h) => `${h.status}/${h.by}`),
    });
    assert.deepEqual(view(got), view(want), `${ctx}: order ${want.orderId}`);
    let prev = -Infinity;
    got.history.forEach((h, i) => {
      const w = want.history[i]!;
      assert.ok(h.at >= w.lo && h.at <= w.hi, `${ctx}: ${want.orderId} history[${i}].at ${h.at} not in [${w.lo}, ${w.hi}]`);
      assert.ok(h.at >= prev, `${ctx}: ${want.orderId} history goes back in time`);
      prev = h.at;
    });
  }

  /**
   * The whole observable state: every order and every SKU as the model has them, and the
   * protocol's invariants computed from what the server shows alone.
   */
  checkState(orders: Map<string, Order | null>, stock: Map<string, Stock>, ctx: string): void {
    for (const [id, got] of orders) {
      const want = this.orders.get(id);
      if (!want) {
        assert.equal(got, null, `${ctx}: order ${id} should not exist`);
        continue;
      }
      assert.ok(got, `${ctx}: order ${id} should exist`);
      this.compareOrder(got, want, ctx);
    }
    const reserved = new Map<string, number>();
    const shipped = new Map<string, number>();
    for (const o of orders.values()) {
      if (!o) continue;
      const statuses = o.history.map((h) => h.status);
      assert.ok(!(statuses.includes('cancelled') && statuses.includes('dispatched')), `${ctx}: order ${o.orderId} is both cancelled and dispatched`);
      for (const i of o.items) {
        if (HOLDING.has(o.status)) reserved.set(i.sku, (reserved.get(i.sku) ?? 0) + i.quantity);
        if (SHIPPED.has(o.status)) shipped.set(i.sku, (shipped.get(i.sku) ?? 0) + i.quantity);
      }
    }
    for (const [sku, s] of stock) {
      const want = this.st(sku);
      assert.deepEqual(s, { sku, onHand: want.onHand, reserved: want.reserved, available: want.onHand - want.reserved }, `${ctx}: stock of ${sku}`);
      assert.equal(s.reserved, reserved.get(sku) ?? 0, `${ctx}: reserved of ${sku} is not the sum of the live orders' quantities`);
      const expectOnHand = (this.initial[sku] ?? 0) + (this.adjSum.get(sku) ?? 0) - (shipped.get(sku) ?? 0);
      assert.equal(s.onHand, expectOnHand, `${ctx}: onHand of ${sku} is not initial + adjustments - shipped + returned`);
      assert.equal(s.available, s.onHand - s.reserved, `${ctx}: available of ${sku}`);
      assert.ok(s.available >= 0, `${ctx}: available of ${sku} is negative`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The runner

export interface Executor {
  /** Sends one action and resolves with its reply. */
  send(a: Action): Promise<Reply>;
  /** The time now (simulated or real). */
  now(): number;
  /** Moves simulated time and runs due timers (simulated clock only). */
  advance?(ms: number): Promise<void>;
  /** Moves simulated time without running timers yet (simulated clock only). */
  skew?(ms: number): void;
  /** Snapshots every shard (in-process only). */
  snapshot?(): Promise<void>;
  /** Restarts on the same stores, as after kill -9 (in-process only). */
  restart?(): Promise<void>;
  /**
   * After a payment: waits until the runtime's own step (paid → picking) has happened. In-process
   * it is settled before the reply; over a socket it follows the reply asynchronously.
   */
  afterPay?(orderId: string): Promise<void>;
  /** The runtime's published events since the last call (in-process only). */
  drainEvents?(): RuntimeEvent[];
  /** Sends several actions at once and resolves with their replies. */
  sendMany?(actions: Action[]): Promise<Reply[]>;
  readOrder(orderId: string): Promise<Order | null>;
  readStock(sku: string): Promise<Stock>;
  /** Puts the initial stock in place. */
  setStock(sku: string, onHand: number): Promise<void>;
}

export type RuntimeEvent =
  | { type: 'order.updated'; order: Order; rev: number }
  | { type: 'feed'; feed: string; order: Order };

/**
 * The events one step must publish: one `order.updated` per new history entry (rev = history
 * length, in order), a `warehouse` feed event per order entering picking, a `carrier` one per
 * order entering packed, and a `refunds` one when refundDue becomes true.
 */
function checkEvents(events: RuntimeEvent[], before: Map<string, { len: number; refundDue: boolean }>, model: Model, ctx: string): void {
  const got = events.map((e) => (e.type === 'order.updated' ? `updated ${e.order.orderId} rev ${e.rev} ${e.order.status}` : `feed ${e.feed} ${e.order.orderId}`));
  const want: string[] = [];
  for (const o of model.orders.values()) {
    const b = before.get(o.orderId) ?? { len: 0, refundDue: false };
    for (let r = b.len + 1; r <= o.history.length; r++) {
      const st = o.history[r - 1]!.status;
      want.push(`updated ${o.orderId} rev ${r} ${st}`);
      if (st === 'picking') want.push(`feed warehouse ${o.orderId}`);
      if (st === 'packed') want.push(`feed carrier ${o.orderId}`);
    }
    if (o.refundDue && !b.refundDue) want.push(`feed refunds ${o.orderId}`);
  }
  // Per order, updates come in revision order; across orders and feeds any order is fine.
  for (const e of events) {
    if (e.type !== 'order.updated') continue;
    assert.equal(e.order.history.length, e.rev, `${ctx}: event rev ${e.rev} vs history length ${e.order.history.length}`);
  }
  const perOrder = new Map<string, number[]>();
  for (const e of events) if (e.type === 'order.updated') perOrder.set(e.order.orderId, [...(perOrder.get(e.order.orderId) ?? []), e.rev]);
  for (const [id, revs] of perOrder) assert.deepEqual(revs, [...revs].sort((a, b) => a - b), `${ctx}: order.updated events of ${id} out of order`);
  assert.deepEqual([...got].sort(), [...want].sort(), `${ctx}: published events`);
}

export interface Names {
  order(i: number): string;
  sku(i: number): string;
  unknownSku: string;
  ref(i: number): string;
  trk(i: number): string;
  adj(sku: string, i: number): string;
}

/** Turns a generated op into the action to send, given what the model knows (for `replace`). */
export function toAction(op: Op, sc: Scenario, names: Names, model: Model, timeouts: number[]): Action | null {
  const orderId = 'o' in op ? names.order(op.o % sc.orders) : '';
  const placer = (who: number): { who: Who; customerId?: string } =>
    who < 2 ? { who: CUSTOMERS[who]! } : { who: 'admin', customerId: CUSTOMERS[who - 2]! };
  const custOrAdmin = (who: number): Who => (who < 2 ? CUSTOMERS[who]! : 'admin');
  switch (op.k) {
    case 'place': {
      const seen = new Set<string>();
      const items: Item[] = [];
      for (const i of op.items) {
        const sku = i.s === 3 ? names.unknownSku : names.sku(i.s % sc.initial.length);
        if (seen.has(sku)) continue;
        seen.add(sku);
        items.push({ sku, quantity: i.q });
      }
      const p = placer(op.who);
      return { type: 'order.place', who: p.who, args: { orderId, items, paymentTimeoutMs: timeouts[op.t % timeouts.length], ...(p.customerId ? { customerId: p.customerId } : {}) } };
    }
    case 'replace': {
      const existing = model.orders.get(orderId);
      const items = existing ? existing.items.map((i) => ({ ...i })) : [{ sku: names.sku(0), quantity: 1 }];
      if (op.shuffle) items.reverse();
      const p = placer(op.who);
      return { type: 'order.place', who: p.who, args: { orderId, items, paymentTimeoutMs: timeouts[0], ...(p.customerId ? { customerId: p.customerId } : {}) } };
    }
    case 'pay':
      return { type: 'order.pay', who: 'payments', args: { orderId, paymentRef: names.ref(op.ref) } };
    case 'cancel':
      return { type: 'order.cancel', who: custOrAdmin(op.who), args: { orderId, ...(op.note ? { reason: 'changed my mind' } : {}) } };
    case 'pack':
      return { type: 'wms.packed', who: 'warehouse', args: { orderId } };
    case 'ack':
      return { type: 'tms.ack', who: 'carrier', args: { orderId, trackingNo: names.trk(op.trk) } };
    case 'deliver':
      return { type: 'tms.delivered', who: 'carrier', args: { orderId } };
    case 'return':
      return { type: 'order.return', who: custOrAdmin(op.who), args: { orderId, ...(op.reason ? { reason: 'too small' } : {}) } };
    case 'received':
      return { type: 'return.received', who: 'warehouse', args: { orderId } };
    case 'adjust': {
      const sku = names.sku(op.s % sc.initial.length);
      // An adjustment id always comes with the same delta, so a repeat is a true repeat.
      if (op.adj >= 0) return { type: 'inventory.adjust', who: 'admin', args: { sku, delta: ADJ_DELTAS[op.adj], adjustmentId: names.adj(sku, op.adj) } };
      return { type: 'inventory.adjust', who: 'admin', args: { sku, delta: op.delta } };
    }
    case 'set':
      return { type: 'inventory.set', who: 'admin', args: { sku: names.sku(op.s % sc.initial.length), onHand: op.onHand } };
    case 'get':
      return { type: 'order.get', who: custOrAdmin(op.who), args: { orderId } };
    case 'next': {
      const o = model.orders.get(orderId);
      const cust = o ? (o.customerId as Who) : CUSTOMERS[op.v % 2]!;
      switch (o?.status) {
        case undefined:
          return { type: 'order.place', who: cust, args: { orderId, items: [{ sku: names.sku(op.v % sc.initial.length), quantity: 1 + (op.v % 2) }], paymentTimeoutMs: timeouts[op.v % timeouts.length] } };
        case 'awaiting_payment':
          return { type: 'order.pay', who: 'payments', args: { orderId, paymentRef: names.ref(op.v % 2) } };
        case 'paid':
        case 'picking':
          return { type: 'wms.packed', who: 'warehouse', args: { orderId } };
        case 'packed':
          return { type: 'tms.ack', who: 'carrier', args: { orderId, trackingNo: names.trk(op.v % 2) } };
        case 'dispatched':
          return { type: 'tms.delivered', who: 'carrier', args: { orderId } };
        case 'delivered':
          return { type: 'order.return', who: op.v < 3 ? cust : 'admin', args: { orderId, ...(op.v % 2 ? { reason: 'broken' } : {}) } };
        case 'return_requested':
          return { type: 'return.received', who: 'warehouse', args: { orderId } };
        default:
          return { type: 'order.get', who: op.v < 3 ? cust : 'admin', args: { orderId } };
      }
    }
    case 'advance':
    case 'skew':
    case 'snapshot':
    case 'restart':
    case 'burst':
      return null;
  }
}

export function describeAction(a: Action): string {
  return `${a.who} ${a.type} ${JSON.stringify(a.args)}`;
}

/** Runs one scenario; throws (with the step and what differed) on the first mismatch. */
export async function runScenario(
  sc: Scenario,
  ex: Executor,
  names: Names,
  opts: { timeouts: number[]; exactTime: boolean; stats?: Map<string, number> },
): Promise<void> {
  const count = (k: string) => opts.stats?.set(k, (opts.stats.get(k) ?? 0) + 1);
  const initial: Record<string, number> = {};
  sc.initial.forEach((n, i) => (initial[names.sku(i)] = n));
  for (const [sku, n] of Object.entries(initial)) await ex.setStock(sku, n);
  let model = new Model(initial, names.unknownSku);
  const orderIds = Array.from({ length: sc.orders }, (_, i) => names.order(i));
  const skus = [...Object.keys(initial), names.unknownSku];
  ex.drainEvents?.();
  const readState = async () => {
    const orders = new Map<string, Order | null>();
    for (const id of orderIds) orders.set(id, await ex.readOrder(id));
    const stock = new Map<string, Stock>();
    for (const sku of skus) stock.set(sku, await ex.readStock(sku));
    return { orders, stock };
  };
  for (let stepNo = 0; stepNo < sc.ops.length; stepNo++) {
    const op = sc.ops[stepNo]!;
    let ctx = `step ${stepNo} ${JSON.stringify(op)}`;
    const before = new Map([...model.orders.values()].map((o) => [o.orderId, { len: o.history.length, refundDue: o.refundDue }]));
    if (op.k === 'advance' || op.k === 'skew' || op.k === 'snapshot' || op.k === 'restart') count(op.k);
    if (op.k === 'advance') {
      if (!ex.advance) continue;
      await ex.advance(op.ms);
      model.lo = model.hi = ex.now();
      model.timersRan(ex.now());
    } else if (op.k === 'skew') {
      if (!ex.skew) continue;
      ex.skew(op.ms);
    } else if (op.k === 'snapshot') {
      if (!ex.snapshot) continue;
      await ex.snapshot();
    } else if (op.k === 'restart') {
      if (!ex.restart) continue;
      await ex.restart();
      // A start fires every timer already due (a deadline that passed while down, or during a skew).
      model.lo = model.hi = ex.now();
      model.timersRan(ex.now());
    } else if (op.k === 'burst') {
      if (!ex.sendMany) continue;
      const actions = burstActions(op.ops, sc, names, model, opts.timeouts);
      ctx += ` → concurrently: ${actions.map(describeAction).join(' | ')}`;
      const lo = ex.now();
      const replies = await ex.sendMany(actions);
      for (let i = 0; i < actions.length; i++) {
        const a = actions[i]!;
        const r = replies[i]!;
        assert.ok(r.ok === true || (r.error && typeof r.error.code === 'string'), `${ctx}: malformed reply ${JSON.stringify(r)}`);
        if (a.type === 'order.pay' && r.ok && (r.order as Order).status === 'paid' && ex.afterPay) await ex.afterPay(a.args.orderId as string);
      }
      model.lo = lo;
      model.hi = opts.exactTime ? lo : ex.now();
      const events = ex.drainEvents ? ex.drainEvents() : null;
      const { orders, stock } = await readState();
      model = linearize(model, actions, replies, events, before, orders, stock, ctx);
      count(`burst of ${actions.length}`);
      for (let i = 0; i < actions.length; i++) count(`${actions[i]!.type} → ${replies[i]!.ok ? 'ok' : replies[i]!.error!.code} (in a burst)`);
      continue;
    } else {
      const a = toAction(op, sc, names, model, opts.timeouts)!;
      ctx += ` → ${describeAction(a)}`;
      const lo = ex.now();
      const r = await ex.send(a);
      const hi = ex.now();
      model.lo = lo;
      model.hi = opts.exactTime ? lo : hi;
      assert.ok(r.ok === true || (r.error && typeof r.error.code === 'string'), `${ctx}: malformed reply ${JSON.stringify(r)}`);
      model.step(a, r, ctx);
      if (a.type === 'order.pay' && r.ok && (r.order as Order).status === 'paid' && ex.afterPay) {
        await ex.afterPay(a.args.orderId as string);
        model.orders.get(a.args.orderId as string)!.history.at(-1)!.hi = ex.now();
      }
      count(`${a.type} → ${r.ok ? 'ok' : r.error!.code}`);
    }
    if (ex.drainEvents) checkEvents(ex.drainEvents(), before, model, ctx);
    const { orders, stock } = await readState();
    model.checkState(orders, stock, `${ctx} (state after)`);
  }
  for (const o of model.orders.values()) count(`final status ${o.status}${o.reason ? ` (${o.reason})` : ''}`);
}

// ---------------------------------------------------------------------------------------------
// Bursts: concurrent commands, checked for linearizability

const STOCK_CHANGING = new Set(['order.place', 'order.cancel', 'inventory.adjust', 'inventory.set', 'return.received']);

/**
 * The actions of a burst. A placement reserves its SKUs one by one and compensates on a refusal
 * ("all or nothing, no lock"), so next to another command that changes what is available it may
 * legitimately see a state no serial order produces; such pairs are not sent together: a burst
 * holds either placements (of one orderId) and commands that leave `available` alone, or no
 * placement at all.
 */
function burstActions(ops: Op[], sc: Scenario, names: Names, model: Model, timeouts: number[]): Action[] {
  const out: Action[] = [];
  for (const op of ops) {
    const a = toAction(op, sc, names, model, timeouts);
    if (!a) continue;
    const o = a.args.orderId === undefined ? undefined : model.orders.get(a.args.orderId as string);
    const changesStock = STOCK_CHANGING.has(a.type) || (a.type === 'order.pay' && o?.status === 'awaiting_payment' && model.lo >= o.paymentDeadline);
    const places = out.filter((x) => x.type === 'order.place');
    const others = out.filter((x) => x.type !== 'order.place' && (STOCK_CHANGING.has(x.type) || x.type === 'order.pay'));
    if (a.type === 'order.place') {
      if (others.length > 0 || places.some((p) => p.args.orderId !== a.args.orderId)) continue;
    } else if (changesStock && places.length > 0) continue;
    out.push(a);
  }
  return out;
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  const out: T[][] = [];
  items.forEach((x, i) => {
    for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)])) out.push([x, ...rest]);
  });
  return out;
}

/**
 * Finds a serial order of the burst's commands (with the runtime's own paid → picking step after
 * each payment, anywhere later) that explains every reply, the events and the resulting state.
 * Returns the model after it; fails, listing why each order was rejected, if there is none.
 */
function linearize(
  model: Model,
  actions: Action[],
  replies: Reply[],
  events: RuntimeEvent[] | null,
  before: Map<string, { len: number; refundDue: boolean }>,
  orders: Map<string, Order | null>,
  stock: Map<string, Stock>,
  ctx: string,
): Model {
  type Item = { a: number } | { pick: number };
  const items: Item[] = actions.map((_, i) => ({ a: i }));
  actions.forEach((a, i) => {
    if (a.type === 'order.pay') items.push({ pick: i });
  });
  const rejected: string[] = [];
  for (const perm of permutations(items)) {
    // The hand-over follows its payment.
    const pos = new Map(perm.map((it, k) => ['a' in it ? `a${it.a}` : `p${it.pick}`, k]));
    if (perm.some((it) => 'pick' in it && pos.get(`p${it.pick}`)! < pos.get(`a${it.pick}`)!)) continue;
    const m = model.clone();
    m.immediatePicking = false;
    const label = perm.map((it) => ('a' in it ? `${it.a}` : `pick(${it.pick})`)).join(',');
    try {
      for (const it of perm) {
        if ('a' in it) m.step(actions[it.a]!, replies[it.a]!, `${ctx} [serial order ${label}]`);
        else m.pick(actions[it.pick]!.args.orderId as string);
      }
      if (events) checkEvents(events, before, m, `${ctx} [serial order ${label}]`);
      m.checkState(orders, stock, `${ctx} [serial order ${label}] (state after)`);
    } catch (err) {
      if (!(err instanceof assert.AssertionError)) throw err;
      rejected.push(`  ${label}: ${err.message.split('\n')[0]}`);
      continue;
    }
    m.immediatePicking = true;
    return m;
  }
  const got = actions.map((a, i) => `  ${describeAction(a)} → ${JSON.stringify(replies[i]).slice(0, 300)}`).join('\n');
  return assert.fail(`${ctx}: no serial order of the concurrent commands explains the replies and the state.\nreplies:\n${got}\nserial orders tried:\n${rejected.join('\n')}`);
}
