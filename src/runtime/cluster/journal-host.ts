import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../logger.js';
import type { Clock } from '../kernel/clock.js';
import type { Envelope, Output } from '../kernel/envelope.js';
import type { Shard } from '../kernel/shard.js';
import type { HostStats } from '../../gateway/metrics.js';
import type { OrderQuery } from '../query/order-query.js';
import { journalOf, shardOf } from '../placement.js';
import { logActorError } from '../hosting/shard-host.js';
import { shardFigures } from '../hosting/shard-figures.js';
import { type GroupMember, ShardGroup } from '../hosting/shard-group.js';
import { SnapshotScheduler } from '../hosting/snapshot-scheduler.js';
import type { RecoveryStats } from '../hosting/host-protocol.js';
import { JournalLostError } from './errors.js';
import { JetStreamJournal } from './jetstream-journal.js';
import { JetStreamShardStore } from './jetstream-shard-store.js';
import type { JetStreamSnapshotStore } from './snapshot-store.js';

export interface JournalHostOptions {
  nc: NatsConnection;
  cluster: string;
  node: string;
  journalNo: number;
  shardCount: number;
  journalCount: number;
  snapshots: JetStreamSnapshotStore;
  replicas?: number;
  clock: Clock;
  log: Logger;
  snapshotBytes: number;
  maxActiveActorsPerShard: number;
  mailboxSoftLimit?: number;
  mailboxHardLimit?: number;
  /** Outputs a commit (or a turn that waited for nothing) released: replies, events, messages. */
  output(host: JournalHost, outputs: Output[]): void;
  /**
   * The journal is lost (another node fenced it) or cannot be written (NATS unreachable past the
   * journal's retries): the caller drops this host at once. Called at most once.
   */
  onFailed(host: JournalHost, err: unknown): void;
}

/**
 * One journal this node owns, with its shards: the JetStream journal (acquired, so fenced in
 * this node's epoch), a `JetStreamShardStore` per shard, and the same `ShardGroup` wiring a host
 * thread uses (group commit, pump), run on the main thread. A cluster node starts one when the
 * ownership loop gives it a journal and stops it when the journal goes: the set of journals a
 * node serves changes at run time, which host threads (a fixed set of journals each) do not do.
 *
 * Three ways out: `release` (hand-over: drain, snapshot, let go), `drop` (lost: stop at once,
 * release nothing more), and a failure reported through `onFailed`, after which the caller drops.
 */
export class JournalHost {
  readonly group: ShardGroup;
  readonly shardIds: number[];
  readonly stores: JetStreamShardStore[];
  private readonly snapshots: SnapshotScheduler;
  private readonly covered = new Map<number, number>();
  private scheduled = false;
  /** Taking commands and messages (after `start`, until `release` or `drop`). */
  serving = false;
  /** Not served until checked against its stream: this node may have been frozen past its lease (cluster-runtime.ts, `serves`). */
  suspect = false;
  /** Dropped: nothing it produces leaves any more. */
  dropped = false;
  private failed = false;
  private markFailed!: () => void;
  private readonly failedSignal = new Promise<void>((r) => (this.markFailed = r));
  readonly since = Date.now();
  recovery: RecoveryStats | null = null;

  private constructor(
    readonly opts: JournalHostOptions,
    readonly journal: JetStreamJournal,
  ) {
    const { shardCount: S, journalCount: J, journalNo } = opts;
    this.shardIds = Array.from({ length: S }, (_, s) => s).filter((s) => journalOf(s, J) === journalNo);
    this.stores = this.shardIds.map(
      (shard) =>
        new JetStreamShardStore({
          journal,
          journalNo,
          shard,
          snapshots: opts.snapshots,
          shardOf: (key) => shardOf(key, S),
          onCovered: (s, covers) => this.onCovered(s, covers),
        }),
    );
    const members: GroupMember[] = this.shardIds.map((id, i) => ({ id, journal, store: this.stores[i]! }));
    this.group = new ShardGroup({
      clock: opts.clock,
      members,
      shardCount: S,
      journalCount: J,
      maxActiveActorsPerShard: opts.maxActiveActorsPerShard,
      mailboxSoftLimit: opts.mailboxSoftLimit,
      mailboxHardLimit: opts.mailboxHardLimit,
      release: (outputs) => {
        if (!this.dropped) opts.output(this, outputs);
      },
      onWork: () => this.schedule(),
      onFatal: (what, err) => this.fail(what, err),
      onActorError: (key, message, err, trace) => logActorError(opts.log, key, message, err, trace),
    });
    this.snapshots = new SnapshotScheduler(
      () => this.group.shards.values(),
      // One blob per shard: no segment a quiet shard could pin, so nothing to weigh but the shard's own bytes.
      () => ({ bytesPast: () => 0, memberCount: this.shardIds.length }),
      this.group.commit,
      { snapshotBytes: opts.snapshotBytes, maxActiveActorsPerShard: opts.maxActiveActorsPerShard },
      opts.log,
    );
    this.group.commit.onCommitted = () => this.snapshots.maybeSnapshot();
  }

  get journalNo(): number {
    return this.opts.journalNo;
  }

  get epoch(): number {
    return this.journal.epoch;
  }

  /**
   * Takes the journal: fences it (a new epoch), restores every shard's snapshot and replays the
   * stream's tail, then checks that its fence is still the newest (else `JournalLostError`).
   * Not serving yet: `start` arms the timers and re-sends the outboxes.
   */
  static async take(opts: JournalHostOptions): Promise<JournalHost> {
    let host: JournalHost | null = null;
    const journal = await JetStreamJournal.open({
      nc: opts.nc,
      cluster: opts.cluster,
      journal: opts.journalNo,
      writer: opts.node,
      replicas: opts.replicas,
      onWarn: (m) => opts.log.warn(m),
      onLost: (err) => host?.fail('journal lost', err),
    });
    await journal.acquire();
    host = new JournalHost(opts, journal);
    try {
      host.recovery = await host.group.recover();
    } catch (err) {
      // A replay that stalled or failed: nothing of this host may run (the loop takes the journal again later).
      host.drop();
      throw err;
    }
    for (const s of host.stores) host.covered.set(s.opts.shard, s.covers);
    // Another node may have fenced the journal while this one recovered it (two nodes whose
    // views of the members differ for a poll both take it). Served, this host would answer from
    // memory without that node's writes, from its start on: a read, or a refusal such as
    // OUT_OF_STOCK, appends nothing, so no fence stops it. Nothing was appended since our fence,
    // so the message after it is the other node's.
    if (!(await journal.stillOwner())) {
      host.drop();
      throw new JournalLostError(journal.stream, journal.fenceSequence + 1, null);
    }
    return host;
  }

  /** Timers armed (overdue ones fire at once), unanswered requests re-sent; commands taken. */
  start(): void {
    this.group.start();
    this.serving = true;
    this.schedule();
  }

  deliver(env: Envelope): void {
    if (this.dropped) return;
    this.group.shards.get(shardOf(env.to, this.opts.shardCount))?.deliver(env);
    this.schedule();
  }

  query(shard: number, cid: number, q: OrderQuery): void {
    this.group.shards.get(shard)?.queryOrders(cid, q);
    this.schedule();
  }

  /** Every unanswered request of this journal's actors addressed to a key `to` accepts. */
  unansweredRequests(to: (key: string) => boolean): Envelope[] {
    const out: Envelope[] = [];
    for (const shard of this.group.shards.values()) out.push(...shard.unansweredRequests(to));
    return out;
  }

  /** Runs `fn` once everything produced so far is durable (a re-send must not outrun its cause). */
  whenDurable(fn: () => void): void {
    this.group.commit.whenDurable(fn);
  }

  private schedule(): void {
    if (this.scheduled || this.dropped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.dropped) return;
      this.group.pump();
      if (this.group.hasWork()) this.schedule();
    });
  }

  private async onCovered(shard: number, covers: number): Promise<void> {
    this.covered.set(shard, covers);
    const all = [...this.covered.values()];
    // A shard with no snapshot yet still needs the stream from its start.
    if (all.some((c) => c === 0)) return;
    await this.journal.trim(Math.min(...all)).catch((err: unknown) => this.opts.log.warn({ err, journal: this.journalNo }, 'trim failed'));
  }

  private fail(what: string, err: unknown): void {
    if (this.failed || this.dropped) return;
    this.failed = true;
    this.markFailed();
    this.opts.log.error({ err, journal: this.journalNo, epoch: this.epoch }, `journal ${this.journalNo}: ${what}; its shards stop here`);
    this.opts.onFailed(this, err);
  }

  /**
   * The hand-over: no new commands, the work in hand finished and durable, a snapshot of every
   * shard (the next owner replays little), then the journal let go of.
   */
  async release(): Promise<void> {
    if (this.dropped) return;
    this.serving = false;
    this.snapshots.stopped = true;
    // A failure meanwhile (the journal lost mid-release) ends the hand-over: what is not durable
    // stays undone, and a commit or snapshot waiting on the failed journal would wait forever.
    const orFailure = <T>(p: Promise<T>) => Promise.race([p, this.failedSignal.then(() => undefined)]);
    try {
      await orFailure(this.group.drain());
      for (const shard of this.group.shards.values()) {
        await orFailure(this.snapshots.finished());
        if (this.failed) break;
        await orFailure(shard.snapshot((fn) => this.group.commit.exclusive(fn))).catch((err: unknown) =>
          this.opts.log.warn({ err, shard: shard.id }, 'snapshot at release failed'),
        );
      }
      if (!this.failed) await orFailure(this.group.commit.flush());
    } catch (err) {
      this.opts.log.warn({ err, journal: this.journalNo }, 'release did not finish; the next owner replays the stream');
    } finally {
      this.drop();
    }
  }

  /** Lost: timers and actors stop now, and nothing they produce is released or answered. */
  drop(): void {
    this.serving = false;
    this.dropped = true;
    this.snapshots.stopped = true;
    for (const shard of this.group.shards.values()) shard.stop();
  }

  get shards(): Iterable<Shard> {
    return this.group.shards.values();
  }

  /** The figures /metrics and stats.get read of a host thread, for this journal's shards (`worker`: the journal). */
  stats(): HostStats {
    return {
      worker: this.journalNo,
      ...shardFigures([...this.group.shards.values()], this.group.commit),
      journalBytesWritten: this.journal.bytesWritten,
      snapshotBytesWritten: this.stores.reduce((n, s) => n + s.bytesWritten, 0),
    };
  }
}
