import { parseArgs } from 'node:util';
import { DEFAULTS } from '../defaults.js';
import { createLogger } from '../logger.js';
import { ActorRuntime } from '../runtime/hosting/actor-runtime.js';
import { journalCount, openDataDir } from '../runtime/storage/data-dir.js';
import { lockDataDir } from '../runtime/storage/data-dir-lock.js';
import { DataDirLockedError } from '../runtime/errors.js';
import { Failure } from './usage.js';

/** Snapshots every shard of a stopped server's data directory and drops covered journal segments. */
export async function compact(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args, options: { data: { type: 'string' } }, strict: true });
  const dataDir = values.data ?? env.ORDO_DATA_DIR ?? './data';
  let release: () => Promise<void>;
  try {
    release = await lockDataDir(dataDir);
  } catch (err) {
    if (err instanceof DataDirLockedError) throw new Failure(err.message);
    throw err;
  }
  try {
    const log = createLogger('ordo-compact');
    // The directory's own layout: compacting is no occasion to change its journal count.
    const journals = journalCount(await openDataDir(dataDir, DEFAULTS.shards, { create: false }));
    const rt = await ActorRuntime.start({ dataDir, log, workers: journals, journals });
    const shards = await rt.compact();
    await rt.stop();
    console.log(`compacted ${shards} shards in ${dataDir}`);
    return 0;
  } finally {
    await release();
  }
}
