import assert from 'node:assert/strict';

/**
 * Development-mode checks of invariants the runtime relies on and states in comments, but does
 * not otherwise check: turns never nest, an actor's count of unwritten records never goes below
 * zero, a SKU's `reserved` is the sum of its holds.
 *
 * On only when the environment says `ORDO_ASSERTS=1` (the test runner, scripts/test.mjs, sets it
 * for every test file, and worker threads inherit it). Opt-in rather than "on unless
 * NODE_ENV=production" because nothing in this project sets NODE_ENV: a default-on check would
 * run in `ordo serve` and in the benchmarks. Off, a check costs the test of a constant read once
 * at startup: write each as `if (ASSERTS) invariant(...)` so that its condition (a sum over a
 * SKU's holds, say) is not even computed.
 */
export const ASSERTS: boolean = typeof process !== 'undefined' && process.env['ORDO_ASSERTS'] === '1';

/** Throws (an AssertionError) if `ok` is false; call only under `if (ASSERTS)`. */
export function invariant(ok: boolean, what: string): asserts ok {
  assert.ok(ok, `invariant broken: ${what}`);
}
