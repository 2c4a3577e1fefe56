/**
 * `npm run bench:journal`: the store's write path on its own, three ways, in one run, same disk:
 *   - group commit (ordo): N concurrent writers, their records appended by one write + fdatasync
 *     per batch, each writer released when its batch is durable;
 *   - one fdatasync per record (the naive durable journal);
 *   - lowdb, the whole state rewritten per change (atomic rename) at 1k and 10k records, the
 *     store DESIGN.md warns about (no fsync, so it is not even durable).
 * Prints durable records per second for each, then how long one commit's write + fdatasync takes
 * when the thread computes for a while between commits, as the gateway's thread does under load
 * (`--gap-ms`, a list): on the project's VM the same commit takes longer the longer the thread
 * computed before it.
 *
 *   node dist/bench/journal.js [--records 20000] [--writers 64] [--gap-ms 0,2,6]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { DataFile } from 'lowdb/node';
import { encodeRecord, type JournalRecord } from '../src/runtime/journal/record.js';
import { SegmentFile } from '../src/runtime/journal/segment-file.js';
import { Histogram } from './load-generator.js';
import { count, toolArgs, ToolUsageError, withUsage } from './tool-args.js';

const USAGE = 'usage: node dist/bench/journal.js [--records 20000] [--writers 64] [--gap-ms 0,2,6]';

const record = (i: number): JournalRecord => ({
  k: `order:${i.toString(36).padStart(12, '0')}`,
  r: [{ order: { orderId: String(i), customerId: 'c', items: [{ sku: `s${i % 1000}`, quantity: 1 }], status: 'awaiting_payment', paymentDeadline: 1e12, refundDue: false, history: [{ at: 1e12, status: 'awaiting_payment', by: 'customer' }] }, placing: null }],
  t: { payment: 1e12 },
});

async function groupCommit(dir: string, records: number, writers: number): Promise<number> {
  const j = new SegmentFile(join(dir, 'group.log'));
  let pending: { frame: Buffer; done: () => void }[] = [];
  let inFlight: Promise<void> | null = null;
  const kick = () => {
    if (inFlight || pending.length === 0) return;
    const batch = pending;
    pending = [];
    inFlight = j.append(batch.map((b) => b.frame)).then(() => {
      inFlight = null;
      for (const b of batch) b.done();
      kick();
    });
  };
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < records) {
        const frame = encodeRecord(record(next++));
        await new Promise<void>((done) => {
          pending.push({ frame, done });
          queueMicrotask(kick);
        });
      }
    }),
  );
  await j.close();
  return records / ((performance.now() - t0) / 1000);
}

async function perRecord(dir: string, records: number): Promise<number> {
  const j = new SegmentFile(join(dir, 'single.log'));
  const t0 = performance.now();
  for (let i = 0; i < records; i++) await j.append([encodeRecord(record(i))]);
  await j.close();
  return records / ((performance.now() - t0) / 1000);
}

/** A commit the size the order path writes under load (~38 placements, two records each). */
const COMMIT_RECORDS = 76;

/**
 * Latency of one commit (a write of COMMIT_RECORDS records, then fdatasync), with `gapMs` of busy
 * CPU on this thread between commits: the order path builds its next batch on the same thread.
 */
async function commitAfterGap(dir: string, gapMs: number, commits: number): Promise<{ p50: number; p90: number }> {
  const j = new SegmentFile(join(dir, `gap-${gapMs}.log`));
  const frames = Array.from({ length: COMMIT_RECORDS }, (_, i) => encodeRecord(record(i)));
  const took = new Histogram();
  for (let c = 0; c < commits; c++) {
    const until = performance.now() + gapMs;
    while (performance.now() < until); // busy, not asleep: the thread is working meanwhile
    const t0 = process.hrtime.bigint();
    await j.append(frames);
    took.recordNs(Number(process.hrtime.bigint() - t0));
  }
  await j.close();
  return { p50: took.percentileMs(50), p90: took.percentileMs(90) };
}

async function lowdbRewrite(dir: string, size: number, changes: number): Promise<number> {
  const db = new Low<Record<string, unknown>>(new DataFile(join(dir, `lowdb-${size}.json`), { parse: JSON.parse, stringify: (v) => JSON.stringify(v) }), {});
  for (let i = 0; i < size; i++) db.data[String(i)] = record(i).r![0];
  const t0 = performance.now();
  for (let i = 0; i < changes; i++) {
    db.data[String(i % size)] = record(i).r![0];
    await db.write();
  }
  return changes / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const values = toolArgs('bench:journal', USAGE, { records: { type: 'string', default: '20000' }, writers: { type: 'string', default: '64' }, 'gap-ms': { type: 'string', default: '0,2,6' } });
  if (!values) return;
  const [records, writers, gaps] = withUsage('bench:journal', USAGE, () => {
    const raw = values['gap-ms'] as string;
    const gaps = raw.split(',').map(Number);
    if (gaps.some((g) => !Number.isFinite(g) || g < 0)) throw new ToolUsageError(`--gap-ms takes milliseconds ≥ 0, comma-separated; got ${JSON.stringify(raw)}`);
    return [count(values, 'records'), count(values, 'writers'), gaps] as const;
  });
  const dir = await mkdtemp(join(tmpdir(), 'ordo-journal-bench-'));
  try {
    const rows: [string, number][] = [];
    rows.push([`group commit, ${writers} concurrent writers`, await groupCommit(dir, records, writers)]);
    rows.push(['one fdatasync per record', await perRecord(dir, Math.min(records, 2000))]);
    rows.push(['lowdb rewrite per change, 1k records (not durable)', await lowdbRewrite(dir, 1000, 200)]);
    rows.push(['lowdb rewrite per change, 10k records (not durable)', await lowdbRewrite(dir, 10_000, 50)]);
    console.log('| store | durable records/s |');
    console.log('|---|---|');
    for (const [name, rate] of rows) console.log(`| ${name} | ${Math.round(rate).toLocaleString('en-US')} |`);
    console.log();
    console.log(`| CPU between commits | commit (${COMMIT_RECORDS} records, write + fdatasync) p50 | p90 |`);
    console.log('|---|---|---|');
    for (const gap of gaps) {
      const { p50, p90 } = await commitAfterGap(dir, gap, 400);
      console.log(`| ${gap} ms | ${p50.toFixed(2)} ms | ${p90.toFixed(2)} ms |`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
