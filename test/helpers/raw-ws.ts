import WebSocket from 'ws';

/**
 * A bare WebSocket to the gateway for fuzzing: sends exactly the bytes it is given (text or
 * binary frames) and hands back every non-event message in arrival order, so a test can check
 * that each frame got exactly one reply.
 */
export class RawConn {
  private readonly queue: string[] = [];
  private waiter: ((m: string | null) => void) | null = null;
  events = 0;
  closeCode: number | null = null;
  private closeWaiters: ((code: number) => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? `<binary ${(data as Buffer).length} bytes>` : data.toString();
      try {
        const msg = JSON.parse(text) as Record<string, unknown>;
        if (msg && typeof msg === 'object' && 'event' in msg) {
          this.events++;
          return;
        }
      } catch {
        // not JSON: handed over as is, the test will fail on it
      }
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(text);
      } else this.queue.push(text);
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      for (const w of this.closeWaiters) w(code);
      this.closeWaiters = [];
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(null);
      }
    });
    ws.on('error', () => {});
  }

  static open(url: string, token: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
      ws.once('open', () => resolve(new RawConn(ws)));
      ws.once('error', reject);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  sendText(text: string | Buffer): void {
    this.ws.send(text, { binary: false });
  }

  sendBinary(bytes: Uint8Array): void {
    this.ws.send(bytes, { binary: true });
  }

  /** The next reply (events skipped), or null if the connection closed or nothing came in `ms`. */
  next(ms = 5_000): Promise<string | null> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closeCode !== null) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(null);
      }, ms);
      this.waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }

  /** Replies received and not yet taken. */
  get pending(): number {
    return this.queue.length;
  }

  waitForClose(ms = 5_000): Promise<number | null> {
    if (this.closeCode !== null) return Promise.resolve(this.closeCode);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), ms);
      this.closeWaiters.push((code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
