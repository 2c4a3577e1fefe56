import WebSocket from 'ws';
import { Failure } from './usage.js';

export interface Frame {
  re?: string | null;
  ok?: boolean;
  error?: { code: string; message: string };
  event?: string;
  [key: string]: unknown;
}

/**
 * The CLI's own small client of the wire protocol: one socket, replies matched by id, events to
 * a callback. Kept apart from the library client so the CLI depends on the protocol alone.
 */
export class CliSocket {
  private seq = 0;
  private readonly pending = new Map<string, { resolve: (f: Frame) => void; reject: (e: Error) => void }>();
  private closedWith: Error | null = null;
  onEvent: (f: Frame) => void = () => {};
  /** Called once when the server closes the connection (not when we close it). */
  onClose: (why: Error) => void = () => {};
  private closing = false;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      let f: Frame;
      try {
        f = JSON.parse(data.toString()) as Frame;
      } catch {
        return;
      }
      if (typeof f.event === 'string') return this.onEvent(f);
      const waiter = typeof f.re === 'string' ? this.pending.get(f.re) : undefined;
      if (!waiter) return;
      this.pending.delete(f.re as string);
      waiter.resolve(f);
    });
    ws.on('close', (code) => {
      this.closedWith = new Failure(`connection closed by the server (code ${code})`);
      for (const w of this.pending.values()) w.reject(this.closedWith);
      this.pending.clear();
      if (!this.closing) this.onClose(this.closedWith);
    });
  }

  static connect(url: string, token: string): Promise<CliSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
      const fail = (why: string) => reject(new Failure(`cannot connect to ${url}: ${why}`));
      ws.once('unexpected-response', (_req, res) => {
        fail(res.statusCode === 401 ? 'the token was refused (HTTP 401)' : `HTTP ${res.statusCode}`);
        ws.terminate();
      });
      ws.once('error', (err) => fail(err.message));
      ws.once('open', () => {
        ws.removeAllListeners('error');
        ws.on('error', () => {}); // a later error is followed by 'close', which says what happened
        resolve(new CliSocket(ws));
      });
    });
  }

  /** Sends a command and resolves with its reply; a refusal (`ok: false`) is a Failure. */
  async call(type: string, args: Record<string, unknown> = {}): Promise<Frame> {
    if (this.closedWith) throw this.closedWith;
    const id = `cli-${++this.seq}`;
    const reply = await new Promise<Frame>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...args, id, type }));
    });
    if (reply.ok !== true) {
      const e = reply.error;
      throw new Failure(e ? `${e.code}: ${e.message}` : `unexpected reply ${JSON.stringify(reply)}`);
    }
    return reply;
  }

  close(): Promise<void> {
    this.closing = true;
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close(1000);
    });
  }
}
