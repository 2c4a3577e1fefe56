/**
 * The `library` client mode: every command through the project's typed client (`Client` from
 * `ordo/client`, on the `ws` socket factory Node uses), as an application would call it: one
 * `request()` per command, a promise resolved by its reply (or rejected with `OrdoError`), and
 * the slot's next command sent from that promise's continuation. What the client library costs
 * per call (the promise, its continuation, a timeout timer, the frame spread and the result
 * reshaped, an `OrdoError` per refusal) is paid here exactly as a shop's code would pay it.
 */
import type WebSocket from 'ws';
import { Client, type CommandType } from '../src/client/client.js';
import { OrdoError } from '../src/client/errors.js';
import { wsSocketFactory } from '../src/client/node-socket.js';
import type { SocketFactory } from '../src/client/socket.js';
import type { Command, Reply } from './load-generator.js';
import { type LoadConnection, type LoadConnector, type ReplySink, socketsClosed } from './load-connection.js';

/** The client's own codes (errors.ts): no reply came, so the command counts as unanswered. */
const NOT_A_REPLY = new Set(['TIMEOUT', 'CONNECTION_LOST', 'CLOSED']);

/**
 * The client's per-call timeout. Longer than the generator's stall watchdog (30 s by default), so
 * that a silent server is reported by the watchdog, not as a shower of timeouts; the timer itself
 * is armed and cleared per call all the same, as it is in any application.
 */
const CALL_TIMEOUT_MS = 120_000;

class LibraryConnection implements LoadConnection {
  inFlight = 0;
  private closing = false;

  constructor(
    private readonly clients: Client[],
    private readonly sockets: WebSocket[],
    private readonly sink: ReplySink,
  ) {}

  send(slot: number, cmd: Command): boolean {
    const client = this.clients[cmd.via];
    if (this.closing || client.state !== 'open') return false;
    this.inFlight++;
    const sentAt = process.hrtime.bigint();
    // The frame carries its own `type`; the client spreads it and sets `type` again: no copy here.
    client.request(cmd.frame.type as CommandType, cmd.frame as never).then(
      (result) => {
        if (this.closing) return;
        this.inFlight--;
        // The client hands back the result keys only; the drivers read replies as PROTOCOL.md frames.
        const reply = result as unknown as Reply;
        reply.ok = true;
        this.sink.reply(slot, cmd, reply, sentAt, process.hrtime.bigint());
      },
      (err: unknown) => {
        if (this.closing) return;
        this.inFlight--;
        if (err instanceof OrdoError && !NOT_A_REPLY.has(err.code)) {
          const reply: Reply = { re: null, ok: false, error: { ...err.details, code: err.code, message: err.message } };
          this.sink.reply(slot, cmd, reply, sentAt, process.hrtime.bigint());
        } else {
          this.sink.lost(slot);
        }
      },
    );
    return true;
  }

  /** The client would reconnect and retry; a benchmark reports the lost connection instead. */
  connectionLost(status: number | undefined): void {
    if (this.closing) return;
    this.sink.closedEarly(status ?? 0);
    // Rejects everything in flight with CLOSED: each of those slots reports itself lost.
    queueMicrotask(() => {
      for (const c of this.clients) c.close();
    });
  }

  close(): Promise<void> {
    this.closing = true;
    for (const c of this.clients) c.close();
    return socketsClosed(this.sockets, { close: false });
  }
}

export const connectLibrary: LoadConnector = async (url, tokens, sink) => {
  const sockets: WebSocket[] = [];
  // The same factory `ordo/client` uses on Node; the socket is kept only to wait for its close.
  const factory: SocketFactory = (u, t) => {
    const s = wsSocketFactory(u, t);
    sockets.push(s as unknown as WebSocket);
    (s as unknown as WebSocket).on('error', (err) => sink.socketError(err.message));
    return s;
  };
  let conn: LibraryConnection | null = null;
  const clients: Client[] = [];
  try {
    for (const token of tokens) {
      clients.push(
        await Client.connect({
          url,
          token,
          socket: factory,
          timeoutMs: CALL_TIMEOUT_MS,
          onState: (state, detail) => {
            if (state === 'reconnecting') conn?.connectionLost(detail.status);
          },
        }),
      );
    }
  } catch (err) {
    // One role's socket refused: the others opened for this connection must not stay open.
    for (const c of clients) c.close();
    throw err;
  }
  conn = new LibraryConnection(clients, sockets, sink);
  return conn;
};
