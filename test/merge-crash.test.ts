import { test } from 'uvu';
import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OrdoClient } from '../src/client/ordo-client.js';
import { readManifest } from '../src/runtime/storage/manifest.js';
import { runFileId } from '../src/runtime/storage/run-file.js';
import { spawnServer } from './helpers/child-server.js';
import { checkInvariants } from './helpers/invariants.js';
import { tempDir } from './helpers/server.js';

const SKUS = ['k1', 'k2', 'k3'];
const INITIAL = Object.fromEntries(SKUS.map((s) => [s, 1_000_000]));

/** Run files on disk that no manifest names, over every shard. */
async function unnamedRuns(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(join(dataDir, 'shards'))) {
    const snap = join(dataDir, 'shards', shard, 'snapshot');
    const names = await readdir(snap).catch(() => [] as string[]);
    const live = new Set((await readManifest(snap))?.runs.map((r) => r.id) ?? []);
    for (const n of names) {
      const id = runFileId(n);
      if (id !== null && !live.has(id)) out.push(join(shard, n));
    }
  }
  return out;
}

for (const step of ['written', 'committed'] as const) {
  test(`kill -9 inside a merge (${step}): acknowledged orders survive, and no run a merge left behind is in use`, async () => {
    const dataDir = await tempDir('ordo-merge-crash-');
    try {
      // Tiny snapshot trigger: rounds, and so merges, come every few hundred orders.
      let srv = await spawnServer(dataDir, { ORDO_SNAPSHOT_BYTES: '4096', ORDO_TEST_CRASH_IN_MERGE: step, ORDO_MAX_ACTORS: '200' });
      const admin = await OrdoClient.connect(srv.url, 'tok-admin');
      for (const sku of SKUS) assert.ok((await admin.call('inventory.set', { sku, onHand: INITIAL[sku] })).ok);
      await admin.close();
      const acked: string[] = [];
      const attempted: string[] = [];
      const conns = await Promise.all(Array.from({ length: 4 }, () => OrdoClient.connect(srv.url, 'tok-admin', { keepEvents: false })));
      await Promise.all(
        conns.map(async (c, n) => {
          for (let i = 0; ; i++) {
            const orderId = `o${n}-${i}`;
            attempted.push(orderId);
            const r = await c.call('order.place', { orderId, customerId: `c${n}`, items: [{ sku: SKUS[i % 3]!, quantity: 1 }], paymentTimeoutMs: 600_000 });
            if (r.error?.code === 'CLOSED') break;
            if (r.ok) acked.push(orderId);
          }
        }),
      );
      assert.equal(await srv.exited, 'SIGKILL', 'the server killed itself inside a merge');
      assert.ok(acked.length > 20, `the load was real (${acked.length} orders acknowledged)`);

      srv = await spawnServer(dataDir);
      assert.deepEqual(await unnamedRuns(dataDir), [], 'recovery deleted the runs no manifest names');
      const check = await OrdoClient.connect(srv.url, 'tok-admin');
      for (const orderId of acked) assert.ok((await check.call('order.get', { orderId })).ok, `acknowledged order ${orderId} is missing`);
      await checkInvariants(check, INITIAL, attempted);
      await check.close();
      await srv.kill('SIGTERM');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

test.run();
