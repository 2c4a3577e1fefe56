import type { Feed, Order } from '../protocol/model.js';

export type SubscriptionTarget = { type: 'order.subscribe'; orderId: string } | { type: 'feed.subscribe'; feed: Feed };

/**
 * One subscription the client keeps across reconnects. Each order's revision (its history
 * length) is remembered, so the state shown again by a re-subscription, or an event that
 * arrives twice, reaches the listener only when it is news.
 */
export class ClientSubscription {
  private readonly seen = new Map<string, number>();
  active = true;

  constructor(
    readonly target: SubscriptionTarget,
    private readonly listener: (order: Order) => void,
    private readonly remember = 10_000,
  ) {}

  matches(frame: { event: string; feed?: string; order?: Order }): boolean {
    if (!frame.order) return false;
    if (this.target.type === 'order.subscribe') return frame.event === 'order.updated' && frame.order.orderId === this.target.orderId;
    return frame.event === 'feed' && frame.feed === this.target.feed;
  }

  /** Marks orders of a (re-)subscription reply as seen; returns those that are news. */
  offer(order: Order): boolean {
    const rev = order.history.length;
    if (!this.active || rev <= (this.seen.get(order.orderId) ?? 0)) return false;
    this.seen.delete(order.orderId);
    this.seen.set(order.orderId, rev);
    // A feed sees unboundedly many orders: forget the oldest rather than grow without end.
    if (this.seen.size > this.remember) this.seen.delete(this.seen.keys().next().value as string);
    return true;
  }

  deliver(order: Order): void {
    if (this.offer(order)) this.listener(order);
  }
}
