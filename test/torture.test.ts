import { test } from 'uvu';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { OrdoClient, type ReplyFrame } from '../src/client/ordo-client.js';
import type { Order, OrderStatus } from '../src/protocol/model.js';
import { spawnServer } from './helpers/child-server.js';
import { checkInvariants } from './helpers/invariants.js';
import { withTempDir } from './helpers/server.js';

/**
 * A small form of the torture that found nothing lost: three `kill -9`s under mixed lifecycle
 * traffic (place, pay, pack, dispatch, deliver, cancel, adjust) with snapshots every 64 KiB of
 * journal, every invariant checked right after each restart.
 */
const SKUS = ['t1', 't2', 't3', 't4'];
const INITIAL = Object.fromEntries(SKUS.map((s) => [s, 50_000]));
const STEPS: [type: string, args: (orderId: string) => Record<string, unknown>, reached: OrderStatus][] = [
  ['order.pay', (orderId) => ({ orderId, paymentRef: `p-${orderId}` }), 'paid'],
  ['wms.packed', (orderId) => ({ orderId }), 'packed'],
  ['tms.ack', (orderId) => ({ orderId, trackingNo: `t-${orderId}` }), 'dispatched'],
  ['tms.delivered', (orderId) => ({ orderId }), 'delivered'],
];
const RANK: Partial<Record<OrderStatus, number>> = { awaiting_payment: 0, paid: 1, picking: 1, packed: 2, dispatched: 3, delivered: 4 };

interface Acked {
  status: OrderStatus;
  cancelTried: boolean;
}

test('three kill -9s under mixed lifecycle traffic: nothing acknowledged lost or regressed, adjustments once, stock exact', async () => {
  await withTempDir('ordo-torture-', async (dataDir) => {
    const env = { ORDO_SNAPSHOT_BYTES: '65536' };
    let srv = await spawnServer(dataDir, env);
    const attempted: string[] = [];
    const acked = new Map<string, Acked>();
    /** adjustmentId → what it adjusts, whether or not its reply arrived. */
    const adjustments = new Map<string, { sku: string; delta: number }>();
    try {
      const first = await OrdoClient.connect(srv.url, 'tok-admin');
      for (const sku of SKUS) assert.ok((await first.call('inventory.set', { sku, onHand: INITIAL[sku] })).ok);
      await first.close();
      for (let kill = 1; kill <= 3; kill++) {
        const conns = await Promise.all(Array.from({ length: 6 }, () => OrdoClient.connect(srv.url, 'tok-admin', { keepEvents: false })));
        let running = true;
        const closed = (r: ReplyFrame) => r.error?.code === 'CLOSED';
        const loops = conns.map(async (c, n) => {
          for (let i = 0; running; i++) {
            if (i % 7 === 3) {
              const adjustmentId = randomUUID();
              const adj = { sku: SKUS[i % SKUS.length]!, delta: 1 + (i % 5) };
              adjustments.set(adjustmentId, adj);
              if (closed(await c.call('inventory.adjust', { ...adj, adjustmentId }))) return;
              continue;
            }
            const orderId = randomUUID();
            attempted.push(orderId);
            const items = SKUS.filter((_, k) => (k + i) % 3 === 0).map((sku) => ({ sku, quantity: 1 + (i % 2) }));
            const placed = await c.call('order.place', { orderId, customerId: `c${n}`, items });
            if (closed(placed)) return;
            if (!placed.ok) continue;
            const a: Acked = { status: 'awaiting_payment', cancelTried: false };
            acked.set(orderId, a);
            // Each order goes a random way down the lifecycle, sometimes cancelled on the way.
            const depth = (i * 7 + n) % (STEPS.length + 1);
            const cancelAt = i % 5 === 0 ? i % (depth + 1) : -1;
            for (let step = 0; step <= depth; step++) {
              if (step === cancelAt) {
                a.cancelTried = true;
                const r = await c.call('order.cancel', { orderId });
                if (closed(r)) return;
                if (r.ok) a.status = 'cancelled';
                break;
              }
              if (step === depth) break;
              const [type, args, reached] = STEPS[step]!;
              const r = await c.call(type, args(orderId));
              if (closed(r)) return;
              assert.ok(r.ok, `${type} ${orderId}: ${JSON.stringify(r)}`);
              a.status = reached;
            }
          }
        });
        // Let the load run long enough to cross several snapshots, then kill in mid-flight.
        await new Promise((r) => setTimeout(r, 700 + kill * 150));
        await srv.kill('SIGKILL');
        running = false;
        await Promise.all(loops);

        srv = await spawnServer(dataDir, env);
        const admin = await OrdoClient.connect(srv.url, 'tok-admin');
        // Nothing acknowledged is lost or went back.
        for (const [orderId, a] of acked) {
          const r = await admin.call('order.get', { orderId });
          assert.ok(r.ok, `acknowledged order ${orderId} is missing after kill ${kill}`);
          const o = r.order as Order;
          if (a.status === 'cancelled') assert.equal(o.status, 'cancelled', `${orderId} was acknowledged cancelled`);
          else if (o.status === 'cancelled') assert.ok(a.cancelTried && RANK[a.status]! < 3, `${orderId} cancelled, acknowledged ${a.status}`);
          else assert.ok(RANK[o.status]! >= RANK[a.status]!, `${orderId} regressed from ${a.status} to ${o.status} after kill ${kill}`);
          a.status = o.status;
        }
        // An adjustment whose reply the crash swallowed is re-sent with its id: applied once in all.
        const expected = { ...INITIAL };
        for (const [adjustmentId, adj] of adjustments) {
          assert.ok((await admin.call('inventory.adjust', { ...adj, adjustmentId })).ok);
          expected[adj.sku]! += adj.delta;
        }
        // Exact right after the restart (holds of placements the crash killed are already verified):
        // reserved = Σ live orders, onHand = initial + adjustments − shipped, never cancelled and dispatched.
        const { orders } = await checkInvariants(admin, expected, attempted);
        assert.ok(orders.length >= acked.size);
        await admin.close();
      }
      assert.ok(acked.size > 100, `the load was real (${acked.size} orders acknowledged)`);
      assert.ok(adjustments.size > 10, `adjustments were made (${adjustments.size})`);
      assert.equal(await srv.kill('SIGTERM'), 0);
    } finally {
      await srv.kill('SIGKILL');
    }
  });
});

test.run();
