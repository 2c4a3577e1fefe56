import { test } from 'uvu';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { OrdoClient } from '../src/client/ordo-client.js';
import type { Command } from '../src/protocol/commands.js';
import type { Order, Principal, Stock } from '../src/protocol/model.js';
import { LocalSystem } from '../src/runtime/testing/local-system.js';
import { type Action, type Executor, type Names, type Reply, type RuntimeEvent, runScenario, scenarioArb, TIMEOUTS, type Who } from './helpers/order-model.js';
import { startServer, type TestServer } from './helpers/server.js';

/**
 * Model-based property test: random interleavings of every lifecycle command, stock adjustments
 * and clock moves over 3–5 orders and 2–3 SKUs, each reply and the whole state checked against a
 * reference model of PROTOCOL.md after every step (see helpers/order-model.ts): reply ok/code (and
 * status, sku, available, field), every order field and its history, stock per SKU, conservation
 * (reserved = Σ live orders; onHand = initial + adjustments − shipped + returned), available ≥ 0,
 * never both cancelled and dispatched. In-process also: the published events, snapshots, restarts
 * on the same stores, passivation (1–3 actors in memory) and time skew (deadline passed, timer not
 * yet run). Bursts of 2–3 concurrent commands must be explained by some serial order.
 *
 * Reproduce a failure with MODEL_SEED=<seed>; scale with MODEL_RUNS / MODEL_SOCKET_RUNS;
 * MODEL_STATS=1 prints outcome coverage.
 */

const PRINCIPALS: Record<Who, Principal> = {
  alice: { role: 'customer', customerId: 'alice' },
  bob: { role: 'customer', customerId: 'bob' },
  admin: { role: 'admin' },
  payments: { role: 'payments' },
  warehouse: { role: 'warehouse' },
  carrier: { role: 'carrier' },
};
const ADMIN = PRINCIPALS.admin;

function actorKey(a: Action): string {
  switch (a.type) {
    case 'inventory.adjust':
    case 'inventory.get':
    case 'inventory.set':
      return `sku:${a.args.sku as string}`;
    case 'wms.packed':
    case 'return.received':
      return 'warehouse';
    case 'tms.ack':
    case 'tms.delivered':
      return 'carrier';
    default:
      return `order:${a.args.orderId as string}`;
  }
}

/** What the gateway's validation would hand the runtime for this action. */
function toCommand(a: Action): Command {
  const p = PRINCIPALS[a.who];
  if (a.type === 'order.place') {
    return {
      type: 'order.place',
      orderId: a.args.orderId as string,
      items: a.args.items as never,
      paymentTimeoutMs: a.args.paymentTimeoutMs as number,
      customerId: p.role === 'customer' ? (p.customerId as string) : (a.args.customerId as string),
    };
  }
  return { type: a.type, ...a.args } as Command;
}

/** Runs actions in-process; `restart` swaps in a new system on the same stores and clock. */
class LocalExecutor implements Executor {
  readonly actorErrors: string[] = [];

  constructor(
    public sys: LocalSystem,
    private readonly maxActiveActors: number,
  ) {}

  send(a: Action): Promise<Reply> {
    return this.sys.ask(actorKey(a), toCommand(a), PRINCIPALS[a.who]) as Promise<Reply>;
  }

  async sendMany(actions: Action[]): Promise<Reply[]> {
    const sent = actions.map((a) => this.sys.send(actorKey(a), toCommand(a), PRINCIPALS[a.who]) as Promise<Reply>);
    await this.sys.settle();
    return Promise.all(sent);
  }

  now(): number {
    return this.sys.clock.now();
  }

  advance(ms: number): Promise<void> {
    return this.sys.advance(ms);
  }

  skew(ms: number): void {
    // Time passes but the due timers have not run yet (a payment racing its own deadline).
    this.sys.clock.set(this.sys.clock.now() + ms);
  }

  snapshot(): Promise<void> {
    return this.sys.snapshotAll();
  }

  async restart(): Promise<void> {
    this.collectErrors();
    this.sys = await this.sys.restart({ maxActiveActors: this.maxActiveActors });
    // A restart after a settled system re-sends nothing; it changes only what was already due (timers).
  }

  drainEvents(): RuntimeEvent[] {
    return this.sys.events.splice(0) as RuntimeEvent[];
  }

  collectErrors(): void {
    for (const e of this.sys.actorErrors) this.actorErrors.push(`${e.key} ${e.message}: ${String(e.err)}`);
    this.sys.actorErrors.length = 0;
  }

  async readOrder(orderId: string): Promise<Order | null> {
    const r = await this.sys.ask(`order:${orderId}`, { type: 'order.get', orderId }, ADMIN);
    if (!r.ok) {
      assert.equal(r.error.code, 'NOT_FOUND', `order.get ${orderId}: ${JSON.stringify(r)}`);
      return null;
    }
    return r.order as Order;
  }

  async readStock(sku: string): Promise<Stock> {
    const r = await this.sys.ask(`sku:${sku}`, { type: 'inventory.get', sku }, ADMIN);
    assert.ok(r.ok && r.stock, `inventory.get ${sku}: ${JSON.stringify(r)}`);
    return r.stock;
  }

  async setStock(sku: string, onHand: number): Promise<void> {
    const r = await this.sys.ask(`sku:${sku}`, { type: 'inventory.set', sku, onHand }, ADMIN);
    assert.ok(r.ok);
  }
}

function printStats(title: string, stats: Map<string, number>): void {
  const lines = [...stats].sort((a, b) => a[0].localeCompare(b[0])).map(([k, n]) => `    ${k}: ${n}`);
  console.log(`${title} outcome coverage:\n${lines.join('\n')}`);
}

const LOCAL_NAMES: Names = {
  order: (i) => `o${i}`,
  sku: (i) => ['A', 'B', 'C'][i]!,
  unknownSku: 'Z',
  ref: (i) => `pay${i}`,
  trk: (i) => `T${i}`,
  adj: (sku, i) => `adj-${sku}-${i}`,
};

const LOCAL_RUNS = Number(process.env.MODEL_RUNS ?? 300);

test(`in-process LocalSystem follows the reference model (${LOCAL_RUNS} runs)`, async () => {
  const stats = new Map<string, number>();
  let runs = 0;
  let steps = 0;
  const started = Date.now();
  await fc.assert(
    // Journals: one per shard, or shared as by the host threads of a server (messages between
    // shards of one journal are then delivered at once, and their records share one batch).
    fc.asyncProperty(scenarioArb({ clock: true, restarts: true, bursts: true, maxOps: 40 }), fc.constantFrom(4, 2, 1), async (sc, journals) => {
      runs++;
      steps += sc.ops.length;
      const ex = new LocalExecutor(await LocalSystem.create({ shards: 4, journals, maxActiveActors: sc.maxActive }), sc.maxActive);
      try {
        await runScenario(sc, ex, LOCAL_NAMES, { timeouts: TIMEOUTS, exactTime: true, stats });
        ex.collectErrors();
        assert.deepEqual(ex.actorErrors, [], 'no actor threw');
      } finally {
        for (const s of ex.sys.shards) s.stop();
      }
    }),
    { numRuns: LOCAL_RUNS, includeErrorInReport: true, ...(process.env.MODEL_SEED ? { seed: Number(process.env.MODEL_SEED) } : {}) },
  );
  console.log(`model-property (LocalSystem): ${runs} runs, ${steps} steps, ${Date.now() - started} ms`);
  if (process.env.MODEL_STATS) printStats('LocalSystem', stats);
});

// ---------------------------------------------------------------------------------------------
// The same property over real sockets and worker threads (real time: no clock steps, deadlines far away)

let srv: TestServer;
const clients = {} as Record<Who, OrdoClient>;
const TOKENS: Record<Who, string> = {
  alice: 'tok-alice',
  bob: 'tok-bob',
  admin: 'tok-admin',
  payments: 'tok-payments',
  warehouse: 'tok-warehouse',
  carrier: 'tok-carrier',
};

test.before(async () => {
  srv = await startServer({ workers: 2, shards: 8 });
  for (const who of Object.keys(TOKENS) as Who[]) clients[who] = await srv.connect(TOKENS[who]);
});

test.after(async () => {
  await srv?.destroy();
});

function socketExecutor(): Executor {
  const admin = clients.admin;
  return {
    send: (a) => clients[a.who].call(a.type, a.args) as Promise<Reply>,
    sendMany: (actions) => Promise.all(actions.map((a) => clients[a.who].call(a.type, a.args) as Promise<Reply>)),
    now: () => Date.now(),
    async readOrder(orderId) {
      const r = await admin.call('order.get', { orderId });
      if (!r.ok) {
        assert.equal(r.error?.code, 'NOT_FOUND');
        return null;
      }
      return r.order as Order;
    },
    async readStock(sku) {
      const r = await admin.call('inventory.get', { sku });
      assert.ok(r.ok, `inventory.get ${sku}: ${JSON.stringify(r)}`);
      return r.stock as Stock;
    },
    async setStock(sku, onHand) {
      const r = await admin.call('inventory.set', { sku, onHand });
      assert.ok(r.ok);
    },
    async afterPay(orderId) {
      // The hand-over to the warehouse follows the payment's reply: give it up to 5 s.
      const until = Date.now() + 5_000;
      for (;;) {
        const r = await admin.call('order.get', { orderId });
        const status = (r.order as Order | undefined)?.status;
        if (status !== 'paid') return;
        assert.ok(Date.now() < until, `order ${orderId} stayed paid: the runtime never moved it to picking`);
        await new Promise((res) => setTimeout(res, 5));
      }
    },
  };
}

const SOCKET_RUNS = Number(process.env.MODEL_SOCKET_RUNS ?? 20);

test(`the real server over sockets follows the reference model (${SOCKET_RUNS} runs)`, async () => {
  const stats = new Map<string, number>();
  let runs = 0;
  let steps = 0;
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(scenarioArb({ clock: false, bursts: true, maxOps: 25 }), async (sc) => {
      runs++;
      steps += sc.ops.length;
      // One server for every run (and every shrink): each run gets its own ids.
      const run = randomUUID().slice(0, 8);
      const names: Names = {
        order: (i) => `${run}-o${i}`,
        sku: (i) => `${run}-${['A', 'B', 'C'][i]!}`,
        unknownSku: `${run}-Z`,
        ref: (i) => `pay${i}`,
        trk: (i) => `T${i}`,
        adj: (sku, i) => `adj-${sku}-${i}`,
      };
      // Deadlines an hour away never fire during the test.
      await runScenario(sc, socketExecutor(), names, { timeouts: [3_600_000, 7_200_000], exactTime: false, stats });
    }),
    { numRuns: SOCKET_RUNS, includeErrorInReport: true, ...(process.env.MODEL_SEED ? { seed: Number(process.env.MODEL_SEED) } : {}) },
  );
  console.log(`model-property (sockets): ${runs} runs, ${steps} steps, ${Date.now() - started} ms`);
  if (process.env.MODEL_STATS) printStats('sockets', stats);
});

test.run();
