#!/usr/bin/env node
// Runs the uvu suite (compiled to dist/test) one file per process, so that one file's threads
// or sockets can never leak into another's, and prints the closing line CI reads:
// "N passed, N failed". Zero tests executed is a failure (uvu itself exits 0 then).
// Tests run on the node that runs this script (process.execPath), so `npx node@26 scripts/test.mjs`
// tests on Node 26. With ORDO_TEST_SUMMARY=<file> the counts are also written there as JSON, for
// .ci/run to add up the runs of several Node versions.
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = 'dist/test';
const only = process.argv[2] ? new RegExp(process.argv[2]) : null;
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.js') && (!only || only.test(f)))
  .sort();
let passed = 0;
let failed = 0;
let skipped = 0;
const broken = [];
for (const file of files) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(dir, file)], {
    encoding: 'utf8',
    // ORDO_ASSERTS: the dev-mode invariant checks (src/runtime/kernel/dev-asserts.ts); ORDO_ASSERTS=0 turns them off.
    env: { ORDO_LOG_LEVEL: 'warn', ORDO_ASSERTS: '1', ...process.env, FORCE_COLOR: '0' },
    timeout: 5 * 60 * 1000,
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const skip = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  // uvu's Total counts the tests that ran: skipped ones are in Skipped only, never in Total.
  const bad = total - ok;
  passed += ok;
  skipped += skip;
  // A file that crashed or timed out before reporting counts as one failure at least. uvu exits
  // 0 when a `before` hook throws (its tests are counted, not passed): that is a failure too.
  // A file that ran nothing and skipped nothing found no test at all (uvu exits 0 then).
  const fileFailed = r.status !== 0 || (total === 0 && skip === 0) || bad > 0;
  failed += fileFailed ? Math.max(1, bad) : bad;
  if (fileFailed) broken.push(file);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${fileFailed ? 'FAIL' : 'ok  '} ${file}: ${ok}/${total} passed (${secs}s)`);
  if (fileFailed) console.log(out.split('\n').map((l) => `    ${l}`).join('\n'));
}
if (passed + failed === 0) {
  console.log('no test was executed');
  failed = 1;
}
if (broken.length) console.log(`failing files: ${broken.join(', ')}`);
if (process.env.ORDO_TEST_SUMMARY) {
  writeFileSync(process.env.ORDO_TEST_SUMMARY, JSON.stringify({ node: process.version, passed, failed, skipped, broken }) + '\n');
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
