import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { OrderStatus } from '../protocol/model.js';
import { CommandSeries } from './command-series.js';
import { LatencyHistogram, type LatencySeries } from './latency-histogram.js';

/** Per-host statistics, fetched over the control plane when /metrics is scraped. */
export interface HostStats {
  worker: number;
  actors: number;
  timers: number;
  messages: number;
  mailboxed: number;
  commits: number;
  framesWritten: number;
  lastCommitMs: number;
  /** Journal bytes appended since start, and bytes written to snapshot files (write amplification). */
  journalBytesWritten: number;
  snapshotBytesWritten: number;
  known: number;
  passivated: number;
  snapshots: number;
  softLimitHits: number;
  overloaded: number;
  restarts: number;
  deadLetters: number;
  heapUsedBytes: number;
  setAside: number;
  /** Orders per status over the host's shards (from their directories: no order is read). */
  orderStatuses: Record<OrderStatus, number>;
  perShard: { shard: number; mailboxDepth: number; deadLetters: number; actors: number }[];
}

/** Everything /metrics exposes (Prometheus text format, prom-client). */
export class GatewayMetrics {
  readonly registry = new Registry();
  /**
   * Per command type and outcome, what `answered` counted: plain numbers, handed to prom-client
   * when it collects (its children hash their labels on every `inc`, a measurable part of a
   * command on the hot path). Bounded: command types × outcomes.
   */
  private readonly answeredCounts = new Map<string, { latency: LatencySeries; byOutcome: Map<string, number> }>();
  readonly commands: Counter<'type' | 'outcome'>;
  readonly latency = new LatencyHistogram(
    'ordo_command_duration_seconds',
    'Time from a command frame to its reply, including the durable write',
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
  );
  readonly badFrames = new Counter({
    name: 'ordo_bad_frames_total',
    help: 'Frames refused before reaching an actor (BAD_FRAME, UNKNOWN_COMMAND, FORBIDDEN, INVALID_ARGUMENT)',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly connections = new Gauge({ name: 'ordo_connections', help: 'Open WebSocket connections', registers: [this.registry] });
  readonly refusedUpgrades = new Counter({
    name: 'ordo_refused_upgrades_total',
    help: 'Upgrade requests refused, by HTTP status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly pausedReads = new Counter({
    name: 'ordo_backpressure_pauses_total',
    help: 'Times a connection reached its in-flight limit and the server stopped reading it',
    registers: [this.registry],
  });
  readonly slowConsumers = new Counter({
    name: 'ordo_slow_consumer_disconnects_total',
    help: 'Subscribers closed (1008) for leaving too many event bytes unread',
    registers: [this.registry],
  });
  /** One command answered: counted by type and outcome, its latency observed by type. */
  answered(type: string, outcome: string, seconds: number): void {
    let c = this.answeredCounts.get(type);
    if (!c) this.answeredCounts.set(type, (c = { latency: this.latency.series(type), byOutcome: new Map() }));
    c.byOutcome.set(outcome, (c.byOutcome.get(outcome) ?? 0) + 1);
    this.latency.observe(c.latency, seconds);
  }

  /** Per-second throughput and p99 of the last minute (stats.get; not a Prometheus metric). */
  readonly series = new CommandSeries();
  readonly events = new Counter({ name: 'ordo_events_sent_total', help: 'Event frames sent to subscribers', registers: [this.registry] });

  /**
   * The hosts' figures, read once for every gauge of one collection and for a `stats.get` made
   * at the same moment: each read walks every actor in memory on every host thread, and a scrape
   * has sixteen gauges that want it (a dashboard polls every second).
   */
  readonly hostStats: () => Promise<HostStats[]>;

  constructor(readHostStats: () => Promise<HostStats[]>, inFlight: () => number) {
    this.hostStats = sharedFor(HOST_STATS_TTL_MS, readHostStats);
    const hostStats = this.hostStats;
    const answeredCounts = this.answeredCounts;
    this.commands = new Counter({
      name: 'ordo_commands_total',
      help: 'Commands answered, by type and outcome (ok or error code)',
      labelNames: ['type', 'outcome'] as const,
      registers: [this.registry],
      // Set from the counts each time it is read: they are the counter.
      collect() {
        this.reset();
        for (const [type, c] of answeredCounts) for (const [outcome, n] of c.byOutcome) this.labels(type, outcome).inc(n);
      },
    });
    this.registry.registerMetric(this.latency.asMetric());
    collectDefaultMetrics({ register: this.registry, prefix: 'ordo_' });
    new Gauge({
      name: 'ordo_inflight_commands',
      help: 'Commands sent to the actors and not yet answered',
      registers: [this.registry],
      collect() {
        this.set(inFlight());
      },
    });
    const perHost = (name: string, help: string, pick: (s: HostStats) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['worker'] as const,
        registers: [this.registry],
        async collect() {
          for (const s of await hostStats().catch(() => [])) this.set({ worker: String(s.worker) }, pick(s));
        },
      });
    perHost('ordo_actors', 'Actors in memory', (s) => s.actors);
    perHost('ordo_timers', 'Durable timers armed', (s) => s.timers);
    perHost('ordo_actor_messages', 'Messages handled by actors since start', (s) => s.messages);
    perHost('ordo_mailbox_depth', 'Messages waiting in actor mailboxes', (s) => s.mailboxed);
    perHost('ordo_journal_commits', 'Group commits (one write + fdatasync per journal) since start', (s) => s.commits);
    perHost('ordo_journal_records', 'Journal records written since start', (s) => s.framesWritten);
    perHost('ordo_journal_bytes_written', 'Journal bytes appended since start', (s) => s.journalBytesWritten);
    perHost('ordo_snapshot_bytes_written', 'Bytes written to snapshot files since start (snapshot rounds and merges)', (s) => s.snapshotBytesWritten);
    perHost('ordo_journal_last_commit_ms', 'Duration of the latest group commit', (s) => s.lastCommitMs);
    perHost('ordo_actors_known', 'Actors with durable state, in memory or passivated', (s) => s.known);
    perHost('ordo_actors_passivated', 'Actors moved out of memory since start', (s) => s.passivated);
    perHost('ordo_snapshots', 'Shard snapshots since start', (s) => s.snapshots);
    perHost('ordo_mailbox_soft_limit_hits', 'Times an actor mailbox reached its soft limit', (s) => s.softLimitHits);
    perHost('ordo_mailbox_overloaded', 'Commands refused OVERLOADED at a mailbox hard limit', (s) => s.overloaded);
    perHost('ordo_actor_restarts', 'Actors restarted from durable state after a behaviour threw', (s) => s.restarts);
    perHost('ordo_actors_set_aside', 'Changed actors out of memory in compact form until the next snapshot', (s) => s.setAside);
    perHost('ordo_worker_heap_used_bytes', 'JavaScript heap in use by the shard host thread', (s) => s.heapUsedBytes);
    perHost('ordo_dead_letters', 'Messages set aside after failing three times in a row', (s) => s.deadLetters);
  }
}

/** How long one read of the hosts' figures serves later askers (the bench waits it out between two reads). */
export const HOST_STATS_TTL_MS = 250;

/** `read`, shared: callers within `ttlMs` of a read (or while it runs) get the same answer. */
function sharedFor<T>(ttlMs: number, read: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | null = null;
  return () => {
    const now = performance.now();
    if (last && now - last.at < ttlMs) return last.value;
    const value = read();
    last = { at: now, value };
    // A failed read is not kept: the next asker tries again.
    value.catch(() => {
      if (last?.value === value) last = null;
    });
    return value;
  };
}
