/**
 * `ordo/client` for Node: the typed client, with the `ws` package as the socket when Node has
 * no global `WebSocket` (Node 20). Browsers get browser.ts (the `browser` export condition),
 * the same client without any Node import.
 */
import { Client, type ClientOptions } from './client.js';
import { wsSocketFactory } from './node-socket.js';
import { globalSocketFactory } from './socket.js';

export { Client, type CallOptions, type ClientOptions, type ClientState, type CommandType } from './client.js';
export { ConnectError, OrdoError } from './errors.js';
export type { CommandArgs, CommandResults, EventFrame, ReplyError } from './protocol-map.js';
export { backoffDelay, isRetryable } from './retry-policy.js';
export { globalSocketFactory, type SocketFactory, type SocketLike } from './socket.js';
export { wsSocketFactory } from './node-socket.js';
export type { Feed, HistoryEntry, Item, Order, OrderStatus, Role, Stock } from '../protocol/model.js';
export type { Stats } from '../protocol/stats.js';

/** Connects with the platform's `WebSocket`, or with `ws` on Node 20 (token in the Authorization header). */
export function connect(opts: ClientOptions): Promise<Client> {
  return Client.connect({ ...opts, socket: opts.socket ?? globalSocketFactory() ?? wsSocketFactory });
}
