import type { Order } from '../../protocol/model.js';

/**
 * Which SKUs are placed most often, counted from the order events the gateway sees (a placement
 * is an order's first history entry). Counts are halved when the table is full, so old activity
 * fades and memory stays bounded whatever the number of SKUs. Rankings restart with the server:
 * "busiest" means busy lately, not since the beginning. Each host thread counts its own shards'
 * placements; `mergeTop` adds the hosts' counts up.
 */
export class BusySkus {
  private readonly placements = new Map<string, number>();

  constructor(private readonly capacity = 5_000) {}

  note(order: Order): void {
    if (order.history.length !== 1) return;
    for (const { sku } of order.items) this.placements.set(sku, (this.placements.get(sku) ?? 0) + 1);
    if (this.placements.size > this.capacity) this.decay();
  }

  top(n: number): { sku: string; placements: number }[] {
    return [...this.placements]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, n)
      .map(([sku, placements]) => ({ sku, placements }));
  }

  private decay(): void {
    for (const [sku, n] of this.placements) {
      const half = Math.floor(n / 2);
      if (half === 0) this.placements.delete(sku);
      else this.placements.set(sku, half);
    }
  }
}

/** The `n` busiest SKUs over several hosts' counts (a SKU's placements summed across them). */
export function mergeTop(lists: { sku: string; placements: number }[][], n: number): { sku: string; placements: number }[] {
  const total = new Map<string, number>();
  for (const list of lists) for (const { sku, placements } of list) total.set(sku, (total.get(sku) ?? 0) + placements);
  return [...total]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map(([sku, placements]) => ({ sku, placements }));
}
