import type { ActorEvent } from '../protocol/messages.js';
import type { Feed } from '../protocol/model.js';

/** Something that receives pushed event frames (a connection's subscription). */
export interface Subscriber {
  /** `rev` is the order's revision (its history length); `frame` is the serialised event. */
  push(orderId: string, rev: number, frame: string): void;
}

/**
 * Who listens to what: per-order subscribers and per-feed subscribers. Each event is serialised
 * once and handed to every subscriber.
 */
export class SubscriptionHub {
  private readonly orders = new Map<string, Set<Subscriber>>();
  private readonly feeds = new Map<Feed, Set<Subscriber>>();

  addOrder(orderId: string, s: Subscriber): void {
    let set = this.orders.get(orderId);
    if (!set) this.orders.set(orderId, (set = new Set()));
    set.add(s);
  }

  removeOrder(orderId: string, s: Subscriber): void {
    const set = this.orders.get(orderId);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.orders.delete(orderId);
  }

  addFeed(feed: Feed, s: Subscriber): void {
    let set = this.feeds.get(feed);
    if (!set) this.feeds.set(feed, (set = new Set()));
    set.add(s);
  }

  removeFeed(feed: Feed, s: Subscriber): void {
    const set = this.feeds.get(feed);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.feeds.delete(feed);
  }

  /** Fans one durable change out to its subscribers. */
  publish(e: ActorEvent): void {
    if (e.type === 'order.updated') {
      const set = this.orders.get(e.order.orderId);
      if (!set || set.size === 0) return;
      const frame = JSON.stringify({ event: 'order.updated', order: e.order });
      for (const s of set) s.push(e.order.orderId, e.rev, frame);
    } else {
      const set = this.feeds.get(e.feed);
      if (!set || set.size === 0) return;
      const frame = JSON.stringify({ event: 'feed', feed: e.feed, order: e.order });
      for (const s of set) s.push(e.order.orderId, e.order.history.length, frame);
    }
  }
}
