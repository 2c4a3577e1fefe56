/**
 * The workloads the scenarios run: what each connection slot sends next, and what it counts from
 * the replies. The counts are the generator's side of the invariant checks (scenarios.ts), so
 * they record only what the server acknowledged, per SKU.
 */
import { BENCH_TOKENS } from './server-process.js';
import { type Command, type Driver, Histogram, type Phase, type Reply } from './load-generator.js';

/**
 * Single-item orders (quantity 1) on a random SKU of `skus`, until the duration ends, `budget`
 * orders have been sent, or `measuredBudget` orders have been sent inside the measured window
 * (--orders). Counts what was acknowledged per SKU: the invariant checks compare it with the
 * server's `reserved`.
 */
export class PlaceDriver implements Driver {
  issued = 0;
  /** Orders sent while the window was measuring. */
  issuedMeasured = 0;
  readonly acceptedBySku: Int32Array;
  accepted = 0;
  readonly outcomes: Record<string, number> = {};
  /** ok replies whose order is not the one we placed, or not in `awaiting_payment`. */
  malformed = 0;

  constructor(
    private readonly skus: string[],
    private readonly budget: number | undefined,
    private readonly measuredBudget?: number,
  ) {
    this.acceptedBySku = new Int32Array(skus.length);
  }

  next(_slot: number, phase: Phase): Command | null {
    if (phase.stopping || (this.budget !== undefined && this.issued >= this.budget)) return null;
    if (phase.measuring && this.measuredBudget !== undefined) {
      if (this.issuedMeasured >= this.measuredBudget) return null;
      this.issuedMeasured++;
    }
    const idx = this.skus.length === 1 ? 0 : Math.floor(Math.random() * this.skus.length);
    // Order ids are unique per run by construction (the server is fresh per scenario).
    const orderId = `o${++this.issued}`;
    return {
      via: 0,
      step: 'order.place',
      frame: { type: 'order.place', orderId, customerId: 'c', items: [{ sku: this.skus[idx], quantity: 1 }] },
      tag: idx,
    };
  }

  onReply(_slot: number, cmd: Command, reply: Reply): void {
    const code = reply.ok ? 'ok' : (reply.error?.code ?? 'UNKNOWN');
    this.outcomes[code] = (this.outcomes[code] ?? 0) + 1;
    if (!reply.ok) return;
    const order = reply.order as { orderId?: unknown; status?: unknown } | undefined;
    if (order?.orderId !== cmd.frame.orderId || order?.status !== 'awaiting_payment') this.malformed++;
    this.acceptedBySku[cmd.tag as number]++;
    this.accepted++;
  }
}

const LIFECYCLE = [
  { step: 'order.place', via: 0, expect: ['awaiting_payment'] },
  // The pay reply may already show `picking` if the runtime handed the order over first.
  { step: 'order.pay', via: 1, expect: ['paid', 'picking'] },
  { step: 'wms.packed', via: 2, expect: ['packed'] },
  { step: 'tms.ack', via: 3, expect: ['dispatched'] },
  { step: 'tms.delivered', via: 3, expect: ['delivered'] },
] as const;

/** Sockets per connection slot in `lifecycle`, in `Command.via` order: each step's role. */
export const LIFECYCLE_TOKENS = [BENCH_TOKENS.admin, BENCH_TOKENS.payments, BENCH_TOKENS.warehouse, BENCH_TOKENS.carrier];

interface LifeSlot {
  orderId: string;
  skuIdx: number;
  step: number;
  startedAt: bigint;
}

/**
 * Each slot drives one order through its whole life, one step at a time (each step waits for the
 * previous reply: PROTOCOL.md lets commands on a connection run concurrently, so a client that
 * needs order waits). Once the duration is over, a slot finishes the lifecycle under way and
 * starts no new one, so that the checks see only finished (or failed) orders.
 */
export class LifecycleDriver implements Driver {
  private readonly slots: LifeSlot[] = [];
  started = 0;
  completed = 0;
  completedMeasured = 0;
  readonly lifecycleLatency = new Histogram();
  readonly outcomes: Record<string, number> = {};
  /** `<step>:<code>` → count, for steps that did not answer ok. */
  readonly failures: Record<string, number> = {};
  /** ok replies showing a status the step should not produce. */
  unexpectedStatus = 0;
  /** Per SKU: quantity of acknowledged orders not (yet) dispatched, and of dispatched ones. */
  readonly heldBySku: Int32Array;
  readonly shippedBySku: Int32Array;
  readonly deliveredIds: string[] = [];

  constructor(
    private readonly skus: string[],
    private readonly budget: number | undefined,
  ) {
    this.heldBySku = new Int32Array(skus.length);
    this.shippedBySku = new Int32Array(skus.length);
  }

  next(slot: number, phase: Phase): Command | null {
    let s = this.slots[slot];
    if (!s || s.step === 0) {
      if (phase.stopping || (this.budget !== undefined && this.started >= this.budget)) return null;
      s = { orderId: `l${++this.started}`, skuIdx: Math.floor(Math.random() * this.skus.length), step: 0, startedAt: process.hrtime.bigint() };
      this.slots[slot] = s;
    }
    const { orderId } = s;
    const via = LIFECYCLE[s.step].via;
    switch (s.step) {
      case 0:
        return { via, step: 'order.place', frame: { type: 'order.place', orderId, customerId: 'c', items: [{ sku: this.skus[s.skuIdx], quantity: 1 }] } };
      case 1:
        return { via, step: 'order.pay', frame: { type: 'order.pay', orderId, paymentRef: `p-${orderId}` } };
      case 2:
        return { via, step: 'wms.packed', frame: { type: 'wms.packed', orderId } };
      case 3:
        return { via, step: 'tms.ack', frame: { type: 'tms.ack', orderId, trackingNo: `t-${orderId}` } };
      default:
        return { via, step: 'tms.delivered', frame: { type: 'tms.delivered', orderId } };
    }
  }

  onReply(slot: number, cmd: Command, reply: Reply, phase: Phase): void {
    const s = this.slots[slot];
    const code = reply.ok ? 'ok' : (reply.error?.code ?? 'UNKNOWN');
    this.outcomes[code] = (this.outcomes[code] ?? 0) + 1;
    if (!reply.ok) {
      this.failures[`${cmd.step}:${code}`] = (this.failures[`${cmd.step}:${code}`] ?? 0) + 1;
      // The order stays where it is (holding its stock, if it was placed); the slot moves on.
      s.step = 0;
      return;
    }
    const status = (reply.order as { status?: string } | undefined)?.status ?? '';
    if (!(LIFECYCLE[s.step].expect as readonly string[]).includes(status)) this.unexpectedStatus++;
    if (s.step === 0) this.heldBySku[s.skuIdx]++;
    if (s.step === 3) {
      // Dispatched: the unit left the warehouse (onHand and reserved both drop).
      this.heldBySku[s.skuIdx]--;
      this.shippedBySku[s.skuIdx]++;
    }
    if (s.step === 4) {
      this.completed++;
      if (this.deliveredIds.length < 100 || Math.random() < 0.001) this.deliveredIds.push(s.orderId);
      if (phase.measuring) {
        this.completedMeasured++;
        this.lifecycleLatency.recordNs(Number(process.hrtime.bigint() - s.startedAt));
      }
      s.step = 0;
      return;
    }
    s.step++;
  }
}
