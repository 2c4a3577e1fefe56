import type { ReplyError } from './protocol-map.js';

/**
 * Why a call failed. `code` is the protocol's error code when the server refused the command,
 * or one of the client's own: `TIMEOUT` (no reply in time; the command may still have been
 * applied), `CONNECTION_LOST` (the connection dropped before the reply of a command that is not
 * safe to repeat; it may or may not have been applied), `CLOSED` (the client was closed).
 */
export class OrdoError extends Error {
  readonly code: string;
  readonly details: Omit<ReplyError, 'code' | 'message'>;

  constructor(error: ReplyError) {
    super(error.message);
    this.name = 'OrdoError';
    const { code, message: _m, ...details } = error;
    this.code = code;
    this.details = details;
  }
}

/** The first connection could not be opened. `status` is the HTTP refusal when known (401: token refused). */
export class ConnectError extends Error {
  constructor(readonly status: number | undefined) {
    super(status === undefined ? 'could not connect' : `connection refused: HTTP ${status}`);
    this.name = 'ConnectError';
  }
}
