/**
 * `ordo/client` for browsers: the typed client on the page's `WebSocket` (the token travels as
 * `?token=`, since browsers cannot set headers on a WebSocket). No Node import, directly or not.
 */
import { Client, type ClientOptions } from './client.js';

export { Client, type CallOptions, type ClientOptions, type ClientState, type CommandType } from './client.js';
export { ConnectError, OrdoError } from './errors.js';
export type { CommandArgs, CommandResults, EventFrame, ReplyError } from './protocol-map.js';
export { backoffDelay, isRetryable } from './retry-policy.js';
export { globalSocketFactory, type SocketFactory, type SocketLike } from './socket.js';
export type { Feed, HistoryEntry, Item, Order, OrderStatus, Role, Stock } from '../protocol/model.js';
export type { Stats } from '../protocol/stats.js';

export function connect(opts: ClientOptions): Promise<Client> {
  return Client.connect(opts);
}
