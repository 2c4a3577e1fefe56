import { parseArgs } from 'node:util';
import { plainReplacer } from '../gateway/inspect.js';
import { ActorKeys } from '../protocol/messages.js';
import { systemClock } from '../runtime/kernel/clock.js';
import { journalCount, journalDir, openDataDir, shardDir } from '../runtime/storage/data-dir.js';
import { lockDataDir } from '../runtime/storage/data-dir-lock.js';
import { DataDirLockedError } from '../runtime/errors.js';
import { FileShardStore } from '../runtime/storage/file-shard-store.js';
import { journalOf, shardOf } from '../runtime/placement.js';
import { ShardGroup } from '../runtime/hosting/shard-group.js';
import { Journal } from '../runtime/journal/journal.js';
import { serverToken, serverUrl } from './endpoint.js';
import { CliSocket } from './socket.js';
import { Failure, UsageError } from './usage.js';
import { DEFAULTS } from '../defaults.js';

/**
 * Reads one actor from a stopped server's files; no timer is armed and nothing runs. The one
 * write is the one the server's own start would make: a torn journal tail is cut off.
 */
async function inspectFiles(dataDir: string, key: string): Promise<unknown> {
  const meta = await openDataDir(dataDir, DEFAULTS.shards, { create: false });
  const id = shardOf(key, meta.shards);
  const J = journalCount(meta);
  // The other shards' records in the shared journal are skipped, not replayed.
  const journal = new Journal(journalDir(dataDir, journalOf(id, J)), [id], (k) => shardOf(k, meta.shards), () => {}, true);
  // The same wiring as a server's host thread, with the one shard that holds the key. It is
  // recovered and never started: timers are collected, never armed, and nothing runs.
  const group = new ShardGroup({
    clock: systemClock,
    members: [{ id, journal, store: new FileShardStore(shardDir(dataDir, id), DEFAULTS.partitions, () => {}, { shared: journal, shard: id }) }],
    shardCount: meta.shards,
    journalCount: J,
    release: () => {},
    onWork: () => {},
    onFatal: (what, err) => {
      throw new Failure(`${what}: ${(err as Error).message}`);
    },
    onActorError: () => {},
  });
  await group.recover();
  const found = await group.shards.get(id)!.inspect(key);
  await group.close();
  if (!found) throw new Failure(`no actor ${key} in ${dataDir}`);
  const { inMemory: _inMemory, ...view } = found;
  return { shard: id, ...view };
}

/** Asks a running server (admin-only `actor.inspect`). */
async function inspectLive(url: string, token: string, key: string): Promise<unknown> {
  const socket = await CliSocket.connect(url, token);
  try {
    return (await socket.call('actor.inspect', { key })).actor;
  } finally {
    await socket.close();
  }
}

export async function inspect(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { data: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const [kind, id, ...rest] = positionals;
  if (kind !== 'order' && kind !== 'sku') throw new UsageError('inspect takes `order <orderId>` or `sku <sku>` (see ordo inspect --help)');
  if (!id) throw new UsageError(`inspect ${kind} needs ${kind === 'order' ? 'an orderId' : 'a sku'} (see ordo inspect --help)`);
  if (rest.length) throw new UsageError(`unexpected argument ${rest[0]} (see ordo inspect --help)`);
  const key = kind === 'order' ? ActorKeys.order(id) : ActorKeys.sku(id);
  const dataDir = values.data ?? env.ORDO_DATA_DIR ?? './data';

  let view: unknown;
  if (values.url) {
    view = await inspectLive(values.url, await serverToken(values.token, dataDir, env), key);
  } else {
    let release: (() => Promise<void>) | null = null;
    try {
      release = await lockDataDir(dataDir);
    } catch (err) {
      // A running server holds the lock: ask it instead of reading files it is writing.
      if (!(err instanceof DataDirLockedError)) throw err;
    }
    try {
      view = release
        ? await inspectFiles(dataDir, key)
        : await inspectLive(await serverUrl(undefined, dataDir, env), await serverToken(values.token, dataDir, env), key);
    } finally {
      await release?.();
    }
  }
  console.log(JSON.stringify(view, plainReplacer, 2));
  return 0;
}
