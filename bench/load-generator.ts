/**
 * The load generator: connection slots with one command in flight each, one latency sample per
 * command, the measured window and the CPU the generator itself spends in it.
 *
 * How commands reach the server is the client mode (load-connection.ts): through the typed client
 * library, a promise per command (`library`, the default), or as raw frames with no promise or
 * closure per command (`raw`). On a 2-core machine the generator competes with the server for the
 * same CPUs, so every microsecond it spends is one the server does not get; the ceiling and every
 * server of a run are driven in the same mode, so whatever the client costs is in both sides of
 * each ratio.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { type ClientMode, type LoadConnection, type ReplySink } from './load-connection.js';
import { connectLibrary } from './library-connection.js';
import { connectRaw } from './raw-connection.js';

/**
 * Latency histogram over Node's own `perf_hooks.createHistogram` (an HdrHistogram: bounded memory
 * and ~0.1 % relative error at three significant digits, whatever the sample count), recording
 * microseconds: a 200k-order run keeps a few KiB of counters instead of 200k samples.
 */
export class Histogram {
  private readonly h: RecordableHistogram = createHistogram({ lowest: 1, highest: 2 ** 31 - 1, figures: 3 });

  get count(): number {
    return this.h.count;
  }

  /** Records one latency, in nanoseconds (as measured with hrtime). */
  recordNs(ns: number): void {
    this.h.record(Math.max(1, Math.min(Math.round(ns / 1000), 2 ** 31 - 1)));
  }

  /** The `p`-th percentile (0..100) in milliseconds; NaN without samples. */
  percentileMs(p: number): number {
    return this.h.count === 0 ? NaN : this.h.percentile(Math.max(p, Number.MIN_VALUE)) / 1000;
  }

  get maxMs(): number {
    return this.h.count === 0 ? NaN : this.h.max / 1000;
  }

  get meanMs(): number {
    return this.h.count === 0 ? NaN : this.h.mean / 1000;
  }

  summary(): LatencySummary {
    return { count: this.count, p50: this.percentileMs(50), p90: this.percentileMs(90), p99: this.percentileMs(99), p999: this.percentileMs(99.9), max: this.maxMs, mean: this.meanMs };
  }
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** A reply frame as PROTOCOL.md defines it (`re`, `ok`, a result key or `error`). */
export interface Reply {
  re: string | null;
  ok: boolean;
  error?: { code: string; message?: string; [k: string]: unknown };
  [key: string]: unknown;
}

/** One command a slot wants sent: on which of the slot's sockets (`via`, an index into `tokens`). */
export interface Command {
  via: number;
  /** The histogram the latency goes to (usually the command type). */
  step: string;
  /** The frame without `id`; the generator adds a connection-unique id. */
  frame: { type: string; [key: string]: unknown };
  /** Driver-private data carried back to `onReply` (e.g. which SKU was ordered). */
  tag?: unknown;
}

/** What a driver sees of the run's phase. */
export interface Phase {
  /** Replies now count towards throughput and latency (after warm-up, before the end). */
  readonly measuring: boolean;
  /** The duration is over: start no new unit of work, only finish the ones under way. */
  readonly stopping: boolean;
}

/**
 * The workload. A *slot* is one unit of concurrency: it has exactly one command in flight at a
 * time, so `connections × inflight` slots keep that many commands in flight overall.
 */
export interface Driver {
  /** The slot's next command, or null when the slot is done (it then stays idle). */
  next(slot: number, phase: Phase): Command | null;
  /** The reply to the slot's last command; `next` is called right after. */
  onReply(slot: number, cmd: Command, reply: Reply, phase: Phase): void;
}

export interface LoadOptions {
  url: string;
  /** One socket per token per connection; a command picks one with `Command.via`. */
  tokens: string[];
  connections: number;
  /** Commands in flight per connection (slots per connection). */
  inflight: number;
  /** Not measured; 0 for none. */
  warmupMs: number;
  /** Measured time after warm-up; undefined runs until every slot is done. */
  durationMs?: number;
  /** How commands reach the server (default `library`). */
  client?: ClientMode;
  /** Give up when no reply arrived for this long while commands were in flight (default 30 s). */
  stallTimeoutMs?: number;
  onProgress?: (p: Progress) => void;
  /** Called synchronously as the measured window opens and closes (e.g. to read the server's CPU time). */
  onMeasure?: (edge: 'start' | 'end') => void;
}

export interface Progress {
  elapsedMs: number;
  replies: number;
  measuring: boolean;
}

export interface LoadResult {
  /** Replies received inside the measured window. */
  measuredReplies: number;
  measuredSeconds: number;
  /** measuredReplies / measuredSeconds. */
  throughput: number;
  /** Latency of every command answered inside the measured window. */
  latency: Histogram;
  /** The same, per `Command.step`. */
  steps: Map<string, Histogram>;
  sent: number;
  /** Every reply, warm-up and drain included: the totals the invariant checks compare. */
  replies: number;
  /** Commands never answered (lost, their socket closed, or the server stalled). */
  unanswered: number;
  /** Replies whose `re` matched no command in flight (including `re: null`; raw mode only). */
  unmatched: number;
  /** CPU the generator itself used in the measured window, in cores (1.0 = one core busy). */
  clientCpuCores: number;
  /** The same per measured reply, in µs: what one command costs this client mode (null: none measured). */
  clientCpuUsPerReply: number | null;
  /** The run was abandoned because the server stopped answering. */
  stalled: boolean;
  /** Sockets closed before the end, with their close codes (0: not known, library mode). */
  closedEarly: number[];
  socketErrors: string[];
}

/**
 * Runs `driver` over `connections × inflight` slots until the duration is over (or every slot is
 * done), then waits for the replies still in flight so that the server is quiescent when the
 * caller checks invariants.
 *
 * @example
 *   const r = await runLoad({ url, tokens: ['t'], connections: 64, inflight: 1, warmupMs: 2000, durationMs: 10000 }, driver);
 *   console.log(r.throughput, r.latency.percentileMs(99));
 */
export async function runLoad(opts: LoadOptions, driver: Driver): Promise<LoadResult> {
  const latency = new Histogram();
  const steps = new Map<string, Histogram>();
  const phase = { measuring: false, stopping: false };
  const socketErrors: string[] = [];
  const closedEarly: number[] = [];
  let sent = 0;
  let replies = 0;
  let measuredReplies = 0;
  let unmatched = 0;
  let unanswered = 0;
  let activeSlots = 0;
  let measureStart = 0n;
  let measureEnd = 0n;
  let cpuStart = process.cpuUsage();
  let cpuUsed: NodeJS.CpuUsage | null = null;
  let finish!: () => void;
  const allIdle = new Promise<void>((r) => (finish = r));
  const conns: LoadConnection[] = [];

  const slotDone = (): void => {
    activeSlots--;
    if (activeSlots === 0) finish();
  };

  // A slot's connection is found from its number: slots are numbered connection by connection.
  const advance = (slot: number): void => {
    const cmd = driver.next(slot, phase);
    if (!cmd) return slotDone();
    if (conns[Math.floor(slot / opts.inflight)].send(slot, cmd)) {
      sent++;
    } else {
      // The connection is gone: the command can never be answered; the slot ends here.
      unanswered++;
      slotDone();
    }
  };

  const sink: ReplySink = {
    reply(slot, cmd, reply, sentAt, receivedAt) {
      replies++;
      if (phase.measuring) {
        measuredReplies++;
        const ns = Number(receivedAt - sentAt);
        latency.recordNs(ns);
        let h = steps.get(cmd.step);
        if (!h) steps.set(cmd.step, (h = new Histogram()));
        h.recordNs(ns);
      }
      driver.onReply(slot, cmd, reply, phase);
      advance(slot);
    },
    lost() {
      unanswered++;
      slotDone();
    },
    unmatched() {
      unmatched++;
    },
    closedEarly(code) {
      closedEarly.push(code);
    },
    socketError(message) {
      socketErrors.push(message);
    },
  };

  // Connect everything before the first command: the handshakes are not part of what we measure.
  const connect = (opts.client ?? 'library') === 'raw' ? connectRaw : connectLibrary;
  conns.push(...(await Promise.all(Array.from({ length: opts.connections }, () => connect(opts.url, opts.tokens, sink)))));

  const openWindow = (): void => {
    phase.measuring = true;
    measureStart = process.hrtime.bigint();
    cpuStart = process.cpuUsage();
    opts.onMeasure?.('start');
  };
  const closeWindow = (): void => {
    if (measureEnd !== 0n) return;
    measureEnd = process.hrtime.bigint();
    if (measureStart === 0n) measureStart = measureEnd; // ended before the warm-up did: nothing measured
    cpuUsed = process.cpuUsage(cpuStart);
    phase.measuring = false;
    opts.onMeasure?.('end');
  };
  const startedAt = process.hrtime.bigint();

  const timers: NodeJS.Timeout[] = [];
  if (opts.warmupMs > 0) {
    timers.push(setTimeout(openWindow, opts.warmupMs));
  } else {
    openWindow();
  }
  if (opts.durationMs !== undefined) {
    timers.push(
      setTimeout(() => {
        // Replies arriving from here on belong to the drain, not to the measurement.
        closeWindow();
        phase.stopping = true;
      }, opts.warmupMs + opts.durationMs),
    );
  }
  const progress = opts.onProgress;
  if (progress) {
    timers.push(
      setInterval(() => progress({ elapsedMs: Number(process.hrtime.bigint() - startedAt) / 1e6, replies, measuring: phase.measuring }), 200),
    );
  }

  // Every slot starts with one command; from then on each reply releases the slot's next one,
  // which keeps exactly `inflight` commands in flight per connection.
  activeSlots = opts.connections * opts.inflight;
  for (let slot = 0; slot < activeSlots; slot++) advance(slot);

  // A watchdog instead of a fixed deadline: a run ends when every slot is done, and gives up only
  // when no reply at all has arrived for `stallTimeoutMs` (a server that stopped answering).
  const stallTimeoutMs = opts.stallTimeoutMs ?? 30_000;
  let lastReplies = -1;
  let lastChange = Date.now();
  let watchdog: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    allIdle.then(() => true),
    new Promise<boolean>((resolve) => {
      watchdog = setInterval(() => {
        if (replies !== lastReplies) {
          lastReplies = replies;
          lastChange = Date.now();
        } else if (Date.now() - lastChange > stallTimeoutMs) resolve(false);
      }, 250);
    }),
  ]);
  clearInterval(watchdog);
  for (const t of timers) clearTimeout(t);
  // Count-based runs (and timed runs whose budget ran out first) end with their last reply.
  closeWindow();
  if (!drained) for (const c of conns) unanswered += c.inFlight;
  progress?.({ elapsedMs: Number(process.hrtime.bigint() - startedAt) / 1e6, replies, measuring: false });

  await Promise.all(conns.map((c) => c.close()));

  const measuredSeconds = Math.max(Number(measureEnd - measureStart) / 1e9, 1e-9);
  const used = cpuUsed as NodeJS.CpuUsage | null;
  const clientCpuSeconds = used ? (used.user + used.system) / 1e6 : 0;
  return {
    measuredReplies,
    measuredSeconds,
    throughput: measuredReplies / measuredSeconds,
    latency,
    steps,
    sent,
    replies,
    unanswered,
    unmatched,
    clientCpuCores: clientCpuSeconds / measuredSeconds,
    clientCpuUsPerReply: measuredReplies ? (clientCpuSeconds * 1e6) / measuredReplies : null,
    stalled: !drained,
    closedEarly,
    socketErrors,
  };
}
