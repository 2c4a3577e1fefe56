/**
 * `npm run bench [-- options]`: drives ordo (and the bare ws ceiling, and with `--peer` the
 * Redis-Lua peer and/or the minimal durable server) over real sockets and prints one table:
 * throughput, its ratio to the ceiling and to each peer measured in the same run, latency
 * percentiles, server CPU per reply, and whether the invariants held. Exits non-zero when any
 * invariant failed.
 *
 * @example
 *   npm run bench -- --duration 5 --scenarios ceiling,spread,hot
 *   npm run bench -- --peer redis,minimal --scenarios ceiling,spread,hot --client raw
 *   node dist/bench/bench.js --smoke --json
 */
import { cpus, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import { CLIENT_MODE_DESCRIPTION, CLIENT_MODES, type ClientMode } from './load-connection.js';
import { redisServerMissing } from './redis-process.js';
import {
  type BenchOptions,
  DEFAULT_OPTIONS,
  isPeer,
  type Peer,
  PEER_SCENARIOS,
  PEERS,
  type ProgressSink,
  runScenario,
  SCENARIOS,
  type ScenarioName,
  type ScenarioResult,
  type System,
} from './scenarios.js';
import { liveServers } from './server-process.js';

export { PEERS, type Peer } from './scenarios.js';

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  /** 1-minute load average when the bench started: other work on the machine skews every figure. */
  loadAtStart: number;
  /** The same when it finished: a rise means something else ran during the bench. */
  loadAtEnd: number;
}

/** A peer asked for with `--peer`: whether it ran, and why not. */
export interface PeerReport {
  name: Peer;
  ran: boolean;
  /** Why it did not run (e.g. redis-server not installed): a skip, not a failure. */
  skipped?: string;
}

export interface BenchReport {
  ok: boolean;
  machine: Machine;
  options: BenchOptions & { scenarios: ScenarioName[]; peers: Peer[] };
  /** One per peer asked for, in the order asked. */
  peers: PeerReport[];
  results: ScenarioResult[];
}

/** --smoke: small enough for the test suite, big enough to exercise every invariant check. */
export const SMOKE_OPTIONS: BenchOptions = {
  ...DEFAULT_OPTIONS,
  durationS: 1,
  warmupS: 0,
  connections: 8,
  skus: 100,
  maxOrders: 400,
  flashOrders: 2000,
  flashStock: 100,
};

export function machine(): Machine {
  const c = cpus();
  return { cpu: c[0]?.model.trim() ?? 'unknown CPU', cores: c.length, node: process.version, platform: `${process.platform}-${process.arch}`, loadAtStart: loadavg()[0], loadAtEnd: loadavg()[0] };
}

/** Sets every result's ratios to the ceiling and to each peer of the same scenario, where they ran. */
function relate(results: ScenarioResult[]): void {
  const ceiling = results.find((r) => r.scenario === 'ceiling' && r.error === undefined);
  const div = (a: number | null, b: number | null | undefined) => (a === null || b === null || b === undefined || b === 0 ? null : a / b);
  for (const r of results) {
    r.ratio = ceiling ? r.throughput / ceiling.throughput : null;
    r.cpuRatio.toCeiling = div(r.cpu.serverUsPerReply, ceiling?.cpu.serverUsPerReply);
    if (r.system !== 'ordo') continue;
    for (const peer of results) {
      if (!isPeer(peer.system) || peer.scenario !== r.scenario || peer.error !== undefined) continue;
      if (peer.throughput > 0) r.ratioToPeer[peer.system] = r.throughput / peer.throughput;
      const cpu = div(r.cpu.serverUsPerReply, peer.cpu.serverUsPerReply);
      if (cpu !== null) r.cpuRatio.toPeer[peer.system] = cpu;
    }
  }
}

/** Whether `peer` can run here: null, or why not (a skip, not a failure). */
function peerMissing(peer: Peer): string | null {
  return peer === 'redis' ? redisServerMissing() : null;
}

/**
 * Runs the scenarios one after the other (never concurrently: each would steal the other's CPU),
 * the ceiling first so that every later scenario can state its ratio to it; with a peer, each
 * place-only scenario runs against the peer right after ordo's run of it: ordo's and the peer's
 * rows of one run share a machine state and a ceiling.
 */
export async function runBench(
  options: BenchOptions,
  scenarios: readonly ScenarioName[] = SCENARIOS,
  ui: { progress?: (label: string) => ProgressSink; log?: (line: string) => void } = {},
  peers: readonly Peer[] = [],
): Promise<BenchReport> {
  const host = machine();
  if (host.loadAtStart > host.cores / 2) ui.log?.(`warning: load average ${host.loadAtStart.toFixed(2)} on ${host.cores} cores before the bench started: other work will skew the figures`);
  ui.log?.(`client mode: ${CLIENT_MODE_DESCRIPTION[options.client]}`);
  const ordered = [...scenarios].sort((a, b) => SCENARIOS.indexOf(a) - SCENARIOS.indexOf(b));
  const peerScenarios = ordered.filter((n) => PEER_SCENARIOS.includes(n));
  const peerReports: PeerReport[] = [];
  const running: Peer[] = [];
  for (const name of peers) {
    const missing = peerMissing(name) ?? (peerScenarios.length === 0 ? `it serves ${PEER_SCENARIOS.join(', ')}, none of which was asked for` : null);
    if (missing) ui.log?.(`${name} peer skipped: ${missing}`);
    else running.push(name);
    peerReports.push(missing ? { name, ran: false, skipped: missing } : { name, ran: true });
  }
  const results: ScenarioResult[] = [];
  // Each peer's run straight after ordo's of the same scenario: the machine's state drifts
  // (other VMs' load moved the ceiling by a third within an hour here), and a ratio is only as
  // good as the closeness of its two runs.
  const runs: { name: ScenarioName; system: System | undefined }[] = [];
  for (const name of ordered) {
    runs.push({ name, system: undefined });
    if (peerScenarios.includes(name)) for (const p of running) runs.push({ name, system: p });
  }
  for (const { name, system } of runs) {
    const label = system ? `${name} (${system})` : name;
    ui.log?.(`${label}: starting a fresh server`);
    const r = await runScenario(name, options, ui.progress?.(label), system);
    ui.log?.(`${label}: ${Math.round(r.throughput)} replies/s, invariants ${r.ok ? 'OK' : 'FAILED'}`);
    results.push(r);
  }
  relate(results);
  host.loadAtEnd = loadavg()[0];
  return {
    ok: results.length > 0 && results.every((r) => r.ok),
    machine: host,
    options: { ...options, scenarios: ordered, peers: [...peers] },
    peers: peerReports,
    results,
  };
}

// ---------------------------------------------------------------------------------------------
// Printing

const ms = (v: number) => (Number.isFinite(v) ? (v < 10 ? v.toFixed(2) : v.toFixed(1)) : '-');
const int = (v: number) => Math.round(v).toLocaleString('en-US');

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n');
}

/** A result's name in the table and the details: the scenario, and the system when not ordo's own. */
export function label(r: ScenarioResult): string {
  return isPeer(r.system) ? `${r.scenario} (${r.system})` : r.scenario;
}

const us = (v: number | null) => (v === null ? '-' : v < 10 ? v.toFixed(1) : String(Math.round(v)));
const times = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)} ×`);

/** Server CPU per reply, with the processes spelt out when there are several (the Redis peer's). */
function serverCpu(r: ScenarioResult): string {
  const parts = Object.values(r.cpu.serverUsPerReplyByProcess);
  if (r.cpu.serverUsPerReply === null) return '-';
  return parts.length > 1 ? `${us(r.cpu.serverUsPerReply)} (${parts.map(us).join('+')})` : us(r.cpu.serverUsPerReply);
}

/** The details above the table: what each scenario counted, and anything that went wrong. */
export function formatDetails(report: BenchReport): string {
  const out: string[] = [];
  for (const r of report.results) {
    out.push(`${label(r)}:`);
    if (r.error) out.push(`  ERROR: ${r.error}`);
    if (r.measuredSeconds > 0) out.push(`  measured ${int(r.measuredReplies)} replies in ${r.measuredSeconds.toFixed(2)} s; latency p50 ${ms(r.latency.p50)} / p90 ${ms(r.latency.p90)} / p99 ${ms(r.latency.p99)} / p99.9 ${ms(r.latency.p999)} / max ${ms(r.latency.max)} ms`);
    if (r.measuredSeconds > 0) {
      const byProcess = Object.entries(r.cpu.serverUsPerReplyByProcess);
      const split = byProcess.length > 1 ? ` = ${byProcess.map(([name, v]) => `${name} ${us(v)}`).join(' + ')}` : '';
      out.push(`  CPU in the window: generator ${r.cpu.client.toFixed(2)} cores (${us(r.cpu.clientUsPerReply)} µs per reply), server ${r.cpu.server === null ? 'n/a' : r.cpu.server.toFixed(2)} cores (of ${report.machine.cores}): ${us(r.cpu.serverUsPerReply)} µs per reply${split}`);
    }
    if (r.journal) out.push(`  journal: ${r.journal.repliesPerCommit.toFixed(1)} replies per commit (one write + fdatasync), ${r.journal.recordsPerReply.toFixed(2)} records per reply`);
    const outcomes = Object.entries(r.outcomes).map(([k, v]) => `${k} ${int(v)}`).join(', ');
    if (outcomes) out.push(`  replies: ${outcomes}`);
    if (r.scenario === 'flash' && r.figures.accepted !== undefined) out.push(`  accepted ${int(r.figures.accepted)} of ${int(r.figures.orders)} orders on ${int(r.figures.stock)} units (OUT_OF_STOCK ${int(r.figures.outOfStock)})`);
    if (r.scenario === 'lifecycle' && r.figures.lifecycles !== undefined) {
      out.push(`  ${int(r.figures.lifecycles)} lifecycles completed; ${r.figures.lifecyclesPerSecond.toFixed(1)} lifecycles/s in the measured window`);
      const order = ['order.place', 'order.pay', 'wms.packed', 'tms.ack', 'tms.delivered', 'lifecycle'];
      const steps = Object.entries(r.steps).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
      for (const [step, s] of steps) out.push(`    ${step.padEnd(14)} n=${int(s.count).padStart(8)}  p50 ${ms(s.p50).padStart(6)}  p99 ${ms(s.p99).padStart(6)}  max ${ms(s.max).padStart(7)} ms`);
    }
    for (const c of r.checks) out.push(`  [${c.ok ? 'ok' : 'FAILED'}] ${c.name}: ${c.detail}`);
    for (const n of r.notes) out.push(`  note: ${n}`);
    for (const l of r.server.firstLogLines) out.push(`    server: ${l.length > 300 ? `${l.slice(0, 300)}…` : l}`);
    if (r.server.rssBytes !== null) out.push(`  server RSS at the end: ${int(r.server.rssBytes / 2 ** 20)} MiB`);
  }
  return out.join('\n');
}

export function formatTable(report: BenchReport): string {
  // The columns comparing with a peer appear only when it ran.
  const ran = PEERS.filter((p) => report.results.some((r) => r.system === p));
  const header = ['scenario', 'throughput/s', 'ratio to ceiling', ...ran.map((p) => `ratio to ${p}`), 'p50 ms', 'p99 ms', 'max ms', 'CPU µs/reply', 'CPU vs ceiling', ...ran.map((p) => `CPU vs ${p}`), 'invariants'];
  const rows = [header];
  for (const r of report.results) {
    rows.push([
      label(r),
      r.error ? '-' : int(r.throughput),
      r.ratio === null ? 'n/a' : `${r.ratio.toFixed(3)} ×`,
      ...ran.map((p) => (r.ratioToPeer[p] === undefined ? '-' : `${r.ratioToPeer[p]!.toFixed(3)} ×`)),
      ms(r.latency.p50),
      ms(r.latency.p99),
      ms(r.latency.max),
      serverCpu(r),
      times(r.cpuRatio.toCeiling),
      ...ran.map((p) => times(r.cpuRatio.toPeer[p] ?? null)),
      r.ok ? 'OK' : 'FAILED',
    ]);
  }
  const m = report.machine;
  const o = report.options;
  const lines = [
    table(rows),
    `machine: ${m.cpu}, ${m.cores} cores, node ${m.node} (${m.platform}), load average ${m.loadAtStart.toFixed(2)} at start, ${m.loadAtEnd.toFixed(2)} at end; ${o.connections} connections × ${o.inflight} in flight, ${o.measuredOrders === undefined ? `${o.durationS} s` : `${int(o.measuredOrders)} orders (ceiling, spread, hot)`} measured after ${o.warmupS} s warm-up`,
    `client: ${CLIENT_MODE_DESCRIPTION[o.client]}; CPU µs/reply: the server's process CPU time (all threads${ran.includes('redis') ? '; the Redis peer: node front + redis-server' : ''}) over replies in the measured window`,
  ];
  for (const p of report.peers) if (!p.ran) lines.push(`${p.name} peer: skipped: ${p.skipped}`);
  return lines.join('\n');
}

function progressBar(name: string): ProgressSink {
  const bar = new SingleBar(
    { stream: process.stderr, format: `${name.padEnd(14)} [{bar}] {value}/{total} {unit} | {rate} replies/s`, hideCursor: true, clearOnComplete: true, fps: 5 },
    Presets.shades_classic,
  );
  let unit = '';
  return {
    start(total, u) {
      unit = u;
      bar.start(total, 0, { unit, rate: '0' });
    },
    update(value, rate) {
      bar.update(value, { unit, rate: int(rate) });
    },
    stop() {
      bar.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

const USAGE = `usage: node dist/bench/bench.js [options]
  --duration <s>        measured seconds per timed scenario (default ${DEFAULT_OPTIONS.durationS})
  --orders <n>          instead: ceiling, spread and hot measure exactly n orders after the warm-up
  --warmup <s>          unmeasured seconds before it (default ${DEFAULT_OPTIONS.warmupS})
  --connections <n>     connections (default ${DEFAULT_OPTIONS.connections})
  --inflight <n>        commands in flight per connection (default ${DEFAULT_OPTIONS.inflight})
  --scenarios <list>    comma-separated, of ${SCENARIOS.join(',')} (default: all)
  --flash-orders <n>    orders in flash (default ${DEFAULT_OPTIONS.flashOrders}; stock ${DEFAULT_OPTIONS.flashStock})
  --skus <n>            SKUs in spread and lifecycle (default ${DEFAULT_OPTIONS.skus})
  --data-root <dir>     where the fresh data directories go (default: the OS temp dir)
  --client <mode>       library (default: the typed client, a promise per command) or raw (frames, no promise)
  --peer <list>         run ${PEER_SCENARIOS.join(', ')} again against each peer, comma-separated: redis (a Redis-Lua
                        peer; needs redis-server, skipped without it), minimal (the minimal durable server)
  --nodes <n>           instead: a cluster of n nodes and a nats-server, load over every gateway,
                        one node SIGKILLed: throughput and failover time (kill → first ok)
  --json                print one JSON document instead of the table
  --smoke               tiny run that checks invariants only (used by the test suite)`;

function positive(name: string, raw: string | undefined, fallback: number, allowZero = false): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new Error(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${JSON.stringify(raw)}`);
  return n;
}

function parseCli(argv: string[]): { options: BenchOptions; scenarios: ScenarioName[]; json: boolean; peers: Peer[]; nodes: number | null } {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      orders: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      inflight: { type: 'string' },
      scenarios: { type: 'string' },
      'flash-orders': { type: 'string' },
      skus: { type: 'string' },
      'data-root': { type: 'string' },
      client: { type: 'string' },
      peer: { type: 'string' },
      json: { type: 'boolean' },
      nodes: { type: 'string' },
      smoke: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const base = values.smoke ? SMOKE_OPTIONS : DEFAULT_OPTIONS;
  const scenarios = (values.scenarios ?? SCENARIOS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of scenarios) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${JSON.stringify(s)}; known: ${SCENARIOS.join(', ')}`);
  const client = values.client ?? base.client;
  if (!(CLIENT_MODES as readonly string[]).includes(client)) throw new Error(`--client must be one of ${CLIENT_MODES.join(', ')}, got ${JSON.stringify(client)}`);
  const peers = [...new Set((values.peer ?? '').split(',').map((p) => p.trim()).filter(Boolean))];
  if (values.peer !== undefined && peers.length === 0) throw new Error(`--peer needs one or more of ${PEERS.join(', ')}`);
  for (const p of peers) if (!(PEERS as readonly string[]).includes(p)) throw new Error(`--peer must name ${PEERS.join(', ')} (comma-separated), got ${JSON.stringify(p)}`);
  const options: BenchOptions = {
    ...base,
    client: client as ClientMode,
    durationS: positive('duration', values.duration, base.durationS),
    measuredOrders: values.orders === undefined ? base.measuredOrders : Math.floor(positive('orders', values.orders, 1)),
    warmupS: positive('warmup', values.warmup, base.warmupS, true),
    connections: Math.floor(positive('connections', values.connections, base.connections)),
    inflight: Math.floor(positive('inflight', values.inflight, base.inflight)),
    flashOrders: Math.floor(positive('flash-orders', values['flash-orders'], base.flashOrders)),
    skus: Math.floor(positive('skus', values.skus, base.skus)),
    dataRoot: values['data-root'] ?? base.dataRoot,
  };
  const nodes = values.nodes === undefined ? null : Math.floor(positive('nodes', values.nodes, 3));
  if (nodes !== null && nodes < 2) throw new Error('--nodes needs at least 2 (one is killed)');
  return { options, scenarios: scenarios as ScenarioName[], json: values.json ?? false, peers: peers as Peer[], nodes };
}

async function main(): Promise<void> {
  let cli: ReturnType<typeof parseCli>;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : err}\n${USAGE}`);
    process.exit(2);
  }
  // An interrupted bench must not leave servers (and their data directories) behind.
  const interrupt = (signal: NodeJS.Signals) => {
    void Promise.all([...liveServers].map((s) => s.stop(2000))).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  if (cli.nodes !== null) {
    const { runFailover, formatFailover } = await import('./cluster-failover.js');
    const r = await runFailover({ nodes: cli.nodes, durationS: cli.options.durationS, connections: cli.options.connections, skus: Math.min(cli.options.skus, 200) }, cli.json ? undefined : (l) => console.error(l));
    console.log(cli.json ? JSON.stringify(r, null, 2) : formatFailover(r));
    process.exitCode = r.ok ? 0 : 1;
    setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
    return;
  }
  const interactive = !cli.json && process.stderr.isTTY === true;
  const report = await runBench(
    cli.options,
    cli.scenarios,
    {
      progress: interactive ? progressBar : undefined,
      log: cli.json ? undefined : (l) => console.error(l),
    },
    cli.peers,
  );
  if (cli.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(formatDetails(report));
    console.log();
    console.log(formatTable(report));
  }
  process.exitCode = report.ok ? 0 : 1;
  // Everything was closed; should a stray handle remain, it must not keep the bench alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
