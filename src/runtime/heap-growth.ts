import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets a heap grow past what its last full GC kept before it collects again.
 *
 * V8's own factor (dynamic, up to 4× here) is the cheap one: few full GCs. But during a sustained
 * fill it kept RSS at about twice the live heap, which a million orders cannot afford under
 * 1 GiB; a tight factor (20%) keeps RSS near the live heap at the price of a full GC every 20% of
 * growth (measured on the 2-core VM: 17 full GCs instead of 4 in an 8-second bench run, ~15 µs
 * more CPU per placement; docs/PERFORMANCE.md). So the factor is V8's own while the heap is
 * small, and the tight one from the first full GC that leaves more than `fromMb` alive.
 *
 * A new factor applies from the limit V8 computes at the next full GC: until then the heap may
 * grow as far as the limit computed with the old factor, at most 4× what the switching GC kept
 * (512 MiB of heap for the default 128 MiB), which is below what the tight factor allows a
 * million orders anyway. Forcing a GC at the switch instead was measured as a 100 ms pause at
 * 260 MiB (V8's `gc({ execution: 'async' })` is a full atomic collection run later, not a
 * concurrent one), so nothing is forced.
 *
 * The switch is one way, and process-wide (V8 flags are): a heap that grew large once may well
 * again.
 */
export interface HeapGrowthPolicy {
  /** The tight factor as a percentage of growth; 0 keeps V8's own factor throughout. */
  percent: number;
  /** The live heap (MiB, what a full GC of this thread's heap kept) from which the tight factor applies. */
  fromMb: number;
}

/**
 * 20% from 128 MiB. `ORDO_HEAP_GROWING_PERCENT` and `ORDO_HEAP_GROWING_FROM_MB` set them, checked
 * with every other setting (config.ts), and host threads are given the policy with their
 * configuration (`HostConfig.heapGrowth`).
 */
export const DEFAULT_HEAP_GROWTH: Readonly<HeapGrowthPolicy> = Object.freeze({ percent: 20, fromMb: 128 });

/** What the governor reads of the heap, and how it hears of full GCs (replaced in tests). */
export interface HeapProbe {
  /** Bytes in use in this thread's heap. */
  usedBytes(): number;
  /** Calls `fn` after each full GC of this thread's heap; returns a function that stops it. */
  afterFullGc(fn: () => void): () => void;
}

/** This thread's V8 heap. */
export const v8HeapProbe: HeapProbe = {
  usedBytes: () => getHeapStatistics().used_heap_size,
  afterFullGc(fn) {
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if ((e as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) return fn();
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    return () => observer.disconnect();
  },
};

/** True once some heap of this thread switched the process to the tight factor. */
let tight = false;

/**
 * Applies `policy` (see above) to this thread's heap. Returns a stop function. Does nothing when
 * node was given `--heap-growing-percent` itself (the operator's choice wins) or when `percent`
 * is 0.
 */
export function governHeapGrowth(policy: HeapGrowthPolicy, heap: HeapProbe = v8HeapProbe): () => void {
  if (policy.percent <= 0 || tight || process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) return () => {};
  // Right after a full GC, the heap in use is what it kept alive.
  const stop = heap.afterFullGc(() => {
    if (tight || heap.usedBytes() <= policy.fromMb * 1024 * 1024) return;
    tight = true;
    setFlagsFromString(`--heap-growing-percent=${policy.percent}`);
    stop();
  });
  return stop;
}

/** Whether this thread switched the process to the tight factor (for tests). */
export function heapGrowthIsTight(): boolean {
  return tight;
}
