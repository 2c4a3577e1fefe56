/**
 * The minimal durable peer (`npm run bench -- --peer minimal`): the least a server must do to
 * answer ordo's place-only scenarios with `ok` meaning fdatasync'ed, and nothing more. One
 * thread; the SKUs and orders in two Maps; a placement checked and reserved, all or nothing, in
 * the frame's own callback; its record appended to the turn's records. Once per event-loop turn
 * (`setImmediate`), what the turn changed is written with one `writeSync` and made durable with
 * one `fdatasyncSync`, and only then are that turn's replies sent: group commit, as Redis
 * does before it sleeps. No actors, no timers, no snapshots, no observability.
 *
 * What it is for: a floor measured in the same run as ordo. DESIGN.md's and issue 13's minimal
 * durable prototypes were this shape; with it in the bench, "ordo at X× the durable floor" is a
 * figure every run prints, steadier than a ratio to the ceiling on a VM whose speed swings.
 *
 * Its file is one record per line, tab-separated (JSON escapes every control character, so an
 * order's JSON holds no raw tab or newline): `S<TAB>sku<TAB>onHand` for `inventory.set`,
 * `P<TAB>orderJson` for a placement (its items are its reservations). It is replayed when the
 * peer starts on an existing directory, so `ok` can be checked to have meant durable (a torn
 * last line was never acknowledged and is ignored).
 *
 * Run as a child process (`node dist/bench/minimal-peer-server.js --port N --data DIR`).
 */
import { closeSync, fdatasyncSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isEntryPoint, type PeerFront, type Send, servePeerProcess, startPeerFront } from './peer-front.js';
import {
  belowReservedReply,
  errorReply,
  existingOrderReply,
  type Item,
  orderReply,
  outOfStockReply,
  parseFrame,
  type PeerCommand,
  placedOrderJson,
  type Stock,
  stockReply,
} from './peer-frames.js';

interface SkuState {
  onHand: number;
  reserved: number;
}

export const RECORDS_FILE = 'records.tsv';

/** The peer's state, its file, and the replies waiting for the turn's commit. */
class MinimalStore {
  private readonly skus = new Map<string, SkuState>();
  /** orderId → the order's JSON, as stored and replied. */
  private readonly orders = new Map<string, string>();
  /** This turn's records, not yet written. */
  private records = '';
  /** Replies waiting for this turn's commit, in the order they were decided. */
  private waiting: [Send, string][] = [];
  private commitScheduled = false;
  private readonly fd: number;

  constructor(dir: string) {
    const path = join(dir, RECORDS_FILE);
    this.replay(path);
    this.fd = openSync(path, 'a');
    // The file's name made durable once, so that a fresh file's first commit is not lost with its entry.
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }

  private replay(path: string): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return; // a fresh directory
    }
    const lines = text.split('\n');
    // The last piece is empty after a whole last line, or a torn one that was never acknowledged.
    lines.pop();
    for (const line of lines) {
      const [kind, a, b] = line.split('\t');
      if (kind === 'S') this.sku(a!).onHand = Number(b);
      else if (kind === 'P') {
        const order = JSON.parse(a!) as { orderId: string; items: Item[] };
        for (const i of order.items) this.sku(i.sku).reserved += i.quantity;
        this.orders.set(order.orderId, a!);
      }
    }
  }

  private sku(name: string): SkuState {
    let s = this.skus.get(name);
    if (!s) this.skus.set(name, (s = { onHand: 0, reserved: 0 }));
    return s;
  }

  private stock(name: string): Stock {
    const s = this.skus.get(name);
    const onHand = s?.onHand ?? 0;
    const reserved = s?.reserved ?? 0;
    return { sku: name, onHand, reserved, available: onHand - reserved };
  }

  /** Decides `c` at once; its reply leaves with the turn's commit (or at once when nothing waits for one). */
  execute(id: string, c: PeerCommand, send: Send): void {
    switch (c.type) {
      case 'inventory.get':
        return this.answer(send, stockReply(id, this.stock(c.sku)));
      case 'inventory.set': {
        const s = this.sku(c.sku);
        if (c.onHand < s.reserved) return this.answer(send, belowReservedReply(id, s.reserved));
        s.onHand = c.onHand;
        this.records += `S\t${c.sku}\t${c.onHand}\n`;
        return this.answer(send, stockReply(id, this.stock(c.sku)));
      }
      case 'order.place': {
        const stored = this.orders.get(c.orderId);
        if (stored !== undefined) return this.answer(send, existingOrderReply(id, c, stored));
        for (const i of c.items) {
          const available = this.stock(i.sku).available;
          if (available < i.quantity) return this.answer(send, outOfStockReply(id, i.sku, Math.max(0, available)));
        }
        for (const i of c.items) this.sku(i.sku).reserved += i.quantity;
        const json = placedOrderJson(c, Date.now());
        this.orders.set(c.orderId, json);
        this.records += `P\t${json}\n`;
        return this.answer(send, orderReply(id, json));
      }
    }
  }

  /**
   * Every reply waits while anything of this turn is unwritten, a read or a refusal included: it
   * may show a change not yet durable, and replies leave in the order they were decided.
   */
  answer(send: Send, reply: string): void {
    if (this.records === '' && this.waiting.length === 0) return send(reply);
    this.waiting.push([send, reply]);
    if (!this.commitScheduled) {
      this.commitScheduled = true;
      setImmediate(() => this.commit());
    }
  }

  /** The turn's one write and one fdatasync, then its replies. A failed write ends the process: nothing unwritten is acknowledged. */
  private commit(): void {
    this.commitScheduled = false;
    if (this.records !== '') {
      try {
        writeSync(this.fd, this.records);
        fdatasyncSync(this.fd);
      } catch (err) {
        console.error(`minimal-peer: the commit failed, stopping without answering: ${err instanceof Error ? err.message : err}`);
        process.exit(1);
      }
      this.records = '';
    }
    const replies = this.waiting;
    this.waiting = [];
    for (const [send, reply] of replies) send(reply);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Starts the peer on `port` with its file in `dataDir` (replayed if it exists); resolves once it takes commands. */
export async function startMinimalPeerServer(opts: { port: number; dataDir: string; token: string; host?: string }): Promise<PeerFront> {
  const store = new MinimalStore(opts.dataDir);
  const front = await startPeerFront({
    ...opts,
    onFrame(text, send) {
      const parsed = parseFrame(text);
      if (!parsed.ok) store.answer(send, errorReply(parsed.id, parsed.error));
      else store.execute(parsed.id, parsed.command, send);
    },
  });
  return {
    port: front.port,
    async close() {
      await front.close();
      store.close();
    },
  };
}

// Entry point when run as a child process. The token comes from the environment, not argv.
if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, data: { type: 'string' }, host: { type: 'string' } }, strict: true });
  const token = process.env.ORDO_BENCH_PEER_TOKEN;
  if (!token || !values.data) {
    console.error('minimal-peer: --data and ORDO_BENCH_PEER_TOKEN are required');
    process.exit(2);
  }
  servePeerProcess('minimal-peer', await startMinimalPeerServer({ port: Number(values.port ?? 0), dataDir: values.data, token, host: values.host }));
}
