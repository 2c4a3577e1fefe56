import { test } from 'uvu';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { runFile, type RunEntry, writeRun } from '../src/runtime/storage/run-file.js';

/** Writes `lines` as a run (as an array, or as an async iterable like a merge's) and reads it back. */
async function roundTrip(lines: string[], asAsync: boolean): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ordo-run-file-'));
  try {
    const entries: RunEntry[] = lines.map((line, i) => [`k${String(i).padStart(6, '0')}`, i % 2 ? { i: [line.slice(0, 3)] } : null, line]);
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

test('lines past a chunk, and one larger than a chunk, keep their order and ranges', async () => {
  const kb = 'é'.repeat(512); // 1 KiB of UTF-8
  const lines = Array.from({ length: 1500 }, (_, i) => `${i}:${kb}`);
  lines.splice(700, 0, '🙂'.repeat(400_000)); // 1.6 MB, larger than a chunk
  await roundTrip(lines, false);
});

test.run();
