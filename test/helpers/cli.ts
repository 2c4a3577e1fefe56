import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ORDO_BIN = fileURLToPath(new URL('../../../bin/ordo.mjs', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `ordo ...args` as a real process and collects its output. Asynchronous, so a test can
 * run it beside a server in the same process; killed after `ms` so a hang fails the test.
 */
export function runOrdo(args: string[], env: Record<string, string | undefined> = {}, ms = 20_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [ORDO_BIN, ...args], {
      env: { ...cleanEnv(), ORDO_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`ordo ${args.join(' ')} did not exit within ${ms} ms\n${stdout}\n${stderr}`));
    }, ms);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The test's environment without ORDO_* settings that would change what the CLI picks. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('ORDO_')) env[k] = v;
  return env;
}
