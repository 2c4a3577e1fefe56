import type { Order, OrderStatus } from '../protocol/model.js';

/**
 * `order.list`: orders are listed oldest first, by (placement time, orderId), so that a page
 * boundary never moves when new orders arrive. The cursor is opaque to clients; inside it is the
 * sort key of the last order returned.
 */
export interface OrderQuery {
  status?: OrderStatus;
  customerId?: string;
  limit: number;
  after?: SortKey;
}

export type SortKey = [placedAt: number, orderId: string];

export interface OrderPage {
  orders: Order[];
}

export function sortKeyOf(o: Order): SortKey {
  return [o.history[0]!.at, o.orderId];
}

export function compareKeys(a: SortKey, b: SortKey): number {
  return a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
}

export function encodeCursor(key: SortKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Returns undefined for anything that is not a cursor this server issued. */
export function decodeCursor(cursor: string): SortKey | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') {
      return [v[0] as number, v[1] as string];
    }
  } catch {
    // fall through
  }
  return undefined;
}

export function matches(o: Order, q: OrderQuery): boolean {
  if (q.customerId !== undefined && o.customerId !== q.customerId) return false;
  if (q.status !== undefined && o.status !== q.status) return false;
  return q.after === undefined || compareKeys(sortKeyOf(o), q.after) > 0;
}

/** Merges the pages of every shard into one page of `limit` and the cursor for the next. */
export function mergePages(pages: OrderPage[], limit: number): { orders: Order[]; next: string | null } {
  const all = pages.flatMap((p) => p.orders).sort((a, b) => compareKeys(sortKeyOf(a), sortKeyOf(b)));
  const orders = all.slice(0, limit);
  const last = orders[orders.length - 1];
  return { orders, next: all.length > limit && last ? encodeCursor(sortKeyOf(last)) : null };
}
