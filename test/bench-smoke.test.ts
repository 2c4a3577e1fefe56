import { test } from 'uvu';
import assert from 'node:assert/strict';
import { runSmoke } from '../bench/smoke.js';

// The benchmark's scenarios, tiny: only their invariants are checked (never a speed).
test('bench smoke run: every scenario keeps its invariants (no oversell, counts match)', async () => {
  const { ok, results } = await runSmoke();
  const failed = results.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `${r.scenario}: ${c.name}: ${c.detail}`));
  assert.deepEqual(failed, []);
  assert.ok(ok);
  assert.ok(results.length >= 5, 'every scenario ran');
});

test.run();
