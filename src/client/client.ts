import type { Feed, Order } from '../protocol/model.js';
import { ConnectError, OrdoError } from './errors.js';
import type { CommandArgs, CommandResults, ReplyError } from './protocol-map.js';
import { backoffDelay, type BackoffOptions, DEFAULT_BACKOFF, isRetryable, RETRY_LATER } from './retry-policy.js';
import { OPEN, globalSocketFactory, type SocketFactory, type SocketLike } from './socket.js';
import { ClientSubscription, type SubscriptionTarget } from './subscription.js';

export type CommandType = keyof CommandArgs;
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ClientOptions {
  /** `ws://host:port/ws` (or `wss://` behind a TLS proxy). */
  url: string;
  token: string;
  /** How to open a socket; default: the global `WebSocket`. Node 20 passes `wsSocketFactory`. */
  socket?: SocketFactory;
  /** Per call, retries included (default 10 s). */
  timeoutMs?: number;
  /** Sends of one retryable command, the first included (default 5). */
  maxAttempts?: number;
  /** Delays between reconnection attempts and between retries. */
  backoff?: Partial<BackoffOptions>;
  /** Every change of connection state; `status` is a refused upgrade's HTTP status when known. */
  onState?: (state: ClientState, detail: { status?: number }) => void;
}

export interface CallOptions {
  timeoutMs?: number;
}

interface Call {
  type: CommandType;
  frame: Record<string, unknown>;
  retryable: boolean;
  attempts: number;
  deadline: number;
  resolve(result: Record<string, unknown>): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
  retryTimer?: ReturnType<typeof setTimeout>;
  /** The id of its latest send while that send awaits its reply. */
  sentAs?: string;
  /** Waiting in `queue` for a connection. */
  queued?: boolean;
}

const closedError = () => new OrdoError({ code: 'CLOSED', message: 'the client was closed' });

/**
 * A typed client of the ordo protocol that keeps its connection: it reconnects with back-off
 * and jitter, re-subscribes what was subscribed, and retries exactly the commands that are
 * safe to repeat (see retry-policy.ts). Replies come back typed; refusals reject with `OrdoError`.
 *
 * @example
 *   const ordo = await Client.connect({ url: 'ws://127.0.0.1:8080/ws', token });
 *   const { order } = await ordo.request('order.place', { orderId, customerId: 'ana', items: [{ sku: 'mug', quantity: 1 }] });
 */
export class Client {
  private socket: SocketLike | null = null;
  private seq = 0;
  private readonly pending = new Map<string, Call>();
  /** Calls waiting for a connection (never sent, or safe to send again). */
  private queue: Call[] = [];
  private readonly subscriptions = new Set<ClientSubscription>();
  private reconnects = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private stateNow: ClientState = 'connecting';
  private readonly backoff: BackoffOptions;
  private readonly factory: SocketFactory;

  private constructor(private readonly opts: ClientOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    const factory = opts.socket ?? globalSocketFactory();
    if (!factory) throw new Error('no WebSocket available: pass `socket` (e.g. wsSocketFactory from ordo/client on Node 20)');
    this.factory = factory;
  }

  /** Opens the first connection; rejects with `ConnectError` if it fails (nothing is retried then). */
  static connect(opts: ClientOptions): Promise<Client> {
    const client = new Client(opts);
    return client.open(true).then(() => client);
  }

  get state(): ClientState {
    return this.stateNow;
  }

  /** Sends a command; resolves with its result keys, rejects with `OrdoError`. */
  request<T extends CommandType>(type: T, args: CommandArgs[T], o: CallOptions = {}): Promise<CommandResults[T]> {
    if (this.stateNow === 'closed') return Promise.reject(closedError());
    const timeoutMs = o.timeoutMs ?? this.opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const call: Call = {
        type,
        frame: { ...args, type },
        retryable: isRetryable(type, args),
        attempts: 0,
        deadline: Date.now() + timeoutMs,
        resolve: resolve as (r: Record<string, unknown>) => void,
        reject,
        timer: setTimeout(() => this.fail(call, new OrdoError({ code: 'TIMEOUT', message: `no reply to ${type} within ${timeoutMs} ms` })), timeoutMs),
      };
      this.dispatch(call);
    });
  }

  /** Follows one order: `listener` gets every later state, also those missed while reconnecting. */
  async subscribeOrder(orderId: string, listener: (order: Order) => void): Promise<{ order: Order; unsubscribe(): void }> {
    const sub = new ClientSubscription({ type: 'order.subscribe', orderId }, listener);
    const { order } = await this.subscribe(sub);
    return { order: order as Order, unsubscribe: () => this.unsubscribe(sub) };
  }

  /** Follows a feed (`orders` for every change); after a reconnect the feed's current orders are offered again. */
  async subscribeFeed(feed: Feed, listener: (order: Order) => void): Promise<{ orders: Order[]; unsubscribe(): void }> {
    const sub = new ClientSubscription({ type: 'feed.subscribe', feed }, listener);
    const { orders } = await this.subscribe(sub);
    return { orders: orders as Order[], unsubscribe: () => this.unsubscribe(sub) };
  }

  /** Closes the connection for good; calls in flight reject with `CLOSED`. */
  close(): void {
    if (this.stateNow === 'closed') return;
    this.setState('closed');
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const call of [...this.pending.values(), ...this.queue]) this.fail(call, closedError());
    const s = this.socket;
    this.socket = null;
    s?.close(1000, 'client closed');
  }

  private async subscribe(sub: ClientSubscription): Promise<{ order?: Order; orders?: Order[] }> {
    const reply = await this.request(sub.target.type, targetArgs(sub.target) as never);
    const r = reply as { order?: Order; orders?: Order[] };
    for (const o of r.order ? [r.order] : r.orders ?? []) sub.offer(o);
    this.subscriptions.add(sub);
    return r;
  }

  private unsubscribe(sub: ClientSubscription): void {
    // The protocol has no unsubscribe: events stop reaching the listener, and a reconnect drops it.
    sub.active = false;
    this.subscriptions.delete(sub);
  }

  private open(first: boolean): Promise<void> {
    this.setState(first ? 'connecting' : 'reconnecting');
    return new Promise((resolve, reject) => {
      let opened = false;
      let sock: SocketLike;
      try {
        sock = this.factory(this.opts.url, this.opts.token);
      } catch (err) {
        reject(err);
        return;
      }
      this.socket = sock;
      sock.onopen = () => {
        opened = true;
        this.reconnects = 0;
        this.setState('open');
        this.resubscribe();
        this.flushQueue();
        resolve();
      };
      sock.onmessage = (ev) => this.onFrame(typeof ev.data === 'string' ? ev.data : String(ev.data));
      sock.onerror = () => {};
      sock.onclose = () => {
        if (this.socket !== sock) return;
        this.socket = null;
        if (!opened && first) {
          this.setState('closed', sock.refusedStatus);
          reject(new ConnectError(sock.refusedStatus));
          return;
        }
        this.onLost(sock.refusedStatus);
        resolve();
      };
    });
  }

  private onLost(status: number | undefined): void {
    // Commands in flight: those safe to repeat wait for the next connection, the others fail.
    for (const [id, call] of this.pending) {
      this.pending.delete(id);
      call.sentAs = undefined;
      if (call.retryable && call.attempts < this.maxAttempts) this.enqueue(call);
      else this.fail(call, new OrdoError({ code: 'CONNECTION_LOST', message: `connection lost before the reply to ${call.type}; it may or may not have been applied` }));
    }
    if (this.stateNow === 'closed') return;
    this.setState('reconnecting', status);
    const delay = backoffDelay(this.reconnects++, this.backoff);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.stateNow !== 'closed') void this.open(false);
    }, delay);
  }

  private get maxAttempts(): number {
    return this.opts.maxAttempts ?? 5;
  }

  private resubscribe(): void {
    for (const sub of this.subscriptions) {
      this.request(sub.target.type, targetArgs(sub.target) as never).then(
        (r) => {
          const reply = r as { order?: Order; orders?: Order[] };
          for (const o of reply.order ? [reply.order] : reply.orders ?? []) sub.deliver(o);
        },
        // Refused or timed out: tried again at the next reconnect; nothing else to do here.
        () => {},
      );
    }
  }

  private enqueue(call: Call): void {
    call.queued = true;
    this.queue.push(call);
  }

  private flushQueue(): void {
    const waiting = this.queue;
    this.queue = [];
    for (const call of waiting) {
      call.queued = false;
      this.dispatch(call);
    }
  }

  private dispatch(call: Call): void {
    const sock = this.socket;
    if (this.stateNow !== 'open' || !sock || sock.readyState !== OPEN) {
      this.enqueue(call);
      return;
    }
    const id = `k${++this.seq}`;
    call.attempts++;
    call.sentAs = id;
    this.pending.set(id, call);
    sock.send(JSON.stringify({ ...call.frame, id }));
  }

  private onFrame(text: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return; // the server sends only JSON; anything else is not ours to interpret
    }
    if (typeof frame.event === 'string') {
      for (const sub of this.subscriptions) if (sub.matches(frame as never)) sub.deliver(frame.order as Order);
      return;
    }
    const call = typeof frame.re === 'string' ? this.pending.get(frame.re) : undefined;
    if (!call) return;
    this.pending.delete(frame.re as string);
    call.sentAs = undefined;
    if (frame.ok === true) {
      const { re: _re, ok: _ok, ...result } = frame;
      this.settle(call);
      call.resolve(result);
      return;
    }
    const error = (frame.error ?? { code: 'INTERNAL', message: 'malformed reply' }) as ReplyError;
    if (call.retryable && RETRY_LATER.has(error.code) && call.attempts < this.maxAttempts) {
      const delay = backoffDelay(call.attempts - 1, this.backoff);
      if (Date.now() + delay < call.deadline) {
        call.retryTimer = setTimeout(() => this.dispatch(call), delay);
        return;
      }
    }
    this.fail(call, new OrdoError(error));
  }

  private settle(call: Call): void {
    clearTimeout(call.timer);
    if (call.retryTimer) clearTimeout(call.retryTimer);
    // O(1) for the usual case (answered, neither queued nor in flight any more): no scan per reply.
    if (call.queued) {
      call.queued = false;
      this.queue = this.queue.filter((c) => c !== call);
    }
    if (call.sentAs !== undefined && this.pending.get(call.sentAs) === call) this.pending.delete(call.sentAs);
    call.sentAs = undefined;
  }

  private fail(call: Call, err: Error): void {
    this.settle(call);
    call.reject(err);
  }

  private setState(state: ClientState, status?: number): void {
    this.stateNow = state;
    this.opts.onState?.(state, status === undefined ? {} : { status });
  }
}

function targetArgs(t: SubscriptionTarget): Record<string, string> {
  return t.type === 'order.subscribe' ? { orderId: t.orderId } : { feed: t.feed };
}
