import type { Order } from '../../protocol/model.js';

/**
 * The latest state of the orders that changed most recently (the `orders` feed's first reply,
 * so a dashboard that opens shows the last changes at once). Bounded: the oldest leave first.
 * Each host thread keeps one over its own shards' order events (so the events need not cross
 * to the gateway while nobody subscribes); `mergeRecent` joins them.
 */
export class RecentOrders {
  private readonly latest = new Map<string, Order>();

  constructor(private readonly capacity = 50) {}

  note(order: Order): void {
    // Re-inserting moves the order to the newest end of the Map's insertion order.
    this.latest.delete(order.orderId);
    this.latest.set(order.orderId, order);
    if (this.latest.size > this.capacity) this.latest.delete(this.latest.keys().next().value as string);
  }

  /** Oldest change first, as events would have arrived. */
  list(): Order[] {
    return [...this.latest.values()];
  }
}

/** The `capacity` latest of several hosts' lists, oldest change first (by the time of each order's last change). */
export function mergeRecent(lists: Order[][], capacity = 50): Order[] {
  const lastChange = (o: Order) => o.history[o.history.length - 1]?.at ?? 0;
  return lists
    .flat()
    .sort((a, b) => lastChange(a) - lastChange(b))
    .slice(-capacity);
}
