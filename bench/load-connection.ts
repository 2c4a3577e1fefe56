/**
 * How the load generator talks to a server: one *load connection* per simulated client, in one of
 * two client modes, chosen per run (`--client`) so that the ceiling, ordo and any peer in the
 * same run are driven the same way.
 *
 * - `library` (the default): every command goes through the project's typed client
 *   (`Client` from `ordo/client`): a promise per command, resolved by its reply, the slot's next
 *   command sent from that promise's continuation, a timer per call, the result parsed and
 *   reshaped — what an application using a client library pays. Issue 13's ratios were measured
 *   with such a client, and a server is only as fast as the clients it can serve.
 * - `raw`: frames written and parsed straight on `ws` sockets, no promise or closure per command:
 *   the cheapest client, to see what the server does when the client costs as little as possible.
 */
import type WebSocket from 'ws';
import type { Command, Reply } from './load-generator.js';

export const CLIENT_MODES = ['library', 'raw'] as const;
export type ClientMode = (typeof CLIENT_MODES)[number];

/** One line per mode, printed with the results so that a table says how it was measured. */
export const CLIENT_MODE_DESCRIPTION: Record<ClientMode, string> = {
  library: 'library (the typed client ordo/client: a promise per command, the next one sent from its continuation)',
  raw: 'raw (frames on ws sockets, no promise or closure per command)',
};

/** What a load connection reports back to the generator. */
export interface ReplySink {
  /** The reply to `cmd`, sent by `slot` at `sentAt` (hrtime), handed to the caller at `receivedAt`. */
  reply(slot: number, cmd: Command, reply: Reply, sentAt: bigint, receivedAt: bigint): void;
  /** A command sent by `slot` can never be answered (its socket is gone): the slot ends. */
  lost(slot: number): void;
  /** A reply matching no command in flight (raw mode only: a library drops those itself). */
  unmatched(): void;
  /** A socket closed before the end of the run; `code` is its close code (0: not known). */
  closedEarly(code: number): void;
  socketError(message: string): void;
}

export interface LoadConnection {
  /** Sends `cmd` for `slot`; false when it cannot be sent (the connection is gone). */
  send(slot: number, cmd: Command): boolean;
  /** Commands sent and not answered yet. */
  readonly inFlight: number;
  /** Closes every socket; nothing is reported to the sink from then on. */
  close(): Promise<void>;
}

/** Opens one load connection: a socket per token, `Command.via` choosing among them. */
export type LoadConnector = (url: string, tokens: string[], sink: ReplySink) => Promise<LoadConnection>;

/**
 * Resolves once every socket is closed (`close` asks each to close first), or after `graceMs`,
 * when the ones still open are terminated: a server that never answers the close handshake must
 * not hang the bench.
 */
export function socketsClosed(sockets: WebSocket[], opts: { close: boolean }, graceMs = 2000): Promise<void> {
  return Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === ws.CLOSED) return resolve();
          ws.once('close', () => resolve());
          if (opts.close) ws.close(1000);
          setTimeout(() => {
            ws.terminate();
            resolve();
          }, graceMs).unref();
        }),
    ),
  ).then(() => {});
}
