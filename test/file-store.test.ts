import { test } from 'uvu';
import assert from 'node:assert/strict';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FileShardStore } from '../src/runtime/storage/file-shard-store.js';
import { partitionOf, type SnapshotEntry } from '../src/runtime/storage/shard-store.js';
import { withTempDir } from './helpers/server.js';

const entry = (n: number, text: string): SnapshotEntry => ({ r: [{ order: { n, text } }], n });

async function fresh(dir: string, partitions = 2): Promise<FileShardStore> {
  const store = new FileShardStore(dir, partitions);
  await store.recover(() => {}, () => {});
  return store;
}

async function snapshot(store: FileShardStore, changes: Record<string, SnapshotEntry | null>): Promise<void> {
  const rotation = await store.beginSnapshot();
  const byPartition = new Map<number, Map<string, { data: SnapshotEntry; dir: { i: unknown } } | null>>();
  for (const [k, e] of Object.entries(changes)) {
    const p = partitionOf(k, store.partitions);
    if (!byPartition.has(p)) byPartition.set(p, new Map());
    byPartition.get(p)!.set(k, e && { data: e, dir: { i: k } });
  }
  for (const [p, c] of byPartition) await store.writePartition(p, c);
  await store.commitSnapshot(rotation);
}

test('a reactivation reads its own entry at its offset, also after changes, deletions and a restart', () =>
  withTempDir('ordo-store-', async (dir) => {
    const store = await fresh(dir);
    // Multi-byte text, so byte offsets and character offsets differ.
    const keys = Array.from({ length: 40 }, (_, i) => `order:o${i}-${'é'.repeat(i % 3)}${i % 5 === 0 ? '🛒' : ''}`);
    await snapshot(store, Object.fromEntries(keys.map((k, i) => [k, entry(i, `ünïcode ${'x'.repeat(i)}`)])));
    for (const [i, k] of keys.entries()) assert.deepEqual(await store.loadActor(k), entry(i, `ünïcode ${'x'.repeat(i)}`), k);
    assert.equal(store.readsByOffset, keys.length);
    assert.equal(store.readsByPartition, 0, 'no partition was parsed whole');
    assert.equal(await store.loadActor('order:never'), undefined);

    // A second round rewrites partitions: every offset moves, changed and unchanged actors alike.
    await snapshot(store, { [keys[0]!]: entry(100, 'changed, and much longer than before'), [keys[1]!]: null });
    assert.deepEqual(await store.loadActor(keys[0]!), entry(100, 'changed, and much longer than before'));
    assert.equal(await store.loadActor(keys[1]!), undefined);
    for (const [i, k] of keys.entries()) if (i > 1) assert.deepEqual(await store.loadActor(k), entry(i, `ünïcode ${'x'.repeat(i)}`), k);
    await store.close();

    // A restart rebuilds the offsets from the directory files.
    const again = await fresh(dir);
    assert.deepEqual(await again.loadActor(keys[7]!), entry(7, `ünïcode ${'x'.repeat(7)}`));
    assert.deepEqual(await again.loadActor(keys[0]!), entry(100, 'changed, and much longer than before'));
    assert.equal(again.readsByPartition, 0);
    await again.close();
  }),
);

test('snapshot files without offsets (an older layout) are still read, by parsing the partition', () =>
  withTempDir('ordo-store-', async (dir) => {
    const snap = join(dir, 'snapshot');
    await mkdir(snap, { recursive: true });
    const key = 'order:old';
    await writeFile(join(snap, 'manifest.json'), JSON.stringify({ replayFrom: 1, partitions: 1 }));
    await writeFile(join(snap, 'p000.data.json'), JSON.stringify({ [key]: entry(1, 'old') }));
    await writeFile(join(snap, 'p000.dir.json'), JSON.stringify({ [key]: { i: 1 } }));
    const seen: string[] = [];
    const store = new FileShardStore(dir, 1);
    await store.recover((k) => seen.push(k), () => {});
    assert.deepEqual(seen, [key]);
    assert.deepEqual(await store.loadActor(key), entry(1, 'old'));
    assert.equal(store.readsByPartition, 1);
    // The next snapshot of that partition writes offsets.
    await snapshot(store, { 'order:new': entry(2, 'new') });
    assert.deepEqual(await store.loadActor(key), entry(1, 'old'));
    assert.equal(store.readsByOffset, 1);
    await store.close();
  }),
);

test('an offset that no longer matches the file (a read racing a rewrite) falls back to the partition', () =>
  withTempDir('ordo-store-', async (dir) => {
    const store = await fresh(dir, 1);
    await snapshot(store, { 'order:a': entry(1, 'a'), 'order:b': entry(2, 'b') });
    // Another layout of the same data lands under the same name (what a concurrent rewrite does):
    // the offsets in memory now point at other bytes.
    const data = { 'order:b': entry(2, 'b'), 'order:a': entry(1, 'a') };
    await writeFile(join(dir, 'snapshot', 'p000.data.json'), `{\n${JSON.stringify(data).slice(1, -1)}\n}`);
    assert.deepEqual(await store.loadActor('order:a'), entry(1, 'a'));
    assert.deepEqual(await store.loadActor('order:b'), entry(2, 'b'));
    assert.ok(store.readsByPartition >= 1, 'a mismatch is detected, never returned');
    await store.close();
  }),
);

test.run();
