/**
 * The part of the WHATWG WebSocket the client uses. Browsers' and Node's (≥ 22) global
 * `WebSocket` have it, and so has the `ws` package: the client depends on nothing else, so the
 * same code runs in both and the browser build carries no Node import.
 */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  /** The HTTP status of a refused upgrade, when the platform reveals it (browsers never do). */
  refusedStatus?: number;
}

/** Opens a socket to `url` authenticated with `token`. */
export type SocketFactory = (url: string, token: string) => SocketLike;

export const OPEN = 1;

type SocketConstructor = new (url: string) => SocketLike;

/** The platform's `WebSocket`, if it has one (browsers, Node ≥ 22). */
export function globalSocketConstructor(): SocketConstructor | undefined {
  return (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
}

/**
 * A factory on the global `WebSocket`. It cannot set headers, so the token travels as
 * `?token=` (PROTOCOL.md allows it for browsers; behind a proxy prefer the header, see README).
 */
export function globalSocketFactory(): SocketFactory | undefined {
  const Ctor = globalSocketConstructor();
  if (!Ctor) return undefined;
  return (url, token) => new Ctor(withToken(url, token));
}

export function withToken(url: string, token: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}
