import { test } from 'uvu';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { governHeapGrowth, heapGrowthIsTight, type HeapProbe, v8HeapProbe } from '../src/runtime/heap-growth.js';

// Each test file runs in a process of its own (scripts/test.mjs): the switch is process-wide and
// one way, so the tests that switch come last.

const MiB = 1024 * 1024;

/** A heap whose size the test sets, and whose full GCs the test runs. */
function fakeHeap(): HeapProbe & { used: number; fullGc(): void; listening: boolean } {
  let listener: (() => void) | null = null;
  return {
    used: 0,
    usedBytes() {
      return this.used;
    },
    afterFullGc(fn) {
      listener = fn;
      return () => (listener = null);
    },
    fullGc() {
      listener?.();
    },
    get listening() {
      return listener !== null;
    },
  };
}

// The policy's settings and their checks: config.test.ts.

test('percent 0 keeps V8 own factor however large the heap', () => {
  const heap = fakeHeap();
  governHeapGrowth({ percent: 0, fromMb: 1 }, heap);
  assert.equal(heap.listening, false, 'nothing watches the heap');
  heap.used = 4096 * MiB;
  heap.fullGc();
  assert.equal(heapGrowthIsTight(), false);
});

test('a heap under the threshold after a full GC keeps V8 own factor; the first full GC that keeps more switches, once', () => {
  const heap = fakeHeap();
  governHeapGrowth({ percent: 20, fromMb: 64 }, heap);
  heap.used = 500 * MiB; // a large heap between full GCs (garbage included) decides nothing
  assert.equal(heapGrowthIsTight(), false);
  heap.used = 60 * MiB;
  heap.fullGc();
  assert.equal(heapGrowthIsTight(), false, 'the full GC kept less than 64 MiB');
  heap.used = 65 * MiB;
  heap.fullGc();
  assert.equal(heapGrowthIsTight(), true);
  assert.equal(heap.listening, false, 'the switch is one way: the governor stops watching');
});

test("the real probe hears this thread's full GCs, and reads its heap", async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let heard = 0;
  const stop = v8HeapProbe.afterFullGc(() => heard++);
  gc();
  // GC entries reach observers after the collection, from the event loop.
  for (let i = 0; i < 20 && heard === 0; i++) await new Promise((resolve) => setImmediate(resolve));
  stop();
  assert.ok(heard >= 1, 'a full GC was heard');
  assert.ok(v8HeapProbe.usedBytes() > 1 * MiB);
});

test.run();
