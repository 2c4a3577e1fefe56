/**
 * The ceiling: a bare ws server that parses each JSON frame and answers it at once with an order
 * shaped like ordo's, with no validation, no actors, no journal. Whatever ordo reaches is reported
 * as a fraction of what this reaches on the same machine in the same run, driven by the same
 * generator; DESIGN.md's targets ("≥ 0.6 × ceiling") are stated in that unit.
 *
 * Run as a child process (`node dist/bench/ceiling-server.js --port N`), like ordo, so that both
 * sides pay the same process boundary and neither shares the generator's event loop.
 */
import { readinessServer } from './readiness.js';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';
import { isEntryPoint, listen, type PeerFront, servePeerProcess } from './peer-front.js';

interface Frame {
  id?: unknown;
  type?: unknown;
  orderId?: unknown;
  customerId?: unknown;
  items?: unknown;
}

/** Starts the ceiling server; resolves with its port. */
export function startCeilingServer(port: number, host = '127.0.0.1'): Promise<PeerFront> {
  const http = readinessServer();
  // Same socket settings as ordo's gateway: no compression, 64 KiB frames.
  const wss = new WebSocketServer({ server: http, path: '/ws', maxPayload: 64 * 1024, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      let f: Frame;
      try {
        f = JSON.parse(data.toString()) as Frame;
      } catch {
        ws.send('{"re":null,"ok":false,"error":{"code":"BAD_FRAME","message":"not JSON"}}');
        return;
      }
      const now = Date.now();
      // A reply of about the size of ordo's to a fresh order.place (one item, one history entry),
      // built and serialised per frame as ordo must: a constant string would flatter the ceiling.
      ws.send(
        JSON.stringify({
          re: f.id,
          ok: true,
          order: {
            orderId: f.orderId,
            customerId: f.customerId,
            items: f.items,
            status: 'awaiting_payment',
            paymentDeadline: now + 900_000,
            refundDue: false,
            history: [{ at: now, status: 'awaiting_payment', by: 'admin' }],
          },
        }),
      );
    });
  });
  return listen(http, wss, port, host);
}

// Entry point when run as a child process.
if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' } }, strict: true });
  servePeerProcess('ceiling', await startCeilingServer(Number(values.port ?? 0), values.host ?? '127.0.0.1'));
}
