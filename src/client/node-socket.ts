import WebSocket from 'ws';
import type { SocketFactory, SocketLike } from './socket.js';

/**
 * A factory on the `ws` package, for Node without a global `WebSocket` (Node 20). It sends the
 * token in the `Authorization` header (which proxies do not log, unlike a query string) and
 * reports the HTTP status of a refused upgrade.
 */
export const wsSocketFactory: SocketFactory = (url, token) => {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  const sock = ws as unknown as SocketLike;
  // Registered before the client's `onerror`, so the status is known when the failure is reported.
  ws.on('error', (err) => {
    const m = /Unexpected server response: (\d{3})/.exec(err.message);
    if (m) sock.refusedStatus = Number(m[1]);
  });
  return sock;
};
