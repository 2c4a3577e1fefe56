import { randomUUID } from 'node:crypto';
import { OrdoClient, type EventFrame } from '../client/ordo-client.js';
import type { Order, Principal, Role } from '../protocol/model.js';

/**
 * `npm run demo`: a simulated warehouse, carrier, payment provider and a few shoppers drive the
 * server over the real protocol, and a readable line is printed for every step of every order.
 * Some shoppers never pay (their orders time out), some cancel, one in a while the carrier is
 * too late and finds the parcel intercepted.
 */
const CATALOGUE = [
  { sku: 'mug', onHand: 40 },
  { sku: 'tea-100g', onHand: 25 },
  { sku: 'teapot', onHand: 8 },
  { sku: 'coaster-set', onHand: 15 },
];
const PAYMENT_TIMEOUT_MS = 6_000;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));

function say(who: string, text: string): void {
  const t = new Date().toISOString().slice(11, 23);
  console.log(`${t}  ${who.padEnd(10)} ${text}`);
}

function short(orderId: string): string {
  return orderId.slice(0, 8);
}

function tokenFor(tokens: Record<string, Principal>, role: Role): string {
  const found = Object.entries(tokens).find(([, p]) => p.role === role);
  if (!found) throw new Error(`the simulation needs a token with role ${role}`);
  return found[0];
}

export function startSimulation(opts: { url: string; tokens: Record<string, Principal> }): void {
  run(opts).catch((err: unknown) => say('demo', `stopped: ${(err as Error).message}`));
}

async function run({ url, tokens }: { url: string; tokens: Record<string, Principal> }): Promise<void> {
  const connect = (role: Role) => OrdoClient.connect(url, tokenFor(tokens, role), { keepEvents: false });
  const [admin, payments, warehouse, carrier] = await Promise.all([connect('admin'), connect('payments'), connect('warehouse'), connect('carrier')]);

  for (const { sku, onHand } of CATALOGUE) await admin.call('inventory.set', { sku, onHand });
  say('admin', `stocked ${CATALOGUE.map((c) => `${c.onHand}× ${c.sku}`).join(', ')}`);

  // Every order's changes, as the admin sees them, make the story of the log.
  const watched = new Set<string>();
  admin.onEvent((e: EventFrame) => {
    if (e.event !== 'order.updated') return;
    const o = e.order as Order;
    const last = o.history[o.history.length - 1]!;
    if (last.by === 'timer') say('timer', `${short(o.orderId)} cancelled: payment_timeout, stock released`);
    if (last.status === 'picking') say('system', `${short(o.orderId)} handed to the warehouse → picking`);
  });

  await warehouse.call('feed.subscribe', { feed: 'warehouse' });
  warehouse.onEvent((e) => {
    const o = e.order as Order;
    void (async () => {
      await pause(between(800, 2500));
      const r = await warehouse.call('wms.packed', { orderId: o.orderId });
      say('warehouse', `${short(o.orderId)} ${r.ok ? 'packed, handed to the carrier' : `not packed: ${r.error?.code}`}`);
    })();
  });

  await carrier.call('feed.subscribe', { feed: 'carrier' });
  carrier.onEvent((e) => {
    const o = e.order as Order;
    void (async () => {
      await pause(between(800, 2500));
      const trackingNo = `TRK-${between(100000, 999999)}`;
      const r = await carrier.call('tms.ack', { orderId: o.orderId, trackingNo });
      if (!r.ok) {
        say('carrier', `${short(o.orderId)} ${r.error?.code === 'INTERCEPTED' ? 'INTERCEPTED: cancelled before hand-over, parcel stays' : r.error?.code}`);
        return;
      }
      say('carrier', `${short(o.orderId)} dispatched as ${trackingNo}`);
      await pause(between(1500, 3000));
      const d = await carrier.call('tms.delivered', { orderId: o.orderId });
      if (d.ok) say('carrier', `${short(o.orderId)} delivered`);
    })();
  });

  await payments.call('feed.subscribe', { feed: 'refunds' });
  payments.onEvent((e) => say('payments', `${short((e.order as Order).orderId)} refund due`));

  const shoppers = ['ana', 'bo', 'chen', 'dee'];
  for (;;) {
    await pause(between(700, 1800));
    const customerId = pick(shoppers);
    const items = [...CATALOGUE].sort(() => Math.random() - 0.5).slice(0, between(1, 3)).map((c) => ({ sku: c.sku, quantity: between(1, 3) }));
    const orderId = randomUUID();
    const placed = await admin.call('order.place', { orderId, customerId, items, paymentTimeoutMs: PAYMENT_TIMEOUT_MS });
    const what = items.map((i) => `${i.quantity}× ${i.sku}`).join(', ');
    if (!placed.ok) {
      say(customerId, `wanted ${what}: ${placed.error?.code} (${placed.error?.sku} has ${placed.error?.available}); restocking`);
      await admin.call('inventory.adjust', { sku: placed.error?.sku, delta: 10 });
      continue;
    }
    watched.add(orderId);
    await admin.call('order.subscribe', { orderId });
    say(customerId, `placed ${short(orderId)}: ${what}; pay within ${PAYMENT_TIMEOUT_MS / 1000}s`);
    const fate = Math.random();
    void (async () => {
      if (fate < 0.2) return; // never pays: the payment timer will cancel it
      await pause(between(300, 2000));
      if (fate < 0.3) {
        const c = await admin.call('order.cancel', { orderId, customerId });
        say(customerId, `cancelled ${short(orderId)} before paying: ${c.ok ? 'stock released' : c.error?.code}`);
        return;
      }
      const p = await payments.call('order.pay', { orderId, paymentRef: `PAY-${between(1000, 9999)}` });
      say('payments', `${short(orderId)} ${p.ok ? 'paid' : p.error?.code}`);
      if (p.ok && fate > 0.9) {
        await pause(between(1500, 3500));
        const c = await admin.call('order.cancel', { orderId });
        say(customerId, `cancels ${short(orderId)} after paying: ${c.ok ? 'cancelled, refund due' : `${c.error?.code} (${c.error?.status})`}`);
      }
    })();
  }
}
