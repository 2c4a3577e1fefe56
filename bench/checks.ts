/**
 * What a scenario sets up and checks through the protocol, outside the measured window: stock set
 * and read back over a few admin connections, and the checks every run must pass (each command
 * answered once, stock conserved, nothing oversold) — a fast run that fails them is a failed run.
 */
import { OrdoClient } from '../src/client/ordo-client.js';
import type { LoadResult, Reply } from './load-generator.js';
import { BENCH_TOKENS } from './server-process.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export function check(name: string, ok: boolean, detail: string): Check {
  return { name, ok, detail };
}

export function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Runs `calls` over a few admin connections, all pipelined: set-up and checks are not measured. */
export async function adminCalls<T>(url: string, calls: { type: string; args: Record<string, unknown> }[], map: (r: Reply, i: number) => T): Promise<T[]> {
  const clients = await Promise.all(Array.from({ length: 4 }, () => OrdoClient.connect(url, BENCH_TOKENS.admin, { keepEvents: false })));
  try {
    return await Promise.all(calls.map(async (c, i) => map((await clients[i % clients.length].call(c.type, c.args)) as Reply, i)));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

export async function setStock(url: string, skus: string[], onHand: number): Promise<void> {
  const failed: string[] = [];
  await adminCalls(url, skus.map((sku) => ({ type: 'inventory.set', args: { sku, onHand } })), (r, i) => {
    if (!r.ok) failed.push(`${skus[i]}: ${r.error?.code} ${r.error?.message ?? ''}`);
  });
  if (failed.length) throw new Error(`inventory.set failed for ${failed.length} SKUs, first: ${failed[0]}`);
}

export interface Stock {
  sku: string;
  onHand: number;
  reserved: number;
  available: number;
}

export async function getStock(url: string, skus: string[]): Promise<Stock[]> {
  return adminCalls(url, skus.map((sku) => ({ type: 'inventory.get', args: { sku } })), (r, i) => {
    if (!r.ok) throw new Error(`inventory.get ${skus[i]} failed: ${r.error?.code} ${r.error?.message ?? ''}`);
    return r.stock as Stock;
  });
}

/** Checks every run shares: each command answered exactly once, over sockets that stayed open. */
export function transportChecks(load: LoadResult): Check[] {
  const problems: string[] = [];
  if (load.unanswered) problems.push(`${fmt(load.unanswered)} unanswered`);
  if (load.unmatched) problems.push(`${fmt(load.unmatched)} replies matching no command`);
  if (load.replies !== load.sent - load.unanswered) problems.push(`${fmt(load.replies)} replies to ${fmt(load.sent)} commands`);
  if (load.closedEarly.length) problems.push(`${load.closedEarly.length} sockets closed early (codes ${[...new Set(load.closedEarly)].join(',')})`);
  if (load.stalled) problems.push('the server stopped answering (stall timeout)');
  if (load.socketErrors.length) problems.push(`${load.socketErrors.length} socket errors, first: ${load.socketErrors[0]}`);
  return [check('every command answered once', problems.length === 0, problems.length ? problems.join('; ') : `${fmt(load.sent)} sent, ${fmt(load.replies)} answered`)];
}

export function unexpected(outcomes: Record<string, number>, allowed: string[]): string[] {
  return Object.entries(outcomes)
    .filter(([code]) => code !== 'ok' && !allowed.includes(code))
    .map(([code, n]) => `${code}×${fmt(n)}`);
}

/**
 * Stock conservation for place-only runs: per SKU, `reserved` equals the orders acknowledged on it
 * (quantity 1 each), `onHand` is untouched, `reserved <= onHand`, `available = onHand - reserved`.
 */
export function stockChecks(stock: Stock[], expectOnHand: number[], expectReserved: ArrayLike<number>, acknowledged: number): Check[] {
  const reservedSum = stock.reduce((a, s) => a + s.reserved, 0);
  const bad: string[] = [];
  let oversold = 0;
  stock.forEach((s, i) => {
    if (s.reserved > s.onHand || s.available < 0) oversold++;
    if (s.reserved !== expectReserved[i] || s.onHand !== expectOnHand[i] || s.available !== s.onHand - s.reserved) {
      bad.push(`${s.sku}: onHand ${s.onHand} (expected ${expectOnHand[i]}), reserved ${s.reserved} (expected ${expectReserved[i]}), available ${s.available}`);
    }
  });
  return [
    check('acknowledged == reserved sum', reservedSum === acknowledged, `${stock.length} SKUs: reserved ${fmt(reservedSum)}, acknowledged ${fmt(acknowledged)}`),
    check('no oversell (reserved <= onHand)', oversold === 0, oversold ? `${oversold} SKUs oversold` : `${stock.length} SKUs`),
    check('per-SKU counts match', bad.length === 0, bad.length ? `${bad.length} SKUs differ, first: ${bad[0]}` : 'onHand, reserved, available as expected'),
  ];
}

