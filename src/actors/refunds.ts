import type { ActorBehaviour } from './behaviour.js';
import { handleQueueRequest, type QueueRecord, queueDurability } from './waiting-queue.js';
import { wireError } from '../protocol/errors.js';

/** The refunds ledger: orders whose `refundDue` is set, listed to a new `refunds` feed subscriber. */
export const RefundsActor: ActorBehaviour<{ waiting: Set<string> }, QueueRecord> = {
  kind: 'refunds',
  initial: () => ({ waiting: new Set() }),
  receive(s, msg, ctx) {
    if (msg.kind === 'command' && msg.command.type === 'queue.list') {
      ctx.reply({ ok: true, orderIds: [...s.waiting] });
    } else if (msg.kind === 'request') {
      if (!handleQueueRequest(s.waiting, msg.request, ctx)) {
        ctx.reply({ ok: false, error: wireError('INTERNAL', `refunds cannot handle ${msg.request.type}`) });
      }
    } else if (msg.kind === 'command') {
      ctx.reply({ ok: false, error: wireError('INTERNAL', `refunds cannot handle ${msg.command.type}`) });
    }
    return s;
  },
  ...queueDurability,
};
