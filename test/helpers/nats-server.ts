import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, freePorts } from '../../bench/free-port.js';

/**
 * A real `nats-server` with JetStream (Debian's package; .ci/run installs it) on loopback, its
 * store in a temporary directory. `stop()` is SIGTERM (a clean shutdown), `kill()` is SIGKILL
 * (a crash); `start()` again runs a new process on the same port and store directory.
 */
export interface NatsServer {
  readonly port: number;
  readonly url: string;
  /** JetStream's store directory (`-sd`), kept across restarts. */
  readonly storeDir: string;
  readonly output: string[];
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  /** Stops the server (if running) and removes its store directory. */
  dispose(): Promise<void>;
}

const running = new Set<ChildProcess>();
// A test file that fails or is stopped must not leave servers behind.
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

function natsServerBinary(): string {
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'ignore' });
    return 'nats-server';
  } catch {
    throw new Error('nats-server is not installed (Debian: apt-get install -y nats-server; .ci/run installs it)');
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = tcpConnect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export async function startNatsServer(opts: { port?: number; extraArgs?: string[]; readyLine?: string } = {}): Promise<NatsServer> {
  const bin = natsServerBinary();
  const storeDir = await mkdtemp(join(tmpdir(), 'ordo-nats-'));
  const port = opts.port ?? (await freePort());
  const output: string[] = [];
  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    if (proc) throw new Error('nats-server is already running');
    const p = spawn(bin, ['-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(port), ...(opts.extraArgs ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    running.add(p);
    exited = new Promise((resolve) =>
      p.once('exit', () => {
        running.delete(p);
        if (proc === p) proc = null;
        resolve();
      }),
    );
    let ready = false;
    const onData = (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (line) output.push(line);
        if (line.includes(opts.readyLine ?? 'Server is ready')) ready = true;
      }
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', onData);
    const deadline = Date.now() + 10_000;
    while (!(ready && (await accepts(port)))) {
      if (proc !== p) throw new Error(`nats-server exited during start:\n${output.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`nats-server did not become ready within 10 s:\n${output.join('\n')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (!proc) return;
    proc.kill(sig);
    await exited;
  };

  await start();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    storeDir,
    output,
    start,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async dispose() {
      await signal('SIGKILL');
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}

/**
 * Three `nats-server`s with JetStream clustered (routes between them on loopback), for streams
 * with three replicas (R3). Resolves once every server is ready; the JetStream meta leader may
 * still be being elected (callers retry their first requests).
 */
export async function startNatsCluster(size = 3): Promise<NatsServer[]> {
  const all = await freePorts(size * 2);
  const ports = all.slice(0, size);
  const routePorts = all.slice(size);
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const started = await Promise.allSettled(
    ports.map((port, i) =>
      startNatsServer({
        port,
        extraArgs: ['--server_name', `s${i + 1}`, '--cluster_name', 'ordo-test', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes],
      }),
    ),
  );
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // The caller gets no servers to dispose: the ones that did start would keep the test file's
    // process alive (their pipes) until the runner's timeout.
    for (const r of started) if (r.status === 'fulfilled') await r.value.dispose();
    throw failed.reason;
  }
  return started.map((r) => (r as PromiseFulfilledResult<NatsServer>).value);
}
