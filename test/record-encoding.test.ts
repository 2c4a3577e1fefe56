import { test } from 'uvu';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFrame, FRAME_HEADER } from '../src/runtime/journal/frame.js';
import { JsonBytes } from '../src/runtime/journal/json-bytes.js';
import { decodeRecord, encodeRecord, type JournalRecord, recordsJsonOf } from '../src/runtime/journal/record.js';

// Records are written as JSON bytes without JSON.stringify's string (json-bytes.ts): the bytes
// must be exactly JSON.stringify's, so journals of every build read the same.

const bytesOf = (w: JsonBytes, v: unknown): Buffer => Buffer.from(w.write(v, FRAME_HEADER).subarray(FRAME_HEADER, w.end));

test('any JSON value is written as the bytes of JSON.stringify', () => {
  const w = new JsonBytes(16); // small, so that growing is exercised too
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      assert.deepEqual(bytesOf(w, v), Buffer.from(JSON.stringify(v), 'utf8'));
    }),
    { numRuns: 2000 },
  );
});

test('what is not plain data is written as JSON.stringify writes it', () => {
  const w = new JsonBytes(16);
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  const odd: unknown[] = [
    { at: new Date(0), skip: undefined, f: () => 1, n: -0, big: 1e21, frac: 0.1, inf: Infinity, nan: NaN, neg: -42 },
    [undefined, () => 1, Symbol('s'), null],
    { map: new Map([[1, 2]]), set: new Set([1]), p: new Point(1, 2), nested: { toJSON: () => 'mine' } },
    { s: 'quote " backslash \\ newline \n tab \t nul \u0000 del \u007f é 中 😀 lone \ud800', 2: 'two', 1: 'one' },
    Object.assign(Object.create(null) as object, { a: 1 }),
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    [0, 9, 10, 999_999_999, 1e9, 1e9 + 1, 1_000_000_007, 1_767_225_600_000, 1_767_225_600_000_001],
    // Just below multiples of 1e9, where v / 1e9 rounds up to the next integer.
    Array.from({ length: 50 }, (_, i) => (9_007_199 - i) * 1e9 - 1),
    Array.from({ length: 50 }, (_, i) => (9_007_199 - i) * 1e9),
    2 ** 53,
    1.5e-7,
  ];
  for (const v of odd) assert.deepEqual(bytesOf(w, v), Buffer.from(JSON.stringify(v), 'utf8'), JSON.stringify(v));
  fc.assert(
    fc.property(fc.maxSafeInteger(), (n) => {
      assert.deepEqual(bytesOf(w, n), Buffer.from(JSON.stringify(n), 'utf8'));
    }),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(fc.anything({ withDate: true, withMap: true, withSet: true, withNullPrototype: true, withSparseArray: true }), (v) => {
      const json = JSON.stringify(v) as string | undefined;
      if (json === undefined) return;
      assert.deepEqual(bytesOf(w, v), Buffer.from(json, 'utf8'));
    }),
    { numRuns: 1000 },
  );
});

test('a record frame is the frame of its JSON, and decodes to the record', () => {
  const rec: JournalRecord = {
    k: 'order:o1',
    r: [{ order: { orderId: 'o1', items: [{ sku: 'mug', quantity: 2 }], status: 'awaiting_payment', history: [{ at: 1_767_225_600_000, status: 'awaiting_payment', by: 'customer' }] } }],
    o: [{ id: 1_767_225_600_000_001, to: 'sku:mug', request: { type: 'stock.release', orderId: 'o1' } }],
    a: [3],
    t: { payment: 1_767_225_900_000, verify: null },
  };
  const frame = encodeRecord(rec);
  assert.deepEqual(frame, encodeFrame(JSON.stringify(rec)));
  assert.deepEqual(decodeRecord(frame.subarray(FRAME_HEADER)), rec);
});

// An order's compact form is the text of its frame's `r` (set-aside.ts): it must be exactly
// JSON.stringify(rec.r), whatever the record holds around it.
test("the records' text taken from a frame is JSON.stringify of the records", () => {
  fc.assert(
    fc.property(
      fc.string(),
      fc.option(fc.array(fc.jsonValue(), { maxLength: 3 }), { nil: undefined }),
      fc.option(fc.array(fc.integer({ min: 0 }), { maxLength: 3 }), { nil: undefined }),
      fc.option(fc.dictionary(fc.string(), fc.option(fc.maxSafeNat(), { nil: null })), { nil: undefined }),
      (k, r, a, t) => {
        const rec: JournalRecord = { k };
        if (r !== undefined) rec.r = r;
        if (a !== undefined) rec.a = a;
        if (t !== undefined) rec.t = t;
        const frame = encodeRecord(rec);
        assert.deepEqual(frame, encodeFrame(JSON.stringify(rec)));
        assert.equal(recordsJsonOf(frame), r === undefined ? null : JSON.stringify(r));
      },
    ),
    { numRuns: 2000 },
  );
});

test.run();
