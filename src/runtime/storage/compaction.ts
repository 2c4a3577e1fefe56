import type { RunMeta } from './manifest.js';

/** Runs of one level merged together into one run of the next. */
export const FANOUT = 4;

export interface MergePlan {
  /** Positions in the runs list (newest first): `runs.slice(from, to)` are merged. */
  from: number;
  to: number;
  level: number;
  /** The inputs include the oldest run: deletions hide nothing older, and are dropped. */
  dropDeletions: boolean;
}

/**
 * Size-tiered compaction by level. A snapshot round's run is at level 0; once FANOUT runs share a
 * level, they are merged into one run of the next level. Levels only grow from the newest run to
 * the oldest, so the runs of a level are adjacent in age and their merge keeps "the newest run
 * holding a key has its state" true. Each byte a round writes is thus rewritten at most once per
 * level: with R rounds' worth of data there are ⌈log_FANOUT R⌉ levels, the write amplification of
 * snapshots is at most 1 + ⌈log_FANOUT R⌉ times the bytes the rounds write, and a key is in at
 * most (FANOUT − 1) runs per level, plus the one being merged.
 */
export function planMerge(runs: readonly RunMeta[]): MergePlan | null {
  let i = 0;
  while (i < runs.length) {
    const level = runs[i]!.level;
    let j = i;
    while (j < runs.length && runs[j]!.level === level) j++;
    if (j - i >= FANOUT) {
      // The oldest FANOUT of the level: the newer ones wait for the next merge of this level.
      return { from: j - FANOUT, to: j, level: level + 1, dropDeletions: j === runs.length };
    }
    i = j;
  }
  return null;
}
