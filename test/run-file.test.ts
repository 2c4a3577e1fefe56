import { test } from 'uvu';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { dataLineOf, recordsLineOf, runFile, type RunEntry, writeRun } from '../src/runtime/storage/run-file.js';

/** A data line given as text, or as a set-aside actor's records (written from their UTF-8 bytes). */
type Line = string | { records: string; n: number };

/**
 * Writes `items` as a run (as an array, or as an async iterable like a merge's) and reads it
 * back: every line, whichever way it was given, is the text it stands for.
 */
async function roundTrip(items: Line[], asAsync: boolean): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ordo-run-file-'));
  try {
    const keyOf = (i: number) => `k${String(i).padStart(6, '0')}`;
    const lines = items.map((l, i) => (typeof l === 'string' ? l : dataLineOf(keyOf(i), `{"r":${l.records},"n":${l.n}}`)));
    const entries: RunEntry[] = items.map((l, i) => [keyOf(i), i % 2 ? { i: [lines[i]!.slice(0, 3)] } : null, typeof l === 'string' ? l : recordsLineOf(keyOf(i), Buffer.from(l.records, 'utf8'), l.n)]);
    const ranges: [string, number, number][] = [];
    const source = asAsync
      ? (async function* () {
          yield* entries;
        })()
      : entries;
    const written = await writeRun(dir, 1, source, (k, s, l) => ranges.push([k, s, l]));
    const data = await readFile(runFile(dir, 1, 'data'));
    const dirText = await readFile(runFile(dir, 1, 'dir'), 'utf8');
    assert.equal(written.entries, lines.length);
    assert.equal(written.dataBytes, data.length);
    assert.equal(data.toString('utf8'), lines.map((l) => `${Buffer.from(l, 'utf8').toString('utf8')}\n`).join(''));
    const dirLines = dirText.split('\n').slice(0, -1).map((l) => JSON.parse(l) as [string, unknown, number, number]);
    assert.equal(dirLines.length, lines.length);
    ranges.forEach(([k, s, l], i) => {
      // Each range is exactly its line's bytes, and the directory file says the same.
      assert.equal(data.subarray(s, s + l).toString('utf8'), Buffer.from(lines[i]!, 'utf8').toString('utf8'));
      assert.equal(data[s + l], 0x0a);
      assert.deepEqual(dirLines[i], [k, entries[i]![1], s, l]);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('every line lands at the range reported for it, whatever its characters', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 60 }), fc.boolean(), (lines, asAsync) => roundTrip(lines, asAsync)),
    { numRuns: 60 },
  );
});

test('records given as bytes land as the entry text they stand for, mixed with text lines', async () => {
  const line = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.record({ records: fc.string({ unit: 'binary', maxLength: 40 }), n: fc.nat() }));
  await fc.assert(fc.asyncProperty(fc.array(line, { maxLength: 60 }), fc.boolean(), (items, asAsync) => roundTrip(items, asAsync)), { numRuns: 60 });
});

test('records past a chunk, and records larger than a chunk, keep their order and ranges', async () => {
  const kb = 'é'.repeat(512);
  const items: Line[] = Array.from({ length: 1500 }, (_, i) => (i % 3 ? `${i}:${kb}` : { records: `[${i},"${kb}"]`, n: i }));
  items.splice(700, 0, { records: `["${'🙂'.repeat(400_000)}"]`, n: 7 }); // 1.6 MB of bytes, larger than a chunk
  await roundTrip(items, false);
});

test('lines past a chunk, and one larger than a chunk, keep their order and ranges', async () => {
  const kb = 'é'.repeat(512); // 1 KiB of UTF-8
  const lines = Array.from({ length: 1500 }, (_, i) => `${i}:${kb}`);
  lines.splice(700, 0, '🙂'.repeat(400_000)); // 1.6 MB, larger than a chunk
  await roundTrip(lines, false);
});

test.run();
