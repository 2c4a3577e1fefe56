import { test } from 'uvu';
import assert from 'node:assert/strict';
import { readdir, writeFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { ManifestError } from '../src/runtime/errors.js';
import { FANOUT } from '../src/runtime/storage/compaction.js';
import { FileShardStore } from '../src/runtime/storage/file-shard-store.js';
import { closeMergePool } from '../src/runtime/storage/merge-pool.js';
import { keyHash } from '../src/runtime/storage/run-index.js';
import type { MergeStep } from '../src/runtime/storage/run-merge.js';
import { type DirectoryEntry, partitionOf, type SnapshotEntry } from '../src/runtime/storage/shard-store.js';
import { withTempDir } from './helpers/server.js';

const entry = (n: number, text: string): SnapshotEntry => ({ r: [{ order: { n, text } }], n });

async function fresh(dir: string, partitions = 2, seen?: Map<string, DirectoryEntry>): Promise<FileShardStore> {
  const store = new FileShardStore(dir, partitions);
  store.onMergeStep = null;
  await store.recover((k, e) => seen?.set(k, e), () => {});
  return store;
}

async function snapshot(store: FileShardStore, changes: Record<string, SnapshotEntry | null>): Promise<void> {
  const rotation = await store.beginSnapshot();
  const byPartition = new Map<number, Map<string, { json: string; dir: { i: unknown } } | null>>();
  for (const [k, e] of Object.entries(changes)) {
    const p = partitionOf(k, store.partitions);
    if (!byPartition.has(p)) byPartition.set(p, new Map());
    byPartition.get(p)!.set(k, e && { json: JSON.stringify(e), dir: { i: k } });
  }
  for (const [p, c] of byPartition) await store.writePartition(p, c);
  await store.commitSnapshot(rotation);
}

const runFiles = async (dir: string) => (await readdir(join(dir, 'snapshot'))).filter((n) => /^r\d+\./.test(n)).sort();

test('a reactivation reads its own entry at its offset, also after changes, deletions and a restart', () =>
  withTempDir('ordo-store-', async (dir) => {
    const store = await fresh(dir);
    // Multi-byte text, so byte offsets and character offsets differ.
    const keys = Array.from({ length: 40 }, (_, i) => `order:o${i}-${'é'.repeat(i % 3)}${i % 5 === 0 ? '🛒' : ''}`);
    await snapshot(store, Object.fromEntries(keys.map((k, i) => [k, entry(i, `ünïcode ${'x'.repeat(i)}`)])));
    for (const [i, k] of keys.entries()) assert.deepEqual(await store.loadActor(k), entry(i, `ünïcode ${'x'.repeat(i)}`), k);
    assert.equal(store.reads, keys.length);
    assert.equal(await store.loadActor('order:never'), undefined);

    // A second round writes a second run with only its changes; the newest run holding a key wins.
    const before = store.bytesWritten;
    await snapshot(store, { [keys[0]!]: entry(100, 'changed, and much longer than before'), [keys[1]!]: null });
    assert.ok(store.bytesWritten - before < 300, `a round writes its changes only (${store.bytesWritten - before} bytes)`);
    assert.equal(store.runsInUse.length, 2);
    assert.deepEqual(await store.loadActor(keys[0]!), entry(100, 'changed, and much longer than before'));
    assert.equal(await store.loadActor(keys[1]!), undefined);
    for (const [i, k] of keys.entries()) if (i > 1) assert.deepEqual(await store.loadActor(k), entry(i, `ünïcode ${'x'.repeat(i)}`), k);
    await store.close();

    // A restart rebuilds the directory and the indexes from the runs: newest entries only.
    const seen = new Map<string, DirectoryEntry>();
    const again = await fresh(dir, 2, seen);
    assert.equal(seen.size, keys.length - 1);
    assert.ok(!seen.has(keys[1]!), 'a deleted actor is not in the directory');
    assert.deepEqual(await again.loadActor(keys[7]!), entry(7, `ünïcode ${'x'.repeat(7)}`));
    assert.deepEqual(await again.loadActor(keys[0]!), entry(100, 'changed, and much longer than before'));
    assert.equal(await again.loadActor(keys[1]!), undefined);
    await again.close();
  }),
);

test('runs are merged in the task pool once a level holds FANOUT of them; deletions go at the bottom', () =>
  withTempDir('ordo-store-', async (dir) => {
    const store = await fresh(dir);
    const expected = new Map<string, SnapshotEntry>();
    for (let round = 0; round < FANOUT; round++) {
      const changes: Record<string, SnapshotEntry | null> = {};
      for (let i = 0; i < 50; i++) {
        const k = `order:o${(round * 37 + i * 7) % 120}`;
        changes[k] = entry(round * 1000 + i, `r${round}`);
      }
      if (round === FANOUT - 1) changes['order:o0'] = null;
      for (const [k, e] of Object.entries(changes)) e ? expected.set(k, e) : expected.delete(k);
      await snapshot(store, changes);
    }
    await store.mergesSettled();
    assert.equal(store.merges, 1);
    assert.deepEqual(store.runsInUse.map((r) => r.level), [1]);
    assert.equal(store.runsInUse[0]!.entries, expected.size, 'one entry per live key, no deletion left');
    assert.equal((await runFiles(dir)).length, 2, 'the inputs are deleted');
    for (const [k, e] of expected) assert.deepEqual(await store.loadActor(k), e, k);
    assert.equal(await store.loadActor('order:o0'), undefined);
    await store.close();
    const seen = new Map<string, DirectoryEntry>();
    const again = await fresh(dir, 2, seen);
    assert.deepEqual([...seen.keys()].sort(), [...expected.keys()].sort());
    for (const [k, e] of expected) assert.deepEqual(await again.loadActor(k), e, k);
    await again.close();
  }),
);

/** FANOUT rounds whose last one triggers a merge, stopped at `step` as a crash would stop it. */
async function mergeStoppedAt(dir: string, step: MergeStep): Promise<Map<string, SnapshotEntry>> {
  const store = await fresh(dir);
  store.onMergeStep = (s) => {
    if (s === step) throw new Error(`crash at ${s}`);
  };
  const expected = new Map<string, SnapshotEntry>();
  for (let round = 0; round < FANOUT; round++) {
    const changes: Record<string, SnapshotEntry | null> = {};
    for (let i = 0; i < 20; i++) changes[`order:o${round * 10 + i}`] = entry(round, `r${round}`);
    if (round > 0) changes[`order:o${round - 1}`] = null;
    for (const [k, e] of Object.entries(changes)) e ? expected.set(k, e) : expected.delete(k);
    await snapshot(store, changes);
  }
  await store.mergesSettled();
  assert.equal(store.merges, step === 'written' ? 0 : 1);
  // No close: the process "died" here (the journal's files are closed by the OS).
  return expected;
}

for (const step of ['written', 'committed'] as const) {
  test(`a crash at the merge step "${step}" loses nothing, and recovery deletes the runs not in use`, () =>
    withTempDir('ordo-store-', async (dir) => {
      const expected = await mergeStoppedAt(dir, step);
      assert.equal((await runFiles(dir)).length, 2 * (FANOUT + 1), 'inputs and output are all on disk');
      const seen = new Map<string, DirectoryEntry>();
      const again = await fresh(dir, 2, seen);
      assert.deepEqual([...seen.keys()].sort(), [...expected.keys()].sort());
      for (const [k, e] of expected) assert.deepEqual(await again.loadActor(k), e, k);
      assert.deepEqual(again.runsInUse.map((r) => r.level), step === 'written' ? [0, 0, 0, 0] : [1]);
      assert.equal((await runFiles(dir)).length, step === 'written' ? 2 * FANOUT : 2, 'only the runs in use are left');
      // Merges wait for the first round after the start; after "written" the inputs merge again.
      await snapshot(again, { 'order:late': entry(9, 'late') });
      await again.mergesSettled();
      assert.deepEqual(again.runsInUse.map((r) => r.level), [0, 1]);
      for (const [k, e] of expected) assert.deepEqual(await again.loadActor(k), e, k);
      await again.close();
    }),
  );
}

test('a run file a crash cut short is not in use and is deleted; a damaged run in use, or an older layout, stops recovery', () =>
  withTempDir('ordo-store-', async (dir) => {
    const store = await fresh(dir);
    await snapshot(store, { 'order:a': entry(1, 'a') });
    await store.close();
    await writeFile(join(dir, 'snapshot', 'r00000099.dir'), '["order:half",{"i":1},0,');
    const again = await fresh(dir);
    assert.deepEqual(await again.loadActor('order:a'), entry(1, 'a'));
    assert.deepEqual(await runFiles(dir), ['r00000001.data', 'r00000001.dir']);
    await again.close();
    await truncate(join(dir, 'snapshot', 'r00000001.data'), 3);
    await assert.rejects(fresh(dir), ManifestError);
    await writeFile(join(dir, 'snapshot', 'p000.dir.json'), '{}');
    await assert.rejects(fresh(dir), /older layout/, 'partition files of the layout before runs are reported, not skipped');
  }),
);

test('a key whose hash collides with another one in the same run is told apart by the line it reads', () =>
  withTempDir('ordo-store-', async (dir) => {
    const byHash = new Map<number, string>();
    let pair: [string, string] | null = null;
    for (let i = 0; !pair; i++) {
      const k = `order:c${i}`;
      const other = byHash.get(keyHash(k));
      if (other) pair = [other, k];
      else byHash.set(keyHash(k), k);
    }
    const store = await fresh(dir);
    await snapshot(store, { [pair[0]]: entry(1, 'first') });
    await snapshot(store, { [pair[1]]: entry(2, 'second') });
    assert.deepEqual(await store.loadActor(pair[0]), entry(1, 'first'), 'found past a newer run holding its hash');
    assert.deepEqual(await store.loadActor(pair[1]), entry(2, 'second'));
    await snapshot(store, { [pair[0]]: entry(3, 'both in one run'), [pair[1]]: entry(4, 'both in one run') });
    assert.deepEqual(await store.loadActor(pair[0]), entry(3, 'both in one run'));
    assert.deepEqual(await store.loadActor(pair[1]), entry(4, 'both in one run'));
    await store.close();
  }),
);

test.after(() => closeMergePool());
test.run();
