import type { Command } from '../../protocol/commands.js';
import type { ActorEvent, ActorRequest, InternalCommand, Reply } from '../../protocol/messages.js';
import type { Principal } from '../../protocol/model.js';
import type { OrderQuery, OrderPage } from '../query/order-query.js';
import type { OutboxEntry } from '../journal/record.js';

/** A message on its way to an actor, as it crosses threads (plain data, structured-clonable). */
export type Envelope = (
  | { t: 'cmd'; to: string; cid: number; command: Command | InternalCommand; principal: Principal }
  /** A request; `oneWay` ones (notices, see `ActorContext.tell`) are never answered. */
  | { t: 'req'; to: string; from: string; id: number; request: ActorRequest; oneWay?: true }
  /** An actor's answer, to actor `to`, to its request `re`. */
  | { t: 'reply'; to: string; from: string; re: number; reply: Reply }
  | { t: 'timer'; to: string; name: string }
) & {
  /** How many times handling this message has thrown (supervision retries, then dead-letters). */
  attempts?: number;
};

/** What a shard hands back to the gateway. */
export type GatewayOutput =
  /** The answer to a client's command `cid`. */
  | { t: 'result'; cid: number; reply: Reply }
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

/** The request an outbox entry stands for, as it is (re-)sent to its receiver. */
export function requestOf(from: string, e: OutboxEntry): Envelope {
  return { t: 'req', to: e.to, from, id: e.id, request: e.request };
}

/** Who sent a message and what it was, as an actor's message log and dead letters show it. */
export function describe(env: Envelope): { from: string; message: string } {
  switch (env.t) {
    case 'cmd':
      return { from: `client(${env.principal.role})`, message: env.command.type };
    case 'req':
      return { from: env.from, message: env.request.type };
    case 'reply':
      return { from: env.from, message: `reply ${env.reply.ok ? 'ok' : env.reply.error.code}` };
    case 'timer':
      return { from: 'timer', message: `timer ${env.name}` };
  }
}
