/** Entry point of a worker thread hosting shards (see host-endpoint.ts for what it is told). */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../../logger.js';
import type { HostConfig } from './host-protocol.js';
import { serveHost } from './host-endpoint.js';
import { DEFAULT_HEAP_GROWTH, governHeapGrowth } from '../heap-growth.js';

const config = workerData as HostConfig;
governHeapGrowth(config.heapGrowth ?? DEFAULT_HEAP_GROWTH);
serveHost(parentPort!, config, createLogger(`shard-host-${config.index}`));
