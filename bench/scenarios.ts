/**
 * The benchmark's scenarios: what load each one drives, and what must hold afterwards.
 *
 * Every scenario starts its own server on a fresh data directory, so that no scenario inherits
 * another's journal, actors or warm caches, and stops it (and deletes the directory) at the end,
 * whatever happened. The invariant checks read the server's state back through the protocol
 * (`inventory.get`) and compare it with what the generator saw acknowledged: a fast run that
 * oversold or lost an acknowledged order is a failed run, not a fast one.
 */
import { LIFECYCLE_TOKENS, LifecycleDriver, PlaceDriver } from './drivers.js';
import type { ClientMode } from './load-connection.js';
import { type Driver, Histogram, type LatencySummary, type LoadResult, type Reply, runLoad } from './load-generator.js';
import { BENCH_TOKENS, type JournalFigures, type ServerProcess, type StopResult, startCeiling, startMinimalPeer, startOrdo, startRedisPeer } from './server-process.js';
import { HOST_STATS_TTL_MS } from '../src/gateway/metrics.js';
import { adminCalls, type Check, check, fmt, getStock, setStock, stockChecks, transportChecks, unexpected } from './checks.js';

export type { Check } from './checks.js';

export const SCENARIOS = ['ceiling', 'spread', 'hot', 'flash', 'lifecycle'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/**
 * The peers ordo can be measured against in the same run (`--peer`), each serving the place-only
 * scenarios: `redis`, the Redis-Lua peer (a Node ws front on ioredis, one Lua script per order,
 * redis-server with `appendfsync always`); `minimal`, the minimal durable server (one thread,
 * Maps, one write and fdatasync per event-loop turn before that turn's replies: the floor).
 */
export const PEERS = ['redis', 'minimal'] as const;
export type Peer = (typeof PEERS)[number];

/** What a scenario runs against: ordo, the bare ws ceiling (its own scenario), or a peer. */
export type System = 'ordo' | 'ceiling' | Peer;

export const isPeer = (s: System): s is Peer => (PEERS as readonly string[]).includes(s);
export const PEER_SCENARIOS: readonly ScenarioName[] = ['spread', 'hot', 'flash'];

export interface BenchOptions {
  durationS: number;
  warmupS: number;
  connections: number;
  /** Commands in flight per connection. */
  inflight: number;
  /** SKUs of `spread` (and `lifecycle`). */
  skus: number;
  /** Stock per SKU in `spread` and `lifecycle`: enough never to run out. */
  spreadStock: number;
  hotStock: number;
  flashOrders: number;
  flashStock: number;
  /** Caps the orders (lifecycles in `lifecycle`) of the timed scenarios; used by --smoke. */
  maxOrders?: number;
  /**
   * --orders: the place scenarios (ceiling, spread, hot) measure exactly this many orders after
   * the warm-up instead of `durationS` seconds (the "20,000 orders"); the others stay timed.
   */
  measuredOrders?: number;
  /** Where the fresh data directories go (default: the OS temp dir). */
  dataRoot?: string;
  /** How the generator's clients send commands (load-connection.ts). */
  client: ClientMode;
}

export const DEFAULT_OPTIONS: BenchOptions = {
  durationS: 10,
  warmupS: 2,
  connections: 64,
  inflight: 1,
  skus: 1000,
  spreadStock: 1_000_000,
  hotStock: 1_000_000,
  flashOrders: 200_000,
  flashStock: 10_000,
  client: 'library',
};

export interface ScenarioResult {
  scenario: ScenarioName;
  system: System;
  /** Replies per second inside the measured window. */
  throughput: number;
  /** throughput / the ceiling's, when the ceiling ran in the same invocation. */
  ratio: number | null;
  /** throughput / each peer's in the same scenario, for the peers that ran in the same invocation (ordo's rows). */
  ratioToPeer: Partial<Record<Peer, number>>;
  measuredReplies: number;
  measuredSeconds: number;
  latency: LatencySummary;
  /** Per command type (lifecycle: per step, plus `lifecycle` end to end). */
  steps: Record<string, LatencySummary>;
  /** Replies by outcome: `ok` or the error code. */
  outcomes: Record<string, number>;
  /** Scenario-specific figures (accepted orders, lifecycles/s, ...). */
  figures: Record<string, number>;
  checks: Check[];
  ok: boolean;
  /** Problems seen that are not invariant failures (slow shutdown, server log lines, ...). */
  notes: string[];
  /** CPU used in the measured window, in cores (1.0 = one core busy) and per measured reply. */
  cpu: CpuFigures;
  /** serverUsPerReply / the ceiling's, and / each peer's in the same scenario (ordo's rows), when they ran. */
  cpuRatio: { toCeiling: number | null; toPeer: Partial<Record<Peer, number>> };
  server: { logLines: number; firstLogLines: string[]; rssBytes: number | null; stop: StopResult | null };
  /**
   * ordo's group commits over the whole load, warm-up included: replies per commit and journal
   * records per reply (read from its /metrics before the first command and after the last
   * reply). Null for the others.
   */
  journal: { repliesPerCommit: number; recordsPerReply: number } | null;
  /** Set when the scenario could not run to the end (start-up failure, exception). */
  error?: string;
}

export interface CpuFigures {
  /** The generator, in cores. */
  client: number;
  /** The generator's CPU per measured reply, µs: what a command costs the client mode. */
  clientUsPerReply: number | null;
  /** The server, all its processes and threads, in cores (null: /proc unreadable). */
  server: number | null;
  /** The server's CPU per measured reply, µs, all its processes (process CPU time over replies). */
  serverUsPerReply: number | null;
  /** The same per process (one for ordo; the Node front and redis-server for the Redis peer). */
  serverUsPerReplyByProcess: Record<string, number>;
}

/** Receives a scenario's progress; bench.ts draws it as a bar. */
export interface ProgressSink {
  start(total: number, unit: string): void;
  update(value: number, repliesPerSecond: number): void;
  stop(): void;
}

const noProgress: ProgressSink = { start() {}, update() {}, stop() {} };

// ---------------------------------------------------------------------------------------------
// Running one scenario

interface Plan {
  server: () => Promise<ServerProcess>;
  tokens: string[];
  setup: (url: string) => Promise<void>;
  driver: Driver;
  timed: boolean;
  /** Timed, but its measured window ends when the driver has sent `measuredOrders` (--orders), not after `durationS`. */
  byCount?: boolean;
  /** Progress bar total and unit for count-based runs. */
  count?: number;
  verify: (url: string, load: LoadResult) => Promise<{ checks: Check[]; outcomes: Record<string, number>; figures: Record<string, number>; steps?: Record<string, LatencySummary> }>;
}

function skuNames(prefix: string, n: number): string[] {
  const width = String(n - 1).length;
  return Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(width, '0')}`);
}

function plan(name: ScenarioName, o: BenchOptions, system: System): Plan {
  // A programming error, not a failed run: a peer speaks only what the place-only scenarios send.
  if (isPeer(system) && !PEER_SCENARIOS.includes(name)) throw new Error(`the ${system} peer serves ${PEER_SCENARIOS.join(', ')} only, not ${name}`);
  const timedBudget = o.maxOrders;
  // spread, hot and flash run against ordo or the peer, with the same driver and the same checks.
  const placeServer = () =>
    system === 'redis' ? startRedisPeer({ dataRoot: o.dataRoot }) : system === 'minimal' ? startMinimalPeer({ dataRoot: o.dataRoot }) : startOrdo({ dataRoot: o.dataRoot });
  switch (name) {
    case 'ceiling': {
      const driver = new PlaceDriver(skuNames('sku', o.skus), timedBudget, o.measuredOrders);
      return {
        server: () => startCeiling(),
        tokens: [BENCH_TOKENS.admin],
        setup: async () => {},
        driver,
        timed: true,
        byCount: o.measuredOrders !== undefined,
        // The ceiling keeps no stock: what can be checked is that every command got its own reply.
        verify: async (_url, load) => ({
          checks: [
            check('all ok', unexpected(driver.outcomes, []).length === 0, unexpected(driver.outcomes, []).join(', ') || `${fmt(driver.accepted)} ok`),
            check('replies match commands', driver.malformed === 0, `${driver.malformed} malformed`),
          ],
          outcomes: driver.outcomes,
          figures: { accepted: driver.accepted },
        }),
      };
    }
    case 'spread':
    case 'hot': {
      const skus = name === 'spread' ? skuNames('sku', o.skus) : ['hot'];
      const onHand = name === 'spread' ? o.spreadStock : o.hotStock;
      const driver = new PlaceDriver(skus, timedBudget, o.measuredOrders);
      return {
        server: placeServer,
        tokens: [BENCH_TOKENS.admin],
        setup: (url) => setStock(url, skus, onHand),
        driver,
        timed: true,
        byCount: o.measuredOrders !== undefined,
        verify: async (url, load) => {
          const stock = await getStock(url, skus);
          const bad = unexpected(driver.outcomes, []);
          return {
            checks: [
              // Stock never runs out here, so every refusal is a problem.
              check('no refusals', bad.length === 0, bad.join(', ') || `${fmt(driver.accepted)} accepted`),
              check('replies match commands', driver.malformed === 0, `${driver.malformed} malformed`),
              ...stockChecks(stock, skus.map(() => onHand), driver.acceptedBySku, driver.accepted),
            ],
            outcomes: driver.outcomes,
            figures: { accepted: driver.accepted, skus: skus.length },
          };
        },
      };
    }
    case 'flash': {
      const skus = ['flash'];
      const driver = new PlaceDriver(skus, o.flashOrders);
      return {
        server: placeServer,
        tokens: [BENCH_TOKENS.admin],
        setup: (url) => setStock(url, skus, o.flashStock),
        driver,
        timed: false,
        count: o.flashOrders,
        verify: async (url, load) => {
          const [stock] = await getStock(url, skus);
          const expected = Math.min(o.flashOrders, o.flashStock);
          const oos = driver.outcomes.OUT_OF_STOCK ?? 0;
          const bad = unexpected(driver.outcomes, ['OUT_OF_STOCK']);
          return {
            checks: [
              check(`exactly ${fmt(expected)} accepted`, driver.accepted === expected, `accepted ${fmt(driver.accepted)}, OUT_OF_STOCK ${fmt(oos)}`),
              check('accepted + OUT_OF_STOCK == orders', driver.accepted + oos === o.flashOrders && bad.length === 0, bad.length ? `other outcomes: ${bad.join(', ')}` : `${fmt(driver.accepted)} + ${fmt(oos)} = ${fmt(o.flashOrders)}`),
              check('replies match commands', driver.malformed === 0, `${driver.malformed} malformed`),
              check(`reserved == ${fmt(expected)}`, stock.reserved === expected, `reserved ${fmt(stock.reserved)}`),
              ...stockChecks([stock], [o.flashStock], [driver.accepted], driver.accepted),
            ],
            outcomes: driver.outcomes,
            figures: { accepted: driver.accepted, outOfStock: oos, orders: o.flashOrders, stock: o.flashStock },
          };
        },
      };
    }
    case 'lifecycle': {
      const skus = skuNames('life', o.skus);
      // Under --smoke, maxOrders caps orders; a lifecycle is five commands, so cap lifecycles at a fifth.
      const driver = new LifecycleDriver(skus, timedBudget === undefined ? undefined : Math.max(1, Math.ceil(timedBudget / 5)));
      return {
        server: () => startOrdo({ dataRoot: o.dataRoot }),
        tokens: LIFECYCLE_TOKENS,
        setup: (url) => setStock(url, skus, o.spreadStock),
        driver,
        timed: true,
        verify: async (url, load) => {
          const stock = await getStock(url, skus);
          const failures = Object.entries(driver.failures).map(([k, n]) => `${k}×${fmt(n)}`);
          const shipped = driver.shippedBySku.reduce((a, b) => a + b, 0);
          const onHandSum = stock.reduce((a, s) => a + s.onHand, 0);
          const reservedSum = stock.reduce((a, s) => a + s.reserved, 0);
          const held = driver.heldBySku.reduce((a, b) => a + b, 0);
          // A sample of delivered orders read back: delivered, and never cancelled on the way.
          const sample = await adminCalls(url, driver.deliveredIds.map((orderId) => ({ type: 'order.get', args: { orderId } })), (r) => {
            const ord = r.order as { status?: string; history?: { status: string }[] } | undefined;
            return r.ok && ord?.status === 'delivered' && !ord.history?.some((h) => h.status === 'cancelled');
          });
          const badSample = sample.filter((x) => !x).length;
          const steps: Record<string, LatencySummary> = {};
          for (const [k, h] of load.steps) steps[k] = h.summary();
          steps.lifecycle = driver.lifecycleLatency.summary();
          return {
            checks: [
              check('every lifecycle completed', failures.length === 0 && driver.completed === driver.started, failures.length ? `failed steps: ${failures.join(', ')}` : `${fmt(driver.completed)} of ${fmt(driver.started)} delivered`),
              check('replies show the expected status', driver.unexpectedStatus === 0, `${driver.unexpectedStatus} unexpected`),
              check('onHand dropped by the delivered quantities', onHandSum === skus.length * o.spreadStock - shipped, `onHand ${fmt(onHandSum)}, expected ${fmt(skus.length * o.spreadStock - shipped)} (${fmt(shipped)} dispatched)`),
              check('reserved back to 0 for delivered orders', reservedSum === held, `reserved ${fmt(reservedSum)}, expected ${fmt(held)} (orders left before dispatch)`),
              ...stockChecks(stock, skus.map((_, i) => o.spreadStock - driver.shippedBySku[i]), driver.heldBySku, held).slice(1),
              check('sampled delivered orders read back delivered', badSample === 0, `${sample.length - badSample} of ${sample.length} ok`),
            ],
            outcomes: driver.outcomes,
            figures: {
              lifecycles: driver.completed,
              lifecyclesPerSecond: driver.completedMeasured / load.measuredSeconds,
            },
            steps,
          };
        },
      };
    }
  }
}

/** CPU seconds per process used between two readings; null for a process unreadable at either edge. */
function cpuUsedByProcess(start: Record<string, number | null>, end: Record<string, number | null>): Record<string, number | null> {
  const used: Record<string, number | null> = {};
  for (const [name, at] of Object.entries(end)) {
    const from = start[name];
    used[name] = at === null || from === null || from === undefined ? null : at - from;
  }
  return used;
}

/** Replies per commit and records per reply over the whole load, between two readings of ordo's journals (null when either is missing). */
function journalFigures(load: LoadResult, before: JournalFigures | null, after: JournalFigures | null): ScenarioResult['journal'] {
  if (!before || !after || load.replies === 0) return null;
  const commits = after.commits - before.commits;
  const records = after.records - before.records;
  return { repliesPerCommit: commits > 0 ? load.replies / commits : 0, recordsPerReply: records / load.replies };
}

function cpuFigures(load: LoadResult, serverUsed: Record<string, number | null> | null): CpuFigures {
  const perReply = (seconds: number) => (load.measuredReplies ? (seconds * 1e6) / load.measuredReplies : null);
  const parts = serverUsed ? Object.values(serverUsed) : [];
  const total = serverUsed && parts.length && parts.every((v) => v !== null) ? (parts as number[]).reduce((a, b) => a + b, 0) : null;
  const byProcess: Record<string, number> = {};
  for (const [name, used] of Object.entries(serverUsed ?? {})) {
    const us = used === null ? null : perReply(used);
    if (us !== null) byProcess[name] = us;
  }
  return {
    client: load.clientCpuCores,
    clientUsPerReply: load.clientCpuUsPerReply,
    server: total === null ? null : total / load.measuredSeconds,
    serverUsPerReply: total === null ? null : perReply(total),
    serverUsPerReplyByProcess: byProcess,
  };
}

/**
 * Runs one scenario on its own server (ordo's, or a peer's for `system` a peer); never
 * throws (a failure is a failed result) but for asking the peer for a scenario it does not serve.
 */
export async function runScenario(name: ScenarioName, o: BenchOptions, progress: ProgressSink = noProgress, system: System = name === 'ceiling' ? 'ceiling' : 'ordo'): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    scenario: name,
    system,
    throughput: 0,
    ratio: null,
    ratioToPeer: {},
    measuredReplies: 0,
    measuredSeconds: 0,
    journal: null,
    latency: new Histogram().summary(),
    steps: {},
    outcomes: {},
    figures: {},
    checks: [],
    ok: false,
    notes: [],
    cpu: { client: 0, clientUsPerReply: null, server: null, serverUsPerReply: null, serverUsPerReplyByProcess: {} },
    cpuRatio: { toCeiling: null, toPeer: {} },
    server: { logLines: 0, firstLogLines: [], rssBytes: null, stop: null },
  };
  const p = plan(name, o, system);
  let server: ServerProcess | null = null;
  try {
    server = await p.server();
    await p.setup(server.url);
    const total = p.timed ? o.warmupS + o.durationS : (p.count ?? 0);
    progress.start(total, p.timed ? 's' : 'orders');
    let lastReplies = 0;
    let lastAt = 0;
    let rate = 0;
    const srv = server;
    let serverCpuAtStart: Record<string, number | null> | null = null;
    let serverCpuUsed: Record<string, number | null> | null = null;
    // Read before the first command and after the last reply: read at the window's edges, over
    // HTTP from a busy server, they would lag by as long as its loop takes to answer.
    const journalBefore = (await srv.journal?.()) ?? null;
    const journalBeforeAt = performance.now();
    const load = await runLoad(
      {
        url: server.url,
        tokens: p.tokens,
        connections: o.connections,
        inflight: o.inflight,
        client: o.client,
        warmupMs: p.timed ? o.warmupS * 1000 : 0,
        durationMs: p.timed && !p.byCount ? o.durationS * 1000 : undefined,
        onProgress: ({ elapsedMs, replies }) => {
          if (elapsedMs - lastAt >= 500) {
            rate = ((replies - lastReplies) * 1000) / (elapsedMs - lastAt);
            lastReplies = replies;
            lastAt = elapsedMs;
          }
          progress.update(p.timed ? Math.min(total, Math.round(elapsedMs / 100) / 10) : replies, rate);
        },
        onMeasure: (edge) => {
          const now = srv.cpuSecondsByProcess();
          if (edge === 'start') serverCpuAtStart = now;
          else if (serverCpuAtStart !== null) serverCpuUsed = cpuUsedByProcess(serverCpuAtStart, now);
        },
      },
      p.driver,
    );
    progress.stop();
    result.throughput = load.throughput;
    result.measuredReplies = load.measuredReplies;
    result.measuredSeconds = load.measuredSeconds;
    result.latency = load.latency.summary();
    result.cpu = cpuFigures(load, serverCpuUsed);
    // The server's /metrics serves one read of its hosts' figures for HOST_STATS_TTL_MS: a load
    // shorter than that (the smoke run's) would read the same figures twice.
    const fresh = HOST_STATS_TTL_MS + 1 - (performance.now() - journalBeforeAt);
    if (fresh > 0) await new Promise((r) => setTimeout(r, fresh));
    result.journal = journalFigures(load, journalBefore, (await srv.journal?.()) ?? null);
    for (const [k, h] of load.steps) result.steps[k] = h.summary();
    // Recorded before the checks read the server back, so that they survive a server that died.
    result.checks = transportChecks(load);
    let v: Awaited<ReturnType<Plan['verify']>>;
    try {
      v = await p.verify(server.url, load);
    } catch (err) {
      throw new Error(`reading the server back for the invariant checks: ${err instanceof Error ? err.message : String(err)}`);
    }
    result.checks.push(...v.checks);
    result.outcomes = v.outcomes;
    result.figures = v.figures;
    if (v.steps) result.steps = v.steps;
    result.server.rssBytes = await server.rss();
  } catch (err) {
    progress.stop();
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    if (server) {
      // A clean stop snapshots every shard: give it time (a profiled server writes its profile only then).
      const stopStarted = performance.now();
      const stop = await server.stop(30_000);
      const stopMs = performance.now() - stopStarted;
      result.server.stop = stop;
      result.server.logLines = server.output.length;
      result.server.firstLogLines = server.output.slice(0, 10);
      if (stop.exitedEarly) result.checks.push(check('server stayed up', false, `exited during the run: code ${stop.code}, signal ${stop.signal}`));
      if (stop.killed) result.notes.push('server did not exit within 30 s of SIGTERM and was killed');
      else if (stopMs > 5_000) result.notes.push(`server took ${(stopMs / 1000).toFixed(1)} s to stop after SIGTERM (its final snapshot)`);
      else if (!stop.exitedEarly && stop.code !== 0) result.notes.push(`server exited with code ${stop.code} (signal ${stop.signal}) after SIGTERM`);
      if (server.output.length) result.notes.push(`server printed ${server.output.length} log line(s) at level warn or above`);
    }
  }
  result.ok = result.error === undefined && result.checks.length > 0 && result.checks.every((c) => c.ok);
  return result;
}
