import type { ActorBehaviour, ActorContext } from './behaviour.js';
import { handleQueueRequest, PendingAnswers, type QueueRecord, queueDurability, removeFromQueue } from './waiting-queue.js';
import { wireError } from '../protocol/errors.js';
import type { CommandType } from '../protocol/commands.js';
import type { ActorRequest, Incoming } from '../protocol/messages.js';
import type { Role } from '../protocol/model.js';
import { ActorKeys } from '../protocol/messages.js';

/**
 * What the warehouse (WMS) and the carrier (TMS) have in common: a queue of orders waiting for
 * them, and client commands they turn into requests to the order actor, which alone decides
 * whether the step is allowed. The client is answered with the order actor's decision.
 */
export interface StationState {
  waiting: Set<string>;
  /** Client replies waiting for the order actor's answer (in memory only). */
  answers: PendingAnswers;
}

export interface StationSpec {
  kind: string;
  /** Client commands this station accepts, and the request each one becomes. */
  toRequest: Partial<Record<CommandType, (cmd: { orderId: string; trackingNo?: string }, by: Role) => ActorRequest>>;
  /** Whether a granted request means the order has left this station's queue. */
  leavesQueue: ReadonlySet<ActorRequest['type']>;
}

export function stationBehaviour(spec: StationSpec): ActorBehaviour<StationState, QueueRecord> {
  return {
    kind: spec.kind,
    initial: () => ({ waiting: new Set(), answers: new PendingAnswers() }),

    receive(s, msg: Incoming, ctx: ActorContext<QueueRecord>) {
      switch (msg.kind) {
        case 'command': {
          const c = msg.command;
          if (c.type === 'queue.list') {
            ctx.reply({ ok: true, orderIds: [...s.waiting] });
            return s;
          }
          const make = spec.toRequest[c.type];
          if (!make || !('orderId' in c)) {
            ctx.reply({ ok: false, error: wireError('INTERNAL', `${spec.kind} cannot handle ${c.type}`) });
            return s;
          }
          ctx.send(ActorKeys.order(c.orderId), make(c as { orderId: string }, msg.principal.role));
          s.answers.push(c.orderId, ctx.defer());
          return s;
        }
        case 'request':
          if (!handleQueueRequest(s.waiting, msg.request, ctx)) {
            ctx.reply({ ok: false, error: wireError('INTERNAL', `${spec.kind} cannot handle ${msg.request.type}`) });
          }
          return s;
        case 'reply': {
          const r = msg.request;
          if (!('orderId' in r)) return s;
          if (msg.reply.ok && spec.leavesQueue.has(r.type)) removeFromQueue(s.waiting, r.orderId, ctx);
          const handle = s.answers.shift(r.orderId);
          // No handle: the request was re-sent after a restart and its client is long gone.
          if (handle !== undefined) ctx.answer(handle, msg.reply);
          ctx.note('{} {}: {}', r.type, r.orderId, msg.reply.ok ? 'granted' : msg.reply.error.code);
          return s;
        }
        default:
          return s;
      }
    },

    ...queueDurability,
  };
}
