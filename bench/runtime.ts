/**
 * `npm run bench:runtime`: the actor runtime alone, without sockets: a server's runtime with every
 * shard on this thread (as the default on two cores), its journal on disk with fdatasync, and 64
 * placers, each waiting for its reply before the next `order.place` (as the bench's connections
 * do). Replies are taken encoded for the wire, as the gateway takes them. Prints placements per
 * second and process CPU per placement (user and system).
 *
 * Why it exists: the socket bench's figures move by ±15% from one run to the next on a shared
 * 2-core VM, since its generator shares the cores; this one moves by a few percent, so a change
 * to the runtime of 5–10% shows in two or three alternated runs (docs/PERFORMANCE.md, "The fifth
 * round on issue 13"). It measures the runtime's cost, not the server's: add the gateway's.
 *
 *   node dist/bench/runtime.js [--placements 60000] [--warmup 20000] [--skus 1000] [--concurrency 64]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/logger.js';
import { ActorRuntime } from '../src/runtime/hosting/actor-runtime.js';
import type { Principal } from '../src/protocol/model.js';
import { count, toolArgs, withUsage } from './tool-args.js';

const ADMIN: Principal = { role: 'admin' };
const USAGE = 'usage: node dist/bench/runtime.js [--placements 60000] [--warmup 20000] [--skus 1000] [--concurrency 64]';

async function main(): Promise<void> {
  const values = toolArgs('bench:runtime', USAGE, {
    placements: { type: 'string', default: '60000' },
    warmup: { type: 'string', default: '20000' },
    skus: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '64' },
  });
  if (!values) return;
  const [measured, warmup, skuCount, concurrency] = withUsage('bench:runtime', USAGE, () => [count(values, 'placements'), count(values, 'warmup', 0), count(values, 'skus'), count(values, 'concurrency')]);
  const dataDir = await mkdtemp(join(tmpdir(), 'ordo-bench-runtime-'));
  const log = createLogger('bench');
  // The runtime's info lines (a snapshot round each few seconds) would interleave with the figure.
  if (process.env.ORDO_LOG_LEVEL === undefined) log.level = 'warn';
  const rt = await ActorRuntime.open({ dataDir, workers: 0, log });
  try {
    await rt.start();
    const skus = Array.from({ length: skuCount }, (_, i) => `s${i}`);
    await Promise.all(skus.map((sku) => rt.execute(`sku:${sku}`, { type: 'inventory.set', sku, onHand: 1e9 }, ADMIN)));
    const total = warmup + measured;
    let next = 0;
    let started: { cpu: NodeJS.CpuUsage; at: number } | null = null;
    const place = (i: number) =>
      new Promise<string>((frame) =>
        rt.executeEncoded(
          `order:o${i}`,
          { type: 'order.place', orderId: `o${i}`, customerId: 'c', items: [{ sku: skus[(i * 7919) % skuCount]!, quantity: 1 }], paymentTimeoutMs: 900_000 },
          ADMIN,
          undefined,
          { receive: (reply) => frame(reply.frame(String(i))) },
        ),
      );
    const placer = async () => {
      while (next < total) {
        const i = ++next;
        if (i === warmup + 1) started = { cpu: process.cpuUsage(), at: performance.now() };
        const frame = await place(i);
        if (!frame.includes('"ok":true')) throw new Error(`placement ${i} failed: ${frame}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, placer));
    const { cpu, at } = started!;
    const used = process.cpuUsage(cpu);
    const seconds = (performance.now() - at) / 1000;
    const per = (us: number) => (us / measured).toFixed(1);
    console.log(
      `${measured.toLocaleString('en-US')} placements (${skuCount} SKUs, ${concurrency} in flight): ${Math.round(measured / seconds).toLocaleString('en-US')}/s, ` +
        `${per(used.user + used.system)} µs CPU per placement (user ${per(used.user)}, system ${per(used.system)})`,
    );
  } finally {
    await rt.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
