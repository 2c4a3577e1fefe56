import { test } from 'uvu';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runSmoke } from '../bench/smoke.js';

// The benchmark's scenarios, tiny: only their invariants are checked (never a speed).
test('bench smoke run: every scenario keeps its invariants (no oversell, counts match)', async () => {
  const { ok, results } = await runSmoke();
  const failed = results.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `${r.scenario}: ${c.name}: ${c.detail}`));
  assert.deepEqual(failed, []);
  assert.ok(ok);
  assert.ok(results.length >= 5, 'every scenario ran');
});

test('the runtime bench places every order it counts and prints its CPU per placement', async () => {
  const script = fileURLToPath(new URL('../bench/runtime.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--placements', '2000', '--warmup', '500', '--skus', '10'], { env: { ...process.env, ORDO_LOG_LEVEL: 'warn' } });
  // It throws on any reply that is not ok, so a line at all means 2,500 placements succeeded.
  assert.match(stdout, /^2,000 placements \(10 SKUs, 64 in flight\): [\d,]+\/s, [\d.]+ µs CPU per placement \(user [\d.]+, system [\d.]+\)$/m);
});

test.run();
