import { wireError } from '../protocol/errors.js';
import type { Reply } from '../protocol/messages.js';
import type { CommandRuntime } from './command-runtime.js';

/** Maps and Sets (actor states use them) as plain JSON objects and arrays. */
export function plainReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  return value;
}

/**
 * `actor.inspect` (admin only, an extension): what `ordo inspect` shows of a stopped data
 * directory, read from the live runtime. The state goes out as plain JSON because the reply is
 * serialised with JSON.stringify, which would turn a Map into `{}`.
 */
export async function inspectActor(rt: CommandRuntime, key: string): Promise<Reply> {
  const found = await rt.inspect(key);
  if (found === null || found === undefined) return { ok: false, error: wireError('NOT_FOUND', `no actor ${key}`) };
  return { ok: true, actor: JSON.parse(JSON.stringify(found, plainReplacer)) as unknown };
}
