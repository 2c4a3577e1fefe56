import { createServer, type Server } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';

type Frame = Record<string, unknown>;

/**
 * A WebSocket proxy in front of a real server, for faults a healthy server never makes: it can
 * answer a command itself (OVERLOADED, UNAVAILABLE), swallow a reply (a timeout), or cut the
 * client's connection the moment a reply arrives (applied, but the reply lost). It records every
 * command the client sent, so a test can count the re-sends.
 */
export class WsProxy {
  /** Every command frame the client sent, in order. */
  readonly sent: Frame[] = [];
  /** Return a frame to answer a client command here instead of forwarding it. */
  answer: ((cmd: Frame) => Frame | undefined) | null = null;
  /** Return 'drop' to swallow a server frame, 'cut' to close the client's connection instead. */
  onReply: ((reply: Frame, cmd: Frame | undefined) => 'forward' | 'drop' | 'cut') | null = null;
  connections = 0;
  private readonly clients = new Set<WebSocket>();

  private constructor(private readonly http: Server, private readonly wss: WebSocketServer, readonly url: string) {}

  static async start(target: string): Promise<WsProxy> {
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const port = (http.address() as { port: number }).port;
    const proxy = new WsProxy(http, wss, `ws://127.0.0.1:${port}/ws`);
    wss.on('connection', (client, req) => proxy.bridge(client, target + (req.url?.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''), req.headers.authorization));
    return proxy;
  }

  count(type: string, pick: (f: Frame) => boolean = () => true): number {
    return this.sent.filter((f) => f.type === type && pick(f)).length;
  }

  /** Cuts every client connection (as a server or network failure would). */
  dropAll(): void {
    for (const c of this.clients) c.terminate();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.wss.close(() => r()));
    this.http.closeAllConnections();
    await new Promise<void>((r) => this.http.close(() => r()));
  }

  private bridge(client: WebSocket, target: string, authorization: string | undefined): void {
    this.connections++;
    this.clients.add(client);
    const upstream = new WebSocket(target, { headers: authorization ? { authorization } : {} });
    const early: string[] = [];
    const byId = new Map<string, Frame>();
    upstream.on('open', () => {
      for (const t of early) upstream.send(t);
      early.length = 0;
    });
    upstream.on('message', (data) => {
      const text = data.toString();
      const reply = JSON.parse(text) as Frame;
      const cmd = typeof reply.re === 'string' ? byId.get(reply.re) : undefined;
      const verdict = this.onReply?.(reply, cmd) ?? 'forward';
      if (verdict === 'cut') client.terminate();
      else if (verdict === 'forward' && client.readyState === WebSocket.OPEN) client.send(text);
    });
    client.on('message', (data) => {
      const text = data.toString();
      const cmd = JSON.parse(text) as Frame;
      this.sent.push(cmd);
      if (typeof cmd.id === 'string') byId.set(cmd.id, cmd);
      const local = this.answer?.(cmd);
      if (local) return client.send(JSON.stringify(local));
      if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
      else early.push(text);
    });
    const end = () => {
      this.clients.delete(client);
      client.terminate();
      upstream.terminate();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  }
}
