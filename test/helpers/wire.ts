import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { OrdoClient, ReplyFrame } from '../../src/client/ordo-client.js';

/** Shared assertions of the socket-level suites (conformance, lifecycle). */

export const uid = (prefix: string): string => `${prefix}-${randomUUID()}`;

/** Fails instead of hanging when the server never answers. */
export function within<T>(p: Promise<T>, ms = 5_000, what = 'reply'): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function call(c: OrdoClient, type: string, args: Record<string, unknown> = {}): Promise<ReplyFrame> {
  return within(c.call(type, args), 5_000, `reply to ${type}`);
}

/** Messages never carry stack traces, file paths or tokens. */
export function assertCleanMessage(r: ReplyFrame): void {
  const text = JSON.stringify(r.error);
  assert.equal(typeof r.error?.message, 'string', `error has a message: ${JSON.stringify(r)}`);
  for (const bad of ['    at ', '/work', 'dist/', 'src/', 'node_modules', 'tok-']) {
    assert.ok(!text.includes(bad), `error must not contain ${JSON.stringify(bad)}: ${text}`);
  }
}

export function expectErr(r: ReplyFrame, code: string, extra: Record<string, unknown> = {}): NonNullable<ReplyFrame['error']> {
  assert.equal(r.ok, false, `expected ${code}, got ${JSON.stringify(r)}`);
  assert.ok(r.error, `error object present: ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code, `expected ${code}, got ${JSON.stringify(r)}`);
  for (const [k, v] of Object.entries(extra)) {
    assert.deepEqual((r.error as Record<string, unknown>)[k], v, `error.${k} of ${JSON.stringify(r)}`);
  }
  assertCleanMessage(r);
  return r.error;
}

export function expectOk(r: ReplyFrame): ReplyFrame {
  assert.equal(r.ok, true, `expected ok, got ${JSON.stringify(r)}`);
  return r;
}
