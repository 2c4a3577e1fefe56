import type { CommandArgs } from './protocol-map.js';

/**
 * Which commands a client may send again after an OVERLOADED / UNAVAILABLE reply or a connection
 * lost before the reply: exactly those the protocol's accept table makes idempotent when repeated
 * with the same ids (same orderId, paymentRef, trackingNo, adjustmentId), and the reads.
 * `inventory.adjust` without an `adjustmentId` would be applied twice: never retried.
 * Subscriptions are not here: the client re-subscribes them itself after a reconnect.
 */
const ALWAYS = new Set<keyof CommandArgs>([
  'order.place',
  'order.pay',
  'order.cancel',
  'wms.packed',
  'tms.ack',
  'tms.delivered',
  'order.return',
  'return.received',
  'inventory.set',
  'inventory.get',
  'order.get',
  'order.list',
  'stats.get',
  'actor.inspect',
]);

export function isRetryable<T extends keyof CommandArgs>(type: T, args: CommandArgs[T]): boolean {
  if (type === 'inventory.adjust') return (args as CommandArgs['inventory.adjust']).adjustmentId !== undefined;
  return ALWAYS.has(type);
}

/** Refusals that mean "not applied, retry later" (PROTOCOL.md, "Error codes"). */
export const RETRY_LATER: ReadonlySet<string> = new Set(['OVERLOADED', 'UNAVAILABLE']);

export interface BackoffOptions {
  /** First delay (ms). */
  initialMs: number;
  /** Ceiling of any delay (ms). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

/**
 * Exponential back-off with jitter: attempt n waits between half and all of
 * min(max, initial·2^n), so clients cut off together do not come back together.
 */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
