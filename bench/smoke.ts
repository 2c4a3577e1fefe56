/**
 * The benchmark's smoke run, for the test suite: every scenario, tiny, checking invariants only.
 * Timings from such a run mean nothing (DESIGN.md: a benchmark, never a timed test); what a test
 * may assert is `ok` and, for detail, each result's `checks`.
 *
 * @example
 *   const { ok, results } = await runSmoke();
 *   assert.ok(ok, results.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `${r.scenario}: ${c.name}: ${c.detail}`)).join('\n'));
 */
import { runBench, SMOKE_OPTIONS } from './bench.js';
import { SCENARIOS, type ScenarioResult } from './scenarios.js';

export async function runSmoke(): Promise<{ ok: boolean; results: ScenarioResult[] }> {
  const report = await runBench(SMOKE_OPTIONS, SCENARIOS);
  return { ok: report.ok, results: report.results };
}
