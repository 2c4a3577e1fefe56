import { ORDER_STATUSES, type OrderStatus } from '../../protocol/model.js';
import type { GroupCommit } from '../journal/group-commit.js';
import type { Shard } from '../kernel/shard.js';

/**
 * What /metrics and `stats.get` read of a group of shards and their group commit: the figures a
 * host thread and a cluster node's journal host report alike (each adds who it is and the bytes
 * its own kind of journal and store wrote).
 */
export function shardFigures(shards: Shard[], commit: GroupCommit) {
  const sum = (f: (s: Shard) => number) => shards.reduce((n, s) => n + f(s), 0);
  return {
    shards: shards.length,
    actors: sum((s) => s.cells.size),
    timers: sum((s) => s.timers.size),
    messages: sum((s) => s.messagesHandled),
    mailboxed: sum(mailboxDepth),
    known: sum((s) => s.directory.size),
    passivated: sum((s) => s.cells.passivated),
    snapshots: sum((s) => s.snapshots),
    softLimitHits: sum((s) => s.softLimitHits),
    overloaded: sum((s) => s.overloaded),
    restarts: sum((s) => s.restarts),
    deadLetters: sum((s) => s.deadLetters.length),
    setAside: sum((s) => s.setAsideCount),
    heapUsedBytes: process.memoryUsage().heapUsed,
    orderStatuses: sumCounts(shards.map((s) => s.directory.statusCounts())),
    perShard: shards.map((s) => ({ shard: s.id, mailboxDepth: mailboxDepth(s), deadLetters: s.deadLetters.length, actors: s.cells.size })),
    commits: commit.commits,
    framesWritten: commit.framesWritten,
    lastCommitMs: commit.lastCommitMs,
  };
}

/** Messages waiting in a shard's mailboxes. */
function mailboxDepth(s: Shard): number {
  let n = 0;
  for (const c of s.cells.values()) n += c.mailbox.length;
  return n;
}

function sumCounts(all: Record<OrderStatus, number>[]): Record<OrderStatus, number> {
  const out = {} as Record<OrderStatus, number>;
  for (const st of ORDER_STATUSES) out[st] = all.reduce((n, c) => n + c[st], 0);
  return out;
}
