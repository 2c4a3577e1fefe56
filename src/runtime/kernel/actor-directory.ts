import type { OrderSummary } from '../../actors/order.js';
import { ORDER_STATUSES, type OrderStatus } from '../../protocol/model.js';
import { ASSERTS, invariant } from './dev-asserts.js';

const ORDER_PREFIX = 'order:';

/**
 * The directory's entry for an actor whose behaviour keeps no summary: known to have durable
 * state, and nothing more. Memory only: a snapshot's directory entry leaves its `i` out instead.
 */
export const NO_SUMMARY = 1;

/**
 * A cell's `listedSummary` while its actor is known to have no directory entry (a key its shard
 * had never listed when the cell was made, or one whose entry its cell deleted): its first entry
 * is then added without a lookup.
 */
export const NOT_LISTED: unique symbol = Symbol('not listed');

function statusOf(key: string, summary: unknown): OrderStatus | undefined {
  return key.startsWith(ORDER_PREFIX) && Array.isArray(summary) ? (summary as OrderSummary)[1] : undefined;
}

/** Summaries are plain values or flat arrays of them (an order's). */
export function sameSummary(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A shard's directory: every actor with durable state, loaded or not, keyed to its behaviour's
 * summary (or `NO_SUMMARY`). It also counts orders per status as entries change, so a count never needs a
 * scan of the orders; since recovery rebuilds the directory through the same `set`, the counts
 * are right after a restart too.
 */
export class ActorDirectory {
  private readonly entries = new Map<string, unknown>();
  private readonly counts = new Map<OrderStatus, number>();

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get(key: string): unknown {
    return this.entries.get(key);
  }

  set(key: string, summary: unknown): void {
    const old = this.entries.get(key);
    // Most changes leave the summary as it was (a SKU's is always NO_SUMMARY): nothing to do then.
    if (old !== undefined && sameSummary(old, summary)) return;
    this.uncount(key, old);
    this.entries.set(key, summary);
    this.count(key, summary);
  }

  /** `set` for a key known not to be listed (a new actor's first entry): no lookup of an old one. */
  add(key: string, summary: unknown): void {
    if (ASSERTS) invariant(!this.entries.has(key), `a directory entry added for a key already listed (${key})`);
    this.entries.set(key, summary);
    this.count(key, summary);
  }

  delete(key: string): void {
    this.uncount(key, this.entries.get(key));
    this.entries.delete(key);
  }

  [Symbol.iterator](): IterableIterator<[string, unknown]> {
    return this.entries[Symbol.iterator]();
  }

  /** Orders per status in this shard (every status present, 0 when none). */
  statusCounts(): Record<OrderStatus, number> {
    const out = {} as Record<OrderStatus, number>;
    for (const s of ORDER_STATUSES) out[s] = this.counts.get(s) ?? 0;
    return out;
  }

  private count(key: string, summary: unknown): void {
    const status = statusOf(key, summary);
    if (status !== undefined) this.counts.set(status, (this.counts.get(status) ?? 0) + 1);
  }

  private uncount(key: string, summary: unknown): void {
    const status = statusOf(key, summary);
    if (status !== undefined) this.counts.set(status, (this.counts.get(status) ?? 1) - 1);
  }
}
