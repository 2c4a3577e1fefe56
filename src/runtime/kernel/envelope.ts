import type { Command } from '../../protocol/commands.js';
import type { ActorEvent, ActorRequest, InternalCommand, Reply } from '../../protocol/messages.js';
import type { Principal } from '../../protocol/model.js';
import type { OrderQuery, OrderPage } from '../query/order-query.js';
import type { OutboxEntry } from '../journal/record.js';

/**
 * A message on its way to an actor, as it crosses threads (plain data, structured-clonable).
 *
 * `tp`: the W3C `traceparent` of the span that sent a traced message (the gateway's span for a
 * command, the sending turn's for what a turn sends; see `tracing.ts`). Absent, not undefined,
 * on untraced messages: set only through `withTrace`, so untraced messages cost nothing more.
 */
export type Envelope = (
  | { t: 'cmd'; to: string; cid: number; command: Command | InternalCommand; principal: Principal; tp?: string }
  /** A request; `oneWay` ones (notices, see `ActorContext.tell`) are never answered. */
  | { t: 'req'; to: string; from: string; id: number; request: ActorRequest; oneWay?: true; tp?: string }
  /** An actor's answer, to actor `to`, to its request `re`. */
  | { t: 'reply'; to: string; from: string; re: number; reply: Reply; tp?: string }
  | { t: 'timer'; to: string; name: string }
) & {
  /** How many times handling this message has thrown (supervision retries, then dead-letters). */
  attempts?: number;
};

export type RequestEnvelope = Extract<Envelope, { t: 'req' }>;

/** What a shard hands back to the gateway. */
export type GatewayOutput =
  /** The answer to a client's command `cid`. */
  | { t: 'result'; cid: number; reply: Reply; tp?: string }
  | { t: 'evt'; event: ActorEvent }
  /** One shard's part of the answer to a client's query `cid`. */
  | { t: 'qres'; cid: number; page: OrderPage };

/** A shard-level query (not addressed to one actor). */
export type ShardQuery = { t: 'query'; shard: number; cid: number; query: OrderQuery };

/** Everything a shard releases after its journal write: messages for actors elsewhere, answers for the gateway. */
export type Output = Envelope | GatewayOutput;

export function isEnvelope(o: Output): o is Envelope {
  return o.t === 'cmd' || o.t === 'req' || o.t === 'reply' || o.t === 'timer';
}

/**
 * The request an outbox entry stands for, as it is (re-)sent to its receiver. Outbox entries are
 * journaled without a trace context: a request re-sent after a restart (or to a replaced host)
 * is untraced, and only the first send of a traced turn's request carries `tp` (`withTrace`).
 */
export function requestOf(from: string, e: OutboxEntry): RequestEnvelope {
  return { t: 'req', to: e.to, from, id: e.id, request: e.request };
}

/** `o` carrying the trace context `tp`, when there is one (the field stays absent otherwise). */
export function withTrace<O extends Output>(o: O, tp: string | undefined): O {
  if (tp !== undefined) (o as { tp?: string }).tp = tp;
  return o;
}
