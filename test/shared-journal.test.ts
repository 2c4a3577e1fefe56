import { test } from 'uvu';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../src/logger.js';
import { ActorRuntime } from '../src/runtime/hosting/actor-runtime.js';
import { FileShardStore } from '../src/runtime/storage/file-shard-store.js';
import { encodeRecord, type JournalRecord } from '../src/runtime/journal/record.js';
import { readFrame } from '../src/runtime/journal/frame.js';
import { Journal } from '../src/runtime/journal/journal.js';
import { LocalSystem } from '../src/runtime/testing/local-system.js';
import { journalOf, shardOf } from '../src/runtime/placement.js';
import { isEnvelope } from '../src/runtime/kernel/envelope.js';
import { withTempDir } from './helpers/server.js';

// Two shards share one journal; a key names its shard directly ("0:…" or "1:…").
const shardOfKey = (key: string) => Number(key.split(':')[0]);
const rec = (k: string, n: number): JournalRecord => ({ k, r: [{ n }] });

interface Opened {
  journal: Journal;
  stores: FileShardStore[];
  /** Records each shard was handed by recovery, in order. */
  replayed: JournalRecord[][];
}

async function open(root: string, members = [0, 1]): Promise<Opened> {
  const journal = new Journal(join(root, 'journal'), members, shardOfKey);
  const stores = members.map((s) => new FileShardStore(join(root, `shard-${s}`), 2, () => {}, { shared: journal, shard: s }));
  const replayed: JournalRecord[][] = members.map(() => []);
  // Concurrently, as a host recovers its shards: the journal is read once, when both have joined.
  await Promise.all(stores.map((st, i) => st.recover(() => {}, (r) => replayed[i]!.push(r))));
  return { journal, stores, replayed };
}

const write = (j: Journal, ...recs: JournalRecord[]) => j.append(recs.map(encodeRecord));
const ns = (recs: JournalRecord[]) => recs.map((r) => `${r.k}#${(r.r![0] as { n: number }).n}`);

/** A snapshot of one shard that writes nothing but moves its replay point (what matters here). */
async function snapshotOf(store: FileShardStore): Promise<void> {
  const point = await store.beginSnapshot();
  await store.commitSnapshot(point);
}

test('one replay hands each shard its own records, in the order they were written', () =>
  withTempDir('ordo-shared-', async (root) => {
    const a = await open(root);
    await write(a.journal, rec('0:x', 1), rec('1:y', 2), rec('0:x', 3));
    await write(a.journal, rec('1:y', 4));
    await a.journal.close();
    const b = await open(root);
    assert.deepEqual(ns(b.replayed[0]!), ['0:x#1', '0:x#3']);
    assert.deepEqual(ns(b.replayed[1]!), ['1:y#2', '1:y#4']);
    await b.journal.close();
  }),
);

test("a shard's snapshot point skips only its own records, and a segment goes once no shard needs it", () =>
  withTempDir('ordo-shared-', async (root) => {
    const a = await open(root);
    await write(a.journal, rec('0:x', 1), rec('1:y', 2));
    await snapshotOf(a.stores[0]!); // shard 0 covers segment 1; shard 1 does not
    await write(a.journal, rec('0:x', 3), rec('1:y', 4));
    const segments = async () => (await readdir(join(root, 'journal'))).filter((n) => n.startsWith('segment-')).sort();
    // Those holding records: the journal keeps an empty one ahead of its next rotation too.
    const written = async () => (await Promise.all((await segments()).map(async (n) => ((await stat(join(root, 'journal', n))).size > 0 ? [n] : [])))).flat();
    assert.equal((await written()).length, 2, 'segment 1 is kept: shard 1 still needs it');
    await a.journal.close();

    const b = await open(root);
    assert.deepEqual(ns(b.replayed[0]!), ['0:x#3'], "shard 0's snapshot holds record 1");
    assert.deepEqual(ns(b.replayed[1]!), ['1:y#2', '1:y#4']);
    await snapshotOf(b.stores[1]!);
    const left = await segments();
    assert.ok(!left.includes('segment-00000001.log'), 'segment 1 deleted: both snapshots cover it');
    assert.ok(left.includes('segment-00000002.log'), 'segment 2 kept: shard 0 still replays it');
    await b.journal.close();
  }),
);

test('records written after a restart land past every shard\'s snapshot point, even one past every segment on disk', () =>
  withTempDir('ordo-shared-', async (root) => {
    const a = await open(root);
    await write(a.journal, rec('0:x', 1), rec('1:y', 2));
    // Each snapshot rotates: shard 0 replays from 2, shard 1 from 3; nothing is written after.
    await snapshotOf(a.stores[0]!);
    await snapshotOf(a.stores[1]!);
    await a.journal.close();

    const b = await open(root);
    assert.deepEqual(b.replayed, [[], []]);
    await write(b.journal, rec('0:x', 5), rec('1:y', 6));
    await b.journal.close();

    const c = await open(root);
    assert.deepEqual(ns(c.replayed[0]!), ['0:x#5']);
    assert.deepEqual(ns(c.replayed[1]!), ['1:y#6'], 'not lost below shard 1\'s snapshot point');
    await c.journal.close();
  }),
);

test('a record of a shard that does not write to this journal stops recovery, unless reading one shard offline', () =>
  withTempDir('ordo-shared-', async (root) => {
    const a = await open(root);
    await write(a.journal, rec('0:x', 1), rec('1:y', 2));
    await a.journal.close();

    await assert.rejects(open(root, [0]), /holds a record of 1:y, whose shard does not write here/);

    const journal = new Journal(join(root, 'journal'), [1], shardOfKey, () => {}, true);
    const store = new FileShardStore(join(root, 'shard-1'), 2, () => {}, { shared: journal, shard: 1 });
    const seen: JournalRecord[] = [];
    await store.recover(() => {}, (r) => seen.push(r));
    assert.deepEqual(ns(seen), ['1:y#2']);
    assert.deepEqual(ns(await store.readTail('1:y')), ['1:y#2']);
    await journal.close();
  }),
);

test('two snapshots finishing at once both trim, without tripping over the same files', () =>
  withTempDir('ordo-shared-', async (root) => {
    const a = await open(root);
    for (let i = 0; i < 4; i++) {
      await write(a.journal, rec('0:x', i), rec('1:y', i));
      await a.journal.rotate();
    }
    // Both shards' snapshots cover the first four segments; they report it together.
    const results = await Promise.allSettled([a.journal.covered(0, 5), a.journal.covered(1, 5)]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled']);
    const left = (await readdir(join(root, 'journal'))).filter((n) => n.startsWith('segment-'));
    assert.ok(left.every((n) => n >= 'segment-00000005.log'), `left: ${left.join(', ')}`);
    await a.journal.close();
  }),
);

test("bytesPast: what a shard's recovery would read, from its own snapshot point on", () =>
  withTempDir('ordo-shared-', async (root) => {
    const a = await open(root);
    const frame = (k: string, n: number) => encodeRecord(rec(k, n)).length;
    await write(a.journal, rec('0:x', 1), rec('1:y', 2));
    const first = frame('0:x', 1) + frame('1:y', 2);
    assert.equal(a.journal.bytesPast(0), first);
    await snapshotOf(a.stores[0]!); // shard 0 moves on to segment 2; shard 1 still needs segment 1
    await write(a.journal, rec('1:y', 3));
    assert.equal(a.journal.bytesPast(0), frame('1:y', 3), "only what follows shard 0's point");
    assert.equal(a.journal.bytesPast(1), first + frame('1:y', 3));
    await a.journal.close();
    const b = await open(root);
    assert.equal(b.journal.bytesPast(1), first + frame('1:y', 3), 'the same figures after a restart (read from the files)');
    assert.equal(b.journal.bytesPast(0), frame('1:y', 3));
    await b.journal.close();
  }),
);

test('shards that write nothing do not pin their shared journal: it stays bounded while one shard is busy', () =>
  withTempDir('ordo-shared-', async (dataDir) => {
    // One thread, four shards on one journal, a tiny snapshot trigger; only one SKU ever changes.
    const snapshotBytes = 4096;
    const rt = await ActorRuntime.start({ dataDir, workers: 1, shards: 4, snapshotBytes, log: createLogger('test') });
    try {
      assert.ok((await rt.execute('sku:busy', { type: 'inventory.set', sku: 'busy', onHand: 10 }, { role: 'admin' })).ok);
      for (let i = 0; i < 1500; i++) {
        const r = await rt.execute('sku:busy', { type: 'inventory.adjust', sku: 'busy', delta: 1 }, { role: 'admin' });
        assert.ok(r.ok);
      }
      const dir = join(dataDir, 'journals', '0000');
      // The records' bytes: a segment being appended to ends in zeros, its preallocated room.
      let bytes = 0;
      for (const name of await readdir(dir)) {
        const data = await readFile(join(dir, name));
        let end = data.length;
        while (end > 0 && data[end - 1] === 0) end--;
        bytes += end;
      }
      // ~100 KB were written; without the idle shards snapshotting, nothing of it could be trimmed.
      assert.ok(bytes < 4 * 4 * snapshotBytes, `journal holds ${bytes} bytes`);
      const r = await rt.execute('sku:busy', { type: 'inventory.get', sku: 'busy' }, { role: 'admin' });
      assert.equal(r.ok && (r.stock as { onHand: number }).onHand, 1510);
    } finally {
      await rt.stop();
    }
  }),
);

test('shards sharing a journal batch their records in the order produced: a hold precedes the order that counts on it', async () => {
  const sys = await LocalSystem.create({ shards: 4, journals: 1 });
  await sys.ask('sku:A', { type: 'inventory.set', sku: 'A', onHand: 5 }, { role: 'admin' });
  // An order on another shard than its SKU (same journal: one host thread).
  const orderId = Array.from({ length: 50 }, (_, i) => `o${i}`).find((id) => shardOf(`order:${id}`, 4) !== shardOf('sku:A', 4))!;
  const reply = sys.send(`order:${orderId}`, { type: 'order.place', orderId, customerId: 'c', items: [{ sku: 'A', quantity: 2 }], paymentTimeoutMs: 60_000 }, { role: 'admin' });
  // Run the turns without committing: reserve and answer cross shards at once, no gate between them.
  for (let i = 0; i < 10; i++) for (const s of sys.shards) s.run();
  const journal = sys.stores[0]!.journal;
  const keys = journal.pending.frames.map((f) => {
    const r = readFrame(f, 0);
    return r.kind === 'frame' ? (JSON.parse(r.payload.toString('utf8')) as JournalRecord).k : '?';
  });
  assert.deepEqual(keys, ['sku:A', `order:${orderId}`], 'one batch, cause before effect: any prefix a crash keeps is consistent');
  // A crash now (nothing appended) leaves neither.
  const after = await sys.restart();
  assert.deepEqual((await after.ask('sku:A', { type: 'inventory.get', sku: 'A' }, { role: 'admin' })), { ok: true, stock: { sku: 'A', onHand: 5, reserved: 0, available: 5 } });
  assert.equal((await after.ask(`order:${orderId}`, { type: 'order.get', orderId }, { role: 'admin' })).ok, false);
  void reply; // never answered: the process "died" before the commit
});

test('between journals the output gate holds: an answer waits for the record it depends on to be durable', async () => {
  const sys = await LocalSystem.create({ shards: 4, journals: 2 });
  await sys.ask('sku:A', { type: 'inventory.set', sku: 'A', onHand: 5 }, { role: 'admin' });
  const skuShard = shardOf('sku:A', 4);
  const orderId = Array.from({ length: 50 }, (_, i) => `o${i}`).find((id) => journalOf(shardOf(`order:${id}`, 4), 2) !== journalOf(skuShard, 2))!;
  const reply = sys.send(`order:${orderId}`, { type: 'order.place', orderId, customerId: 'c', items: [{ sku: 'A', quantity: 2 }], paymentTimeoutMs: 60_000 }, { role: 'admin' });
  // Run turns and hand over what may leave at once, but commit nothing.
  for (let i = 0; i < 10; i++) {
    for (const s of sys.shards) s.run();
    for (const s of sys.shards) for (const o of s.takeImmediate()) if (isEnvelope(o)) sys.shardFor(o.to).deliver(o);
  }
  const skuJournal = sys.stores[skuShard]!.journal;
  const orderJournal = sys.stores[shardOf(`order:${orderId}`, 4)]!.journal;
  assert.equal(skuJournal.pending.frames.length, 1, 'the hold is written, not yet durable');
  assert.ok(
    skuJournal.pending.outputs.some((o) => o.t === 'reply' && o.to === `order:${orderId}`),
    "the SKU's answer waits in its journal's batch",
  );
  assert.equal(orderJournal.pending.frames.length, 0, 'so the order, in the other journal, has written nothing');
  await sys.settle();
  assert.equal((await reply).ok, true);
});

test.run();
