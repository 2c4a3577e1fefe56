import { test } from 'uvu';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { journalFiguresOf } from '../bench/server-process.js';
import { runSmoke } from '../bench/smoke.js';

// The benchmark's scenarios, tiny: only their invariants are checked (never a speed).
test('bench smoke run: every scenario keeps its invariants (no oversell, counts match)', async () => {
  const { ok, results } = await runSmoke();
  const failed = results.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `${r.scenario}: ${c.name}: ${c.detail}`));
  assert.deepEqual(failed, []);
  assert.ok(ok);
  assert.ok(results.length >= 5, 'every scenario ran');
  // ordo's placements: two records each (the hold, the order), and at least one per commit.
  const placing = results.filter((x) => x.system === 'ordo' && (x.scenario === 'spread' || x.scenario === 'hot') && x.measuredReplies > 0);
  assert.equal(placing.length, 2, 'spread and hot measured placements');
  for (const r of placing) {
    assert.ok(r.journal, `${r.scenario}: the journal's figures were read`);
    assert.ok(r.journal.recordsPerReply >= 1.5 && r.journal.recordsPerReply <= 2.5, `${r.scenario}: ${r.journal.recordsPerReply} records per placement`);
    assert.ok(r.journal.repliesPerCommit >= 1, `${r.scenario}: ${r.journal.repliesPerCommit} placements per commit`);
  }
});

test('the journal figures sum every host\'s counters of a /metrics text, and only those', () => {
  const text = [
    '# HELP ordo_journal_commits Group commits',
    '# TYPE ordo_journal_commits gauge',
    'ordo_journal_commits{worker="0"} 120',
    'ordo_journal_commits{worker="1"} 30',
    'ordo_journal_commits_other 99',
    'ordo_journal_records{worker="0"} 4000',
    'ordo_journal_records 1',
  ].join('\n');
  assert.deepEqual(journalFiguresOf(text), { commits: 150, records: 4001 });
});

test('the runtime bench places every order it counts and prints its CPU per placement', async () => {
  const script = fileURLToPath(new URL('../bench/runtime.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--placements', '2000', '--warmup', '500', '--skus', '10'], { env: { ...process.env, ORDO_LOG_LEVEL: 'warn' } });
  // It throws on any reply that is not ok, so a line at all means 2,500 placements succeeded.
  assert.match(stdout, /^2,000 placements \(10 SKUs, 64 in flight\): [\d,]+\/s, [\d.]+ µs CPU per placement \(user [\d.]+, system [\d.]+\)$/m);
});

test.run();
