import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * How far V8 lets a heap grow past what its last full GC kept before it collects again.
 *
 * V8's own factor (dynamic, up to 4×, usually 1.5–2×) is the cheap one: few full GCs. But during
 * a sustained fill it kept RSS at about twice the live heap, which a million orders cannot
 * afford under 1 GiB; a tight factor (20%) keeps RSS near the live heap at the price of a full
 * GC every 20% of growth (measured on the 2-core VM: ~17 full GCs instead of 4 in an 8-second
 * bench run, ~15 µs more CPU per placement; docs/PERFORMANCE.md). So the factor is V8's own
 * while this isolate's heap is small, and the tight one from the moment it holds more than
 * `fromMb`, which is when doubling it would start to matter.
 *
 * The switch is one way, and process-wide (V8 flags are): a heap that grew large once may well
 * again. A new factor only applies to the limit computed at the next full GC, so the switch
 * asks for one right away, incremental and concurrent (`execution: 'async'`), not a pause.
 */
export interface HeapGrowthPolicy {
  /** The tight factor as a percentage of growth; 0 keeps V8's own factor throughout. */
  percent: number;
  /** Heap in use (MiB, this isolate) past which the tight factor applies. */
  fromMb: number;
  /** How often the heap is looked at. */
  everyMs?: number;
}

type GcFunction = (options?: { type: 'major' | 'minor'; execution: 'sync' | 'async' }) => void;

/** The policy from the environment: ORDO_HEAP_GROWING_PERCENT (default 20) and ORDO_HEAP_GROWING_FROM_MB (default 256). */
export function heapGrowthPolicy(env: NodeJS.ProcessEnv = process.env): HeapGrowthPolicy {
  const number = (raw: string | undefined, fallback: number) => {
    const n = Number(raw);
    return raw !== undefined && raw !== '' && Number.isInteger(n) && n >= 0 ? n : fallback;
  };
  return {
    percent: number(env.ORDO_HEAP_GROWING_PERCENT, DEFAULT_PERCENT),
    fromMb: number(env.ORDO_HEAP_GROWING_FROM_MB, DEFAULT_FROM_MB),
  };
}

const DEFAULT_PERCENT = 20;
const DEFAULT_FROM_MB = 256;

/** True once some isolate of this process switched to the tight factor. */
let tight = false;

/**
 * Watches this isolate's heap and applies `policy` (see above). Returns a stop function. Does
 * nothing when node was given `--heap-growing-percent` itself (the operator's choice wins) or
 * when `percent` is 0.
 */
export function governHeapGrowth(policy: HeapGrowthPolicy, usedBytes: () => number = () => getHeapStatistics().used_heap_size): () => void {
  if (policy.percent <= 0 || tight || process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) return () => {};
  const check = () => {
    if (usedBytes() <= policy.fromMb * 1024 * 1024) return;
    tighten(policy.percent);
    clearInterval(timer);
  };
  const timer = setInterval(check, policy.everyMs ?? 250);
  timer.unref();
  check();
  return () => clearInterval(timer);
}

function tighten(percent: number): void {
  tight = true;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  collectSoon();
}

/** A full GC started now, marking concurrently, so the next limit is computed with the new factor. */
function collectSoon(): void {
  // `gc` exists only in contexts made while --expose-gc is set; this one is made for the call.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as GcFunction;
  gc({ type: 'major', execution: 'async' });
}

/** Whether the tight factor is in force in this process (for /metrics and tests). */
export function heapGrowthIsTight(): boolean {
  return tight;
}
