import { test } from 'uvu';
import assert from 'node:assert/strict';
import { assignJournals, journalsOf } from '../src/runtime/cluster/assignment.js';

const nodes = (n: number, prefix = 'node-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function counts(a: Map<number, string>, names: readonly string[]): number[] {
  return names.map((n) => journalsOf(a, n).length);
}

function moved(a: Map<number, string>, b: Map<number, string>): number {
  let m = 0;
  for (const [j, n] of a) if (b.get(j) !== n) m++;
  return m;
}

test('every journal gets exactly one node, and the counts differ by at most one', () => {
  for (const [J, N] of [[64, 3], [64, 2], [64, 5], [7, 3], [3, 5], [1, 1], [1024, 7]] as const) {
    const names = nodes(N);
    const a = assignJournals(J, names);
    assert.equal(a.size, J, `${J} journals / ${N} nodes: all assigned`);
    for (let j = 0; j < J; j++) assert.ok(names.includes(a.get(j)!), `journal ${j} goes to a listed node`);
    const c = counts(a, names);
    assert.ok(Math.max(...c) - Math.min(...c) <= 1, `${J} journals / ${N} nodes: ${c.join(', ')}`);
    assert.equal(c.reduce((x, y) => x + y, 0), J);
  }
  assert.equal(assignJournals(8, []).size, 0, 'no node: no owner');
  assert.equal(assignJournals(0, ['a']).size, 0);
});

test('the same map whatever the order of the nodes (every node computes it alone)', () => {
  const names = ['b', 'node-c', 'a:4000', 'zeta'];
  const a = assignJournals(64, names);
  assert.deepEqual([...assignJournals(64, [...names].reverse())], [...a]);
  assert.deepEqual([...assignJournals(64, [names[2]!, names[0]!, names[3]!, names[1]!, names[0]!])], [...a], 'duplicates do not count');
});

test('a node joining or leaving moves about 1/N of the journals', () => {
  const J = 64;
  let worst = 0;
  for (let N = 1; N <= 6; N++) {
    for (const prefix of ['n', 'host-', 'ordo-']) {
      const before = assignJournals(J, nodes(N, prefix));
      const after = assignJournals(J, nodes(N + 1, prefix));
      const joiner = `${prefix}${N}`;
      const m = moved(before, after);
      const ideal = journalsOf(after, joiner).length;
      // The joiner's share must move; the load bound moves a few more (a cascade between old nodes).
      assert.ok(m >= ideal, `${N}→${N + 1}: ${m} moved, the joiner has ${ideal}`);
      assert.ok(m <= ideal + Math.ceil(J / (N + 1) / 2), `${N}→${N + 1} (${prefix}): ${m} moved where ${ideal} is the least`);
      worst = Math.max(worst, m - ideal);
      // Leaving is the same transition backwards.
      assert.equal(moved(after, before), m);
    }
  }
  assert.ok(worst <= 8, `at most a few journals beyond the joiner's share: ${worst}`);
});

test('a node leaving: the survivors keep what they had, except for the load bound', () => {
  const names = nodes(4);
  const before = assignJournals(64, names);
  const after = assignJournals(64, names.filter((n) => n !== 'node-2'));
  let keptByOthers = 0;
  let others = 0;
  for (const [j, n] of before) {
    if (n === 'node-2') continue;
    others++;
    if (after.get(j) === n) keptByOthers++;
  }
  assert.ok(keptByOthers >= others - 8, `${keptByOthers} of ${others} kept`);
  for (const j of journalsOf(before, 'node-2')) assert.notEqual(after.get(j), 'node-2');
});

test.run();
