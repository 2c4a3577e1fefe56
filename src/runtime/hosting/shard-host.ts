import type { MessagePort } from 'node:worker_threads';
import type { Logger } from '../../logger.js';
import type { Order } from '../../protocol/model.js';
import { shardFigures } from './shard-figures.js';
import { BusySkus } from '../query/busy-skus.js';
import { RecentOrders } from '../query/recent-orders.js';
import type { Clock } from '../kernel/clock.js';
import { type Envelope, isEnvelope, type Output, type ShardQuery } from '../kernel/envelope.js';
import type { Shard } from '../kernel/shard.js';
import { Journal } from '../journal/journal.js';
import type { LogTrace } from '../kernel/tracing.js';
import { journalDir, shardDir } from '../storage/data-dir.js';
import { FileShardStore } from '../storage/file-shard-store.js';
import { crashPointFromEnv } from '../crash-point.js';
import { recordDeadLetter } from './dead-letters.js';
import { type GatewayBatchBuilder, GatewayBatchWriter, GatewayOutputList } from './gateway-batch.js';
import type { FromHost, HostConfig, RecoveryStats } from './host-protocol.js';
import { PeerRouter } from './peer-router.js';
import { journalOf, shardOf, workerOf } from '../placement.js';
import { type GroupMember, ShardGroup } from './shard-group.js';
import { SnapshotScheduler } from './snapshot-scheduler.js';
import { DEFAULTS } from '../../defaults.js';

/** A host thread's error line for a behaviour that threw; it names the trace of a traced message. */
export function logActorError(log: Logger, key: string, message: string, err: unknown, trace?: LogTrace): void {
  log.error({ actor: key, message, err, ...trace }, 'actor behaviour threw; answered INTERNAL');
}

/**
 * The actors of one worker thread: the shards assigned to it with their journals and group commit
 * (a ShardGroup), the channels to the other hosts, the snapshot scheduler, and the batches to the
 * main thread. Everything leaves in one batch per destination per turn of the event loop.
 */
export class ShardHost {
  private readonly group: ShardGroup;
  private readonly peers: PeerRouter;
  private readonly snapshots: SnapshotScheduler;
  private readonly journalOfShard = new Map<number, Journal>();
  private readonly toMain: GatewayBatchBuilder;
  /**
   * Whether events go to the gateway: only while it has subscribers (it says so). Otherwise an
   * event stops here, after the dashboard's views below have noted it: most placements are
   * watched by nobody, and an order's view crossing threads for nothing is a measurable part of
   * a placement's cost.
   */
  wantEvents = true;
  /** The dashboard's views of this host's order events (the gateway merges the hosts'). */
  private readonly recent = new RecentOrders();
  private readonly busySkus = new BusySkus();
  private scheduled = false;
  /** Whether a commit waits a loop turn for more records (`ORDO_COMMIT_HOLD`, see `pump`). */
  private readonly commitHold = process.env.ORDO_COMMIT_HOLD !== '0';
  /** The records pending were held back by the previous pump: this one commits them. */
  private heldCommit = false;
  private stopping = false;
  /** Messages that arrive before this host's shards are recovered wait here (a replaced host's peers start at once). */
  private early: (Envelope | ShardQuery)[] | null = [];

  constructor(
    readonly config: HostConfig,
    private readonly postToMain: (msg: FromHost) => void,
    clock: Clock,
    private readonly log: Logger,
  ) {
    const { shardCount: S, journalCount: J } = config;
    this.toMain = config.inThread ? new GatewayOutputList() : new GatewayBatchWriter();
    const members: GroupMember[] = [];
    const byJournal = new Map<number, number[]>();
    for (let s = 0; s < S; s++) {
      if (workerOf(s, config.workerCount, J) !== config.index) continue;
      const j = journalOf(s, J);
      byJournal.set(j, [...(byJournal.get(j) ?? []), s]);
    }
    for (const [j, ids] of byJournal) {
      const journal = new Journal(journalDir(config.dataDir, j), ids, (key) => shardOf(key, S), (m) => log.warn(m));
      for (const id of ids) {
        this.journalOfShard.set(id, journal);
        members.push({ id, journal, store: new FileShardStore(shardDir(config.dataDir, id), DEFAULTS.partitions, (m) => log.warn(m), { shared: journal, shard: id }) });
      }
    }
    this.group = new ShardGroup({
      clock,
      members,
      shardCount: S,
      journalCount: J,
      maxActiveActorsPerShard: config.maxActiveActorsPerShard,
      mailboxSoftLimit: config.mailboxSoftLimit,
      mailboxHardLimit: config.mailboxHardLimit,
      release: (outputs) => this.release(outputs),
      onWork: () => this.schedule(),
      onFatal: (what, err) => this.fatal(what, err),
      onActorError: (key, message, err, trace) => logActorError(log, key, message, err, trace),
      onDeadLetter: (shard, letter) => recordDeadLetter(config.dataDir, shard, letter, log),
      onRecoverySettled: () => this.postToMain({ t: 'settled' }),
    });
    this.group.commit.afterDurable = crashPointFromEnv();
    this.snapshots = new SnapshotScheduler(() => this.group.shards.values(), (s) => this.journalOfShard.get(s)!, this.group.commit, config, log);
    this.group.commit.onCommitted = () => this.snapshots.maybeSnapshot();
    this.peers = new PeerRouter(config.workerCount, (batch) => this.receive(batch));
  }

  get shards(): ReadonlyMap<number, Shard> {
    return this.group.shards;
  }

  private fatal(what: string, err: unknown): void {
    this.log.fatal({ err }, what);
    this.postToMain({ t: 'fatal', message: `${what}: ${(err as Error)?.message ?? String(err)}` });
  }

  /** `ordo compact`: snapshots every shard now. */
  async compact(): Promise<number> {
    await this.group.commit.flush();
    return this.snapshots.snapshotAll();
  }

  connectPeers(ports: (MessagePort | null)[]): void {
    this.peers.connect(ports);
  }

  /**
   * A peer host was replaced (its thread died). Whatever was sent to it and not answered may be
   * lost, so every unanswered request to its shards is sent again; receivers ignore repeats.
   */
  replacePeer(index: number, port: MessagePort): void {
    this.peers.replace(index, port);
    // Only once what is pending here is durable: a re-sent request must not outrun its cause.
    this.group.commit.whenDurable(() => {
      const { shardCount, workerCount, journalCount } = this.config;
      const onPeer = (key: string) => workerOf(shardOf(key, shardCount), workerCount, journalCount) === index;
      for (const shard of this.group.shards.values()) this.peers.sendAll(index, shard.unansweredRequests(onPeer));
      this.flush();
    });
  }

  recover(): Promise<RecoveryStats> {
    return this.group.recover();
  }

  /** Called once every host has recovered: timers arm, unanswered requests are re-sent. */
  start(): void {
    this.group.start();
    const early = this.early ?? [];
    this.early = null;
    this.receive(early);
    this.schedule();
  }

  receive(items: (Envelope | ShardQuery)[]): void {
    if (this.early) {
      for (const item of items) this.early.push(item);
      return;
    }
    for (const item of items) {
      if (item.t === 'query') this.group.shards.get(item.shard)?.queryOrders(item.cid, item.query);
      else this.route(item);
    }
    this.schedule();
  }

  private route(env: Envelope): void {
    const s = shardOf(env.to, this.config.shardCount);
    const shard = this.group.shards.get(s);
    if (shard) shard.deliver(env);
    else this.peers.send(workerOf(s, this.config.workerCount, this.config.journalCount), env);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.scheduled = false;
    // A commit waits one turn of the event loop after the pump that produced its first records:
    // the commands that reached the sockets (or the peers' batches) meanwhile run in that turn and
    // join the same write and fdatasync. Under load this makes commits ~1.5x larger and fewer
    // (docs/PERFORMANCE.md, "The seventh round on issue 13"); an idle server pays one loop turn.
    const hold = this.commitHold && !this.heldCommit;
    this.group.pump(!hold);
    if (hold && this.group.commit.wouldWrite) {
      this.heldCommit = true;
      this.flush();
      this.schedule();
      return;
    }
    if (hold) this.group.commit.kick();
    this.heldCommit = false;
    this.flush();
    if (this.group.hasWork()) this.schedule();
  }

  private release(outputs: Output[]): void {
    for (const o of outputs) {
      if (isEnvelope(o)) this.route(o);
      else if (o.t !== 'evt') this.toMain.add(o);
      else {
        if (o.event.type === 'order.updated') {
          this.recent.note(o.event.order);
          this.busySkus.note(o.event.order);
        }
        if (this.wantEvents) this.toMain.add(o);
      }
    }
    this.flush();
  }

  private flush(): void {
    if (!this.toMain.empty) this.postToMain({ t: 'out', batch: this.toMain.take() });
    this.peers.flush();
  }

  /** Stops timers, finishes the work in hand, and makes everything durable. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.snapshots.stopped = true;
    await this.group.drain();
    this.flush();
    // A snapshot on the way out makes the next start quick: little journal left to replay.
    for (const shard of this.group.shards.values()) {
      await this.snapshots.finished();
      await shard.snapshot((fn) => this.group.commit.exclusive(fn)).catch((err) => this.log.error({ err }, 'snapshot at stop failed'));
    }
    await this.group.commit.flush();
    this.flush();
    await this.group.close();
  }

  /** Control plane (comlink): the latest changed orders and the busiest SKUs seen here. */
  dashboard(n: number): { recent: Order[]; busiest: { sku: string; placements: number }[] } {
    return { recent: this.recent.list(), busiest: this.busySkus.top(n) };
  }

  /** Control plane (comlink): read-only views for operators and /metrics. */
  async inspect(key: string) {
    return (await this.group.shards.get(shardOf(key, this.config.shardCount))?.inspect(key)) ?? null;
  }

  stats() {
    const shards = [...this.group.shards.values()];
    return {
      worker: this.config.index,
      ...shardFigures(shards, this.group.commit),
      journalBytesWritten: [...new Set(this.journalOfShard.values())].reduce((n, j) => n + j.bytesWritten, 0),
      snapshotBytesWritten: shards.reduce((n, s) => n + ((s.opts.store as Partial<FileShardStore>).bytesWritten ?? 0), 0),
    };
  }
}

export type HostControl = Pick<ShardHost, 'inspect' | 'stats' | 'compact' | 'dashboard'>;
