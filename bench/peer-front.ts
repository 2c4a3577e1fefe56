/**
 * The WebSocket side the bench's peers share (the Redis-Lua front, the minimal durable server;
 * the ceiling shares its listening and its life as a child process):
 * ordo's readiness probe, the same socket settings as ordo's gateway (no compression, 64 KiB
 * frames), one bearer token (an admin's), binary frames refused. Each text frame goes to the
 * peer's `onFrame` with a way to answer it on its connection.
 */
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { WebSocketServer } from 'ws';
import { errorReply } from './peer-frames.js';
import { readinessServer } from './readiness.js';

export interface PeerFront {
  port: number;
  close(): Promise<void>;
}

/** Answers one frame on the connection it came from. */
export type Send = (reply: string) => void;

export function startPeerFront(opts: { port: number; host?: string; token: string; onFrame: (text: string, send: Send) => void }): Promise<PeerFront> {
  const expectedAuth = `Bearer ${opts.token}`;
  const http = readinessServer();
  const wss = new WebSocketServer({
    server: http,
    path: '/ws',
    maxPayload: 64 * 1024,
    perMessageDeflate: false,
    verifyClient: (info, done) => (info.req.headers.authorization === expectedAuth ? done(true) : done(false, 401)),
  });
  wss.on('connection', (ws) => {
    const send: Send = (reply) => ws.send(reply);
    ws.on('message', (data, isBinary) => {
      if (isBinary) send(errorReply(null, { code: 'BAD_FRAME', message: 'frames must be UTF-8 JSON text, not binary' }));
      else opts.onFrame(data.toString(), send);
    });
  });
  return listen(http, wss, opts.port, opts.host);
}

/** Listens on `port` (0: any free one); `close()` drops every client, then stops both servers. */
export function listen(http: Server, wss: WebSocketServer, port: number, host = '127.0.0.1'): Promise<PeerFront> {
  return new Promise((resolve) => {
    http.listen(port, host, () => {
      const addr = http.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : port,
        close: () =>
          new Promise<void>((r) => {
            for (const c of wss.clients) c.terminate();
            wss.close(() => http.close(() => r()));
          }),
      });
    });
  });
}

/** True when the module at `moduleUrl` is the process's entry point (a peer run as a child process). */
export function isEntryPoint(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/** A started peer's child-process life: its "listening" line, then a clean stop on SIGTERM or SIGINT. */
export function servePeerProcess(name: string, srv: PeerFront): void {
  console.log(`${name} listening on ws://127.0.0.1:${srv.port}/ws`);
  const stop = () => void srv.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
