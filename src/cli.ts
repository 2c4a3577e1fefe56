/**
 * `ordo` operator commands, run against a data directory while the server is stopped
 * (the data directory lock keeps them from racing a live server):
 *
 *   ordo inspect order <orderId> [--data DIR]   an order actor's state, timers and outbox
 *   ordo inspect sku <sku> [--data DIR]         a SKU actor's stock and holds
 *   ordo compact [--data DIR]                   snapshot every shard now and drop covered journal segments
 */
import { parseArgs } from 'node:util';
import { createLogger } from './logger.js';
import { ActorKeys } from './protocol/messages.js';
import { ActorRuntime } from './runtime/hosting/actor-runtime.js';
import { journalCount, journalDir, openDataDir, shardDir } from './runtime/storage/data-dir.js';
import { DataDirLockedError } from './runtime/errors.js';
import { lockDataDir } from './runtime/storage/data-dir-lock.js';
import { FileShardStore } from './runtime/storage/file-shard-store.js';
import { journalOf, shardOf } from './runtime/hosting/placement.js';
import { PendingBatch } from './runtime/journal/pending-batch.js';
import { Shard } from './runtime/kernel/shard.js';
import { Journal } from './runtime/journal/journal.js';
import { systemClock } from './runtime/kernel/clock.js';

const USAGE = `usage:
  ordo inspect order <orderId> [--data DIR]
  ordo inspect sku <sku> [--data DIR]
  ordo compact [--data DIR]
(--data defaults to ORDO_DATA_DIR or ./data; stop the server first)`;

/** Maps and Sets as plain JSON. */
function plain(_k: string, v: unknown): unknown {
  if (v instanceof Map) return Object.fromEntries(v);
  if (v instanceof Set) return [...v];
  return v;
}

async function inspect(dataDir: string, key: string): Promise<number> {
  const meta = await openDataDir(dataDir, 8, { create: false });
  const id = shardOf(key, meta.shards);
  const J = journalCount(meta);
  // Read-only: the other shards' records in the shared journal are skipped, nothing is written.
  const journal = new Journal(journalDir(dataDir, journalOf(id, J)), [id], (k) => shardOf(k, meta.shards), () => {}, true);
  const shard = new Shard(id, {
    clock: systemClock,
    store: new FileShardStore(shardDir(dataDir, id), 256, () => {}, { shared: journal, shard: id }),
    pending: new PendingBatch(),
    sameJournal: () => undefined,
    onWork: () => {},
    onActorError: () => {},
  });
  await shard.recover(); // timers are collected, never armed: nothing runs
  const found = await shard.inspect(key);
  await shard.store.close();
  if (!found) {
    console.error(`no actor ${key} in ${dataDir}`);
    return 1;
  }
  const { inMemory: _inMemory, ...view } = found;
  console.log(JSON.stringify({ shard: id, ...view }, plain, 2));
  return 0;
}

async function compact(dataDir: string): Promise<number> {
  const log = createLogger('ordo-compact');
  // The directory's own layout: compacting is no occasion to change its journal count.
  const journals = journalCount(await openDataDir(dataDir, 8, { create: false }));
  const rt = await ActorRuntime.start({ dataDir, log, workers: journals, journals });
  const shards = await rt.compact();
  await rt.stop();
  console.log(`compacted ${shards} shards in ${dataDir}`);
  return 0;
}

export async function cli(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { data: { type: 'string' } }, allowPositionals: true });
  const dataDir = values.data ?? process.env.ORDO_DATA_DIR ?? './data';
  const [cmd, kind, id] = positionals;
  if (cmd !== 'inspect' && cmd !== 'compact') {
    console.error(USAGE);
    return 2;
  }
  let release: () => Promise<void>;
  try {
    release = await lockDataDir(dataDir);
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      console.error(`ordo: ${err.message}`);
      return 1;
    }
    throw err;
  }
  try {
    if (cmd === 'compact') return await compact(dataDir);
    if ((kind !== 'order' && kind !== 'sku') || !id) {
      console.error(USAGE);
      return 2;
    }
    return await inspect(dataDir, kind === 'order' ? ActorKeys.order(id) : ActorKeys.sku(id));
  } finally {
    await release();
  }
}
