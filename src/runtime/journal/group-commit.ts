import type { SpanContext } from '@opentelemetry/api';
import type { Output } from '../kernel/envelope.js';
import { endCommit, startCommit } from '../kernel/tracing.js';
import { type Batch, settle } from './pending-batch.js';
import type { JournalSink } from '../storage/shard-store.js';

/**
 * Group commit for the journals of one thread: whatever the shards produced since the last write
 * goes to their journals as one write + fdatasync per journal (journals in parallel; usually one
 * per thread), and only then are the batch's outputs released. While a write is in flight the next batch accumulates, so
 * throughput rises with load instead of queueing one fsync per message.
 */
export class GroupCommit {
  private inFlight: Promise<void> | null = null;
  /** Held by `exclusive` (a journal rotation): no commit starts meanwhile. */
  private locked = false;
  private readonly exclusiveQueue: (() => void)[] = [];
  private started = 0;
  private finished = 0;
  private durableWaiters: { target: number; fn: () => void }[] = [];
  /** The write that failed: nothing commits after it (`flush` rejects with it). */
  failure: unknown = null;
  commits = 0;
  framesWritten = 0;
  lastCommitMs = 0;

  constructor(
    private readonly journals: () => Iterable<JournalSink>,
    private readonly release: (outputs: Output[]) => void,
    private readonly onFatal: (err: unknown) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Called after each commit's outputs are released (the host checks its snapshot trigger here). */
  onCommitted: (() => void) | null = null;
  /** Test-only: sees each commit's frames once durable, before any output is released. */
  afterDurable: ((frames: Buffer[][]) => void) | null = null;

  /** No commit runs, none is held off (a rotation), and none failed: a new one may start. */
  private get mayStart(): boolean {
    return !this.inFlight && !this.locked && !this.failure;
  }

  /**
   * Records are waiting and no commit runs or is held off: a `kick` now would start a write. (While
   * one is in flight the next batch accumulates anyway.)
   */
  get wouldWrite(): boolean {
    if (!this.mayStart) return false;
    for (const journal of this.journals()) if (journal.pending.frames.length > 0) return true;
    return false;
  }

  /** Starts a commit of everything pending unless one is already running (it will pick this up). */
  kick(): void {
    if (!this.mayStart) return;
    // A waiting rotation goes first, or a busy stream of commits would starve it forever.
    const exclusive = this.exclusiveQueue.shift();
    if (exclusive) {
      this.locked = true;
      exclusive();
      return;
    }
    const writes: Promise<void>[] = [];
    const outputs: Output[] = [];
    let frames = 0;
    const batches: Buffer[][] = [];
    const taken: Batch[] = [];
    let traced: SpanContext[] | null = null;
    for (const journal of this.journals()) {
      const b = journal.pending.take();
      if (b.cells.length) taken.push(b);
      if (b.links) traced = traced ? traced.concat(b.links) : b.links;
      if (b.frames.length) {
        batches.push(b.frames);
        writes.push(journal.append(b.frames));
        frames += b.frames.length;
      }
      for (const o of b.outputs) outputs.push(o);
    }
    if (writes.length === 0) {
      if (outputs.length) this.release(outputs);
      // Nothing pending and nothing in flight: everything produced so far is durable.
      this.runDurableWaiters(Infinity);
      return;
    }
    const started = this.now();
    const seq = ++this.started;
    const written = this.afterDurable ? batches : null;
    // A span only for a commit holding records of traced turns (whose spans were recorded).
    const span = traced ? startCommit(traced, frames) : null;
    this.inFlight = Promise.all(writes).then(
      () => {
        if (written) this.afterDurable?.(written);
        this.finished = seq;
        this.commits++;
        this.framesWritten += frames;
        this.lastCommitMs = this.now() - started;
        if (span) endCommit(span, this.lastCommitMs);
        this.inFlight = null;
        for (const b of taken) settle(b);
        this.release(outputs);
        this.onCommitted?.();
        this.runDurableWaiters(this.finished);
        this.kick();
      },
      (err) => {
        // The disk refused a write: memory is now ahead of the journal. Fail-stop; recovery on
        // restart rebuilds from what is durable. Nothing of this batch was reported to anyone.
        if (span) endCommit(span, this.now() - started, err);
        // Remembered so `flush` ends (a cluster node outlives a journal it lost; a server exits).
        this.failure = err ?? new Error('journal write failed');
        this.onFatal(err);
      },
    );
  }

  /** Calls `fn` once everything produced so far (including what is not yet taken) is durable. */
  whenDurable(fn: () => void): void {
    if (this.inFlight || this.locked) {
      this.durableWaiters.push({ target: this.started + 1, fn });
      return;
    }
    this.kick();
    if (!this.inFlight) return fn();
    this.durableWaiters.push({ target: this.started, fn });
  }

  private runDurableWaiters(upTo: number): void {
    if (this.durableWaiters.length === 0) return;
    const due = this.durableWaiters.filter((w) => w.target <= upTo);
    this.durableWaiters = this.durableWaiters.filter((w) => w.target > upTo);
    for (const w of due) w.fn();
  }

  /**
   * Runs `fn` between two commits, with no write in flight and none starting until it is done
   * (a snapshot rotating a journal to a new segment).
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await new Promise<void>((granted) => {
      this.exclusiveQueue.push(granted);
      this.kick();
    });
    try {
      return await fn();
    } finally {
      this.locked = false;
      this.kick();
    }
  }

  /** Resolves when nothing is pending or in flight (tests, shutdown). */
  async flush(): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.inFlight) {
        await this.inFlight;
        continue;
      }
      if (this.locked) {
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      this.kick();
      if (!this.inFlight) return;
    }
  }
}
