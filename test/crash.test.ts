import { test } from 'uvu';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { OrdoClient } from '../src/client/ordo-client.js';
import type { Order } from '../src/protocol/model.js';
import { spawnServer } from './helpers/child-server.js';
import { checkInvariants } from './helpers/invariants.js';
import { tempDir } from './helpers/server.js';

const SKUS = ['k1', 'k2', 'k3', 'k4', 'k5'];
const INITIAL = Object.fromEntries(SKUS.map((s) => [s, 100_000]));
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, probe: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await pause(25);
  }
}

test('kill -9 mid-load, five times: acknowledged orders survive, stock is conserved, lapsed deadlines fire', async () => {
  const dataDir = await tempDir('ordo-crash-');
  const attempted: string[] = [];
  const acked = new Map<string, 'placed' | 'paid'>();
  try {
    let srv = await spawnServer(dataDir);
    {
      const admin = await OrdoClient.connect(srv.url, 'tok-admin');
      for (const sku of SKUS) assert.ok((await admin.call('inventory.set', { sku, onHand: INITIAL[sku] })).ok);
      await admin.close();
    }
    for (let kill = 1; kill <= 5; kill++) {
      // Load: 8 connections placing (and sometimes paying) orders as fast as they are answered.
      const conns = await Promise.all(Array.from({ length: 8 }, () => OrdoClient.connect(srv.url, 'tok-admin', { keepEvents: false })));
      let running = true;
      const loops = conns.map(async (c, n) => {
        for (let i = 0; running; i++) {
          const orderId = randomUUID();
          const skus = [...SKUS].sort(() => Math.random() - 0.5).slice(0, 1 + (i % 2));
          attempted.push(orderId);
          const r = await c.call('order.place', {
            orderId,
            customerId: `c${n}`,
            items: skus.map((sku) => ({ sku, quantity: 1 + (i % 3) })),
            paymentTimeoutMs: i % 3 === 0 ? 150 : 600_000,
          });
          if (r.error?.code === 'CLOSED') break;
          if (!r.ok) continue;
          acked.set(orderId, 'placed');
          if (i % 4 === 1) {
            const p = await c.call('order.pay', { orderId, paymentRef: `p-${orderId}` });
            if (p.ok) acked.set(orderId, 'paid');
          }
        }
      });
      await pause(150 + Math.random() * 350);
      await srv.kill('SIGKILL');
      running = false;
      await Promise.all(loops);
      await pause(200); // long enough for some 150 ms deadlines to pass while down

      srv = await spawnServer(dataDir);
      const admin = await OrdoClient.connect(srv.url, 'tok-admin');
      for (const [orderId, what] of acked) {
        const r = await admin.call('order.get', { orderId });
        assert.ok(r.ok, `acknowledged order ${orderId} is missing after kill ${kill}`);
        const status = (r.order as Order).status;
        if (what === 'paid') assert.ok(status !== 'awaiting_payment', `paid order ${orderId} lost its payment`);
      }
      // Deadlines that passed while the server was down fire promptly after the restart.
      await until('lapsed deadlines to fire', async () => {
        for (const orderId of attempted) {
          const r = await admin.call('order.get', { orderId });
          const o = r.order as Order | undefined;
          if (o && o.status === 'awaiting_payment' && o.paymentDeadline < Date.now() - 100) return false;
        }
        return true;
      });
      // Exact at once: holds of placements the crash killed were verified before the server served.
      await checkInvariants(admin, INITIAL, attempted);
      await admin.close();
    }
    assert.ok(acked.size > 50, `the load was real (${acked.size} orders acknowledged)`);
    await srv.kill('SIGTERM');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
