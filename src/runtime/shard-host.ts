import { join } from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import type { Clock } from './clock.js';
import { type Envelope, type GatewayOutput, isEnvelope, type Output, type ShardQuery } from './envelope.js';
import { GroupCommit } from './group-commit.js';
import { FileJournal } from './journal.js';
import { shardOf, workerOf } from './placement.js';
import { Shard } from './shard.js';

export interface HostConfig {
  index: number;
  workerCount: number;
  shardCount: number;
  dataDir: string;
}

/** Messages between the main thread and a shard host, and between hosts. */
export type ToHost =
  | { t: 'batch'; items: (Envelope | ShardQuery)[] }
  | { t: 'start' }
  | { t: 'stop' };
export type FromHost =
  | { t: 'recovered'; stats: RecoveryStats }
  | { t: 'out'; items: GatewayOutput[] }
  | { t: 'stopped' }
  | { t: 'fatal'; message: string };

export interface RecoveryStats {
  shards: number;
  actors: number;
  records: number;
  timers: number;
  truncatedBytes: number;
  ms: number;
}

export function journalPath(dataDir: string, shard: number): string {
  return join(dataDir, 'shards', `${String(shard).padStart(4, '0')}.journal`);
}

/**
 * The actors of one worker thread: the shards assigned to it, a group commit over their journals,
 * and the routing of messages to other hosts. Messages to another host travel in one batch per
 * turn of the event loop, never one post per message.
 */
export class ShardHost {
  readonly shards = new Map<number, Shard>();
  private peers: (MessagePort | null)[] = [];
  private toMain: GatewayOutput[] = [];
  private readonly toPeer: Envelope[][];
  private readonly commit: GroupCommit;
  private scheduled = false;
  private stopping = false;

  constructor(
    readonly config: HostConfig,
    private readonly postToMain: (msg: FromHost) => void,
    clock: Clock,
    private readonly log: Logger,
  ) {
    this.toPeer = Array.from({ length: config.workerCount }, () => []);
    for (let s = 0; s < config.shardCount; s++) {
      if (workerOf(s, config.workerCount) !== config.index) continue;
      this.shards.set(
        s,
        new Shard(s, {
          clock,
          journal: new FileJournal(journalPath(config.dataDir, s), (m) => log.warn(m)),
          isLocal: (key) => shardOf(key, config.shardCount) === s,
          onWork: () => this.schedule(),
          onActorError: (key, message, err) =>
            log.error({ actor: key, message, err }, 'actor behaviour threw; answered INTERNAL'),
        }),
      );
    }
    this.commit = new GroupCommit(
      () => this.shards.values(),
      (outputs) => this.release(outputs),
      (err) => {
        log.fatal({ err }, 'journal write failed; stopping (recovery will start from what is durable)');
        this.postToMain({ t: 'fatal', message: `journal write failed: ${(err as Error).message}` });
      },
    );
  }

  connectPeers(ports: (MessagePort | null)[]): void {
    this.peers = ports;
    for (const p of ports) p?.on('message', (m: Envelope[]) => this.receive(m));
  }

  async recover(): Promise<RecoveryStats> {
    const started = performance.now();
    const stats: RecoveryStats = { shards: this.shards.size, actors: 0, records: 0, timers: 0, truncatedBytes: 0, ms: 0 };
    for (const shard of this.shards.values()) {
      const s = await shard.recover();
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
    for (const shard of this.shards.values()) shard.start();
    this.schedule();
  }

  receive(items: (Envelope | ShardQuery)[]): void {
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
    else this.toPeer[workerOf(s, this.config.workerCount)]!.push(env);
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
    for (const shard of this.shards.values()) await shard.journal.close();
  }

  /** Control plane (comlink): read-only views for operators and /metrics. */
  inspect(key: string) {
    return this.shards.get(shardOf(key, this.config.shardCount))?.inspect(key) ?? null;
  }

  stats() {
    let actors = 0;
    let timers = 0;
    let messages = 0;
    let mailboxed = 0;
    for (const s of this.shards.values()) {
      actors += s.cells.size;
      timers += s.timers.size;
      messages += s.messagesHandled;
      for (const c of s.cells.values()) mailboxed += c.mailbox.length;
    }
    return {
      worker: this.config.index,
      shards: this.shards.size,
      actors,
      timers,
      messages,
      mailboxed,
      commits: this.commit.commits,
      framesWritten: this.commit.framesWritten,
      lastCommitMs: this.commit.lastCommitMs,
    };
  }
}

export type HostControl = Pick<ShardHost, 'inspect' | 'stats'>;
