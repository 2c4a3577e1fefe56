import { test } from 'uvu';
import assert from 'node:assert/strict';
import { appendFile, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JournalCorruptError } from '../src/runtime/errors.js';
import { encodeRecord, type JournalRecord } from '../src/runtime/journal/record.js';
import { SegmentFile } from '../src/runtime/journal/segment-file.js';
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

test('a tail of zeros (a filesystem that extended the file but lost the data) is a torn tail too', async () => {
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

test('segments: a torn record in an older segment is corruption, not a torn tail', async () => {
  const dir = await tempDir('ordo-segments-');
  const j = new SegmentedJournal(dir);
  await j.replay(1, () => {});
  await j.append([encodeRecord(rec(1))]);
  await j.rotate();
  await j.append([encodeRecord(rec(2))]);
  await j.close();
  const first = join(dir, segmentName(1));
  await appendFile(first, encodeRecord(rec(3)).subarray(0, 5));
  await assert.rejects(new SegmentedJournal(dir).replay(1, () => {}), JournalCorruptError);
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
