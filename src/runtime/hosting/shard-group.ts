import type { AnyBehaviour } from '../../actors/index.js';
import type { Clock } from '../kernel/clock.js';
import type { Output } from '../kernel/envelope.js';
import { type DeadLetter, Shard } from '../kernel/shard.js';
import type { LogTrace } from '../kernel/tracing.js';
import { GroupCommit } from '../journal/group-commit.js';
import type { JournalSink, ShardStore } from '../storage/shard-store.js';
import type { RecoveryStats } from './host-protocol.js';
import { shardOf, shareJournal } from '../placement.js';

/** Messages after which a pump starts no further pass: it commits and yields (the gateway and the disk get their turn). */
const PUMP_BUDGET = 5000;
/** Passes over the shards one pump makes at most (a chain of messages between them ends sooner). */
const MAX_PASSES = 16;

/** One shard of a group: its id, its store, and the journal its records go to. */
export interface GroupMember {
  id: number;
  store: ShardStore;
  journal: JournalSink;
}

export interface ShardGroupOptions {
  clock: Clock;
  members: GroupMember[];
  /** Shards and journals of the whole data directory: which shards share a journal. */
  shardCount: number;
  journalCount: number;
  /** Outputs released by a commit or by a turn that depended on nothing unwritten. */
  release(outputs: Output[]): void;
  /** The group has new work to run: schedule a `pump` (a thread does it on the next loop turn). */
  onWork(): void;
  /** A journal write, a snapshot or a reactivation failed: memory is ahead of the disk. */
  onFatal(what: string, err: unknown): void;
  onActorError(key: string, message: string, err: unknown, trace?: LogTrace): void;
  onDeadLetter?(shard: number, letter: DeadLetter): void;
  /** After `start`: no actor of the group owes recovery work any more (see `afterRecovery`). */
  onRecoverySettled?(): void;
  maxActiveActorsPerShard?: number;
  mailboxSoftLimit?: number;
  mailboxHardLimit?: number;
  /** Test-only: behaviours for kinds the product does not have. */
  extraBehaviours?: ReadonlyMap<string, AnyBehaviour>;
}

/**
 * The shards of one thread, their journals and one group commit over them: the one wiring of
 * shards, used by a server's host threads, by LocalSystem in tests, and by `ordo inspect`, so the
 * in-process tests exercise exactly what the server runs.
 *
 * A `pump` runs every shard's ready actors, starts a commit of what they produced, and releases
 * the outputs that waited for nothing; a commit releases the rest once durable.
 *
 * @example
 *   const group = new ShardGroup({ clock, members, shardCount: 8, journalCount: 2, release, onWork, onFatal, onActorError });
 *   await group.recover();
 *   group.start();
 *   group.pump();
 */
export class ShardGroup {
  readonly shards = new Map<number, Shard>();
  readonly commit: GroupCommit;
  private readonly journals: JournalSink[];
  private unsettled = new Set<number>();

  constructor(private readonly opts: ShardGroupOptions) {
    this.journals = [...new Set(opts.members.map((m) => m.journal))];
    this.commit = new GroupCommit(
      () => this.journals,
      (outputs) => opts.release(outputs),
      (err) => opts.onFatal('journal write failed; stopping (recovery will start from what is durable)', err),
    );
    for (const m of opts.members) this.shards.set(m.id, this.shardOf(m));
  }

  private shardOf(m: GroupMember): Shard {
    const { opts } = this;
    return new Shard(m.id, {
      clock: opts.clock,
      store: m.store,
      pending: m.journal.pending,
      maxActiveActors: opts.maxActiveActorsPerShard,
      mailboxSoftLimit: opts.mailboxSoftLimit,
      mailboxHardLimit: opts.mailboxHardLimit,
      extraBehaviours: opts.extraBehaviours,
      onFatal: (err) => opts.onFatal('snapshot or reactivation failed', err),
      afterDurable: (fn) => this.commit.whenDurable(fn),
      onDeadLetter: opts.onDeadLetter ? (letter) => opts.onDeadLetter!(m.id, letter) : undefined,
      // A message to a shard of the same journal skips the output gate (its effects are
      // journaled after its cause in the same log); only shards of this group can share one.
      sameJournal: (key) => {
        const t = shardOf(key, opts.shardCount);
        return shareJournal(m.id, t, opts.journalCount) ? this.shards.get(t) : undefined;
      },
      onWork: () => opts.onWork(),
      onRecoverySettled: () => {
        if (this.unsettled.delete(m.id) && this.unsettled.size === 0) opts.onRecoverySettled?.();
      },
      onActorError: opts.onActorError,
    });
  }

  /** Rebuilds every shard, concurrently (one shard's parsing overlaps another's file reads). */
  async recover(): Promise<RecoveryStats> {
    const started = performance.now();
    const stats: RecoveryStats = { shards: this.shards.size, actors: 0, records: 0, timers: 0, truncatedBytes: 0, ms: 0 };
    const all = await Promise.all([...this.shards.values()].map(async (shard) => ({ shard, s: await shard.recover() })));
    for (const { shard, s } of all) {
      stats.actors += s.actors;
      stats.records += s.records;
      stats.truncatedBytes += s.truncated;
      stats.timers += shard.timers.size;
    }
    stats.ms = Math.round(performance.now() - started);
    return stats;
  }

  /** Once every shard of the data directory has recovered: timers arm, unanswered requests are re-sent. */
  start(): void {
    this.unsettled = new Set(this.shards.keys());
    for (const shard of this.shards.values()) shard.start();
  }

  /**
   * Runs what is ready, starts a commit of what it produced (unless `commit` is false: the caller
   * kicks it later), releases what waited for nothing. Returns how many messages ran and outputs
   * left at once; `hasWork` says whether to pump again.
   */
  pump(commit = true): number {
    let done = 0;
    for (const shard of this.shards.values()) shard.setAsideSettled();
    // Until nothing is ready (within a budget): a message to a shard already run in this pass
    // runs in the next pass, not after a commit, so a placement whose order and SKU live on
    // different shards of this group is written by one commit, not two in a row.
    for (let pass = 0; pass < MAX_PASSES && done < PUMP_BUDGET; pass++) {
      let ran = 0;
      for (const shard of this.shards.values()) ran += shard.run();
      done += ran;
      if (ran === 0) break;
    }
    if (commit) this.commit.kick();
    for (const shard of this.shards.values()) {
      const now = shard.takeImmediate();
      if (now.length) {
        done += now.length;
        this.opts.release(now);
      }
    }
    return done;
  }

  hasWork(): boolean {
    for (const shard of this.shards.values()) if (shard.hasWork()) return true;
    return false;
  }

  /** Stops the timers and runs the work in hand until it is durable (a stop or a crash drill). */
  async drain(): Promise<void> {
    for (const shard of this.shards.values()) shard.stop();
    for (let i = 0; i < 1000 && this.hasWork(); i++) {
      for (const shard of this.shards.values()) shard.run();
      await this.commit.flush();
    }
    await this.commit.flush();
  }

  async close(): Promise<void> {
    for (const shard of this.shards.values()) await shard.store.close();
  }
}
