import { test } from 'uvu';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { byHash, candidates, keyHash, RunIndexBuilder } from '../src/runtime/storage/run-index.js';

test('byHash orders positions by hash, equal hashes in position order, on both of its paths', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 3 }), fc.nat({ max: 0xffffffff }), fc.constant(0xffffffff)), { maxLength: 300 }), (h) => {
      const want = h.map((_, i) => i).sort((a, b) => h[a]! - h[b]! || a - b);
      assert.deepEqual([...byHash(h)], want, 'packed');
      assert.deepEqual([...byHash(h, 0)], want, 'comparator');
    }),
  );
});

test('an index finds every entry of a key, in the order added, and nothing for a key not added', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.string({ maxLength: 6 }), fc.nat(), fc.nat()), { maxLength: 200 }), fc.string({ maxLength: 6 }), (entries, absent) => {
      const b = new RunIndexBuilder();
      for (const [k, start, length] of entries) b.add(k, start, length);
      const index = b.build();
      for (let i = 1; i < index.hashes.length; i++) assert.ok(index.hashes[i - 1]! <= index.hashes[i]!, 'hashes ascend');
      for (const key of new Set(entries.map(([k]) => k))) {
        // Keys of the same hash share candidates: a reader tells them apart by the line's key.
        const sameHash = entries.filter(([k]) => keyHash(k) === keyHash(key)).map(([, s, l]) => [s, l]);
        assert.deepEqual(candidates(index, key), sameHash);
      }
      if (!entries.some(([k]) => keyHash(k) === keyHash(absent))) assert.deepEqual(candidates(index, absent), []);
    }),
  );
});

test.run();
