/**
 * The load generator: raw `ws` sockets, pipelined frames, one latency sample per command.
 *
 * It speaks PROTOCOL.md directly instead of going through `OrdoClient`: the hot loop must cost the
 * client as little as possible (no promise and no closure per command), because on a 2-core machine
 * the generator competes with the server for the same CPUs, and every microsecond it spends is a
 * microsecond the server does not get. The ceiling scenario is driven by this same code, so
 * whatever the generator still costs is in both sides of each ratio.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import WebSocket from 'ws';

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
  /** Replies whose `re` matched no command in flight (including `re: null`). */
  unmatched: number;
  /** CPU the generator itself used in the measured window, in cores (1.0 = one core busy). */
  clientCpuCores: number;
  /** The run was abandoned because the server stopped answering. */
  stalled: boolean;
  /** Sockets closed before the end, with their close codes. */
  closedEarly: number[];
  socketErrors: string[];
}

interface Pending {
  slot: number;
  cmd: Command;
  sentAt: bigint;
}

/** One logical connection: a socket per token, one id space, `inflight` slots. */
class Connection {
  readonly sockets: WebSocket[] = [];
  readonly pending = new Map<string, Pending>();
  seq = 0;
  closing = false;
}

function openSocket(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    // No compression: the server refuses it anyway, and it would only add client CPU.
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    ws.once('open', () => {
      ws.removeListener('error', reject);
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
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
  const conns: Connection[] = [];
  const socketErrors: string[] = [];
  const closedEarly: number[] = [];
  // Connect everything before the first command: the handshakes are not part of what we measure.
  await Promise.all(
    Array.from({ length: opts.connections }, async () => {
      const c = new Connection();
      conns.push(c);
      for (const token of opts.tokens) c.sockets.push(await openSocket(opts.url, token));
    }),
  );

  const latency = new Histogram();
  const steps = new Map<string, Histogram>();
  const phase = { measuring: false, stopping: false };
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
  let finish!: () => void;
  const allIdle = new Promise<void>((r) => (finish = r));

  const send = (c: Connection, slot: number, cmd: Command): void => {
    const id = String(++c.seq);
    const ws = c.sockets[cmd.via];
    if (c.closing || ws.readyState !== WebSocket.OPEN) {
      // The socket is gone: the command can never be answered; the slot ends here.
      unanswered++;
      slotDone();
      return;
    }
    c.pending.set(id, { slot, cmd, sentAt: process.hrtime.bigint() });
    sent++;
    // `id` first and the rest spread after it: the frame is built once, without a template.
    ws.send(JSON.stringify({ id, ...cmd.frame }));
  };

  const slotDone = (): void => {
    activeSlots--;
    if (activeSlots === 0) finish();
  };

  const advance = (c: Connection, slot: number): void => {
    const cmd = driver.next(slot, phase);
    if (cmd) send(c, slot, cmd);
    else slotDone();
  };

  for (const c of conns) {
    const onMessage = (data: WebSocket.RawData): void => {
      const now = process.hrtime.bigint();
      const msg = JSON.parse(data.toString()) as Reply & { event?: string };
      if (msg.event !== undefined) return; // events are not replies; these scenarios subscribe to nothing
      const p = msg.re === null ? undefined : c.pending.get(msg.re);
      if (!p) {
        unmatched++;
        return;
      }
      c.pending.delete(msg.re as string);
      replies++;
      if (phase.measuring) {
        measuredReplies++;
        const ns = Number(now - p.sentAt);
        latency.recordNs(ns);
        let h = steps.get(p.cmd.step);
        if (!h) steps.set(p.cmd.step, (h = new Histogram()));
        h.recordNs(ns);
      }
      driver.onReply(p.slot, p.cmd, msg, phase);
      advance(c, p.slot);
    };
    for (const ws of c.sockets) {
      ws.on('message', onMessage);
      ws.on('error', (err) => socketErrors.push(err.message));
      ws.on('close', (code) => {
        if (c.closing) return;
        closedEarly.push(code);
        // Everything this connection had in flight is lost; its slots end.
        c.closing = true;
        for (const _p of c.pending.values()) {
          unanswered++;
          slotDone();
        }
        c.pending.clear();
      });
    }
  }

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
  for (let ci = 0; ci < conns.length; ci++) {
    for (let k = 0; k < opts.inflight; k++) advance(conns[ci], ci * opts.inflight + k);
  }

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
  if (!drained) for (const c of conns) unanswered += c.pending.size;
  progress?.({ elapsedMs: Number(process.hrtime.bigint() - startedAt) / 1e6, replies, measuring: false });

  await Promise.all(
    conns.flatMap((c) => {
      c.closing = true;
      return c.sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            ws.once('close', () => resolve());
            ws.close(1000);
            // A server that never answers the close handshake must not hang the bench.
            setTimeout(() => {
              ws.terminate();
              resolve();
            }, 2000).unref();
          }),
      );
    }),
  );

  const measuredSeconds = Math.max(Number(measureEnd - measureStart) / 1e9, 1e-9);
  const used = cpuUsed as NodeJS.CpuUsage | null;
  const clientCpuCores = used ? (used.user + used.system) / 1e6 / measuredSeconds : 0;
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
    clientCpuCores,
    stalled: !drained,
    closedEarly,
    socketErrors,
  };
}
