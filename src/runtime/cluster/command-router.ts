import { randomUUID } from 'node:crypto';
import type { Msg } from '@nats-io/transport-node';
import type { Command } from '../../protocol/commands.js';
import { RefusedError, wireError } from '../../protocol/errors.js';
import { ActorKeys, type InternalCommand, type Reply } from '../../protocol/messages.js';
import type { Order, Principal } from '../../protocol/model.js';
import { type GatewayOutput, withTrace } from '../kernel/envelope.js';
import { fetchPage, mergePages, type OrderPage, type OrderQuery } from '../query/order-query.js';
import { journalOf, shardOf } from '../placement.js';
import type { ActorMailHost } from './actor-mail.js';
import type { ClusterLayout } from './cluster-layout.js';
import type { JournalHost } from './journal-host.js';
import { nodeSubject } from './names.js';
import { decode, encode, type NodeAnswer, type NodeRequest, type RoutedEnvelope } from './node-messages.js';

/** Answered in place of a reply when the journal is not (or no longer) served where it was asked. */
const MOVED = Symbol('moved');
type Moved = typeof MOVED;

/** One attempt at the owner waits at most this long: a node that died with the request gets no more. */
const ATTEMPT_TIMEOUT_MS = 4000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the router needs of its node (a `ClusterRuntime`): what actor mail needs, and more. */
export interface RouterNode extends ActorMailHost {
  readonly state: string;
  readonly layout: ClusterLayout;
  /** Whether this node's lease was renewed recently enough that what memory answered still holds. */
  fresh(): boolean;
  /** Actor messages from another node (actor-mail.ts): per message, refused or delivered. */
  receiveMail(batch: RoutedEnvelope[]): Record<number, 'm' | 's'>;
}

/**
 * Where a command, a query or an inspection runs in a cluster, and the requests other nodes send
 * this one for the journals it owns. A command is run here when this node serves its journal,
 * else sent to the node its owner record names (NATS request/reply, node-messages.ts). `moved`,
 * no answer, or no owner known: it tries again with back-off, and answers `UNAVAILABLE` once
 * `unavailableAfterMs` has passed. A call into a local journal host waits for the host's output;
 * if the journal leaves this node first, the call counts as moved and goes where it is now.
 */
export class CommandRouter {
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; journal: number }>();
  private nextCid = 1;
  /** Commands and listings answered UNAVAILABLE since start. */
  unavailable = 0;

  constructor(
    private readonly node: RouterNode,
    private readonly unavailableAfterMs: number,
  ) {}

  /** Calls waiting for a local journal host's answer. */
  get inFlight(): number {
    return this.waiting.size;
  }

  /**
   * Runs a command where its journal is owned; waits (retrying) while it has no owner, and
   * answers `UNAVAILABLE` after `unavailableAfterMs`. Retrying is safe by the accept table; an
   * `inventory.adjust` without `adjustmentId` is given one here, so a retry applies it once.
   */
  async execute(key: string, command: Command | InternalCommand, principal: Principal, traceparent?: string): Promise<Reply> {
    const { node } = this;
    if (node.state !== 'ready') return { ok: false, error: wireError('OVERLOADED', `the node is ${node.state}`) };
    if (command.type === 'inventory.adjust' && command.adjustmentId === undefined) command = { ...command, adjustmentId: `gw-${randomUUID()}` };
    const j = node.journalOfKey(key);
    const r = await this.untilServed(j, async (deadline) => {
      const host = node.hosts.get(j);
      if (node.serves(host)) return this.runLocal(host, key, command, principal, traceparent);
      const a = await this.ask(j, { k: 'cmd', key, command, principal, tp: traceparent }, deadline);
      return a === MOVED || !('reply' in a) ? MOVED : a.reply;
    });
    return r === MOVED ? this.unavailableReply(j) : r;
  }

  /** `order.list` over every shard of the cluster, wherever each is served, merged into one page. */
  async listOrders(q: OrderQuery): Promise<{ orders: Order[]; next: string | null }> {
    const { node } = this;
    const { shards, journals } = node.layout;
    const pages = await Promise.all(
      Array.from({ length: shards }, (_, shard) => {
        const j = journalOf(shard, journals);
        return this.untilServed(j, async (deadline) => {
          const host = node.hosts.get(j);
          if (node.serves(host)) return this.queryLocal(host, shard, q);
          const a = await this.ask(j, { k: 'query', shard, query: q }, deadline);
          return a === MOVED || !('page' in a) ? MOVED : a.page;
        });
      }),
    );
    if (pages.some((p) => p === MOVED)) {
      this.unavailable++;
      throw new RefusedError(wireError('UNAVAILABLE', `a shard had no owner within ${this.unavailableAfterMs} ms; retry`));
    }
    return fetchPage(mergePages(pages as OrderPage[], q.limit), q, async (orderId) => {
      const r = await this.execute(ActorKeys.order(orderId), { type: 'order.get', orderId }, { role: 'admin' });
      return r.ok ? r.order : undefined;
    });
  }

  /** `actor.inspect` of `key`, wherever its journal is served; null when none serves it in time. */
  async inspect(key: string): Promise<unknown> {
    const { node } = this;
    const j = node.journalOfKey(key);
    const r = await this.untilServed(j, async (deadline) => {
      const host = node.hosts.get(j);
      if (node.serves(host)) return (await host.group.shards.get(shardOf(key, node.layout.shards))?.inspect(key)) ?? null;
      const a = await this.ask(j, { k: 'inspect', key }, deadline);
      return a === MOVED || !('inspected' in a) ? MOVED : a.inspected;
    });
    return r === MOVED ? null : r;
  }

  /** A request from another node, for a journal this node may own: one answer, `moved` if not ours. */
  async serve(msg: Msg): Promise<void> {
    const { node } = this;
    let req: NodeRequest;
    try {
      req = decode<NodeRequest>(msg.data);
    } catch {
      return;
    }
    const answer = (a: NodeAnswer) => msg.respond(encode(a));
    if (req.k === 'env') return void answer({ refused: node.receiveMail(req.batch) });
    if (req.k === 'cmd') {
      const host = node.hosts.get(node.journalOfKey(req.key));
      if (!node.serves(host)) return void answer({ moved: true });
      const r = await this.runLocal(host, req.key, req.command, req.principal, req.tp);
      return void answer(r === MOVED ? { moved: true } : { reply: r });
    }
    if (req.k === 'query') {
      const host = node.hosts.get(journalOf(req.shard, node.layout.journals));
      if (!node.serves(host)) return void answer({ moved: true });
      const page = await this.queryLocal(host, req.shard, req.query);
      return void answer(page === MOVED ? { moved: true } : { page });
    }
    if (req.k === 'inspect') {
      const host = node.hosts.get(node.journalOfKey(req.key));
      if (!node.serves(host)) return void answer({ moved: true });
      const shard = host.group.shards.get(shardOf(req.key, node.layout.shards));
      return void answer({ inspected: (await shard?.inspect(req.key)) ?? null });
    }
  }

  /** A local journal host's reply or page: the call waiting for it gets it. */
  settle(host: JournalHost, o: Extract<GatewayOutput, { t: 'result' | 'qres' }>): void {
    const w = this.waiting.get(o.cid);
    if (!w) return;
    this.waiting.delete(o.cid);
    // A read answered from memory by a node that may have been frozen meanwhile: asked again where the journal is now.
    w.resolve(host.suspect || !this.node.fresh() ? MOVED : o.t === 'result' ? o.reply : o.page);
  }

  /** Journal `j` left this node: the calls waiting on it are asked again wherever it is now. */
  moved(j: number): void {
    for (const [cid, w] of this.waiting) {
      if (w.journal !== j) continue;
      this.waiting.delete(cid);
      w.resolve(MOVED);
    }
  }

  private runLocal(host: JournalHost, key: string, command: Command | InternalCommand, principal: Principal, tp?: string): Promise<Reply | Moved> {
    const cid = this.nextCid++;
    return new Promise((resolve) => {
      this.waiting.set(cid, { resolve: resolve as (v: unknown) => void, journal: host.journalNo });
      host.deliver(withTrace({ t: 'cmd', to: key, cid, command, principal }, tp));
    });
  }

  private queryLocal(host: JournalHost, shard: number, q: OrderQuery): Promise<OrderPage | Moved> {
    const cid = this.nextCid++;
    return new Promise((resolve) => {
      this.waiting.set(cid, { resolve: resolve as (v: unknown) => void, journal: host.journalNo });
      host.query(shard, cid, q);
    });
  }

  private unavailableReply(j: number): Reply {
    this.unavailable++;
    return { ok: false, error: wireError('UNAVAILABLE', `no node served this shard (journal ${j}) within ${this.unavailableAfterMs} ms; retry`) };
  }

  /** Tries `attempt` until it gets an answer or the deadline passes (then MOVED). */
  private async untilServed<T>(j: number, attempt: (deadline: number) => Promise<T | Moved>): Promise<T | Moved> {
    const deadline = Date.now() + this.unavailableAfterMs;
    for (let n = 0; ; n++) {
      const r = await attempt(deadline);
      if (r !== MOVED) return r;
      if (Date.now() >= deadline || this.node.state === 'stopped') return MOVED;
      await sleep(Math.min(25 * 2 ** n, 250));
    }
  }

  /** One request to the node the owner record names for `j`; MOVED when there is none or it refused or did not answer. */
  private async ask(j: number, req: NodeRequest, deadline: number): Promise<NodeAnswer | Moved> {
    const { node } = this;
    const owner = node.routes.get(j)?.node;
    if (!owner || owner === node.node) return MOVED;
    const timeout = Math.max(100, Math.min(ATTEMPT_TIMEOUT_MS, deadline - Date.now()));
    try {
      const m = await node.nc.request(nodeSubject(node.cluster, owner), encode(req), { timeout });
      const a = decode<NodeAnswer>(m.data);
      return 'moved' in a ? MOVED : a;
    } catch {
      return MOVED;
    }
  }
}
