import { createHash } from 'node:crypto';

/**
 * Which node should own each journal, computed by every node from the same list of live nodes
 * with no coordination: the same inputs give the same map on every node (the order of `nodes`
 * does not matter). This is liveness, not safety: two nodes that briefly disagree (their views of
 * the leases differ by a poll) both try to own a journal, and the journal's fence settles it.
 *
 * Rendezvous (highest random weight) hashing with bounded loads: every (journal, node) pair gets
 * a weight; pairs are taken heaviest first, a journal going to the first node that still has room.
 * Room is ⌊J/N⌋ per node, and ⌊J/N⌋ + 1 for the first J mod N nodes to fill up, so the counts
 * differ by at most one. Plain rendezvous hashing would move only the journals of the node that
 * joins or leaves, but 64 journals on 3 nodes spread ±4 around 21; the bound costs a little
 * extra movement (measured in test/cluster-assignment.test.ts) for an even spread.
 */
export function assignJournals(journals: number, nodes: readonly string[]): Map<number, string> {
  if (!Number.isSafeInteger(journals) || journals < 0) throw new RangeError(`a journal count, not ${journals}`);
  const names = [...new Set(nodes)].sort();
  const out = new Map<number, string>();
  if (names.length === 0) return out;
  const pairs: { journal: number; node: string; weight: bigint }[] = [];
  for (let j = 0; j < journals; j++) for (const node of names) pairs.push({ journal: j, node, weight: weight(j, node) });
  // Ties (a 64-bit collision) fall back to the names, so the order is total and the same everywhere.
  pairs.sort((a, b) => (a.weight !== b.weight ? (a.weight > b.weight ? -1 : 1) : a.journal - b.journal || (a.node < b.node ? -1 : 1)));
  const base = Math.floor(journals / names.length);
  let extra = journals % names.length;
  const count = new Map<string, number>(names.map((n) => [n, 0]));
  for (const p of pairs) {
    if (out.has(p.journal)) continue;
    const c = count.get(p.node)!;
    if (c < base || (c === base && extra > 0)) {
      if (c === base) extra--;
      out.set(p.journal, p.node);
      count.set(p.node, c + 1);
      if (out.size === journals) break;
    }
  }
  return out;
}

/** The journals `node` should own, ascending. */
export function journalsOf(assignment: ReadonlyMap<number, string>, node: string): number[] {
  const mine: number[] = [];
  for (const [j, n] of assignment) if (n === node) mine.push(j);
  return mine.sort((a, b) => a - b);
}

/** A stable 64-bit weight: the same on every node and Node version (a seeded hash would not be). */
function weight(journal: number, node: string): bigint {
  return createHash('sha256').update(`${journal}\u0000${node}`).digest().readBigUInt64BE(0);
}
