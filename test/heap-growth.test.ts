import { test } from 'uvu';
import assert from 'node:assert/strict';
import { PerformanceObserver } from 'node:perf_hooks';
import { governHeapGrowth, heapGrowthIsTight, heapGrowthPolicy } from '../src/runtime/heap-growth.js';

// Each test file runs in a process of its own (scripts/test.mjs): the switch is process-wide and one way.

const MiB = 1024 * 1024;

test('the policy: 20% from 256 MiB unless the environment says otherwise; nonsense falls back to the defaults', () => {
  assert.deepEqual(heapGrowthPolicy({}), { percent: 20, fromMb: 256 });
  assert.deepEqual(heapGrowthPolicy({ ORDO_HEAP_GROWING_PERCENT: '50', ORDO_HEAP_GROWING_FROM_MB: '64' }), { percent: 50, fromMb: 64 });
  assert.deepEqual(heapGrowthPolicy({ ORDO_HEAP_GROWING_PERCENT: '0' }), { percent: 0, fromMb: 256 });
  assert.deepEqual(heapGrowthPolicy({ ORDO_HEAP_GROWING_PERCENT: 'lots', ORDO_HEAP_GROWING_FROM_MB: '-1' }), { percent: 20, fromMb: 256 });
});

test('percent 0 keeps V8 own factor however large the heap', () => {
  const stop = governHeapGrowth({ percent: 0, fromMb: 1 }, () => 4096 * MiB);
  stop();
  assert.equal(heapGrowthIsTight(), false);
});

test('a small heap keeps V8 own factor; past the threshold the tight one applies, with a full GC started at once', async () => {
  let used = 10 * MiB;
  const stop = governHeapGrowth({ percent: 20, fromMb: 64, everyMs: 5 }, () => used);
  assert.equal(heapGrowthIsTight(), false, 'under the threshold');
  const major = new Promise<void>((resolve) => {
    const obs = new PerformanceObserver((list) => {
      if (list.getEntries().some((e) => ((e as { detail?: { kind?: number } }).detail)?.kind === 4)) {
        obs.disconnect();
        resolve();
      }
    });
    obs.observe({ entryTypes: ['gc'] });
  });
  used = 65 * MiB;
  // The next look at the heap switches; the full GC it starts is seen as it ends. (The
  // governor's timer does not hold the process open, so the deadline does.)
  let deadline: NodeJS.Timeout | undefined;
  await Promise.race([major, new Promise((_, reject) => (deadline = setTimeout(() => reject(new Error('no full GC within 10 s')), 10_000)))]);
  clearTimeout(deadline);
  assert.equal(heapGrowthIsTight(), true);
  stop();
});

test.run();
