/**
 * `npm run bench:recovery`: restart time and memory with many orders on disk (DESIGN.md targets:
 * healthy in ≤ 10 s and RSS ≤ 1 GiB with 1,000,000 orders on disk and 10,000 active).
 *
 * It fills a fresh data directory through the real protocol (pipelined `order.place`, every
 * order unpaid with a 30-day deadline, so every one has a pending timer), then measures:
 *   1. a restart after SIGTERM (a snapshot was taken on the way out),
 *   2. a restart after SIGKILL mid-write (the journal tail since the last snapshot is replayed),
 * each: time to /healthz 200, timers recovered (from the server's recovery log line), RSS when
 * healthy, and RSS after reading 10,000 random orders (which reloads them from snapshots).
 * RSS (the whole process: every thread) is also sampled every 100 ms from the start to the end
 * of each phase, and the peak printed; the write amplification of snapshots is the bytes written
 * to snapshot files (rounds and merges) per byte appended to the journal, from /metrics.
 *
 *   node dist/bench/recovery.js [--orders 1000000] [--active 10000] [--keep]
 *   (ORDO_BENCH_NODE_ARGS="--optimize-for-size": flags for the server's node)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { BENCH_TOKENS, freePort } from './server-process.js';
import { count, toolArgs, withUsage } from './tool-args.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const USAGE = 'usage: node dist/bench/recovery.js [--orders 1000000] [--active 10000] [--keep]';
const TOKENS = JSON.stringify({ [BENCH_TOKENS.admin]: { role: 'admin' } });

interface Running {
  proc: ChildProcess;
  port: number;
  lines: string[];
}

async function start(dataDir: string, active: number): Promise<{ server: Running; healthyMs: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const proc = spawn(process.execPath, [...(process.env.ORDO_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), MAIN, '--port', String(port), '--data', dataDir], {
    env: { ...process.env, ORDO_TOKENS: TOKENS, ORDO_LOG_LEVEL: 'info', ORDO_MAX_ACTORS: String(active) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  proc.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n')));
  proc.stderr!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n')));
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited:\n${lines.join('\n')}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { server: { proc, port, lines }, healthyMs: Math.round(performance.now() - t0) };
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

/** Samples a process's RSS every 100 ms until `stop` is called; returns the peak seen. */
function sampleRss(pid: number): { stop: () => Promise<number> } {
  let peak = 0;
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = sampling.then(() => rssMiB(pid).then((m) => void (peak = Math.max(peak, m)), () => {}));
  }, 100);
  return {
    stop: async () => {
      clearInterval(timer);
      await sampling;
      await rssMiB(pid).then((m) => void (peak = Math.max(peak, m)), () => {});
      return peak;
    },
  };
}

/** Sums a per-host gauge of /metrics. */
async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
}

function connect(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: `Bearer ${BENCH_TOKENS.admin}` }, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Sends `frames(i)` for i in [0, n) over `conns` sockets with `window` in flight each. */
async function pump(port: number, n: number, frame: (i: number) => object, conns = 16, window = 64, onProgress?: (done: number) => void): Promise<number> {
  let next = 0;
  let done = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: conns }, async () => {
      const ws = await connect(port);
      await new Promise<void>((resolve) => {
        let inFlight = 0;
        const fill = () => {
          while (inFlight < window && next < n) {
            const i = next++;
            inFlight++;
            ws.send(JSON.stringify({ id: String(i), ...frame(i) }));
          }
          if (inFlight === 0 && next >= n) resolve();
        };
        ws.on('message', (d) => {
          inFlight--;
          done++;
          if (!(JSON.parse(d.toString()) as { ok: boolean }).ok) failed++;
          if (onProgress && done % 100_000 === 0) onProgress(done);
          fill();
        });
        fill();
      });
      ws.close();
    }),
  );
  return failed;
}

async function touch(port: number, orders: number, active: number): Promise<number> {
  const t0 = performance.now();
  const failed = await pump(port, active, () => ({ type: 'order.get', orderId: `o${Math.floor(Math.random() * orders)}` }), 8, 32);
  if (failed) throw new Error(`${failed} orders could not be read back`);
  return Math.round(performance.now() - t0);
}

function recoveryLine(lines: string[]): { actors?: number; records?: number; timers?: number; ms?: number } {
  for (const l of lines) {
    if (!l.includes('"recovered ')) continue;
    try {
      return JSON.parse(l) as { actors: number; records: number; timers: number; ms: number };
    } catch {
      // not JSON
    }
  }
  return {};
}

async function stop(s: Running, signal: NodeJS.Signals): Promise<void> {
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill(signal);
  await exited;
}

async function main(): Promise<void> {
  const values = toolArgs('bench:recovery', USAGE, { orders: { type: 'string', default: '1000000' }, active: { type: 'string', default: '10000' }, keep: { type: 'boolean' } });
  if (!values) return;
  const [orders, active] = withUsage('bench:recovery', USAGE, () => [count(values, 'orders'), count(values, 'active', 0)]);
  const dataDir = await mkdtemp(join(tmpdir(), 'ordo-recovery-'));
  try {
    let { server } = await start(dataDir, active);
    const fillRss = sampleRss(server.proc.pid!);
    const progress: string[] = [];
    let last = [0, 0];
    console.error(`filling ${dataDir} with ${orders.toLocaleString()} orders…`);
    await pump(server.port, 1000, (i) => ({ type: 'inventory.set', sku: `s${i}`, onHand: 1_000_000_000 }));
    const t0 = performance.now();
    const failed = await pump(
      server.port,
      orders,
      (i) => ({ type: 'order.place', orderId: `o${i}`, customerId: `c${i % 5000}`, items: [{ sku: `s${i % 1000}`, quantity: 1 }], paymentTimeoutMs: 30 * 24 * 3600 * 1000 }),
      16,
      64,
      (d) => {
        const line = `  ${d.toLocaleString()} placed (${Math.round(d / ((performance.now() - t0) / 1000))}/s)`;
        void Promise.all([rssMiB(server.proc.pid!), metric(server.port, 'ordo_journal_bytes_written'), metric(server.port, 'ordo_snapshot_bytes_written')]).then(([m, j, sn]) => {
          // Write amplification so far, and over the last 100k orders: bounded if it stays flat as the data grows.
          const [j0, s0] = last;
          last = [j, sn];
          progress.push(`${d} orders: RSS ${m} MiB, journal ${(j / 2 ** 20).toFixed(0)} MiB, snapshots ${(sn / 2 ** 20).toFixed(0)} MiB (${(sn / j).toFixed(2)}× so far, ${((sn - s0) / (j - j0)).toFixed(2)}× since the previous line)`);
          console.error(`${line}, ${progress.at(-1)}`);
        });
      },
    );
    if (failed) throw new Error(`${failed} placements failed`);
    const fillSecs = (performance.now() - t0) / 1000;
    const rssLoaded = await rssMiB(server.proc.pid!);
    const journalBytes = await metric(server.port, 'ordo_journal_bytes_written');
    const snapshotBytes = await metric(server.port, 'ordo_snapshot_bytes_written');
    const rows: string[][] = [];

    await stop(server, 'SIGTERM');
    const peakFill = await fillRss.stop();
    let r = await start(dataDir, active);
    server = r.server;
    let rec = recoveryLine(server.lines);
    let rssHealthy = await rssMiB(server.proc.pid!);
    let phaseRss = sampleRss(server.proc.pid!);
    let touchMs = await touch(server.port, orders, active);
    rows.push(['after SIGTERM (snapshot)', `${r.healthyMs}`, `${rec.actors ?? '?'}`, `${rec.records ?? '?'}`, `${rec.timers ?? '?'}`, `${rssHealthy}`, `${await rssMiB(server.proc.pid!)}`, `${await phaseRss.stop()}`, `${touchMs}`]);

    // Some more orders land in the journal only, then a hard kill.
    await pump(server.port, 50_000, (i) => ({ type: 'order.place', orderId: `t${i}`, customerId: 'c', items: [{ sku: `s${i % 1000}`, quantity: 1 }], paymentTimeoutMs: 30 * 24 * 3600 * 1000 }));
    await stop(server, 'SIGKILL');
    r = await start(dataDir, active);
    server = r.server;
    rec = recoveryLine(server.lines);
    rssHealthy = await rssMiB(server.proc.pid!);
    phaseRss = sampleRss(server.proc.pid!);
    touchMs = await touch(server.port, orders, active);
    rows.push(['after SIGKILL (journal tail)', `${r.healthyMs}`, `${rec.actors ?? '?'}`, `${rec.records ?? '?'}`, `${rec.timers ?? '?'}`, `${rssHealthy}`, `${await rssMiB(server.proc.pid!)}`, `${await phaseRss.stop()}`, `${touchMs}`]);
    await stop(server, 'SIGTERM');

    console.log(`${orders.toLocaleString()} orders placed in ${fillSecs.toFixed(0)} s (${Math.round(orders / fillSecs)}/s, 16 connections × 64 in flight); ORDO_MAX_ACTORS=${active}`);
    console.log(`RSS during the fill: peak ${peakFill} MiB (sampled every 100 ms, through the stop's snapshot), ${rssLoaded} MiB at its end`);
    console.log(`snapshot write amplification: ${(snapshotBytes / 2 ** 20).toFixed(0)} MiB written to snapshot files for ${(journalBytes / 2 ** 20).toFixed(0)} MiB of journal = ${(snapshotBytes / journalBytes).toFixed(2)}×`);
    for (const line of progress) console.log(`  ${line}`);
    console.log('| restart | healthy after ms | actors known | journal records replayed | timers re-armed | RSS healthy MiB | RSS after reading 10k orders MiB | peak RSS while reading MiB | reading 10k orders ms |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  } finally {
    if (!values.keep) await rm(dataDir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
