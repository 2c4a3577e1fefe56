import { test } from 'uvu';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OrdoClient } from '../src/client/ordo-client.js';
import { spawnServer } from './helpers/child-server.js';
import { checkInvariants } from './helpers/invariants.js';
import { startServer, withTempDir } from './helpers/server.js';

const STOCK = { a: 50, b: 50 };

async function journalsOf(dataDir: string): Promise<{ meta: number; dirs: string[] }> {
  const meta = JSON.parse(await readFile(join(dataDir, 'meta.json'), 'utf8')) as { journals: number };
  const dirs = await readdir(join(dataDir, 'journals')).catch(() => [] as string[]);
  return { meta: meta.journals, dirs: dirs.sort() };
}

/** Sets the initial stock. */
async function setStock(admin: OrdoClient): Promise<void> {
  for (const [sku, onHand] of Object.entries(STOCK)) assert.ok((await admin.call('inventory.set', { sku, onHand })).ok);
}

async function placeSome(admin: OrdoClient, prefix: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const orderId = `${prefix}-${i}`;
    const r = await admin.call('order.place', { orderId, customerId: 'alice', items: [{ sku: i % 2 ? 'a' : 'b', quantity: 1 }] });
    assert.ok(r.ok, JSON.stringify(r));
    ids.push(orderId);
  }
  return ids;
}

test('after a clean stop, a start with another thread count changes the journal count; nothing is lost', () =>
  withTempDir('ordo-layout-', async (dataDir) => {
    const ids: string[] = [];
    {
      const srv = await startServer({ dataDir, workers: 2 });
      assert.deepEqual(await journalsOf(dataDir), { meta: 2, dirs: ['0000', '0001'] });
      const admin = await srv.connect('tok-admin');
      await setStock(admin);
      ids.push(...(await placeSome(admin, 'two', 10)));
      await srv.stop();
    }
    {
      const srv = await startServer({ dataDir, workers: 1 });
      assert.equal(srv.runtime.journalCount, 1);
      assert.equal(srv.runtime.workerCount, 1);
      assert.deepEqual((await journalsOf(dataDir)).meta, 1);
      const admin = await srv.connect('tok-admin');
      ids.push(...(await placeSome(admin, 'one', 10)));
      await checkInvariants(admin, STOCK, ids);
      await srv.stop();
    }
    {
      const srv = await startServer({ dataDir, workers: 2 });
      assert.equal(srv.runtime.journalCount, 2);
      const admin = await srv.connect('tok-admin');
      const { orders, stock } = await checkInvariants(admin, STOCK, ids);
      assert.equal(orders.length, 20, 'every order survived both changes');
      assert.equal(stock.a!.reserved + stock.b!.reserved, 20);
      await srv.stop();
    }
  }),
);

test('with records left to replay (after kill -9) the layout stays, on fewer threads, until a clean stop', () =>
  withTempDir('ordo-layout-', async (dataDir) => {
    const doomed = await spawnServer(dataDir); // two host threads, two journals
    const admin0 = await OrdoClient.connect(doomed.url, 'tok-admin');
    await setStock(admin0);
    const ids = await placeSome(admin0, 'k', 10);
    await admin0.close();
    assert.equal(await doomed.kill('SIGKILL'), 'SIGKILL');

    {
      const srv = await startServer({ dataDir, workers: 1 });
      assert.equal(srv.runtime.journalCount, 2, 'the journals held records: layout unchanged');
      assert.equal(srv.runtime.workerCount, 1, 'one thread hosts both journals');
      const admin = await srv.connect('tok-admin');
      const { orders } = await checkInvariants(admin, STOCK, ids);
      assert.equal(orders.length, 10);
      await srv.stop();
    }
    {
      const srv = await startServer({ dataDir, workers: 1 });
      assert.equal(srv.runtime.journalCount, 1, 'changed at the first start after a clean stop');
      assert.deepEqual(await journalsOf(dataDir), { meta: 1, dirs: ['0000'] });
      const admin = await srv.connect('tok-admin');
      assert.equal((await checkInvariants(admin, STOCK, ids)).orders.length, 10);
      await srv.stop();
    }
  }),
);

test('as many journals as shards: they live in the journals directory, and their count changes like any other', () =>
  withTempDir('ordo-layout-', async (dataDir) => {
    let ids: string[];
    {
      // As many threads as shards: one journal per shard.
      const srv = await startServer({ dataDir, workers: 4, shards: 4 });
      assert.equal(srv.runtime.journalCount, 4);
      const admin = await srv.connect('tok-admin');
      await setStock(admin);
      ids = await placeSome(admin, 'four', 10);
      assert.deepEqual(await journalsOf(dataDir), { meta: 4, dirs: ['0000', '0001', '0002', '0003'] });
      await srv.stop();
      const inShardDir = (await readdir(join(dataDir, 'shards', '0000'))).filter((n) => n.startsWith('segment-'));
      assert.deepEqual(inShardDir, [], 'no segment in a shard directory');
    }
    const srv = await startServer({ dataDir, workers: 2, shards: 4 });
    assert.equal(srv.runtime.journalCount, 2);
    assert.deepEqual(await journalsOf(dataDir), { meta: 2, dirs: ['0000', '0001'] });
    const admin = await srv.connect('tok-admin');
    assert.equal((await checkInvariants(admin, STOCK, ids)).orders.length, 10);
    await srv.stop();
  }),
);

test('more journals than threads: a thread hosts several, each its own commit; orders flow across them and survive a change of count', () =>
  withTempDir('ordo-layout-', async (dataDir) => {
    let ids: string[];
    {
      // Three journals on two threads: thread 0 hosts journals 0 and 2, thread 1 journal 1.
      const srv = await startServer({ dataDir, workers: 2, shards: 6, journals: 3 });
      assert.deepEqual([srv.runtime.journalCount, srv.runtime.workerCount], [3, 2]);
      const admin = await srv.connect('tok-admin');
      await setStock(admin);
      ids = await placeSome(admin, 'three', 12);
      // Multi-SKU orders reach SKUs on other journals and threads; a cancellation releases them.
      for (let i = 0; i < 4; i++) {
        const orderId = `both-${i}`;
        assert.ok((await admin.call('order.place', { orderId, customerId: 'alice', items: [{ sku: 'a', quantity: 2 }, { sku: 'b', quantity: 1 }] })).ok);
        ids.push(orderId);
      }
      assert.ok((await admin.call('order.cancel', { orderId: 'both-0' })).ok);
      const { stock } = await checkInvariants(admin, STOCK, ids);
      assert.equal(stock.a!.reserved + stock.b!.reserved, 12 + 3 * 3);
      await srv.stop();
    }
    const srv = await startServer({ dataDir, workers: 2, shards: 6, journals: 2 });
    assert.deepEqual([srv.runtime.journalCount, srv.runtime.workerCount], [2, 2]);
    assert.deepEqual((await journalsOf(dataDir)).dirs, ['0000', '0001'], 'journal 2 is gone');
    const admin = await srv.connect('tok-admin');
    const { orders } = await checkInvariants(admin, STOCK, ids);
    assert.equal(orders.length, 16);
    assert.equal(orders.find((o) => o.orderId === 'both-0')!.status, 'cancelled');
    await srv.stop();
  }),
);

test.run();
