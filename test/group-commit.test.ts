import { test } from 'uvu';
import assert from 'node:assert/strict';
import { InventoryActor } from '../src/actors/inventory.js';
import { ActorCell } from '../src/runtime/kernel/actor-cell.js';
import type { Output } from '../src/runtime/kernel/envelope.js';
import { GroupCommit } from '../src/runtime/journal/group-commit.js';
import { PendingBatch } from '../src/runtime/journal/pending-batch.js';
import type { JournalSink } from '../src/runtime/storage/shard-store.js';

/** A journal whose appends finish only when the test says so (or fail, if it says that). */
class ManualJournal implements JournalSink {
  readonly pending = new PendingBatch();
  readonly appends: { frames: string[]; finished: boolean; done: () => void; fail: (err: Error) => void }[] = [];

  append(frames: Buffer[]): Promise<void> {
    return new Promise((done, fail) => this.appends.push({ frames: frames.map((f) => f.toString()), finished: false, done, fail }));
  }

  /** Completes the oldest append still open. */
  finishNext(): void {
    const a = this.appends.find((x) => !x.finished)!;
    a.finished = true;
    a.done();
  }
}

const result = (cid: number): Output => ({ t: 'result', cid, reply: { ok: true } });
/** Lets the promise callbacks of finished appends run. */
const turn = () => new Promise((r) => setImmediate(r));

function setup() {
  const journal = new ManualJournal();
  const released: Output[][] = [];
  const fatal: unknown[] = [];
  const commit = new GroupCommit(() => [journal], (o) => released.push(o), (err) => fatal.push(err));
  return { journal, released, fatal, commit };
}

test('a commit writes what is pending and releases its outputs only once durable', async () => {
  const { journal, released, commit } = setup();
  const cell = new ActorCell('sku:a', InventoryActor);
  journal.pending.record(Buffer.from('r1'), cell);
  journal.pending.outputs.push(result(1));
  commit.kick();
  assert.deepEqual(journal.appends.map((a) => a.frames), [['r1']]);
  assert.equal(cell.unsettled, 1);
  await turn();
  assert.deepEqual(released, [], 'nothing leaves before the write is durable');
  journal.finishNext();
  await turn();
  assert.deepEqual(released, [[result(1)]]);
  assert.equal(cell.unsettled, 0);
  assert.equal(commit.commits, 1);
  assert.equal(commit.framesWritten, 1);
});

test('exclusive runs between commits, and no commit starts until it is done', async () => {
  const { journal, commit } = setup();
  journal.pending.record(Buffer.from('r1'), null);
  commit.kick();
  const order: string[] = [];
  let finishRotation!: () => void;
  const rotation = commit.exclusive(async () => {
    order.push('exclusive starts');
    await new Promise<void>((r) => (finishRotation = r));
    order.push('exclusive ends');
    return 7;
  });
  await turn();
  assert.deepEqual(order, [], 'not while a write is in flight');
  // Work that arrives meanwhile waits for the rotation, even when asked to commit.
  journal.pending.record(Buffer.from('r2'), null);
  journal.finishNext();
  await turn();
  assert.deepEqual(order, ['exclusive starts']);
  commit.kick();
  assert.equal(journal.appends.length, 1, 'no commit starts while exclusive runs');
  finishRotation();
  assert.equal(await rotation, 7);
  assert.deepEqual(order, ['exclusive starts', 'exclusive ends']);
  assert.deepEqual(journal.appends.map((a) => a.frames), [['r1'], ['r2']], 'the waiting work is committed right after');
});

test('whenDurable fires only after the commit that holds earlier work is durable', async () => {
  const { journal, commit } = setup();
  const fired: string[] = [];
  commit.whenDurable(() => fired.push('nothing pending: at once'));
  assert.deepEqual(fired, ['nothing pending: at once']);

  journal.pending.record(Buffer.from('r1'), null);
  commit.kick();
  // r2 is produced while r1's write is in flight: it is in the next commit, not this one.
  journal.pending.record(Buffer.from('r2'), null);
  commit.whenDurable(() => fired.push('after r2'));
  journal.finishNext(); // r1 durable; the commit of r2 starts
  await turn();
  assert.deepEqual(journal.appends.map((a) => a.frames), [['r1'], ['r2']]);
  assert.deepEqual(fired, ['nothing pending: at once'], 'r1 durable is not enough');
  journal.finishNext();
  await turn();
  assert.deepEqual(fired, ['nothing pending: at once', 'after r2']);

  // Pending, not yet taken: whenDurable starts the commit and waits for it.
  journal.pending.record(Buffer.from('r3'), null);
  commit.whenDurable(() => fired.push('after r3'));
  assert.deepEqual(journal.appends.at(-1)!.frames, ['r3']);
  await turn();
  assert.equal(fired.length, 2);
  journal.finishNext();
  await turn();
  assert.deepEqual(fired.at(-1), 'after r3');
});

test('a failed append calls onFatal and releases nothing', async () => {
  const { journal, released, fatal, commit } = setup();
  const cell = new ActorCell('sku:a', InventoryActor);
  const fired: string[] = [];
  journal.pending.record(Buffer.from('r1'), cell);
  journal.pending.outputs.push(result(1));
  commit.kick();
  commit.whenDurable(() => fired.push('durable'));
  const disk = new Error('disk full');
  journal.appends[0]!.fail(disk);
  await turn();
  assert.deepEqual(fatal, [disk]);
  assert.deepEqual(released, [], 'no output of the failed batch leaves');
  assert.deepEqual(fired, [], 'nothing is reported durable');
  assert.equal(cell.unsettled, 1, "the actor's output gate stays closed");
  assert.equal(commit.commits, 0);
});

test.run();
