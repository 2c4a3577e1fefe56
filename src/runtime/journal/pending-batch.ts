import type { SpanContext } from '@opentelemetry/api';
import type { ActorCell } from '../kernel/actor-cell.js';
import type { Output } from '../kernel/envelope.js';

/** The journal frames and outputs produced since the last commit; outputs leave only once frames are durable. */
export interface Batch {
  frames: Buffer[];
  outputs: Output[];
  /** Actors with records in `frames` (one entry per record): settled once the write is durable. */
  cells: ActorCell[];
  /** The recorded spans of the traced turns whose records are in `frames` (absent when none): the commit's span links to them. */
  links?: SpanContext[];
}

/**
 * What the shards of one journal produced since the last commit, in the order they produced it.
 * The shards sharing a journal share one of these: a message between two of them is delivered at
 * once, so the receiver's record must follow the sender's in the file, and a single list in
 * production order is what guarantees that (a crash keeps a prefix of the journal, never an
 * effect without its cause).
 */
export class PendingBatch {
  private batch: Batch = { frames: [], outputs: [], cells: [] };

  get frames(): Buffer[] {
    return this.batch.frames;
  }

  get outputs(): Output[] {
    return this.batch.outputs;
  }

  /**
   * Adds one turn's record; `cell` waits for it to be durable before it may leave memory. `turn`:
   * the span of the turn that wrote it, when that turn was traced and its span is recorded.
   */
  record(frame: Buffer, cell: ActorCell | null, turn?: SpanContext): void {
    this.batch.frames.push(frame);
    if (turn !== undefined) (this.batch.links ??= []).push(turn);
    if (cell) {
      this.batch.cells.push(cell);
      cell.unsettled++;
    }
  }

  /** Hands over what was produced since the last call. */
  take(): Batch {
    const b = this.batch;
    this.batch = { frames: [], outputs: [], cells: [] };
    return b;
  }
}

/** A batch's records are durable: its actors have that much less unwritten state. */
export function settle(b: Batch): void {
  for (const c of b.cells) c.unsettled--;
}
