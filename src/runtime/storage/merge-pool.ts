import { Piscina } from 'piscina';
import { type MergeResult, mergeRuns, type MergeTask } from './run-merge.js';

/**
 * Where run merges run: a piscina pool of one thread per host thread, created at the first merge.
 * A merge is stateless file-to-file work (read N runs, write one), so it needs nothing of the
 * host but the task, and on the host thread it would stall every actor of the host for its
 * duration (see `bench/merge.ts`). The pool's thread sleeps in `Atomics.wait` when idle
 * (piscina's `atomics: 'sync'`), which suits a task pool, and leaves after 5 s without work; its
 * heap is capped, since a merge streams and holds little.
 */
let pool: Piscina<MergeTask, MergeResult> | null = null;

/** `ORDO_MERGE_INLINE=1` merges on the calling thread (for comparison in `bench/merge.ts`). */
export function runMerge(task: MergeTask): Promise<MergeResult> {
  if (process.env.ORDO_MERGE_INLINE === '1') return mergeRuns(task);
  pool ??= new Piscina<MergeTask, MergeResult>({
    filename: new URL('./merge-task.js', import.meta.url).href,
    minThreads: 0,
    maxThreads: 1,
    idleTimeout: 5_000,
    resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 },
  });
  return pool.run(task);
}

/** Stops the pool's thread (tests and tools that want their process to end at once). */
export async function closeMergePool(): Promise<void> {
  const p = pool;
  pool = null;
  await p?.destroy();
}
