import type { Order } from '../protocol/model.js';

/**
 * The latest state of the orders that changed most recently (the `orders` feed's first reply,
 * so a dashboard that opens shows the last changes at once). Bounded: the oldest leave first.
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
