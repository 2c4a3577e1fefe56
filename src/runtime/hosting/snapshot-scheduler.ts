import type { Logger } from '../../logger.js';
import type { Shard } from '../kernel/shard.js';
import type { GroupCommit } from '../journal/group-commit.js';

/** What the scheduler needs to know of each shard's journal: how far behind the shard keeps it. */
export interface JournalBacklog {
  /** Journal bytes written since this shard's snapshot point (by all the journal's shards). */
  bytesPast(shard: number): number;
  readonly memberCount: number;
}

export interface SnapshotPolicy {
  /** Journal bytes a shard writes after which it snapshots. */
  snapshotBytes: number;
  /** Actors a shard keeps in memory (a crowded shard snapshots early to let changed ones go). */
  maxActiveActorsPerShard: number;
}

/**
 * Decides when the shards of one host snapshot, and runs one snapshot at a time: a round
 * serialises every changed actor of its shard, and several at once multiply the garbage the
 * thread's heap must hold (the process's peak memory). Checked after every commit.
 */
export class SnapshotScheduler {
  /** When each shard's latest snapshot attempt started. */
  private readonly triedAt = new Map<Shard, number>();
  stopped = false;

  constructor(
    private readonly shards: () => Iterable<Shard>,
    private readonly journalOf: (shard: number) => JournalBacklog,
    private readonly commit: GroupCommit,
    private readonly policy: SnapshotPolicy,
    private readonly log: Logger,
  ) {}

  /** Snapshots, in the background, the shard most due, if any is. */
  maybeSnapshot(): void {
    if (this.stopped) return;
    const { snapshotBytes, maxActiveActorsPerShard } = this.policy;
    let due: Shard | null = null;
    for (const shard of this.shards()) {
      if (shard.snapshotting) return;
      // Also when many changed actors are pinned in memory waiting for a snapshot to let them go —
      // but not too often: each round is a run file, and runs are merged later.
      const crowded = shard.cells.size > maxActiveActorsPerShard * 2 && shard.bytesSinceSnapshot > snapshotBytes / 4;
      // A shard that writes little keeps an old snapshot point, and the shared journal cannot be
      // trimmed past it: once the journal behind it is as long as all its shards' triggers
      // together, it snapshots too (with nothing changed, that is a rotation and a manifest).
      const journal = this.journalOf(shard.id);
      const pinning = journal.bytesPast(shard.id) > snapshotBytes * journal.memberCount;
      if (shard.bytesSinceSnapshot < snapshotBytes && !crowded && !pinning) continue;
      // Least recently tried first: a shard that declined (an actor mid-restart) must not hold up
      // the others; among equals, the one furthest behind.
      const tried = this.triedAt.get(shard) ?? 0;
      const dueTried = due ? (this.triedAt.get(due) ?? 0) : 0;
      if (!due || tried < dueTried || (tried === dueTried && shard.bytesSinceSnapshot > due.bytesSinceSnapshot)) due = shard;
    }
    // A failed snapshot has already fail-stopped the host through the shard's onFatal.
    if (due) void this.snapshot(due).catch((err: unknown) => this.log.error({ err, shard: due.id }, 'snapshot failed'));
  }

  async snapshot(shard: Shard): Promise<void> {
    this.triedAt.set(shard, performance.now());
    const stats = await shard.snapshot((fn) => this.commit.exclusive(fn));
    if (!stats) return; // declined: the next commit tries again, another shard first
    this.log.info({ shard: shard.id, ...stats }, `snapshot of shard ${shard.id}: ${stats.actors} actors in ${stats.partitions} partitions, ${stats.ms} ms (longest pause ${stats.longestSliceMs} ms)`);
    // Another shard may have come due meanwhile, with no commit coming to notice it (an idle host).
    this.maybeSnapshot();
  }

  /** `ordo compact`: snapshots every shard now, one after the other. */
  async snapshotAll(): Promise<number> {
    let n = 0;
    for (const shard of this.shards()) {
      await this.finished();
      await this.snapshot(shard);
      n++;
    }
    await this.finished();
    return n;
  }

  /**
   * Waits until no shard is snapshotting (one started in the background may still run when stop
   * or compact starts theirs; two at once would race over the journal's trim).
   */
  async finished(): Promise<void> {
    while ([...this.shards()].some((s) => s.snapshotting)) await new Promise((r) => setTimeout(r, 5));
  }
}
