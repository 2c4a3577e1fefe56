import type { OrderStatus, Stock } from './model.js';

/**
 * The result of `stats.get` (extension, admin and observer): what the dashboard shows. Every
 * figure comes from counters the server keeps as it goes, so reading it costs the same with a
 * thousand orders or a million.
 */
export interface Stats {
  /** Server time of the reading (epoch ms). */
  at: number;
  /** `ready`, `recovering`, `draining` or `stopping` (as `/healthz`). */
  health: string;
  /** Orders per status, over every shard (kept incrementally; correct after a restart). */
  orders: Record<OrderStatus, number>;
  /** Commands answered per second and the 99th percentile of their latency, oldest second first. */
  series: { at: number; commands: number; p99Ms: number }[];
  /** The SKUs placed most often recently, with their current stock. */
  busiestSkus: (Stock & { placements: number })[];
  shards: { shard: number; worker: number; mailboxDepth: number; deadLetters: number; actors: number }[];
  /** Per host thread: its group commits (one per journal write) and journal records since start. */
  hosts: { worker: number; commits: number; records: number; lastCommitMs: number }[];
  /** The /metrics figures, as prom-client's JSON (name, type, values with labels). */
  metrics: { name: string; type: string; values: { labels: Record<string, string | number>; value: number }[] }[];
}
