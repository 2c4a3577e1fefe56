import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TOKENS } from './server.js';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface ChildServer {
  proc: ChildProcess;
  port: number;
  url: string;
  output: string[];
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

const children = new Set<ChildProcess>();
// A test file that fails or is stopped must not leave servers behind.
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(1);
  });
}

/**
 * The real server as a child process (`node dist/src/main.js`), for kill -9 and SIGTERM tests.
 * `nodeArgs` go to node before the script (e.g. `--import` of a preloaded module).
 */
export function spawnServer(dataDir: string, env: Record<string, string> = {}, args: string[] = [], nodeArgs: string[] = []): Promise<ChildServer> {
  const proc = spawn(process.execPath, [...nodeArgs, MAIN, '--port', '0', '--data', dataDir, '--workers', '2', ...args], {
    env: { ...process.env, ORDO_TOKENS: JSON.stringify(TOKENS), ORDO_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  children.add(proc);
  const exited = new Promise<number | string>((resolve) =>
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      resolve(code ?? signal ?? -1);
    }),
  );
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        output.push(line);
        const m = /ordo listening on ws:\/\/[^:]+:(\d+)\/ws/.exec(line);
        if (m) {
          const port = Number(m[1]);
          resolve({
            proc,
            port,
            url: `ws://127.0.0.1:${port}/ws`,
            output,
            exited,
            kill(signal = 'SIGKILL') {
              proc.kill(signal);
              return exited;
            },
          });
        }
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${output.join('\n')}`)));
  });
}
