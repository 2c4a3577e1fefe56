import { parseArgs } from 'node:util';
import type { Order } from '../protocol/model.js';
import { serverToken, serverUrl } from './endpoint.js';
import { CliSocket } from './socket.js';
import { UsageError } from './usage.js';

/** One line a change: when, which order, the status it entered and who moved it. */
export function tailLine(o: Order): string {
  const last = o.history[o.history.length - 1];
  const at = new Date(last?.at ?? Date.now()).toISOString();
  const extra = [o.reason ? `reason=${o.reason}` : '', o.refundDue ? 'refundDue' : ''].filter(Boolean).join(' ');
  return `${at} ${o.orderId} ${o.status} by ${last?.by ?? '?'}${extra ? ` ${extra}` : ''}`;
}

/**
 * Follows an order (`order.subscribe`) until Ctrl-C or SIGTERM (exit 0); the server closing
 * the connection is a failure (exit 1), so a script can tell "I stopped it" from "it stopped".
 */
export async function tail(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { data: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  const [kind, orderId, ...rest] = positionals;
  if (kind !== 'order') throw new UsageError('tail takes `order <orderId>` (see ordo tail --help)');
  if (!orderId) throw new UsageError('tail order needs an orderId (see ordo tail --help)');
  if (rest.length) throw new UsageError(`unexpected argument ${rest[0]} (see ordo tail --help)`);
  const dataDir = values.data ?? env.ORDO_DATA_DIR ?? './data';
  const url = await serverUrl(values.url, dataDir, env);
  const socket = await CliSocket.connect(url, await serverToken(values.token, dataDir, env));
  const print = (o: Order) => console.log(values.json ? JSON.stringify(o) : tailLine(o));

  const ended = new Promise<number>((resolve, reject) => {
    socket.onClose = reject;
    const stop = () => void socket.close().then(() => resolve(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  void ended.catch(() => {}); // a close during the first call is reported by that call
  // Events of this subscription start only after its first reply (PROTOCOL-NOTES.md), so the
  // current state prints first and every later line is newer.
  socket.onEvent = (f) => {
    if (f.event === 'order.updated') print(f.order as Order);
  };
  const first = await socket.call('order.subscribe', { orderId });
  print(first.order as Order);
  return ended;
}
