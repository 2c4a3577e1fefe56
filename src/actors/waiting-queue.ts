import type { ActorContext } from './behaviour.js';
import type { ActorRequest } from '../protocol/messages.js';

/**
 * The set of orders waiting at one station (warehouse: to be packed; carrier: to be collected;
 * refunds: to be paid back). Feeds list it to a new subscriber. Adds and removes are idempotent,
 * so a redelivered request changes nothing.
 */
export interface QueueRecord {
  add?: string;
  remove?: string;
  /** Snapshot form: the whole queue. */
  all?: string[];
}

/** Handles `queue.add` / `queue.remove`; returns false for any other request. */
export function handleQueueRequest(
  waiting: Set<string>,
  request: ActorRequest,
  ctx: ActorContext<QueueRecord>,
): boolean {
  if (request.type === 'queue.add') {
    if (!waiting.has(request.orderId)) {
      waiting.add(request.orderId);
      ctx.persist({ add: request.orderId });
      ctx.note('{} now waiting', request.orderId);
    }
    ctx.reply({ ok: true });
    return true;
  }
  if (request.type === 'queue.remove') {
    removeFromQueue(waiting, request.orderId, ctx);
    ctx.reply({ ok: true });
    return true;
  }
  return false;
}

export function removeFromQueue(waiting: Set<string>, orderId: string, ctx: ActorContext<QueueRecord>): void {
  if (waiting.delete(orderId)) {
    ctx.persist({ remove: orderId });
    ctx.note('{} no longer waiting', orderId);
  }
}

export function restoreQueue(waiting: Set<string>, rec: QueueRecord): void {
  if (rec.all) {
    waiting.clear();
    for (const id of rec.all) waiting.add(id);
  }
  if (rec.add !== undefined) waiting.add(rec.add);
  if (rec.remove !== undefined) waiting.delete(rec.remove);
}

/**
 * Replies the station is waiting for, per order, in the order the requests were sent: the order
 * actor answers one station's requests in the order it received them.
 */
export class PendingAnswers {
  private readonly byOrder = new Map<string, number[]>();

  push(orderId: string, handle: number): void {
    const list = this.byOrder.get(orderId);
    if (list) list.push(handle);
    else this.byOrder.set(orderId, [handle]);
  }

  shift(orderId: string): number | undefined {
    const list = this.byOrder.get(orderId);
    if (!list) return undefined;
    const h = list.shift();
    if (list.length === 0) this.byOrder.delete(orderId);
    return h;
  }
}

/**
 * How a state with a `waiting` queue is journaled and snapshotted: the same for every station
 * (warehouse, carrier, refunds), spread into their behaviours.
 */
export const queueDurability = {
  restore<S extends { waiting: Set<string> }>(s: S, rec: QueueRecord): S {
    restoreQueue(s.waiting, rec);
    return s;
  },
  isEmpty: (s: { waiting: Set<string> }): boolean => s.waiting.size === 0,
  snapshot: (s: { waiting: Set<string> }): QueueRecord[] => [{ all: [...s.waiting] }],
};
