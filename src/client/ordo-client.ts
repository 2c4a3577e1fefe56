import WebSocket from 'ws';

export interface ReplyFrame {
  re: string | null;
  ok: boolean;
  error?: { code: string; message: string; field?: string; status?: string; sku?: string; available?: number };
  [key: string]: unknown;
}

export interface EventFrame {
  event: string;
  [key: string]: unknown;
}

/**
 * A minimal client of the wire protocol (PROTOCOL.md), written from the protocol alone: used by
 * the simulation, the tests and the benchmark.
 *
 * @example
 *   const c = await OrdoClient.connect('ws://127.0.0.1:8080/ws', token);
 *   const r = await c.call('inventory.get', { sku: 'mug' });
 */
export class OrdoClient {
  private seq = 0;
  private readonly pending = new Map<string, (r: ReplyFrame) => void>();
  readonly events: EventFrame[] = [];
  private listeners: ((e: EventFrame) => void)[] = [];
  /** Replies with `re: null` (BAD_FRAME), in arrival order. */
  readonly unmatched: ReplyFrame[] = [];
  private unmatchedWaiters: ((r: ReplyFrame) => void)[] = [];
  closeCode: number | null = null;
  private closeWaiters: ((code: number) => void)[] = [];

  private constructor(readonly ws: WebSocket, private readonly keepEvents: boolean) {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as ReplyFrame | EventFrame;
      if ('event' in msg) {
        const e = msg as EventFrame;
        if (this.keepEvents) this.events.push(e);
        for (const l of this.listeners) l(e);
        return;
      }
      const r = msg as ReplyFrame;
      const w = r.re === null ? undefined : this.pending.get(r.re);
      if (w) {
        this.pending.delete(r.re as string);
        w(r);
      } else {
        const u = this.unmatchedWaiters.shift();
        if (u) u(r);
        else this.unmatched.push(r);
      }
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      for (const w of this.closeWaiters) w(code);
      for (const w of this.pending.values()) w({ re: null, ok: false, error: { code: 'CLOSED', message: `connection closed (${code})` } });
      this.pending.clear();
    });
  }

  /** Connects with the token in the Authorization header (or `?token=` with `viaQuery`). */
  static connect(url: string, token: string | undefined, opts: { viaQuery?: boolean; keepEvents?: boolean; headers?: Record<string, string> } = {}): Promise<OrdoClient> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...opts.headers };
      let target = url;
      if (token !== undefined && opts.viaQuery) target += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
      else if (token !== undefined) headers.authorization = `Bearer ${token}`;
      const ws = new WebSocket(target, { headers, perMessageDeflate: false });
      ws.once('open', () => resolve(new OrdoClient(ws, opts.keepEvents ?? true)));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: HTTP ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  /** Sends a command and resolves with its reply. */
  call(type: string, args: Record<string, unknown> = {}): Promise<ReplyFrame> {
    const id = `c${++this.seq}`;
    return this.send({ ...args, id, type }, id);
  }

  /** Sends any JSON value (or raw text) and resolves with the reply to `id` (or the next `re: null`). */
  send(frame: unknown, id: string | null, raw = false): Promise<ReplyFrame> {
    return new Promise((resolve) => {
      if (this.ws.readyState !== WebSocket.OPEN) {
        resolve({ re: id, ok: false, error: { code: 'CLOSED', message: 'the connection is closed' } });
        return;
      }
      if (id === null) this.unmatchedWaiters.push(resolve);
      else this.pending.set(id, resolve);
      this.ws.send(raw ? (frame as string | Buffer) : JSON.stringify(frame));
    });
  }

  onEvent(listener: (e: EventFrame) => void): void {
    this.listeners.push(listener);
  }

  waitForClose(): Promise<number> {
    if (this.closeCode !== null) return Promise.resolve(this.closeCode);
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
