import type { Order, OrderStatus } from '../../protocol/model.js';

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

/** What one shard answers: the sort keys of its matching orders, at most `limit`, in order. */
export interface OrderPage {
  found: SortKey[];
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

/** Merges the pages of every shard into the keys of one page of `limit`, and the cursor for the next. */
export function mergePages(pages: OrderPage[], limit: number): { keys: SortKey[]; next: string | null } {
  const all = pages.flatMap((p) => p.found).sort(compareKeys);
  const keys = all.slice(0, limit);
  const last = keys[keys.length - 1];
  return { keys, next: all.length > limit && last ? encodeCursor(last) : null };
}

/**
 * The orders of a merged page, each read from its actor (through the output gate, so only
 * durable states are shown). An order whose status moved since the shard's summary was taken
 * is left out: a page may hold fewer than `limit` orders while `next` is not null.
 */
export async function fetchPage(
  merged: { keys: SortKey[]; next: string | null },
  q: OrderQuery,
  get: (orderId: string) => Promise<Order | undefined>,
): Promise<{ orders: Order[]; next: string | null }> {
  const orders = await Promise.all(merged.keys.map(([, id]) => get(id)));
  return { orders: orders.filter((o): o is Order => o !== undefined && matches(o, { ...q, after: undefined })), next: merged.next };
}
