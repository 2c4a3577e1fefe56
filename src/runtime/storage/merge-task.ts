import { type MergeResult, mergeRuns, type MergeTask } from './run-merge.js';

/** The task pool's entry point (see `merge-pool.ts`): one merge, file to file. */
export default function merge(task: MergeTask): Promise<MergeResult> {
  return mergeRuns(task);
}
