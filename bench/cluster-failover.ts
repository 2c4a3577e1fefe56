/**
 * `npm run bench -- --nodes N`: N ordo nodes and one nats-server (JetStream, file store) on this
 * machine, a steady placement load over every gateway, then SIGKILL of one node. It measures
 * the cluster's throughput before the kill and, for each journal the dead node owned, the time
 * from the kill to the first `ok` of a command for a key of that journal sent through a
 * survivor (the failover time), and checks that nothing acknowledged was lost or applied twice.
 *
 * @example
 *   npm run bench -- --nodes 3
 *   ORDO_LEASE_TTL_MS=3000 npm run bench -- --nodes 3 --duration 5
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OrdoClient } from '../src/client/ordo-client.js';
import { ActorKeys } from '../src/protocol/messages.js';
import { journalOf, shardOf } from '../src/runtime/placement.js';
import { BENCH_TOKENS, freePort } from './server-process.js';

const ORDO_BIN = fileURLToPath(new URL('../../bin/ordo.mjs', import.meta.url));
const TOKENS = JSON.stringify({ [BENCH_TOKENS.admin]: { role: 'admin' } });

export interface FailoverOptions {
  nodes: number;
  /** Seconds of load before the kill, and after it. */
  durationS: number;
  connections: number;
  skus: number;
}

export interface FailoverReport {
  nodes: number;
  leaseTtlMs: number;
  pollMs: number;
  journals: number;
  placementsPerSecondBefore: number;
  placementsPerSecondAfter: number;
  victim: string;
  victimJournals: number[];
  /** Kill → first ok through a survivor, per journal of the victim (ms). */
  failoverMs: number[];
  /** CPU per acknowledged placement in the window before the kill: all ordo nodes together, and nats-server. */
  cpuUsPerPlacement: { nodes: number; nats: number };
  acknowledged: number;
  reservedTotal: number;
  retries: number;
  unavailable: number;
  ok: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds a process has used (Linux /proc, utime + stime; USER_HZ 100), or 0 elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

interface Proc {
  proc: ChildProcess;
  port: number;
  output: string[];
  exited: Promise<void>;
}

function spawnUntil(cmd: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Proc & { match: RegExpExecArray }> {
  const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (!line) continue;
        output.push(line);
        const m = ready.exec(line);
        if (m) resolve({ proc, port: 0, output, exited, match: m });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then(() => reject(new Error(`${cmd} exited before it was ready:\n${output.slice(-20).join('\n')}`)));
  });
}

/** Runs the failover measurement; every process it started is killed and its files removed at the end. */
export async function runFailover(o: FailoverOptions, log: (l: string) => void = () => {}): Promise<FailoverReport> {
  execFileSync('nats-server', ['--version'], { stdio: 'ignore' });
  const root = await mkdtemp(join(tmpdir(), 'ordo-failover-'));
  const procs: Proc[] = [];
  const clients: OrdoClient[] = [];
  try {
    const natsPort = await freePort();
    const nats = await spawnUntil('nats-server', ['-js', '-sd', join(root, 'nats'), '-a', '127.0.0.1', '-p', String(natsPort)], process.env, /Server is ready/);
    procs.push(nats);
    const natsUrl = `nats://127.0.0.1:${natsPort}`;
    const env: NodeJS.ProcessEnv = { ...process.env, ORDO_TOKENS: TOKENS, ORDO_LOG_LEVEL: process.env.ORDO_LOG_LEVEL ?? 'warn' };
    const leaseTtlMs = Number(env.ORDO_LEASE_TTL_MS ?? 5000);
    const pollMs = Number(env.ORDO_CLUSTER_POLL_MS ?? 1000);
    const nodes = await Promise.all(
      Array.from({ length: o.nodes }, async (_, i) => {
        const id = `node${i + 1}`;
        const p = await spawnUntil(process.execPath, [ORDO_BIN, 'serve', '--port', '0', '--data', join(root, id), '--nats', natsUrl, '--cluster', 'bench', '--node-id', id], env, /ordo listening on ws:\/\/[^:]+:(\d+)\/ws/);
        p.port = Number(p.match[1]);
        procs.push(p);
        return { id, ...p, url: `ws://127.0.0.1:${p.port}/ws` };
      }),
    );
    const health = async (port: number) => {
      try {
        return (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { members: string[]; owned: { journal: number }[]; journals: number };
      } catch {
        return null;
      }
    };
    // Converged: every journal owned once and every node counting every other.
    let journals = 16;
    for (const deadline = Date.now() + 60_000; ; ) {
      const hs = await Promise.all(nodes.map((n) => health(n.port)));
      const owned = hs.flatMap((h) => h?.owned.map((x) => x.journal) ?? []);
      journals = hs[0]?.journals ?? journals;
      if (hs.every((h) => h && h.members.length === o.nodes) && owned.length === journals && new Set(owned).size === journals) break;
      if (Date.now() > deadline) throw new Error('the cluster did not converge within 60 s');
      await sleep(100);
    }
    log(`${o.nodes} nodes converged on ${journals} journals (lease ${leaseTtlMs} ms, poll ${pollMs} ms)`);
    const admin = await OrdoClient.connect(nodes[0]!.url, BENCH_TOKENS.admin);
    clients.push(admin);
    const skus = Array.from({ length: o.skus }, (_, i) => `fo-${i}`);
    const STOCK = 1_000_000;
    await Promise.all(skus.map((sku) => admin.call('inventory.set', { sku, onHand: STOCK })));

    // The load: each connection places orders one at a time, the same orderId again on another node until it gets a definite answer.
    const live = new Set(nodes.map((n) => n.id));
    let acknowledged = 0;
    let retries = 0;
    let unavailable = 0;
    let stop = false;
    let killedAt = 0;
    let countedBefore = 0;
    let countedAfter = 0;
    const loadStarted = Date.now();
    const workers = Array.from({ length: o.connections }, async (_, w) => {
      let c: OrdoClient | null = null;
      let at = w % nodes.length;
      while (!stop) {
        const orderId = `fo-${randomUUID()}`;
        const sku = skus[Math.floor(Math.random() * skus.length)]!;
        for (;;) {
          const node = nodes[at % nodes.length]!;
          if (!live.has(node.id)) {
            at++;
            c = null;
            continue;
          }
          if (!c || c.closeCode !== null) c = await OrdoClient.connect(node.url, BENCH_TOKENS.admin).catch(() => null);
          if (!c) {
            at++;
            continue;
          }
          const r = await c.call('order.place', { orderId, customerId: 'bench', items: [{ sku, quantity: 1 }] });
          if (r.ok) {
            acknowledged++;
            if (killedAt) countedAfter++;
            else if (Date.now() - loadStarted > 1000) countedBefore++;
            break;
          }
          if (r.error?.code === 'UNAVAILABLE') unavailable++;
          retries++;
          c = null;
          at++;
          await sleep(50);
        }
      }
      await c?.close();
    });
    await sleep(1000);
    const cpu0 = { nodes: nodes.reduce((n, x) => n + cpuSeconds(x.proc.pid), 0), nats: cpuSeconds(nats.proc.pid), count: countedBefore };
    await sleep(o.durationS * 1000);
    const cpu1 = { nodes: nodes.reduce((n, x) => n + cpuSeconds(x.proc.pid), 0), nats: cpuSeconds(nats.proc.pid), count: countedBefore };
    const placed = Math.max(1, cpu1.count - cpu0.count);
    const cpuUsPerPlacement = { nodes: ((cpu1.nodes - cpu0.nodes) * 1e6) / placed, nats: ((cpu1.nats - cpu0.nats) * 1e6) / placed };
    const placementsPerSecondBefore = placed / o.durationS;

    // The victim: the owner of the first SKU's journal; probes through a survivor, one key per victim journal.
    const owners = await Promise.all(nodes.map(async (n) => ({ n, owned: (await health(n.port))?.owned.map((x) => x.journal) ?? [] })));
    const victim = owners.find((x) => x.owned.includes(journalOf(shardOf(ActorKeys.sku(skus[0]!), journals), journals)))!;
    const survivor = nodes.find((n) => n !== victim.n)!;
    const probeSku = (j: number) => {
      for (let i = 0; ; i++) if (journalOf(shardOf(ActorKeys.sku(`probe-${i}`), journals), journals) === j) return `probe-${i}`;
    };
    const probes = victim.owned.map((j) => ({ j, sku: probeSku(j), at: 0 }));
    const prober = await OrdoClient.connect(survivor.url, BENCH_TOKENS.admin);
    clients.push(prober);
    log(`killing ${victim.n.id} (journals ${victim.owned.join(',')}) under load`);
    killedAt = Date.now();
    victim.n.proc.kill('SIGKILL');
    live.delete(victim.n.id);
    await Promise.all(
      probes.map(async (p) => {
        while (!p.at && Date.now() - killedAt < 30_000) {
          const r = await prober.call('inventory.get', { sku: p.sku });
          if (r.ok) p.at = Date.now() - killedAt;
          else await sleep(20);
        }
      }),
    );
    const afterStarted = Date.now();
    countedAfter = 0;
    await sleep(o.durationS * 1000);
    const placementsPerSecondAfter = countedAfter / ((Date.now() - afterStarted) / 1000);
    stop = true;
    await Promise.all(workers);

    const stocks = await Promise.all(skus.map((sku) => prober.call('inventory.get', { sku })));
    const reservedTotal = stocks.reduce((n, r) => n + ((r.stock as { reserved: number } | undefined)?.reserved ?? 0), 0);
    const failoverMs = probes.map((p) => p.at || Infinity);
    return {
      nodes: o.nodes,
      leaseTtlMs,
      pollMs,
      journals,
      placementsPerSecondBefore,
      placementsPerSecondAfter,
      victim: victim.n.id,
      victimJournals: victim.owned,
      failoverMs,
      cpuUsPerPlacement,
      acknowledged,
      reservedTotal,
      retries,
      unavailable,
      ok: reservedTotal === acknowledged && failoverMs.every(Number.isFinite) && stocks.every((r) => r.ok),
    };
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    for (const p of procs.reverse()) {
      p.proc.kill('SIGKILL');
      await p.exited;
    }
    await rm(root, { recursive: true, force: true });
  }
}

export function formatFailover(r: FailoverReport): string {
  const sorted = [...r.failoverMs].sort((a, b) => a - b);
  const med = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  return [
    `cluster: ${r.nodes} nodes, one nats-server, ${r.journals} journals; lease ${r.leaseTtlMs} ms, poll ${r.pollMs} ms`,
    `placements/s over every gateway: ${Math.round(r.placementsPerSecondBefore)} before the kill, ${Math.round(r.placementsPerSecondAfter)} after (on ${r.nodes - 1} nodes)`,
    `CPU per placement before the kill: ${Math.round(r.cpuUsPerPlacement.nodes)} µs in the ordo nodes together, ${Math.round(r.cpuUsPerPlacement.nats)} µs in nats-server`,
    `killed ${r.victim} (SIGKILL), owner of journals ${r.victimJournals.join(', ')}`,
    `failover (kill → first ok through a survivor, per journal): min ${sorted[0]} ms, median ${med} ms, max ${sorted.at(-1)} ms`,
    `acknowledged ${r.acknowledged} placements, ${r.reservedTotal} units reserved (${r.reservedTotal === r.acknowledged ? 'equal: nothing lost, nothing applied twice' : 'DIFFERENT'}); ${r.retries} retries by clients, ${r.unavailable} UNAVAILABLE`,
    `invariants ${r.ok ? 'OK' : 'FAILED'}`,
  ].join('\n');
}
