import type { ActorEvent } from '../protocol/messages.js';
import type { Feed } from '../protocol/model.js';

/** Something that receives pushed event frames (a connection's subscription). */
export interface Subscriber {
  /** `rev` is the order's revision (its history length); `frame` is the serialised event. */
  push(orderId: string, rev: number, frame: string): void;
}

function add<K>(m: Map<K, Set<Subscriber>>, key: K, s: Subscriber): void {
  let set = m.get(key);
  if (!set) m.set(key, (set = new Set()));
  set.add(s);
}

/** Removes a subscriber, and the key with its last one (a closed order's entry must not linger). */
function remove<K>(m: Map<K, Set<Subscriber>>, key: K, s: Subscriber): void {
  const set = m.get(key);
  if (!set) return;
  set.delete(s);
  if (set.size === 0) m.delete(key);
}

/**
 * Who listens to what: per-order subscribers and per-feed subscribers. Each event is serialised
 * once and handed to every subscriber.
 */
export class SubscriptionHub {
  private readonly orders = new Map<string, Set<Subscriber>>();
  private readonly feeds = new Map<Feed, Set<Subscriber>>();

  /** `onListening`: called when the first subscriber comes (true) and when the last one goes (false). */
  constructor(private readonly onListening: (listening: boolean) => void = () => {}) {}

  /** Someone subscribes to something. */
  get listening(): boolean {
    return this.orders.size > 0 || this.feeds.size > 0;
  }

  private changing(change: () => void): void {
    const before = this.listening;
    change();
    if (this.listening !== before) this.onListening(this.listening);
  }

  addOrder(orderId: string, s: Subscriber): void {
    this.changing(() => add(this.orders, orderId, s));
  }

  removeOrder(orderId: string, s: Subscriber): void {
    this.changing(() => remove(this.orders, orderId, s));
  }

  addFeed(feed: Feed, s: Subscriber): void {
    this.changing(() => add(this.feeds, feed, s));
  }

  removeFeed(feed: Feed, s: Subscriber): void {
    this.changing(() => remove(this.feeds, feed, s));
  }

  /** The `orders` feed: every order change, serialised only when someone listens. */
  private publishAll(orderId: string, rev: number, frame: () => string): void {
    const set = this.feeds.get('orders');
    if (!set || set.size === 0) return;
    const text = frame();
    for (const s of set) s.push(orderId, rev, text);
  }

  /** Fans one durable change out to its subscribers. */
  publish(e: ActorEvent): void {
    if (e.type === 'order.updated') {
      this.publishAll(e.order.orderId, e.rev, () => JSON.stringify({ event: 'feed', feed: 'orders', order: e.order }));
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
