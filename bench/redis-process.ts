/**
 * A real `redis-server` (Debian's package `redis-server`) for the Redis-Lua peer: started by the
 * bench itself on a free loopback port in a fresh temporary directory, durable the way the peer
 * claims to be (`appendonly yes`, `appendfsync always`: the append-only file is fsynced before
 * any reply leaves, the same promise as ordo's `ok`), no RDB snapshots (`save ''`), and stopped
 * and its directory removed at the end. Never the system's own service: nothing here touches it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processCpuSeconds } from './proc-stats.js';
import { freePort } from './free-port.js';

export const REDIS_SERVER = 'redis-server';

/**
 * Lines Redis prints at `warning` level on every start and stop: not problems. Anything else
 * it prints (a slow fsync, an AOF rewrite failing, ...) is kept and reported with the results.
 */
const ROUTINE = [/oO0OoO0OoO0Oo/, /Redis version=/, /Configuration loaded/, /Server initialized/, /Memory overcommit must be enabled/, /Received SIGTERM/, /User requested shutdown/, /ready to exit/];

/** Why the peer cannot run here, or null when `redis-server` is installed. */
export function redisServerMissing(): string | null {
  const r = spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' });
  return r.error || r.status !== 0 ? `${REDIS_SERVER} is not installed (Debian: apt-get install -y redis-server)` : null;
}

export interface RedisProcess {
  readonly port: number;
  readonly pid: number;
  /** Its working directory (the append-only files), removed by `stop()`. */
  readonly dir: string;
  /** What it printed but its routine start and stop lines (bounded). */
  readonly output: string[];
  /** Set once it has exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  /** CPU seconds used so far (see proc-stats.ts), or null. */
  cpuSeconds(): number | null;
  /** SIGTERM (Redis flushes its append-only file and exits), SIGKILL after `graceMs`; removes `dir`. */
  stop(graceMs?: number): Promise<void>;
}

/** Resolves true once a PING over TCP answers PONG (a fresh directory has nothing to load). */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
  });
}

/**
 * Starts `redis-server`; rejects if it is missing or not answering within `readyTimeoutMs`.
 *
 * @example
 *   const redis = await startRedis();
 *   try { ... new Redis({ port: redis.port }) ... } finally { await redis.stop(); }
 */
export async function startRedis(opts: { dataRoot?: string; readyTimeoutMs?: number } = {}): Promise<RedisProcess> {
  const missing = redisServerMissing();
  if (missing) throw new Error(missing);
  const dir = await mkdtemp(join(opts.dataRoot ?? tmpdir(), 'ordo-bench-redis-'));
  const port = await freePort();
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', 'always',
    '--save', '',
    '--daemonize', 'no',
    // Logs to stdout, collected below; no config file, so nothing of the system's service applies.
    '--logfile', '',
    '--loglevel', 'warning',
  ];
  const child: ChildProcess = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const collect = (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line.trim() && !ROUTINE.some((r) => r.test(line)) && output.length < 1000) output.push(line);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      handle.exit = { code, signal };
      resolve();
    }),
  );
  let stopped = false;
  const handle: RedisProcess = {
    port,
    pid: child.pid ?? -1,
    dir,
    output,
    exit: null,
    cpuSeconds: () => processCpuSeconds(child.pid ?? -1),
    async stop(graceMs = 5000) {
      if (stopped) return;
      stopped = true;
      if (handle.exit === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (handle.exit === null) child.kill('SIGKILL');
        }, graceMs);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
  for (;;) {
    if (handle.exit !== null) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`redis-server exited during start-up (code ${handle.exit.code}, signal ${handle.exit.signal}):\n${output.slice(-20).join('\n')}`);
    }
    if (await pong(port)) return handle;
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`redis-server not answering PING after ${opts.readyTimeoutMs ?? 10_000} ms:\n${output.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
