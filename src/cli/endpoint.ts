import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Failure } from './usage.js';

/**
 * Where a running server can be reached and with which token. A server started with `--port 0`
 * (tests, containers) is only findable through what it wrote into its data directory, so
 * `ordo serve` records its endpoint in `<data>/server.json` while it runs.
 */
const SERVER_FILE = 'server.json';

export async function writeServerFile(dataDir: string, info: { pid: number; url: string }): Promise<void> {
  await writeFile(join(dataDir, SERVER_FILE), JSON.stringify(info) + '\n');
}

export async function removeServerFile(dataDir: string): Promise<void> {
  await rm(join(dataDir, SERVER_FILE), { force: true });
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch {
    return undefined; // absent or unreadable: the caller falls back to the next source
  }
}

export async function serverUrl(explicit: string | undefined, dataDir: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (explicit) return explicit;
  if (env.ORDO_URL) return env.ORDO_URL;
  const info = (await readJson(join(dataDir, SERVER_FILE))) as { url?: unknown } | undefined;
  if (typeof info?.url === 'string') return info.url;
  return 'ws://127.0.0.1:8080/ws';
}

function adminTokenOf(table: unknown): string | undefined {
  if (typeof table !== 'object' || table === null) return undefined;
  for (const [token, p] of Object.entries(table as Record<string, { role?: unknown }>)) {
    if (p?.role === 'admin') return token;
  }
  return undefined;
}

/** --token, else ORDO_TOKEN, else the admin token of ORDO_TOKENS, else that of <data>/tokens.json. */
export async function serverToken(explicit: string | undefined, dataDir: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (explicit) return explicit;
  if (env.ORDO_TOKEN) return env.ORDO_TOKEN;
  let fromEnv: unknown;
  try {
    fromEnv = env.ORDO_TOKENS ? JSON.parse(env.ORDO_TOKENS) : undefined;
  } catch {
    fromEnv = undefined;
  }
  const token = adminTokenOf(fromEnv) ?? adminTokenOf(await readJson(join(dataDir, 'tokens.json')));
  if (!token) throw new Failure(`no token: pass --token, or set ORDO_TOKEN (no admin token in ORDO_TOKENS or ${join(dataDir, 'tokens.json')})`);
  return token;
}
