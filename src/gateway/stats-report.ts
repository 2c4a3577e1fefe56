import { ActorKeys } from '../protocol/messages.js';
import { ORDER_STATUSES, type OrderStatus } from '../protocol/model.js';
import type { Stats } from '../protocol/stats.js';
import type { CommandRuntime } from './command-runtime.js';
import type { CommandSeries } from './command-series.js';
import type { GatewayMetrics } from './metrics.js';
import { SYSTEM } from './dispatch.js';

const BUSIEST = 8;

export interface StatsSources {
  runtime: CommandRuntime;
  metrics: GatewayMetrics;
  series: CommandSeries;
  /** The `n` SKUs placed most lately. */
  busiestSkus: (n: number) => Promise<{ sku: string; placements: number }[]>;
  health: () => string;
}

/** Builds the `stats.get` result from counters already kept: nothing here scans the orders. */
export async function statsReport(src: StatsSources): Promise<Stats> {
  const [hostStats, metrics] = await Promise.all([src.metrics.hostStats(), src.metrics.registry.getMetricsAsJSON()]);
  const orders = {} as Record<OrderStatus, number>;
  for (const s of ORDER_STATUSES) orders[s] = hostStats.reduce((n, h) => n + (h.orderStatuses?.[s] ?? 0), 0);
  const busiest = await src.busiestSkus(BUSIEST);
  const stocks = await Promise.all(
    busiest.map(({ sku }) => src.runtime.execute(ActorKeys.sku(sku), { type: 'inventory.get', sku }, SYSTEM)),
  );
  return {
    at: Date.now(),
    health: src.health(),
    orders,
    series: src.series.read(),
    busiestSkus: busiest.flatMap((b, i) => {
      const r = stocks[i]!;
      return r.ok && r.stock ? [{ ...r.stock, placements: b.placements }] : [];
    }),
    shards: hostStats
      .flatMap((h) => (h.perShard ?? []).map((s) => ({ ...s, worker: h.worker })))
      .sort((a, b) => a.shard - b.shard),
    hosts: hostStats.map((h) => ({ worker: h.worker, commits: h.commits, records: h.framesWritten, lastCommitMs: h.lastCommitMs })),
    metrics: metrics.map((m) => ({
      name: m.name,
      type: String(m.type),
      values: m.values.map((v) => ({ labels: { ...v.labels } as Record<string, string | number>, value: v.value })),
    })),
  };
}
