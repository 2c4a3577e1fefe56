import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ifAbsent, ManifestError, SnapshotWriteError } from '../errors.js';
import { fsyncPath } from '../journal/fsync.js';
import { Journal } from '../journal/journal.js';
import { mergeCrashPointFromEnv } from '../crash-point.js';
import type { JournalRecord, ReplayStats } from '../journal/record.js';
import { planMerge } from './compaction.js';
import { type Manifest, readManifest, type RunMeta, writeManifest } from './manifest.js';
import { runMerge } from './merge-pool.js';
import { dataLineOf, DirCursor, readDataAt, runFile, runFileId, writeRun } from './run-file.js';
import { candidates, type RunIndex, RunIndexBuilder } from './run-index.js';
import { eachMerged } from './run-merge.js';
import type { MergeStep } from './run-merge.js';
import { type DirectoryEntry, type ShardStore, type SnapshotChange, type SnapshotEntry } from './shard-store.js';

interface LiveRun {
  meta: RunMeta;
  index: RunIndex;
}


/**
 * A shard's snapshot as log-structured runs (run-file.ts): each snapshot round writes the actors
 * it changed, and only those, to a new run; runs are merged in the background (compaction.ts) in
 * a task pool (merge-pool.ts). The manifest (manifest.ts), replaced atomically and durably, is the
 * commit point of both: it names the runs in use and from which journal segment on this shard's
 * records are not in them. A reactivation reads the newest run that holds the key, at the offset
 * its in-memory index (run-index.ts) gives.
 *
 * Layout: `<data>/shards/NNNN/snapshot/{manifest.json,rNNNNNNNN.dir,rNNNNNNNN.data}`; the
 * journal's segments are wherever `journal` keeps them (`<data>/journals/NNNN/`; a store made
 * without one keeps its own in `dir`).
 */
export class FileShardStore implements ShardStore {
  readonly journal: Journal;
  private readonly shard: number;
  private readonly snapDir: string;
  private manifest: Manifest;
  /** The runs in use, newest first, with their indexes. */
  private runs: LiveRun[] = [];
  private nextRunId = 1;
  /** The round under way: each changed actor's directory entry (null: deleted) and data line. */
  private pending = new Map<string, [DirectoryEntry | null, string]>();
  /** Manifest writes one at a time (a round and a merge may finish together). */
  private manifestWrites: Promise<unknown> = Promise.resolve();
  private merging: Promise<void> | null = null;
  private closed = false;
  /** Data lines read by reactivations, and merges done. */
  reads = 0;
  merges = 0;
  /** Bytes written to run files (rounds and merges) since start. */
  bytesWritten = 0;
  /** Test hook: called at each step of a merge (a crash test throws or kills the process there). */
  onMergeStep: ((step: MergeStep) => void) | null = mergeCrashPointFromEnv();

  constructor(
    readonly dir: string,
    /** For a new shard; an existing one keeps the count its manifest records. */
    public partitions = 256,
    private readonly onWarn: (msg: string) => void = () => {},
    /** The journal this shard writes to, shared with others; by default its own, in `dir`. */
    journal?: { shared: Journal; shard: number },
  ) {
    this.journal = journal?.shared ?? new Journal(dir, [0], () => 0, onWarn);
    this.shard = journal?.shard ?? 0;
    this.snapDir = join(dir, 'snapshot');
    this.manifest = { replayFrom: 1, partitions, runs: [] };
  }

  async recover(onDirectory: (key: string, e: DirectoryEntry) => void, onRecord: (rec: JournalRecord) => void): Promise<ReplayStats> {
    const m = await readManifest(this.snapDir);
    if (m) {
      this.partitions = m.partitions;
      this.manifest = m;
    }
    const live = new Set(this.manifest.runs.map((r) => r.id));
    const names = await readdir(this.snapDir).catch(ifAbsent<string[]>([])); // none: no snapshot yet
    // Partition files are the layout before runs: not read, so not silently passed over either.
    const older = names.find((n) => /^p\d{3,}\.(dir|data)\.json$/.test(n));
    if (older) throw new ManifestError(`${join(this.snapDir, older)} is a snapshot of an older layout (partition files), which this version does not read`);
    for (const name of names) {
      const id = runFileId(name);
      if (id === null) continue;
      this.nextRunId = Math.max(this.nextRunId, id + 1);
      // A round or a merge that a crash cut short, or a merge's inputs it replaced: not in use.
      if (!live.has(id)) await unlink(join(this.snapDir, name));
    }
    for (const r of this.manifest.runs) {
      this.nextRunId = Math.max(this.nextRunId, r.id + 1);
      for (const [kind, bytes] of [['data', r.dataBytes], ['dir', r.dirBytes]] as const) {
        const size = await stat(runFile(this.snapDir, r.id, kind)).then((s) => s.size, () => -1);
        if (size !== bytes) throw new ManifestError(`${runFile(this.snapDir, r.id, kind)} is missing or damaged (${size} bytes, the manifest says ${bytes})`);
      }
    }
    // Every run's directory at once, in key order: each key's newest entry is the one in use,
    // and only those go into the indexes.
    const cursors: DirCursor[] = [];
    try {
      for (const r of this.manifest.runs) cursors.push(await DirCursor.open(runFile(this.snapDir, r.id, 'dir')));
      const builders = cursors.map(() => new RunIndexBuilder());
      await eachMerged(cursors, ([key, e, start, length], source) => {
        if (e === null) return; // deleted: older runs' entries are not indexed either
        onDirectory(key, e);
        builders[source]!.add(key, start, length);
      });
      this.runs = this.manifest.runs.map((meta, i) => ({ meta, index: builders[i]!.build() }));
    } finally {
      for (const c of cursors) await c.close();
    }
    // Merges due wait for the first round after the start: recovery has the cores to itself.
    return this.journal.join(this.shard, this.manifest.replayFrom, onRecord);
  }

  async loadActor(key: string): Promise<SnapshotEntry | undefined> {
    for (;;) {
      const runs = this.runs;
      let gone = false;
      for (const run of runs) {
        for (const [start, length] of candidates(run.index, key)) {
          const r = await readDataAt(runFile(this.snapDir, run.meta.id, 'data'), key, start, length);
          if (r === 'other') continue;
          if (r === 'gone') {
            gone = true;
            break;
          }
          this.reads++;
          return r.entry ?? undefined;
        }
        if (gone) break;
      }
      // A merge replaced a run under the read: the runs in use now have the key, or nothing does.
      if (gone && this.runs !== runs) continue;
      if (gone) throw new ManifestError(`a run of ${this.snapDir} in use is gone`);
      return undefined;
    }
  }

  async readTail(key: string): Promise<JournalRecord[]> {
    const out: JournalRecord[] = [];
    await this.journal.scan(this.shard, this.manifest.replayFrom, (r) => {
      if (r.k === key) out.push(r);
    });
    return out;
  }

  async beginSnapshot(): Promise<number> {
    await mkdir(this.snapDir, { recursive: true });
    this.pending.clear();
    return this.journal.rotate();
  }

  /** Adds one partition's changed actors to the round's run, written by `commitSnapshot`. */
  async writePartition(_p: number, changes: Map<string, SnapshotChange | null>): Promise<void> {
    for (const [k, c] of changes) this.pending.set(k, [c?.dir ?? null, dataLineOf(k, c?.json ?? null)]);
  }

  async commitSnapshot(rotationPoint: number): Promise<void> {
    let added: LiveRun | null = null;
    if (this.pending.size > 0) {
      const pending = this.pending;
      this.pending = new Map();
      const keys = [...pending.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const id = this.nextRunId++;
      const index = new RunIndexBuilder();
      const entries = keys.map((k): [string, DirectoryEntry | null, string] => {
        const [dir, line] = pending.get(k)!;
        return [k, dir, line];
      });
      let written;
      try {
        written = await writeRun(this.snapDir, id, entries, (k, s, l) => index.add(k, s, l));
      } catch (err) {
        throw new SnapshotWriteError(runFile(this.snapDir, id, 'data'), err);
      }
      this.bytesWritten += written.dataBytes + written.dirBytes;
      added = { meta: { id, level: 0, ...written }, index: index.build() };
    }
    // The run's files durable names before the commit point names them.
    await fsyncPath(this.snapDir);
    await this.updateManifest(() => {
      if (added) this.runs = [added, ...this.runs];
      return { replayFrom: rotationPoint, partitions: this.partitions, runs: this.runs.map((r) => r.meta) };
    });
    await this.journal.covered(this.shard, rotationPoint);
    this.maybeMerge();
  }

  /** Writes the manifest `next` returns (called in turn, so it sees the latest runs). */
  private updateManifest(next: () => Manifest): Promise<void> {
    const write = this.manifestWrites.then(async () => {
      const m = next();
      await writeManifest(this.snapDir, m);
      this.manifest = m;
    });
    this.manifestWrites = write.catch(() => {});
    return write;
  }

  /** Starts the merge the runs in use call for, if any, unless one is under way. */
  private maybeMerge(): void {
    if (this.merging || this.closed) return;
    const plan = planMerge(this.runs.map((r) => r.meta));
    if (!plan) return;
    const inputs = this.runs.slice(plan.from, plan.to);
    this.merging = this.merge(inputs, plan.level, plan.dropDeletions).then(
      () => {
        this.merging = null;
        this.maybeMerge();
      },
      (err: unknown) => {
        // Nothing is lost (the inputs stay in use); the next round's commit tries again.
        this.merging = null;
        this.onWarn(`merging snapshot runs of ${this.snapDir} failed: ${(err as Error).message}`);
      },
    );
  }

  /**
   * Merges contiguous runs into one: the task pool writes the new run (fsync'ed), the manifest
   * then names it instead of its inputs, and only then are the inputs deleted. A crash before the
   * manifest leaves the inputs in use and an unnamed file; after it, unnamed inputs: recovery
   * deletes either.
   */
  private async merge(inputs: LiveRun[], level: number, dropDeletions: boolean): Promise<void> {
    const output = this.nextRunId++;
    const result = await runMerge({ snapDir: this.snapDir, inputs: inputs.map((r) => r.meta.id), output, dropDeletions });
    this.bytesWritten += result.dataBytes + result.dirBytes;
    await fsyncPath(this.snapDir);
    this.onMergeStep?.('written');
    const merged: LiveRun = {
      meta: { id: output, level, entries: result.entries, dataBytes: result.dataBytes, dirBytes: result.dirBytes },
      index: result.index,
    };
    await this.updateManifest(() => {
      // Rounds committed meanwhile are newer: the inputs are still adjacent, in place.
      const at = this.runs.indexOf(inputs[0]!);
      this.runs = [...this.runs.slice(0, at), merged, ...this.runs.slice(at + inputs.length)];
      return { ...this.manifest, runs: this.runs.map((r) => r.meta) };
    });
    this.merges++;
    this.onMergeStep?.('committed');
    for (const r of inputs) {
      for (const kind of ['data', 'dir'] as const) {
        await unlink(runFile(this.snapDir, r.meta.id, kind)).catch(ifAbsent(undefined));
      }
    }
  }

  /** Resolves once no merge is under way (tests; a stop lets a merge finish). */
  async mergesSettled(): Promise<void> {
    while (this.merging) await this.merging;
  }

  /** The runs in use, newest first (tests and `ordo inspect`). */
  get runsInUse(): readonly RunMeta[] {
    return this.runs.map((r) => r.meta);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.mergesSettled();
    await this.journal.close();
  }
}

