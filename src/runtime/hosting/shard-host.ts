import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from '../../logger.js';
import { ORDER_STATUSES, type OrderStatus } from '../../protocol/model.js';
import type { Clock } from '../kernel/clock.js';
import { type Envelope, type GatewayOutput, isEnvelope, type Output, type ShardQuery } from '../kernel/envelope.js';
import { GroupCommit } from '../journal/group-commit.js';
import { crashPointFromEnv } from '../testing/crash-point.js';
import { journalDir, shardDir } from '../storage/data-dir.js';
import { FileShardStore } from '../storage/file-shard-store.js';
import { journalOf, shardOf, shareJournal, workerOf } from './placement.js';
import { Shard } from '../kernel/shard.js';
import { Journal } from '../journal/journal.js';

export interface HostConfig {
  index: number;
  workerCount: number;
  shardCount: number;
  /** Journals of the data directory (shard s writes to journal s mod journalCount). */
  journalCount: number;
  dataDir: string;
  /** Journal bytes after which a shard snapshots its changed partitions. */
  snapshotBytes: number;
  /** Actors kept in memory per shard before idle, snapshotted ones are passivated. */
  maxActiveActorsPerShard: number;
  mailboxSoftLimit?: number;
  mailboxHardLimit?: number;
}

/** Messages between the main thread and a shard host, and between hosts. */
export type ToHost =
  | { t: 'batch'; items: (Envelope | ShardQuery)[] }
  | { t: 'peer'; index: number; port: MessagePort }
  | { t: 'start' }
  | { t: 'stop' };
export type FromHost =
  | { t: 'recovered'; stats: RecoveryStats }
  | { t: 'out'; items: GatewayOutput[] }
  | { t: 'stopped' }
  /** After `start`: no actor of this host owes recovery work any more (see `afterRecovery`). */
  | { t: 'settled' }
  | { t: 'fatal'; message: string };

export interface RecoveryStats {
  shards: number;
  actors: number;
  records: number;
  timers: number;
  truncatedBytes: number;
  ms: number;
}

/**
 * The actors of one worker thread: the shards assigned to it, their journal (one per thread
 * unless the data directory has more journals than threads), a group commit over it, and the
 * routing of messages to other hosts. Messages to another host travel in one batch per turn of
 * the event loop, never one post per message.
 */
export class ShardHost {
  readonly shards = new Map<number, Shard>();
  private readonly journals: Journal[] = [];
  private readonly journalOfShard = new Map<number, Journal>();
  private peers: (MessagePort | null)[] = [];
  private toMain: GatewayOutput[] = [];
  private readonly toPeer: Envelope[][];
  private readonly commit: GroupCommit;
  private scheduled = false;
  private stopping = false;
  /** Shards that still owe recovery work after `start`. */
  private unsettledShards = new Set<number>();
  /** Messages that arrive before this host's shards are recovered wait here (a replaced host's peers start at once). */
  private early: (Envelope | ShardQuery)[] | null = [];

  constructor(
    readonly config: HostConfig,
    private readonly postToMain: (msg: FromHost) => void,
    clock: Clock,
    private readonly log: Logger,
  ) {
    this.toPeer = Array.from({ length: config.workerCount }, () => []);
    const { shardCount: S, journalCount: J } = config;
    const byJournal = new Map<number, number[]>();
    for (let s = 0; s < S; s++) {
      if (workerOf(s, config.workerCount, J) !== config.index) continue;
      const j = journalOf(s, J);
      byJournal.set(j, [...(byJournal.get(j) ?? []), s]);
    }
    for (const [j, members] of byJournal) {
      const journal = new Journal(journalDir(config.dataDir, j), members, (key) => shardOf(key, S), (m) => log.warn(m));
      this.journals.push(journal);
      for (const s of members) this.addShard(s, journal, clock);
    }
    this.commit = new GroupCommit(
      () => this.journals,
      (outputs) => this.release(outputs),
      (err) => this.fatal('journal write failed; stopping (recovery will start from what is durable)', err),
    );
    this.commit.onCommitted = () => this.maybeSnapshot();
    this.commit.afterDurable = crashPointFromEnv();
  }

  private addShard(s: number, journal: Journal, clock: Clock): void {
    const { config, log } = this;
    this.journalOfShard.set(s, journal);
    this.shards.set(
      s,
      new Shard(s, {
        clock,
        store: new FileShardStore(shardDir(config.dataDir, s), 256, (m) => log.warn(m), { shared: journal, shard: s }),
        pending: journal.pending,
        maxActiveActors: config.maxActiveActorsPerShard,
        onFatal: (err) => this.fatal('snapshot or reactivation failed', err),
        afterDurable: (fn) => this.commit.whenDurable(fn),
        onDeadLetter: (letter) => {
          log.error({ actor: letter.key, from: letter.from, error: letter.error }, 'message dead-lettered after three failures');
          void appendFile(join(shardDir(config.dataDir, s), 'dead-letters.jsonl'), JSON.stringify(letter) + '\n').catch(() => {});
        },
        mailboxHardLimit: config.mailboxHardLimit,
        mailboxSoftLimit: config.mailboxSoftLimit,
        sameJournal: (key) => {
          const t = shardOf(key, config.shardCount);
          return shareJournal(s, t, config.journalCount) ? this.shards.get(t) : undefined;
        },
        onWork: () => this.schedule(),
        onRecoverySettled: () => {
          if (this.unsettledShards.delete(s) && this.unsettledShards.size === 0) this.postToMain({ t: 'settled' });
        },
        onActorError: (key, message, err) =>
          log.error({ actor: key, message, err }, 'actor behaviour threw; answered INTERNAL'),
      }),
    );
  }

  private fatal(what: string, err: unknown): void {
    this.log.fatal({ err }, what);
    this.postToMain({ t: 'fatal', message: `${what}: ${(err as Error)?.message ?? String(err)}` });
  }

  /**
   * Snapshots, in the background, one shard whose journal has grown past the trigger. One shard
   * of a host at a time: a snapshot parses and rewrites whole partitions, and several at once
   * multiply the garbage the thread's heap must hold (the process's peak memory).
   */
  private maybeSnapshot(): void {
    if (this.stopping) return;
    let due: Shard | null = null;
    for (const shard of this.shards.values()) {
      if (shard.snapshotting) return;
      // Also when many changed actors are pinned in memory waiting for a snapshot to let them go —
      // but not too often: a snapshot rewrites every changed partition whole.
      const crowded = shard.cells.size > this.config.maxActiveActorsPerShard * 2 && shard.bytesSinceSnapshot > this.config.snapshotBytes / 4;
      // A shard that writes little keeps an old snapshot point, and the shared journal cannot be
      // trimmed past it: once the journal behind it is as long as all its shards' triggers
      // together, it snapshots too (with nothing changed, that is a rotation and a manifest).
      const journal = this.journalOfShard.get(shard.id)!;
      const pinning = journal.bytesPast(shard.id) > this.config.snapshotBytes * journal.memberCount;
      if (shard.bytesSinceSnapshot < this.config.snapshotBytes && !crowded && !pinning) continue;
      // Least recently tried first: a shard that declined (an actor mid-restart) must not hold up
      // the others; among equals, the one furthest behind.
      const tried = this.snapshotTriedAt.get(shard) ?? 0;
      const dueTried = due ? (this.snapshotTriedAt.get(due) ?? 0) : 0;
      if (!due || tried < dueTried || (tried === dueTried && shard.bytesSinceSnapshot > due.bytesSinceSnapshot)) due = shard;
    }
    if (due) void this.snapshot(due).catch(() => {});
  }

  /** When each shard's latest snapshot attempt started (see `maybeSnapshot`). */
  private readonly snapshotTriedAt = new Map<Shard, number>();

  private async snapshot(shard: Shard): Promise<void> {
    this.snapshotTriedAt.set(shard, performance.now());
    const stats = await shard.snapshot((fn) => this.commit.exclusive(fn));
    if (!stats) return; // declined: the next commit tries again, another shard first
    this.log.info({ shard: shard.id, ...stats }, `snapshot of shard ${shard.id}: ${stats.actors} actors in ${stats.partitions} partitions, ${stats.ms} ms (longest pause ${stats.longestSliceMs} ms)`);
    // Another shard may have come due meanwhile, with no commit coming to notice it (an idle host).
    this.maybeSnapshot();
  }

  /** `ordo compact`: snapshots every shard now. */
  async compact(): Promise<number> {
    await this.commit.flush();
    for (const shard of this.shards.values()) {
      await this.snapshotsFinished();
      await this.snapshot(shard);
    }
    await this.snapshotsFinished();
    return this.shards.size;
  }

  /**
   * Waits until no shard of this host is snapshotting (one started in the background may still
   * run when stop or compact starts theirs; two at once would race over the journal's trim).
   */
  private async snapshotsFinished(): Promise<void> {
    while ([...this.shards.values()].some((s) => s.snapshotting)) await new Promise((r) => setTimeout(r, 5));
  }

  connectPeers(ports: (MessagePort | null)[]): void {
    this.peers = ports;
    for (const p of ports) p?.on('message', (m: Envelope[]) => this.receive(m));
  }

  /**
   * A peer host was replaced (its thread died). Whatever was sent to it and not answered may be
   * lost, so every unanswered request to its shards is sent again; receivers ignore repeats.
   */
  replacePeer(index: number, port: MessagePort): void {
    this.peers[index]?.close();
    this.peers[index] = port;
    port.on('message', (m: Envelope[]) => this.receive(m));
    this.toPeer[index] = [];
    // Only once what is pending here is durable: a re-sent request must not outrun its cause.
    this.commit.whenDurable(() => {
      const { shardCount, workerCount, journalCount } = this.config;
      const onPeer = (key: string) => workerOf(shardOf(key, shardCount), workerCount, journalCount) === index;
      for (const shard of this.shards.values()) this.toPeer[index]!.push(...shard.unansweredRequests(onPeer));
      this.flush();
    });
  }

  async recover(): Promise<RecoveryStats> {
    const started = performance.now();
    const stats: RecoveryStats = { shards: this.shards.size, actors: 0, records: 0, timers: 0, truncatedBytes: 0, ms: 0 };
    // Concurrently: one shard's parsing overlaps another's file reads.
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

  /** Called once every host has recovered: timers arm, unanswered requests are re-sent. */
  start(): void {
    this.unsettledShards = new Set(this.shards.keys());
    for (const shard of this.shards.values()) shard.start();
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
      if (item.t === 'query') this.shards.get(item.shard)?.queryOrders(item.cid, item.query);
      else this.route(item);
    }
    this.schedule();
  }

  private route(env: Envelope): void {
    const s = shardOf(env.to, this.config.shardCount);
    const shard = this.shards.get(s);
    if (shard) shard.deliver(env);
    else this.toPeer[workerOf(s, this.config.workerCount, this.config.journalCount)]!.push(env);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.scheduled = false;
    let more = false;
    for (const shard of this.shards.values()) {
      shard.run();
      if (shard.hasWork()) more = true;
    }
    this.commit.kick();
    for (const shard of this.shards.values()) {
      const now = shard.takeImmediate();
      if (now.length) {
        this.release(now);
        if (shard.hasWork()) more = true;
      }
    }
    this.flush();
    if (more) this.schedule();
  }

  private release(outputs: Output[]): void {
    for (const o of outputs) {
      if (isEnvelope(o)) this.route(o);
      else this.toMain.push(o);
    }
    this.flush();
  }

  private flush(): void {
    if (this.toMain.length) {
      this.postToMain({ t: 'out', items: this.toMain });
      this.toMain = [];
    }
    for (let w = 0; w < this.toPeer.length; w++) {
      const batch = this.toPeer[w]!;
      if (batch.length === 0) continue;
      this.peers[w]?.postMessage(batch);
      this.toPeer[w] = [];
    }
  }

  /** Stops timers, finishes the work in hand, and makes everything durable. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const shard of this.shards.values()) shard.stop();
    for (let i = 0; i < 1000 && [...this.shards.values()].some((s) => s.hasWork()); i++) {
      for (const shard of this.shards.values()) shard.run();
      await this.commit.flush();
    }
    await this.commit.flush();
    this.flush();
    // A snapshot on the way out makes the next start quick: little journal left to replay.
    for (const shard of this.shards.values()) {
      await this.snapshotsFinished();
      await shard.snapshot((fn) => this.commit.exclusive(fn)).catch((err) => this.log.error({ err }, 'snapshot at stop failed'));
    }
    await this.commit.flush();
    this.flush();
    for (const shard of this.shards.values()) await shard.store.close();
  }

  /** Control plane (comlink): read-only views for operators and /metrics. */
  async inspect(key: string) {
    return (await this.shards.get(shardOf(key, this.config.shardCount))?.inspect(key)) ?? null;
  }

  stats() {
    const shards = [...this.shards.values()];
    const sum = (f: (s: Shard) => number) => shards.reduce((n, s) => n + f(s), 0);
    return {
      worker: this.config.index,
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
      perShard: shards.map((s) => ({
        shard: s.id,
        mailboxDepth: mailboxDepth(s),
        deadLetters: s.deadLetters.length,
        actors: s.cells.size,
      })),
      commits: this.commit.commits,
      framesWritten: this.commit.framesWritten,
      lastCommitMs: this.commit.lastCommitMs,
    };
  }
}

export type HostControl = Pick<ShardHost, 'inspect' | 'stats' | 'compact'>;

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
