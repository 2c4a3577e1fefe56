import { isUtf8 } from 'node:buffer';
import type { RawData, WebSocket } from 'ws';
import type { Logger } from '../logger.js';
import type { Command } from '../protocol/commands.js';
import { type WireError, wireError } from '../protocol/errors.js';
import type { Reply } from '../protocol/messages.js';
import type { Feed, Order, Principal } from '../protocol/model.js';
import type { TraceParent } from '../protocol/trace-context.js';
import { validateFrame } from '../protocol/validate.js';
import type { CommandRuntime } from './command-runtime.js';
import { runCommand } from './dispatch.js';
import type { GatewayMetrics } from './metrics.js';
import type { Subscriber, SubscriptionHub } from './subscriptions.js';
import { traced } from './tracing.js';

export interface ConnectionLimits {
  maxInFlight: number;
  maxBufferedBytes: number;
  maxSubscriptions: number;
}

export interface ConnectionDeps {
  runtime: CommandRuntime;
  hub: SubscriptionHub;
  metrics: GatewayMetrics;
  limits: ConnectionLimits;
  log: Logger;
}

/**
 * A subscription's events are held back until its first reply has gone out, then only those
 * newer than what the reply showed are sent: the client sees the order, then every later change
 * in order, and never an older state after a newer one.
 */
class Subscription implements Subscriber {
  private held: { orderId: string; rev: number; frame: string }[] | null = [];
  /** orderId → the revision the first reply showed; older or equal events are not news. */
  private shown = new Map<string, number>();

  constructor(private readonly conn: ClientConnection) {}

  push(orderId: string, rev: number, frame: string): void {
    if (this.held) this.held.push({ orderId, rev, frame });
    else if (rev > (this.shown.get(orderId) ?? 0)) this.conn.pushEvent(frame);
  }

  /** The first reply went out showing these orders (revision = history length). */
  open(shown: Order[]): void {
    for (const o of shown) this.shown.set(o.orderId, o.history.length);
    const held = this.held ?? [];
    this.held = null;
    for (const e of held) if (e.rev > (this.shown.get(e.orderId) ?? 0)) this.conn.pushEvent(e.frame);
  }
}

/** One client's WebSocket: frames in, validated commands to the runtime, replies and events out. */
export class ClientConnection {
  private inFlight = 0;
  private paused = false;
  private closed = false;
  private readonly orderSubs = new Map<string, Subscription>();
  private readonly feedSubs = new Map<Feed, Subscription>();
  /** Answered a ping since the last one was sent. */
  alive = true;

  constructor(
    private readonly ws: WebSocket,
    readonly principal: Principal,
    private readonly deps: ConnectionDeps,
  ) {
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('close', () => this.onClose());
    ws.on('error', (err) => deps.log.debug({ err: err.message }, 'connection error'));
  }

  get pendingCommands(): number {
    return this.inFlight;
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    if (isBinary) return this.refuse(null, wireError('BAD_FRAME', 'frames must be UTF-8 JSON text, not binary'));
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (!isUtf8(bytes)) return this.refuse(null, wireError('BAD_FRAME', 'the frame is not valid UTF-8'));
    let frame: unknown;
    try {
      frame = JSON.parse(bytes.toString('utf8'));
    } catch {
      return this.refuse(null, wireError('BAD_FRAME', 'the frame is not valid JSON'));
    }
    const v = validateFrame(frame, this.principal);
    if (!v.ok) return this.refuse(v.id, v.error);
    this.start(v.id, v.command, v.trace);
  }

  private refuse(id: string | null, error: WireError): void {
    this.deps.metrics.badFrames.inc({ code: error.code });
    this.send({ re: id, ok: false, error });
  }

  private start(id: string, command: Command, trace?: TraceParent): void {
    this.inFlight++;
    // Back-pressure: past the limit the socket is not read until half the commands are answered.
    // Nothing is dropped; TCP flow control slows the client down.
    if (!this.paused && this.inFlight >= this.deps.limits.maxInFlight) {
      this.paused = true;
      this.ws.pause();
      this.deps.metrics.pausedReads.inc();
    }
    const started = performance.now();
    traced(this.deps.log, command, this.principal, trace, () => this.execute(command))
      .then((reply) => {
        this.inFlight--;
        if (this.paused && this.inFlight <= this.deps.limits.maxInFlight / 2) {
          this.paused = false;
          if (!this.closed) this.ws.resume();
        }
        this.deps.metrics.commands.inc({ type: command.type, outcome: reply.ok ? 'ok' : reply.error.code });
        this.deps.metrics.latency.observe({ type: command.type }, (performance.now() - started) / 1000);
        this.reply(id, reply, command);
      });
  }

  private async execute(command: Command): Promise<Reply> {
    const { runtime, hub, limits } = this.deps;
    if (command.type === 'order.subscribe' || command.type === 'feed.subscribe') {
      if (this.orderSubs.size + this.feedSubs.size >= limits.maxSubscriptions && !this.isSubscribed(command)) {
        return { ok: false, error: wireError('OVERLOADED', `at most ${limits.maxSubscriptions} subscriptions per connection`) };
      }
    }
    if (command.type === 'order.subscribe') {
      const key = command.orderId;
      return this.subscribed(command, this.orderSubs, key, (sub) => hub.addOrder(key, sub), (sub) => hub.removeOrder(key, sub));
    }
    if (command.type === 'feed.subscribe') {
      const key = command.feed;
      return this.subscribed(command, this.feedSubs, key, (sub) => hub.addFeed(key, sub), (sub) => hub.removeFeed(key, sub));
    }
    return runCommand(runtime, command, this.principal);
  }

  /**
   * A subscription is registered before its first reply is asked for (so no change between the
   * two is missed) and holds its events until that reply went out; a refused one is removed.
   */
  private async subscribed<K>(command: Command, subs: Map<K, Subscription>, key: K, add: (s: Subscription) => void, remove: (s: Subscription) => void): Promise<Reply> {
    if (subs.has(key)) return runCommand(this.deps.runtime, command, this.principal);
    const sub = new Subscription(this);
    subs.set(key, sub);
    add(sub);
    const reply = await runCommand(this.deps.runtime, command, this.principal);
    if (!reply.ok) {
      remove(sub);
      subs.delete(key);
    }
    return reply;
  }

  private isSubscribed(c: Command): boolean {
    return (c.type === 'order.subscribe' && this.orderSubs.has(c.orderId)) || (c.type === 'feed.subscribe' && this.feedSubs.has(c.feed));
  }

  private reply(id: string, reply: Reply, command: Command): void {
    if (reply.ok) {
      const { ok: _ok, ...result } = reply;
      // Internal answer fields never reach clients; each command has its documented result keys.
      delete result.orderIds;
      delete result.reserved;
      delete result.available;
      this.send({ re: id, ok: true, ...result });
    } else {
      this.send({ re: id, ok: false, error: reply.error });
    }
    // A subscription's events start only after its first reply.
    if (command.type === 'order.subscribe' && reply.ok) this.orderSubs.get(command.orderId)?.open(reply.order ? [reply.order] : []);
    if (command.type === 'feed.subscribe' && reply.ok) this.feedSubs.get(command.feed)?.open(reply.orders ?? []);
  }

  private send(frame: object): void {
    if (this.closed || this.tooFarBehind()) return;
    this.ws.send(JSON.stringify(frame));
  }

  /** A client that does not read what it is sent (replies or events) is cut off (1008). */
  private tooFarBehind(): boolean {
    if (this.ws.bufferedAmount <= this.deps.limits.maxBufferedBytes) return false;
    this.deps.metrics.slowConsumers.inc();
    this.deps.log.warn({ role: this.principal.role, buffered: this.ws.bufferedAmount }, 'client not reading; disconnected');
    this.ws.close(1008, 'too much unread data');
    this.onClose();
    return true;
  }

  /** An event for this connection. A subscriber that does not read is cut off before it can grow our memory. */
  pushEvent(frame: string): void {
    if (this.closed || this.tooFarBehind()) return;
    this.deps.metrics.events.inc();
    this.ws.send(frame);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [orderId, sub] of this.orderSubs) this.deps.hub.removeOrder(orderId, sub);
    for (const [feed, sub] of this.feedSubs) this.deps.hub.removeFeed(feed, sub);
    this.orderSubs.clear();
    this.feedSubs.clear();
  }

  ping(): void {
    if (!this.alive) {
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }
}
