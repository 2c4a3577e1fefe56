/**
 * Spawns the server under test as a child process, waits until it is healthy, and stops it.
 *
 * A child process rather than an in-process server: the generator and the server must not share
 * an event loop, or the generator's work would be billed to the server (and vice versa). The
 * ceiling server runs the same way, so both sides of the ratio pay the same process boundary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';
import { processCpuSeconds, processRssBytes } from './proc-stats.js';
import { startRedis } from './redis-process.js';

export { freePort } from './free-port.js';

/** The tokens every benchmarked ordo server is started with (ORDO_TOKENS). */
export const BENCH_TOKENS = {
  admin: 'bench-admin',
  payments: 'bench-pay',
  warehouse: 'bench-wh',
  carrier: 'bench-car',
} as const;

const ORDO_TOKENS = JSON.stringify({
  [BENCH_TOKENS.admin]: { role: 'admin' },
  [BENCH_TOKENS.payments]: { role: 'payments' },
  [BENCH_TOKENS.warehouse]: { role: 'warehouse' },
  [BENCH_TOKENS.carrier]: { role: 'carrier' },
});

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StopResult extends ServerExit {
  /** It did not exit within the grace period after SIGTERM and was killed. */
  killed: boolean;
  /** It had exited on its own before we asked it to stop (a crash). */
  exitedEarly: boolean;
}

export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The data directory (ordo, Redis's for the Redis peer, the minimal peer's) or null (ceiling). */
  readonly dataDir: string | null;
  /** Every line the child printed on stdout and stderr but its "listening" line (at ORDO_LOG_LEVEL=warn: the problems). */
  readonly output: string[];
  /** Set once the child has exited, whoever caused it. */
  exit: ServerExit | null;
  /** Resident set size in bytes, all its processes (Linux /proc), or null where unavailable. */
  rss(): Promise<number | null>;
  /**
   * CPU seconds each of its processes (all their threads) has used so far (Linux /proc), by name:
   * one for ordo and the ceiling, the Node front and redis-server for the Redis peer. A value is
   * null where /proc cannot be read. Synchronous, for exact window edges.
   */
  cpuSecondsByProcess(): Record<string, number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; removes the data directory. */
  stop(graceMs?: number): Promise<StopResult>;
  /** ordo only: its journals' group commits and records so far, from its /metrics (null if unreadable). */
  journal?(): Promise<JournalFigures | null>;
}

/** Group commits (one write + fdatasync each) and records of every journal of a server, since it started. */
export interface JournalFigures {
  commits: number;
  records: number;
}

/** Sums the per-host `ordo_journal_commits` and `ordo_journal_records` lines of a /metrics text. */
export function journalFiguresOf(metricsText: string): JournalFigures {
  const sum = (name: string) => {
    let total = 0;
    for (const m of metricsText.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) total += Number(m[1]);
    return total;
  };
  return { commits: sum('ordo_journal_commits'), records: sum('ordo_journal_records') };
}

/** GET `path` from the server on `port`: its status and body, or null when it did not answer in `timeoutMs`. */
function getLocal(port: number, path: string, timeoutMs: number): Promise<{ status: number; body: string } | null> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

async function healthStatus(port: number): Promise<number> {
  return (await getLocal(port, '/healthz', 1000))?.status ?? 0;
}

interface SpawnSpec {
  /** The name its CPU is reported under. */
  name: string;
  script: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  dataDir: string | null;
  readyTimeoutMs: number;
}

/** The readiness announcement is expected output, not a problem worth reporting. */
const READY_LINE = /^(ordo|ceiling|redis-peer|minimal-peer) listening on /;

/** Servers started and not yet stopped: the CLI stops them if it is interrupted. */
export const liveServers = new Set<{ stop(graceMs?: number): Promise<unknown> }>();

async function spawnServer(spec: SpawnSpec): Promise<ServerProcess> {
  const port = await freePort();
  // ORDO_BENCH_NODE_ARGS passes flags to the server's node only (e.g. `--cpu-prof`, which
  // NODE_OPTIONS refuses), so the server can be profiled under the very load the bench applies.
  const nodeArgs = (process.env.ORDO_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, spec.script, '--port', String(port), ...spec.args], {
    env: spec.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      // Bounded: a server that logs in a loop must not grow the bench's memory.
      for (const l of lines) if (l.trim() && !READY_LINE.test(l) && output.length < 10_000) output.push(l);
    });
    stream?.on('end', () => {
      if (rest.trim() && !READY_LINE.test(rest)) output.push(rest);
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  let stopping = false;
  const handle: ServerProcess = {
    url: `ws://127.0.0.1:${port}/ws`,
    port,
    pid: child.pid ?? -1,
    dataDir: spec.dataDir,
    output,
    exit: null,
    rss: () => processRssBytes(child.pid ?? -1),
    cpuSecondsByProcess: () => ({ [spec.name]: processCpuSeconds(child.pid ?? -1) }),
    async stop(graceMs = 5000) {
      const exitedEarly = handle.exit !== null && !stopping;
      stopping = true;
      liveServers.delete(handle);
      let killed = false;
      if (handle.exit === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (handle.exit === null) {
            killed = true;
            child.kill('SIGKILL');
          }
        }, graceMs);
        await exited;
        clearTimeout(timer);
      }
      if (spec.dataDir) await rm(spec.dataDir, { recursive: true, force: true });
      return { ...(handle.exit as ServerExit), killed, exitedEarly };
    },
  };
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      handle.exit = { code, signal };
      resolve();
    });
  });

  // Poll /healthz rather than trusting the "listening" line: ordo listens before it has replayed
  // its journal and answers 503 until it takes commands.
  const deadline = Date.now() + spec.readyTimeoutMs;
  for (;;) {
    if (handle.exit !== null) {
      if (spec.dataDir) await rm(spec.dataDir, { recursive: true, force: true });
      throw new Error(`server exited during start-up (code ${handle.exit.code}, signal ${handle.exit.signal}):\n${output.slice(-20).join('\n')}`);
    }
    if ((await healthStatus(port)) === 200) {
      liveServers.add(handle);
      return handle;
    }
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`server not healthy after ${spec.readyTimeoutMs} ms:\n${output.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The compiled entry points, found next to this file (dist/bench → dist/src), whatever the cwd. */
const ORDO_MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const CEILING_MAIN = fileURLToPath(new URL('./ceiling-server.js', import.meta.url));
const REDIS_PEER_MAIN = fileURLToPath(new URL('./redis-peer-server.js', import.meta.url));
const MINIMAL_PEER_MAIN = fileURLToPath(new URL('./minimal-peer-server.js', import.meta.url));

/**
 * A fresh ordo server: its own free port and a new empty data directory, removed by `stop()`.
 *
 * @example
 *   const srv = await startOrdo();
 *   try { ... } finally { await srv.stop(); }
 */
export async function startOrdo(opts: { dataRoot?: string; readyTimeoutMs?: number } = {}): Promise<ServerProcess> {
  const dataDir = await mkdtemp(join(opts.dataRoot ?? tmpdir(), 'ordo-bench-'));
  const srv = await spawnServer({
    name: 'ordo',
    script: ORDO_MAIN,
    args: ['--data', dataDir],
    env: { ...process.env, ORDO_TOKENS, ORDO_LOG_LEVEL: 'warn' },
    dataDir,
    readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
  });
  srv.journal = async () => {
    const r = await getLocal(srv.port, '/metrics', 2000);
    return r?.status === 200 ? journalFiguresOf(r.body) : null;
  };
  return srv;
}

/** The bare ws ceiling server (ceiling-server.ts) as a child process. */
export async function startCeiling(opts: { readyTimeoutMs?: number } = {}): Promise<ServerProcess> {
  return spawnServer({ name: 'ceiling', script: CEILING_MAIN, args: [], env: { ...process.env }, dataDir: null, readyTimeoutMs: opts.readyTimeoutMs ?? 10_000 });
}

/** The names the Redis peer's two processes are reported under. */
export const REDIS_PEER_PROCESSES = { front: 'node front', redis: 'redis-server' } as const;

/**
 * The Redis-Lua peer: a fresh `redis-server` (redis-process.ts: its own port and directory,
 * `appendfsync always`) and its Node ws front (redis-peer-server.ts) as a child process. One
 * handle for both: its CPU is reported per process, `stop()` stops the front, then Redis, and
 * removes Redis's directory. Rejects when `redis-server` is not installed.
 */
export async function startRedisPeer(opts: { dataRoot?: string; readyTimeoutMs?: number } = {}): Promise<ServerProcess> {
  const redis = await startRedis({ dataRoot: opts.dataRoot });
  liveServers.add(redis);
  let front: ServerProcess;
  try {
    front = await spawnServer({
      name: REDIS_PEER_PROCESSES.front,
      script: REDIS_PEER_MAIN,
      args: ['--redis-port', String(redis.port)],
      env: { ...process.env, ORDO_BENCH_PEER_TOKEN: BENCH_TOKENS.admin },
      dataDir: null,
      readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
    });
  } catch (err) {
    liveServers.delete(redis);
    await redis.stop();
    throw err;
  }
  liveServers.delete(front);
  const peer: ServerProcess = {
    url: front.url,
    port: front.port,
    pid: front.pid,
    dataDir: redis.dir,
    // Redis's lines at `warning` level are problems worth reporting too.
    get output() {
      return [...front.output, ...redis.output.map((l) => `redis-server: ${l}`)];
    },
    get exit() {
      return front.exit;
    },
    set exit(e) {
      front.exit = e;
    },
    async rss() {
      const [a, b] = await Promise.all([front.rss(), processRssBytes(redis.pid)]);
      return a === null || b === null ? null : a + b;
    },
    cpuSecondsByProcess: () => ({ ...front.cpuSecondsByProcess(), [REDIS_PEER_PROCESSES.redis]: redis.cpuSeconds() }),
    async stop(graceMs) {
      liveServers.delete(peer);
      // A redis-server that died under the run is the peer crashing, whatever the front did.
      const redisExit = redis.exit;
      try {
        const r = await front.stop(graceMs);
        return redisExit === null ? r : { ...redisExit, killed: r.killed, exitedEarly: true };
      } finally {
        liveServers.delete(redis);
        await redis.stop(graceMs);
      }
    },
  };
  liveServers.add(peer);
  return peer;
}

/**
 * The minimal durable peer (minimal-peer-server.ts) as a child process, on a fresh data directory
 * (`dataDir`: an existing one, which it replays, and which `stop()` then leaves in place).
 */
export async function startMinimalPeer(opts: { dataRoot?: string; dataDir?: string; readyTimeoutMs?: number } = {}): Promise<ServerProcess> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(opts.dataRoot ?? tmpdir(), 'ordo-bench-minimal-')));
  return spawnServer({
    name: 'minimal peer',
    script: MINIMAL_PEER_MAIN,
    args: ['--data', dataDir],
    env: { ...process.env, ORDO_BENCH_PEER_TOKEN: BENCH_TOKENS.admin },
    // Removed by stop() only when it was made here.
    dataDir: opts.dataDir === undefined ? dataDir : null,
    readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
  });
}
