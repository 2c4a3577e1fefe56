/**
 * `node dist/bench/merge.js [--entries 100000] [--runs 4]`: what a merge of snapshot runs costs
 * the host thread. Writes `runs` rounds of `entries` order-sized actors each (distinct keys, so
 * the merge copies every byte), the last one starting a merge, and samples the event loop's delay
 * (what an actor turn waiting in the queue would wait) while the merge runs: first in the task
 * pool (piscina, as the server does), then on the thread itself (`ORDO_MERGE_INLINE=1`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FANOUT } from '../src/runtime/storage/compaction.js';
import { FileShardStore } from '../src/runtime/storage/file-shard-store.js';
import { closeMergePool } from '../src/runtime/storage/merge-pool.js';
import type { SnapshotEntry } from '../src/runtime/storage/shard-store.js';
import { count, toolArgs, withUsage } from './tool-args.js';

// A merge starts once a level holds FANOUT runs: fewer would measure nothing.
const USAGE = `usage: node dist/bench/merge.js [--entries 100000] [--runs ${FANOUT}] (runs ≥ ${FANOUT})`;

function order(i: number): { json: string; dir: { i: unknown; t: Record<string, number> } } {
  const placedAt = 1_700_000_000_000 + i;
  const data: SnapshotEntry = {
    r: [{ order: { id: `o${i}`, customerId: `c${i % 5000}`, status: 'awaiting_payment', items: [{ sku: `s${i % 1000}`, quantity: 1, unitPrice: 1999 }], total: 1999, placedAt, paymentDeadline: placedAt + 2_592_000_000, history: [{ status: 'placed', at: placedAt }, { status: 'awaiting_payment', at: placedAt }] } }],
    n: 3,
  };
  return { json: JSON.stringify(data), dir: { i: [`c${i % 5000}`, 'awaiting_payment', placedAt], t: { payment: placedAt + 2_592_000_000 } } };
}

async function measure(inline: boolean, entries: number, runs: number): Promise<string> {
  if (inline) process.env.ORDO_MERGE_INLINE = '1';
  else delete process.env.ORDO_MERGE_INLINE;
  const dir = await mkdtemp(join(tmpdir(), 'ordo-merge-'));
  try {
    const store = new FileShardStore(dir, 256);
    store.onMergeStep = null;
    await store.recover(() => {}, () => {});
    let key = 0;
    for (let r = 0; r < runs; r++) {
      const rotation = await store.beginSnapshot();
      const changes = new Map<string, ReturnType<typeof order>>();
      for (let i = 0; i < entries; i++, key++) changes.set(`order:o${key}`, order(key));
      await store.writePartition(0, changes);
      // The last commit starts the merge; measuring starts when it returns.
      await store.commitSnapshot(rotation);
      if (r < runs - 1) continue;
      const written = store.bytesWritten;
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      const t0 = performance.now();
      await store.mergesSettled();
      const ms = performance.now() - t0;
      delay.disable();
      const merged = store.bytesWritten - written;
      const q = (p: number) => (delay.percentile(p) / 1e6).toFixed(1);
      await store.close();
      return `| ${inline ? 'on the host thread' : 'task pool (piscina)'} | ${(merged / 2 ** 20).toFixed(0)} MiB | ${ms.toFixed(0)} | ${q(50)} | ${q(99)} | ${(delay.max / 1e6).toFixed(1)} |`;
    }
    throw new Error('no merge');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const values = toolArgs('bench:merge', USAGE, { entries: { type: 'string', default: '100000' }, runs: { type: 'string', default: String(FANOUT) } });
  if (!values) return;
  const [entries, runs] = withUsage('bench:merge', USAGE, () => [count(values, 'entries'), count(values, 'runs', FANOUT)]);
  console.log(`merge of ${runs} runs × ${entries.toLocaleString()} order entries; event-loop delay of the thread that asked for it`);
  console.log('| merge runs | merged | merge ms | loop delay p50 ms | p99 ms | max ms |');
  console.log('|---|---|---|---|---|---|');
  for (const inline of [false, true, false, true]) console.log(await measure(inline, entries, runs));
  await closeMergePool();
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
