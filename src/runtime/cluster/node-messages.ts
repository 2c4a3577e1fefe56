/**
 * What nodes of a cluster ask each other over NATS request/reply, on the subject of the node
 * that owns the journal (`nodeSubject`). JSON bodies; every request gets exactly one answer, and
 * `moved` means "not mine (any more, or not yet)": the sender looks up the owner again and retries.
 */
import type { Command } from '../../protocol/commands.js';
import type { InternalCommand, Reply } from '../../protocol/messages.js';
import type { Principal } from '../../protocol/model.js';
import type { Envelope } from '../kernel/envelope.js';
import type { OrderPage, OrderQuery } from '../query/order-query.js';

/** An actor message from journal `j` of the sender, in the sender's epoch `e` of it. */
export interface RoutedEnvelope {
  env: Envelope;
  j: number;
  e: number;
}

export type NodeRequest =
  | { k: 'cmd'; key: string; command: Command | InternalCommand; principal: Principal; tp?: string }
  | { k: 'query'; shard: number; query: OrderQuery }
  | { k: 'inspect'; key: string }
  | { k: 'env'; batch: RoutedEnvelope[] };

export type NodeAnswer =
  | { moved: true }
  | { reply: Reply }
  | { page: OrderPage }
  | { inspected: unknown }
  /** Per message of an `env` batch, by index: delivered (absent), `m` moved (send again), `s` stale sender (dropped). */
  | { refused: Record<number, 'm' | 's'> };

export function encode(m: NodeRequest | NodeAnswer): Uint8Array {
  return Buffer.from(JSON.stringify(m));
}

export function decode<T extends NodeRequest | NodeAnswer>(data: Uint8Array): T {
  return JSON.parse(Buffer.from(data).toString('utf8')) as T;
}
