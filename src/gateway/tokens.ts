import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Principal, type Role, ROLES } from '../protocol/model.js';

const IDENT = /^[A-Za-z0-9._:-]{1,128}$/;

export class TokenConfigError extends Error {}

/**
 * The bearer tokens the gateway accepts. A presented token is looked up by its SHA-256 digest and
 * confirmed with a constant-time comparison, so response timing does not reveal how much of a
 * guessed token was right.
 */
export class TokenTable {
  private readonly byDigest = new Map<string, { digest: Buffer; principal: Principal }>();

  constructor(entries: Record<string, Principal>) {
    for (const [token, principal] of Object.entries(entries)) {
      const digest = createHash('sha256').update(token).digest();
      this.byDigest.set(digest.toString('hex'), { digest, principal });
    }
  }

  get size(): number {
    return this.byDigest.size;
  }

  lookup(token: string | undefined): Principal | undefined {
    if (!token) return undefined;
    const digest = createHash('sha256').update(token).digest();
    const hit = this.byDigest.get(digest.toString('hex'));
    return hit && timingSafeEqual(hit.digest, digest) ? hit.principal : undefined;
  }
}

/** Parses and checks a token map (`ORDO_TOKENS` or tokens.json); throws a message naming the bad entry. */
export function parseTokens(json: string, source: string): Record<string, Principal> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new TokenConfigError(`${source} is not valid JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TokenConfigError(`${source} must be a JSON object {"<token>": {"role": ..., "customerId"?: ...}}`);
  }
  const out: Record<string, Principal> = {};
  let n = 0;
  for (const [token, v] of Object.entries(raw)) {
    n++;
    const where = `${source}: token #${n}`; // never the token itself
    if (token.length < 1) throw new TokenConfigError(`${where} is empty`);
    if (typeof v !== 'object' || v === null) throw new TokenConfigError(`${where} must map to {"role": ...}`);
    const { role, customerId } = v as { role?: unknown; customerId?: unknown };
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      throw new TokenConfigError(`${where} has role ${JSON.stringify(role)}; expected one of ${ROLES.join(', ')}`);
    }
    if (role === 'customer') {
      if (typeof customerId !== 'string' || !IDENT.test(customerId)) {
        throw new TokenConfigError(`${where} (role customer) needs a customerId of 1..128 characters [A-Za-z0-9._:-]`);
      }
      out[token] = { role, customerId };
    } else {
      if (customerId !== undefined) throw new TokenConfigError(`${where}: customerId is only for role customer`);
      out[token] = { role: role as Role };
    }
  }
  if (n === 0) throw new TokenConfigError(`${source} defines no token`);
  return out;
}

export interface LoadedTokens {
  table: TokenTable;
  /** Where the tokens came from, to print at start (a path or `ORDO_TOKENS`), never the tokens. */
  source: string;
  generated: boolean;
  /** The tokens themselves, for in-process clients (the simulation). Never logged. */
  entries: Record<string, Principal>;
}

/**
 * `ORDO_TOKENS` when set; otherwise `<data>/tokens.json`, generated on first start with one token
 * per role (mode 0600). There is no open-access fallback.
 */
export async function loadTokens(tokensJson: string | undefined, dataDir: string): Promise<LoadedTokens> {
  if (tokensJson !== undefined) {
    const entries = parseTokens(tokensJson, 'ORDO_TOKENS');
    return { table: new TokenTable(entries), source: 'ORDO_TOKENS', generated: false, entries };
  }
  const file = join(dataDir, 'tokens.json');
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    const entries = parseTokens(text, file);
    return { table: new TokenTable(entries), source: file, generated: false, entries };
  }
  const entries: Record<string, Principal> = {};
  for (const role of ROLES) {
    entries[randomBytes(24).toString('base64url')] = role === 'customer' ? { role, customerId: 'demo' } : { role };
  }
  await mkdir(dataDir, { recursive: true });
  // `wx`: never overwrite a file another process just wrote; mode 0600 from the first byte.
  await writeFile(file, JSON.stringify(entries, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return { table: new TokenTable(entries), source: file, generated: true, entries };
}
