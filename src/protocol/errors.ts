/**
 * The one catalogue of error codes of the wire protocol (PROTOCOL.md, "Error codes").
 * Domain refusals are replies carrying one of these; anything thrown is a bug.
 */
export const ERROR_CODES = [
  'BAD_FRAME',
  'UNKNOWN_COMMAND',
  'INVALID_ARGUMENT',
  'FORBIDDEN',
  'NOT_FOUND',
  'OUT_OF_STOCK',
  'CONFLICT',
  'INVALID_STATE',
  'ORDER_EXPIRED',
  'CANCEL_REFUSED',
  'INTERCEPTED',
  'OVERLOADED',
  // 1.1: a cluster shard without an owner for 10 s. A single node (all this implementation has
  // yet) never answers it, but clients written against 1.1 must know the code.
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Flat details that travel inside `error` next to `code` and `message`. */
export interface ErrorDetails {
  field?: string;
  status?: string;
  sku?: string;
  available?: number;
}

export interface WireError extends ErrorDetails {
  code: ErrorCode;
  message: string;
}

export function wireError(code: ErrorCode, message: string, details: ErrorDetails = {}): WireError {
  return { code, message, ...details };
}

export function invalidArgument(field: string, message: string): WireError {
  return wireError('INVALID_ARGUMENT', message, { field });
}

/**
 * Thrown by a runtime where its interface returns data rather than a reply (`order.list`'s
 * page): the gateway answers its `error` instead of INTERNAL. A cluster throws it with
 * `UNAVAILABLE` for a shard that found no owner within the wait.
 */
export class RefusedError extends Error {
  constructor(readonly error: WireError) {
    super(error.message);
  }
}
