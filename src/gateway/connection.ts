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
import { actorKeyFor, type GatewayViews, isActorCommand, runCommand } from './dispatch.js';
import { EncodedReply, type ReplyReceiver } from './encoded-reply.js';
import type { GatewayMetrics } from './metrics.js';
import type { Subscriber, SubscriptionHub } from './subscriptions.js';
import { needsSpan, traced } from './tracing.js';

export interface ConnectionLimits {
  maxInFlight: number;
  /** Unread bytes (replies and events) after which a *subscriber* is cut off (1008). */
  maxBufferedBytes: number;
  /**
   * Replies not yet written out to the socket after which the connection is not read and no
   * further listing starts: replies are never dropped, so the client's own reading is what
   * bounds them.
   */
  maxUnwrittenBytes: number;
  /** Listings (`order.list`, `feed.subscribe`) of one connection that run at once; the rest wait. */
  maxConcurrentListings: number;
  maxSubscriptions: number;
}

/** Commands whose reply can be large (a page of orders): they run a few at a time per connection. */
function isListing(c: Command): boolean {
  return c.type === 'order.list' || c.type === 'feed.subscribe';
}

export interface ConnectionDeps {
  runtime: CommandRuntime;
  hub: SubscriptionHub;
  metrics: GatewayMetrics;
  limits: ConnectionLimits;
  log: Logger;
  views: GatewayViews;
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

/** A command accepted from the client and not answered yet: it receives its reply once. */
class CommandInFlight implements ReplyReceiver {
  readonly started = performance.now();

  constructor(
    private readonly conn: ClientConnection,
    readonly id: string,
    readonly command: Command,
    /** Holds one of the connection's listing slots (see `listingSlot`). */
    readonly listing: boolean,
  ) {}

  receive(reply: EncodedReply): void {
    this.conn.answered(this, reply);
  }
}

/** One client's WebSocket: frames in, validated commands to the runtime, replies and events out. */
export class ClientConnection {
  private inFlight = 0;
  /** The socket is not being read (back-pressure), see `updateReading`. */
  private paused = false;
  private closed = false;
  /** Bytes handed to the socket whose write has not completed yet (replies and events). */
  private unwritten = 0;
  /** The part of `unwritten` that is events (what the 1008 rule for subscribers counts). */
  private unwrittenEvents = 0;
  private listingsRunning = 0;
  /** Listings accepted but not started: they wait for a free slot and for the client to read. */
  private readonly listingsWaiting: (() => void)[] = [];
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
    // ws goes on emitting frames it had already read after a close was decided: none of them runs.
    if (this.closed) return;
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
    this.updateReading();
    const { runtime, log } = this.deps;
    const listing = isListing(command);
    const pending = new CommandInFlight(this, id, command, listing);
    // Most commands are one actor's, untraced: straight to the runtime, whose reply comes back
    // as wire text (no span, no promise). Debug logging wants `traced`'s line per command.
    if (runtime.executeEncoded && command.type !== 'order.subscribe' && isActorCommand(command) && !needsSpan(trace) && !log.isLevelEnabled('debug')) {
      try {
        runtime.executeEncoded(actorKeyFor(command), command, this.principal, undefined, pending);
      } catch (err) {
        log.error({ err, type: command.type }, 'command failed inside the gateway');
        pending.receive(EncodedReply.of({ ok: false, error: wireError('INTERNAL', 'internal error') }));
      }
      return;
    }
    const execute = () => traced(log, command, this.principal, trace, (tp) => this.execute(command, tp));
    (listing ? this.listingSlot().then(execute) : execute()).then((reply) => pending.receive(EncodedReply.of(reply)));
  }

  /** A command's reply: counted, written out, and the connection's limits updated. Once per command. */
  answered(c: CommandInFlight, reply: EncodedReply): void {
    this.inFlight--;
    const ms = performance.now() - c.started;
    this.deps.metrics.answered(c.command.type, reply.outcome, ms / 1000);
    // The chart shows the workload: a dashboard's own polling would draw a floor under it.
    if (c.command.type !== 'stats.get') this.deps.metrics.series.record(ms);
    this.reply(c.id, reply, c.command);
    if (c.listing) {
      // Freed once its reply is handed to the socket, so the next listing sees its bytes.
      this.listingsRunning--;
      this.startWaitingListings();
    }
    this.updateReading();
  }

  /**
   * Back-pressure, with hysteresis: the socket is not read while too many commands are in flight
   * or too many reply bytes wait to be written out, and is read again once both are down to half.
   * Nothing is dropped; TCP flow control slows the client down.
   */
  private updateReading(): void {
    const { maxInFlight, maxUnwrittenBytes } = this.deps.limits;
    if (!this.paused && (this.inFlight >= maxInFlight || this.unwritten >= maxUnwrittenBytes)) {
      this.paused = true;
      this.ws.pause();
      this.deps.metrics.pausedReads.inc();
    } else if (this.paused && this.inFlight <= maxInFlight / 2 && this.unwritten <= maxUnwrittenBytes / 2) {
      this.paused = false;
      if (!this.closed) this.ws.resume();
    }
  }

  /**
   * A listing's reply may be a page of 500 orders, and building it costs far more memory than
   * the frame that asked for it: a connection runs a few at a time, and starts the next only
   * while its earlier replies are being read. A flood of listings then waits as small parsed
   * commands instead of as pages.
   */
  private listingSlot(): Promise<void> {
    if (this.mayStartListing()) {
      this.listingsRunning++;
      return Promise.resolve();
    }
    // The slot is taken on the waiter's behalf by `startWaitingListings`.
    return new Promise<void>((go) => this.listingsWaiting.push(go));
  }

  private mayStartListing(): boolean {
    const { maxConcurrentListings, maxUnwrittenBytes } = this.deps.limits;
    return this.listingsRunning < maxConcurrentListings && this.unwritten < maxUnwrittenBytes;
  }

  private startWaitingListings(): void {
    while (this.listingsWaiting.length > 0 && (this.closed || this.mayStartListing())) {
      this.listingsRunning++;
      this.listingsWaiting.shift()!();
    }
  }

  /** `tp`: the trace context the command's actor turns continue (see `tracing.ts`), if traced. */
  private async execute(command: Command, tp: string | undefined): Promise<Reply> {
    const { runtime, hub, limits } = this.deps;
    // Closed while it waited for a listing slot: nobody will read the answer.
    if (this.closed) return { ok: false, error: wireError('UNAVAILABLE', 'connection closed') };
    if (command.type === 'order.subscribe' || command.type === 'feed.subscribe') {
      if (this.orderSubs.size + this.feedSubs.size >= limits.maxSubscriptions && !this.isSubscribed(command)) {
        return { ok: false, error: wireError('OVERLOADED', `at most ${limits.maxSubscriptions} subscriptions per connection`) };
      }
    }
    if (command.type === 'order.subscribe') {
      const key = command.orderId;
      return this.subscribed(command, tp, this.orderSubs, key, (sub) => hub.addOrder(key, sub), (sub) => hub.removeOrder(key, sub));
    }
    if (command.type === 'feed.subscribe') {
      const key = command.feed;
      return this.subscribed(command, tp, this.feedSubs, key, (sub) => hub.addFeed(key, sub), (sub) => hub.removeFeed(key, sub));
    }
    return runCommand(runtime, command, this.principal, this.deps.views, tp);
  }

  /**
   * A subscription is registered before its first reply is asked for (so no change between the
   * two is missed) and holds its events until that reply went out; a refused one is removed.
   */
  private async subscribed<K>(command: Command, tp: string | undefined, subs: Map<K, Subscription>, key: K, add: (s: Subscription) => void, remove: (s: Subscription) => void): Promise<Reply> {
    if (subs.has(key)) return runCommand(this.deps.runtime, command, this.principal, this.deps.views, tp);
    const sub = new Subscription(this);
    subs.set(key, sub);
    add(sub);
    const reply = await runCommand(this.deps.runtime, command, this.principal, this.deps.views, tp);
    if (!reply.ok) {
      remove(sub);
      subs.delete(key);
    }
    return reply;
  }

  private isSubscribed(c: Command): boolean {
    return (c.type === 'order.subscribe' && this.orderSubs.has(c.orderId)) || (c.type === 'feed.subscribe' && this.feedSubs.has(c.feed));
  }

  private reply(id: string, reply: EncodedReply, command: Command): void {
    // The client's view only (internal answer fields never reach clients), see encoded-reply.ts.
    if (!this.closed) this.write(reply.frame(id));
    if (command.type !== 'order.subscribe' && command.type !== 'feed.subscribe') return;
    // A subscription's events start only after its first reply.
    const first = reply.reply;
    if (!first.ok) return;
    if (command.type === 'order.subscribe') this.orderSubs.get(command.orderId)?.open(first.order ? [first.order] : []);
    else this.feedSubs.get(command.feed)?.open(first.orders ?? []);
  }

  /** A reply: always written (exactly one per command), whatever the client's reading. */
  private send(frame: object): void {
    if (this.closed) return;
    this.write(JSON.stringify(frame));
  }

  /**
   * Hands a frame to the socket and counts it until its write completes. The count is in UTF-16
   * units, not bytes (O(1), and the same for the ASCII the protocol mostly is): a budget, not a
   * measure.
   */
  private write(text: string, isEvent = false): void {
    const size = text.length;
    this.unwritten += size;
    if (isEvent) this.unwrittenEvents += size;
    this.ws.send(text, () => {
      this.unwritten -= size;
      if (isEvent) this.unwrittenEvents -= size;
      if (this.paused) this.updateReading();
      if (this.listingsWaiting.length > 0) this.startWaitingListings();
    });
  }

  /**
   * An event for this connection. A subscriber that does not read its events is cut off (1008)
   * before it can grow our memory. Only event bytes count here: a large first reply (a feed's
   * backlog) being read slowly is not a subscriber that does not read, and replies are bounded by
   * not reading the socket instead.
   */
  pushEvent(frame: string): void {
    if (this.closed) return;
    if (this.unwrittenEvents > this.deps.limits.maxBufferedBytes) {
      this.deps.metrics.slowConsumers.inc();
      this.deps.log.warn({ role: this.principal.role, unwrittenEvents: this.unwrittenEvents }, 'subscriber not reading its events; disconnected');
      this.ws.close(1008, 'too much unread data');
      this.onClose();
      return;
    }
    this.deps.metrics.events.inc();
    this.write(frame, true);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [orderId, sub] of this.orderSubs) this.deps.hub.removeOrder(orderId, sub);
    for (const [feed, sub] of this.feedSubs) this.deps.hub.removeFeed(feed, sub);
    this.orderSubs.clear();
    this.feedSubs.clear();
    this.startWaitingListings();
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
