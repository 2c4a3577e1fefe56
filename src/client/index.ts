/**
 * `ordo/client` for Node: the typed client on the `ws` package, on every Node version. Node ≥ 22
 * also has a global `WebSocket`, but like a browser's it cannot send the token in the
 * Authorization header (it would travel in the URL, which proxies log) nor tell a refused token
 * (401) from a network failure. Browsers get browser.ts (the `browser` export condition), the
 * same client without any Node import.
 */
import { Client, type ClientOptions } from './client.js';
import { wsSocketFactory } from './node-socket.js';

export { Client, type CallOptions, type ClientOptions, type ClientState, type CommandType } from './client.js';
export { ConnectError, OrdoError } from './errors.js';
export type { CommandArgs, CommandResults, EventFrame, ReplyError } from './protocol-map.js';
export { backoffDelay, isRetryable } from './retry-policy.js';
export { globalSocketFactory, type SocketFactory, type SocketLike } from './socket.js';
export { wsSocketFactory } from './node-socket.js';
export type { Feed, HistoryEntry, Item, Order, OrderStatus, Role, Stock } from '../protocol/model.js';
export type { Stats } from '../protocol/stats.js';

/** Connects with `ws` (token in the Authorization header), or with `opts.socket` when given. */
export function connect(opts: ClientOptions): Promise<Client> {
  return Client.connect({ ...opts, socket: opts.socket ?? wsSocketFactory });
}
