#!/usr/bin/env node
// Adds up the summaries scripts/test.mjs wrote (ORDO_TEST_SUMMARY) for each Node version CI ran:
// one line per run, then the combined "N passed, N failed" as the last line, which CI reads.
// A run named on the command line whose summary is missing (it crashed or never started) counts
// as one failure.
import { existsSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const arg of process.argv.slice(2)) {
  const [label, file] = arg.split('=');
  if (!existsSync(file)) {
    console.log(`${label}: did not report (counted as 1 failed)`);
    failed += 1;
    continue;
  }
  const s = JSON.parse(readFileSync(file, 'utf8'));
  console.log(`${label} (node ${s.node}) ${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ''}${s.broken.length ? ` [${s.broken.join(', ')}]` : ''}`);
  passed += s.passed;
  failed += s.failed;
  skipped += s.skipped;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
