import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';
import type { Principal } from '../protocol/model.js';
import { BusySkus } from '../runtime/query/busy-skus.js';
import type { CommandRuntime } from './command-runtime.js';
import { ClientConnection, type ConnectionLimits } from './connection.js';
import { DashboardAssets } from './dashboard-assets.js';
import type { GatewayViews } from './dispatch.js';
import { GatewayMetrics } from './metrics.js';
import { RecentOrders } from '../runtime/query/recent-orders.js';
import { statsReport } from './stats-report.js';
import { SubscriptionHub } from './subscriptions.js';
import type { TokenTable } from './tokens.js';
import { DEFAULTS } from '../defaults.js';

export const MAX_FRAME_BYTES = 64 * 1024;

export interface GatewayOptions {
  host: string;
  port: number;
  runtime: CommandRuntime;
  tokens: TokenTable;
  log: Logger;
  maxInFlightPerConnection?: number;
  maxConnectionsPerToken?: number;
  maxBufferedBytes?: number;
  maxUnwrittenBytes?: number;
  maxConcurrentListings?: number;
  maxSubscriptions?: number;
  pingIntervalMs?: number;
  allowedOrigins?: string[];
}

/** `Authorization: Bearer <token>` wins over `?token=` when both are present (PROTOCOL.md). */
export function tokenOf(req: IncomingMessage, url: URL): string | undefined {
  const h = req.headers.authorization;
  if (h !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m ? m[1] : undefined;
  }
  return url.searchParams.get('token') ?? undefined;
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
}

/**
 * The WebSocket gateway and its HTTP neighbours (/healthz, /metrics) on one port.
 *
 * @example
 *   const gw = new Gateway({ host: '127.0.0.1', port: 8080, runtime, tokens, log });
 *   await gw.listen();
 */
export class Gateway {
  readonly metrics: GatewayMetrics;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly hub: SubscriptionHub;
  private readonly connections = new Set<ClientConnection>();
  private readonly perToken = new Map<Principal, number>();
  private readonly recent = new RecentOrders();
  private readonly busySkus = new BusySkus();
  private readonly views: GatewayViews;
  private readonly dashboard = new DashboardAssets();
  private pinger: NodeJS.Timeout | null = null;
  private draining = false;

  constructor(private readonly opts: GatewayOptions) {
    this.metrics = new GatewayMetrics(() => opts.runtime.stats(), () => opts.runtime.inFlight);
    const rt = opts.runtime;
    // A runtime that keeps the dashboard's views itself sends events only while someone listens;
    // otherwise every event comes here and the views are kept from them.
    const runtimeViews =
      rt.setEventInterest && rt.recentOrders && rt.busiestSkus
        ? { interest: rt.setEventInterest.bind(rt), recent: rt.recentOrders.bind(rt), busiest: rt.busiestSkus.bind(rt) }
        : null;
    this.hub = new SubscriptionHub((listening) => runtimeViews?.interest(listening));
    runtimeViews?.interest(this.hub.listening);
    rt.onEvent((e) => {
      if (!runtimeViews && e.type === 'order.updated') {
        this.recent.note(e.order);
        this.busySkus.note(e.order);
      }
      this.hub.publish(e);
    });
    this.views = {
      recentOrders: runtimeViews ? runtimeViews.recent : async () => this.recent.list(),
      stats: () =>
        statsReport({
          runtime: rt,
          metrics: this.metrics,
          series: this.metrics.series,
          busiestSkus: runtimeViews ? runtimeViews.busiest : async (n) => this.busySkus.top(n),
          health: () => this.healthState,
        }),
    };
    // UTF-8 is checked by the connection, not by ws: ws would close the socket (1007) on a bad
    // byte, while PROTOCOL.md wants BAD_FRAME and the connection kept open.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, skipUTF8Validation: true });
    this.http = createServer((req, res) => {
      void this.onHttp(req.url ?? '/', req.method ?? 'GET').then(({ status, type, body, headers }) => {
        res.writeHead(status, { 'Content-Type': type, ...headers });
        res.end(body);
      });
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
  }

  get healthy(): boolean {
    return !this.draining && this.opts.runtime.state === 'ready';
  }

  private get healthState(): string {
    return this.draining ? 'draining' : this.opts.runtime.state;
  }

  private async onHttp(rawUrl: string, method: string): Promise<{ status: number; type: string; body: string | Buffer; headers?: Record<string, string> }> {
    const path = rawUrl.split('?')[0]!;
    if (method === 'GET' && path === '/healthz') {
      return { status: this.healthy ? 200 : 503, type: 'application/json', body: JSON.stringify({ status: this.healthState, ...this.opts.runtime.health?.() }) };
    }
    if (method === 'GET' && (path === '/dashboard' || path.startsWith('/dashboard/'))) {
      const asset = await this.dashboard.get(path);
      if (asset) return { status: 200, ...asset };
    }
    if (method === 'GET' && path === '/metrics') {
      try {
        return { status: 200, type: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() };
      } catch (err) {
        this.opts.log.error({ err }, 'metrics collection failed');
        return { status: 500, type: 'text/plain', body: 'metrics unavailable\n' };
      }
    }
    return { status: 404, type: 'text/plain', body: 'not found\n' };
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    const deny = (status: number, text: string) => {
      this.metrics.refusedUpgrades.inc({ status: String(status) });
      refuse(socket, status, text);
    };
    if (url.pathname !== '/ws') return deny(404, 'Not Found');
    const principal = this.opts.tokens.lookup(tokenOf(req, url));
    if (!principal) return deny(401, 'Unauthorized');
    const origins = this.opts.allowedOrigins ?? [];
    const origin = req.headers.origin;
    if (origin !== undefined && origins.length > 0 && !origins.includes(origin)) return deny(403, 'Forbidden');
    if (!this.healthy) return deny(503, 'Service Unavailable');
    const open = this.perToken.get(principal) ?? 0;
    if (open >= (this.opts.maxConnectionsPerToken ?? DEFAULTS.gateway.maxConnectionsPerToken)) return deny(429, 'Too Many Requests');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.perToken.set(principal, (this.perToken.get(principal) ?? 0) + 1);
      const conn = new ClientConnection(ws, principal, {
        runtime: this.opts.runtime,
        hub: this.hub,
        metrics: this.metrics,
        log: this.opts.log,
        limits: this.limits,
        views: this.views,
      });
      this.connections.add(conn);
      this.metrics.connections.inc();
      ws.on('close', () => {
        this.connections.delete(conn);
        this.metrics.connections.dec();
        this.perToken.set(principal, (this.perToken.get(principal) ?? 1) - 1);
      });
    });
  }

  private get limits(): ConnectionLimits {
    return {
      maxInFlight: this.opts.maxInFlightPerConnection ?? DEFAULTS.gateway.maxInFlightPerConnection,
      maxBufferedBytes: this.opts.maxBufferedBytes ?? DEFAULTS.gateway.maxBufferedBytes,
      maxUnwrittenBytes: this.opts.maxUnwrittenBytes ?? DEFAULTS.gateway.maxUnwrittenBytes,
      maxConcurrentListings: this.opts.maxConcurrentListings ?? DEFAULTS.gateway.maxConcurrentListings,
      maxSubscriptions: this.opts.maxSubscriptions ?? DEFAULTS.gateway.maxSubscriptions,
    };
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.opts.port, this.opts.host, () => {
        const addr = this.http.address();
        this.pinger = setInterval(() => {
          for (const c of this.connections) c.ping();
        }, this.opts.pingIntervalMs ?? DEFAULTS.gateway.pingIntervalMs);
        this.pinger.unref();
        resolve(typeof addr === 'object' && addr ? addr.port : this.opts.port);
      });
    });
  }

  /**
   * Graceful stop: /healthz turns 503, no new connections, the commands in flight are answered
   * (up to `graceMs`), then every socket closes (1001 going away).
   */
  async drain(graceMs = 10_000): Promise<void> {
    this.draining = true;
    const until = Date.now() + graceMs;
    while (Date.now() < until && [...this.connections].some((c) => c.pendingCommands > 0)) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    this.draining = true;
    if (this.pinger) clearInterval(this.pinger);
    for (const client of this.wss.clients) client.close(1001, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
