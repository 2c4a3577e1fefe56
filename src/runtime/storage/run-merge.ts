import { type FileHandle, open } from 'node:fs/promises';
import { DirCursor, type RunDirLine, runFile, type WrittenRun, writeRun } from './run-file.js';
import { type RunIndex, RunIndexBuilder } from './run-index.js';

/** The position in `cursors` of the newest run holding the smallest key ahead (-1: all ended). */
function smallest(cursors: DirCursor[]): number {
  let min: string | null = null;
  let source = -1;
  for (let i = 0; i < cursors.length; i++) {
    const e = cursors[i]!.entry;
    if (e !== null && (min === null || e[0] < min)) {
      min = e[0];
      source = i;
    }
  }
  return source;
}

/**
 * Walks several runs' directory files at once, in key order (a k-way merge; runs are few), and
 * yields once per key the line of the newest run holding it with that run's position in
 * `cursors` (newest first). Older runs' lines for the same key are skipped.
 */
export async function* mergeCursors(cursors: DirCursor[]): AsyncGenerator<[RunDirLine, number]> {
  for (;;) {
    const source = smallest(cursors);
    if (source < 0) return;
    const line = cursors[source]!.entry!;
    yield [line, source];
    for (const c of cursors) if (c.entry !== null && c.entry[0] === line[0] && !c.nextSync()) await c.next();
  }
}

/**
 * `mergeCursors` for a caller that takes each line synchronously (a restart loading its
 * directory): it waits only when a cursor reads on, where an async generator costs a promise
 * and a microtask per line, a tenth of a million-actor restart.
 */
export async function eachMerged(cursors: DirCursor[], fn: (line: RunDirLine, source: number) => void): Promise<void> {
  for (;;) {
    const source = smallest(cursors);
    if (source < 0) return;
    const line = cursors[source]!.entry!;
    fn(line, source);
    for (const c of cursors) if (c.entry !== null && c.entry[0] === line[0] && !c.nextSync()) await c.next();
  }
}

/** Reads ranges of a file that come in increasing order, through a read-ahead buffer. */
class SequentialReader {
  private buf = Buffer.alloc(0);
  private bufStart = 0;

  constructor(private readonly fh: FileHandle) {}

  async read(start: number, length: number): Promise<string> {
    if (start < this.bufStart || start + length > this.bufStart + this.buf.length) {
      const size = Math.max(length, 1 << 20);
      const buf = Buffer.allocUnsafe(size);
      const { bytesRead } = await this.fh.read(buf, 0, size, start);
      if (bytesRead < length) throw new Error(`a run's data file ends before ${start + length}`);
      this.buf = buf.subarray(0, bytesRead);
      this.bufStart = start;
    }
    const from = start - this.bufStart;
    return this.buf.toString('utf8', from, from + length);
  }
}

/** Steps of a merge a crash test can stop at (`FileShardStore.onMergeStep`). */
export type MergeStep = 'written' | 'committed';

/** A merge of contiguous runs (newest first) into one new run: plain data, so it can go to a task pool. */
export interface MergeTask {
  snapDir: string;
  inputs: number[];
  output: number;
  /** The inputs include the shard's oldest run: deletions have nothing left to hide, and are dropped. */
  dropDeletions: boolean;
}

export interface MergeResult extends WrittenRun {
  index: RunIndex;
}

/**
 * The merge itself, file to file: reads the inputs' directory files together and copies each
 * key's newest data line into the output run (fsync'ed; not in use until a manifest names it).
 * Stateless, so it runs in the task pool (see `merge-pool.ts`) as well as inline.
 */
export async function mergeRuns(task: MergeTask): Promise<MergeResult> {
  const cursors: DirCursor[] = [];
  const readers: FileHandle[] = [];
  try {
    for (const id of task.inputs) {
      cursors.push(await DirCursor.open(runFile(task.snapDir, id, 'dir')));
      readers.push(await open(runFile(task.snapDir, id, 'data'), 'r'));
    }
    const data = readers.map((fh) => new SequentialReader(fh));
    const index = new RunIndexBuilder();
    const written = await writeRun(task.snapDir, task.output, newestLines(cursors, data, task.dropDeletions), (k, s, l) => index.add(k, s, l));
    return { ...written, index: index.build() };
  } finally {
    for (const c of cursors) await c.close();
    for (const fh of readers) await fh.close();
  }
}

/** The merged entries in key order, as `writeRun` takes them. */
async function* newestLines(cursors: DirCursor[], data: SequentialReader[], dropDeletions: boolean): AsyncGenerator<[string, RunDirLine[1], string]> {
  for await (const [[key, dir, start, length], source] of mergeCursors(cursors)) {
    if (dir === null && dropDeletions) continue;
    yield [key, dir, await data[source]!.read(start, length)];
  }
}
