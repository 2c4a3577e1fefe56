/**
 * `npm run bench:journal`: the store's write path on its own, three ways, in one run, same disk:
 *   - group commit (ordo): N concurrent writers, their records appended by one write + fdatasync
 *     per batch, each writer released when its batch is durable;
 *   - one fdatasync per record (the naive durable journal);
 *   - lowdb, the whole state rewritten per change (atomic rename) at 1k and 10k records, the
 *     store DESIGN.md warns about (no fsync, so it is not even durable).
 * Prints durable records per second for each.
 *
 *   node dist/bench/journal.js [--records 20000] [--writers 64]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Low } from 'lowdb';
import { DataFile } from 'lowdb/node';
import { encodeRecord, type JournalRecord } from '../src/runtime/journal/record.js';
import { SegmentFile } from '../src/runtime/journal/segment-file.js';

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
  const { values } = parseArgs({ options: { records: { type: 'string', default: '20000' }, writers: { type: 'string', default: '64' } } });
  const records = Number(values.records);
  const writers = Number(values.writers);
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
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void main();
