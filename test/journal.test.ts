import { test } from 'uvu';
import assert from 'node:assert/strict';
import { appendFile, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JournalCorruptError } from '../src/runtime/errors.js';
import { encodeRecord, type JournalRecord } from '../src/runtime/journal/record.js';
import { PREALLOCATE_BYTES, SegmentFile } from '../src/runtime/journal/segment-file.js';
import { SegmentedJournal, segmentName } from '../src/runtime/journal/segmented-journal.js';
import { tempDir } from './helpers/server.js';

const rec = (i: number): JournalRecord => ({ k: `order:o${i}`, r: [{ n: i, pad: 'x'.repeat(i % 50) }] });

async function journalWith(n: number): Promise<{ dir: string; path: string }> {
  const dir = await tempDir('ordo-journal-');
  const path = join(dir, 'j.log');
  const j = new SegmentFile(path);
  await j.append(Array.from({ length: n }, (_, i) => encodeRecord(rec(i))));
  await j.close();
  return { dir, path };
}

async function replayAll(path: string): Promise<{ records: JournalRecord[]; warnings: string[]; truncated: number }> {
  const warnings: string[] = [];
  const records: JournalRecord[] = [];
  const s = await new SegmentFile(path, (w) => warnings.push(w)).replay((r) => records.push(r));
  return { records, warnings, truncated: s.truncated };
}

test('a torn tail (a crash mid-write) is detected, logged and cut off; the good prefix survives', async () => {
  const { dir, path } = await journalWith(20);
  const good = (await stat(path)).size;
  // Half of one more frame: what a crash in the middle of write() leaves.
  const frame = encodeRecord(rec(20));
  await appendFile(path, frame.subarray(0, frame.length >> 1));
  const { records, warnings, truncated } = await replayAll(path);
  assert.equal(records.length, 20);
  assert.deepEqual(records[19], rec(19));
  assert.equal(truncated, frame.length >> 1);
  assert.match(warnings[0]!, /torn tail/);
  assert.equal((await stat(path)).size, good, 'the file was cut back to the last good frame');
  // Appending after the cut works and is read back.
  const j = new SegmentFile(path);
  await j.append([encodeRecord(rec(21))]);
  await j.close();
  assert.equal((await replayAll(path)).records.length, 21);
  await rm(dir, { recursive: true });
});

test('a tail of zeros (a filesystem that extended the file but lost the data, or a segment\'s preallocated room) ends the records and is cut off', async () => {
  const { dir, path } = await journalWith(5);
  await appendFile(path, Buffer.alloc(4096));
  const { records, truncated } = await replayAll(path);
  assert.equal(records.length, 5);
  assert.equal(truncated, 4096);
  await rm(dir, { recursive: true });
});

test('a corrupt record in the middle stops recovery with the file and offset, changing nothing', async () => {
  const { dir, path } = await journalWith(30);
  const bytes = await readFile(path);
  const offset = encodeRecord(rec(0)).length + encodeRecord(rec(1)).length;
  bytes[offset + 12] = bytes[offset + 12]! ^ 0xff; // a flipped byte inside record 2's payload
  await writeFile(path, bytes);
  await assert.rejects(replayAll(path), (err: unknown) => {
    assert.ok(err instanceof JournalCorruptError);
    assert.equal(err.offset, offset);
    assert.match(err.message, new RegExp(`${path.replace(/[/.]/g, '\\$&')} is corrupt at offset ${offset}`));
    return true;
  });
  assert.deepEqual(await readFile(path), bytes, 'nothing was cut from a file with a corrupt middle');
  await rm(dir, { recursive: true });
});

/** A new journal, replayed (empty), with record 1 appended to its first segment; still open. */
async function journalWithOne(): Promise<{ dir: string; j: SegmentedJournal }> {
  const dir = await tempDir('ordo-segments-');
  const j = new SegmentedJournal(dir);
  await j.replay(1, () => {});
  await j.append([encodeRecord(rec(1))]);
  return { dir, j };
}

/** Every record of the journal in `dir`, as a new journal replays them from segment 1. */
async function recordsIn(dir: string): Promise<JournalRecord[]> {
  const seen: JournalRecord[] = [];
  await new SegmentedJournal(dir).replay(1, (r) => seen.push(r));
  return seen;
}

/** A journal of two segments, record 1 in the first and record 2 in the second, closed. */
async function twoSegments(): Promise<string> {
  const { dir, j } = await journalWithOne();
  await j.rotate();
  await j.append([encodeRecord(rec(2))]);
  await j.close();
  return dir;
}

test('segments: a torn record in an older segment is corruption, not a torn tail', async () => {
  const dir = await twoSegments();
  const first = join(dir, segmentName(1));
  await appendFile(first, encodeRecord(rec(3)).subarray(0, 5));
  await assert.rejects(new SegmentedJournal(dir).replay(1, () => {}), JournalCorruptError);
  await rm(dir, { recursive: true });
});

test('a segment being appended to keeps zeroed room ahead of its records, and is cut back to them when closed', async () => {
  const dir = await tempDir('ordo-journal-');
  const path = join(dir, 'j.log');
  const j = new SegmentFile(path);
  const frames = Array.from({ length: 10 }, (_, i) => encodeRecord(rec(i)));
  const bytes = frames.reduce((n, f) => n + f.length, 0);
  await j.append(frames.slice(0, 5));
  await j.append(frames.slice(5));
  const open = await readFile(path);
  const first = frames.slice(0, 5).reduce((n, f) => n + f.length, 0);
  assert.equal(open.length, first + PREALLOCATE_BYTES, 'a chunk of room past the first append, which the second one fits in');
  assert.ok(open.subarray(bytes).every((b) => b === 0), 'the room is zeros');
  await j.close();
  assert.equal((await stat(path)).size, bytes, 'closed: the records and nothing else');
  assert.deepEqual((await replayAll(path)).records, Array.from({ length: 10 }, (_, i) => rec(i)));
  await rm(dir, { recursive: true });
});

test('a crash that leaves the room (no close) loses nothing: replay reads every record, warns of nothing, appends go on after them', async () => {
  const dir = await tempDir('ordo-journal-');
  const path = join(dir, 'j.log');
  const j = new SegmentFile(path);
  await j.append(Array.from({ length: 20 }, (_, i) => encodeRecord(rec(i))));
  // The file as a kill -9 leaves it: copied while the writer still has it open.
  const crashed = join(dir, 'crashed.log');
  await writeFile(crashed, await readFile(path));
  await j.close();
  const { records, warnings, truncated } = await replayAll(crashed);
  assert.equal(records.length, 20);
  assert.deepEqual(warnings, [], 'zeros past the records are room, not a torn tail');
  assert.equal(truncated, PREALLOCATE_BYTES);
  const again = new SegmentFile(crashed);
  await again.append([encodeRecord(rec(20))]);
  await again.close();
  assert.deepEqual((await replayAll(crashed)).records, Array.from({ length: 21 }, (_, i) => rec(i)));
  await rm(dir, { recursive: true });
});

test('inside the room, a half-written record is a torn tail; a corrupt record with records after it is still corruption', async () => {
  const dir = await tempDir('ordo-journal-');
  const path = join(dir, 'j.log');
  const j = new SegmentFile(path);
  await j.append(Array.from({ length: 5 }, (_, i) => encodeRecord(rec(i))));
  const good = Buffer.from(await readFile(path));
  await j.close();
  const end = (await stat(path)).size;
  const torn = join(dir, 'torn.log');
  const half = encodeRecord(rec(5));
  good.set(half.subarray(0, half.length >> 1), end);
  await writeFile(torn, good);
  const t = await replayAll(torn);
  assert.equal(t.records.length, 5);
  assert.match(t.warnings[0]!, /torn tail/);

  const corrupt = join(dir, 'corrupt.log');
  const bytes = Buffer.from(good);
  bytes.set(Buffer.alloc(half.length), end); // no torn record: the room as it was
  bytes[encodeRecord(rec(0)).length + 12] ^= 0xff; // a flipped byte in record 1, records 2-4 after it
  await writeFile(corrupt, bytes);
  await assert.rejects(replayAll(corrupt), JournalCorruptError);
  await rm(dir, { recursive: true });
});

test('segments: zeros after the records of an older segment (a crash before it was cut back) are not corruption', async () => {
  const dir = await twoSegments();
  await appendFile(join(dir, segmentName(1)), Buffer.alloc(8192));
  assert.deepEqual(await recordsIn(dir), [rec(1), rec(2)]);
  await rm(dir, { recursive: true });
});

test('segments: the next segment is made ahead of the rotation to it, and a closed journal leaves none', async () => {
  const { dir, j } = await journalWithOne();
  const spareMade = async (n: number) => {
    for (let i = 0; i < 100 && !(await j.segments()).includes(n); i++) await new Promise((resolve) => setImmediate(resolve));
    return (await j.segments()).includes(n);
  };
  assert.ok(await spareMade(2), 'segment 2 exists before any rotation');
  assert.equal((await stat(join(dir, segmentName(2)))).size, 0);
  assert.equal(await j.rotate(), 2);
  await j.append([encodeRecord(rec(2))]);
  assert.ok(await spareMade(3), 'and segment 3 once 2 is in use');
  await j.close();
  assert.deepEqual(await new SegmentedJournal(dir).segments(), [1, 2]);
  assert.deepEqual(await recordsIn(dir), [rec(1), rec(2)]);
  await rm(dir, { recursive: true });
});

test('segments: rotations with nothing written in between leave no empty segment behind', async () => {
  const { dir, j } = await journalWithOne();
  // As a stop's snapshots do: a rotation per shard, one right after another.
  for (let i = 0; i < 5; i++) await j.rotate();
  await j.close();
  assert.deepEqual(await new SegmentedJournal(dir).segments(), [1]);
  await rm(dir, { recursive: true });
});

test('segments: a crash that leaves an empty spare after the newest segment still lets that one end torn', async () => {
  const dir = await twoSegments();
  // As a kill -9 in the middle of a write to segment 2 leaves it, with segment 3 made ahead.
  await appendFile(join(dir, segmentName(2)), encodeRecord(rec(3)).subarray(0, 7));
  await writeFile(join(dir, segmentName(3)), Buffer.alloc(0));
  const warnings: string[] = [];
  const j = new SegmentedJournal(dir, (w) => warnings.push(w));
  const seen: JournalRecord[] = [];
  await j.replay(1, (r) => seen.push(r));
  assert.deepEqual(seen, [rec(1), rec(2)]);
  assert.match(warnings[0]!, /torn tail/);
  // Appends go on in the newest file there is, the spare.
  await j.append([encodeRecord(rec(4))]);
  await j.close();
  assert.deepEqual(await recordsIn(dir), [rec(1), rec(2), rec(4)]);
  await rm(dir, { recursive: true });
});

test('segments replay in order from the rotation point; older ones can be removed', async () => {
  const dir = await tempDir('ordo-segments-');
  const j = new SegmentedJournal(dir);
  await j.replay(1, () => {});
  await j.append([encodeRecord(rec(1))]);
  const point = await j.rotate();
  await j.append([encodeRecord(rec(2)), encodeRecord(rec(3))]);
  await j.close();
  const seen: JournalRecord[] = [];
  await new SegmentedJournal(dir).replay(point, (r) => seen.push(r));
  assert.deepEqual(seen, [rec(2), rec(3)]);
  assert.equal(await new SegmentedJournal(dir).removeBefore(point), 1);
  assert.deepEqual(await new SegmentedJournal(dir).segments(), [point]);
  await rm(dir, { recursive: true });
});

test.run();
