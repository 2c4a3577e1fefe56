/**
 * The `raw` client mode: PROTOCOL.md spoken directly on `ws` sockets. The hot path costs the
 * client as little as possible (no promise and no closure per command: one pending entry per
 * command, one handler per socket), to see what a server does when its client is nearly free.
 */
import WebSocket from 'ws';
import type { Command, Reply } from './load-generator.js';
import { type LoadConnection, type LoadConnector, type ReplySink, socketsClosed } from './load-connection.js';

interface Pending {
  slot: number;
  cmd: Command;
  sentAt: bigint;
}

function openSocket(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    // No compression: the server refuses it anyway, and it would only add client CPU.
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    ws.once('open', () => {
      ws.removeListener('error', reject);
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** One logical connection: a socket per token, one id space. */
class RawConnection implements LoadConnection {
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  private closing = false;

  constructor(
    private readonly sockets: WebSocket[],
    private readonly sink: ReplySink,
  ) {
    const onMessage = (data: WebSocket.RawData): void => {
      const now = process.hrtime.bigint();
      const msg = JSON.parse(data.toString()) as Reply & { event?: string };
      if (msg.event !== undefined) return; // events are not replies; these scenarios subscribe to nothing
      const p = msg.re === null ? undefined : this.pending.get(msg.re);
      if (!p) {
        if (!this.closing) sink.unmatched();
        return;
      }
      this.pending.delete(msg.re as string);
      if (!this.closing) sink.reply(p.slot, p.cmd, msg, p.sentAt, now);
    };
    for (const ws of sockets) {
      ws.on('message', onMessage);
      ws.on('error', (err) => sink.socketError(err.message));
      ws.on('close', (code) => {
        if (this.closing) return;
        this.closing = true;
        sink.closedEarly(code);
        // Everything this connection had in flight is lost; its slots end.
        for (const p of this.pending.values()) sink.lost(p.slot);
        this.pending.clear();
      });
    }
  }

  get inFlight(): number {
    return this.pending.size;
  }

  send(slot: number, cmd: Command): boolean {
    const ws = this.sockets[cmd.via];
    if (this.closing || ws.readyState !== WebSocket.OPEN) return false;
    const id = String(++this.seq);
    this.pending.set(id, { slot, cmd, sentAt: process.hrtime.bigint() });
    // `id` first and the rest spread after it: the frame is built once, without a template.
    ws.send(JSON.stringify({ id, ...cmd.frame }));
    return true;
  }

  close(): Promise<void> {
    this.closing = true;
    return socketsClosed(this.sockets, { close: true });
  }
}

export const connectRaw: LoadConnector = async (url, tokens, sink) => {
  const sockets: WebSocket[] = [];
  for (const token of tokens) sockets.push(await openSocket(url, token));
  return new RawConnection(sockets, sink);
};
