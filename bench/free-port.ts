/** Loopback ports for the servers the bench (and the tests) start. */
import { createServer, type Server } from 'node:net';

/** A port that was free a moment ago (bind to 0, read it, release it). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * `n` loopback ports that were free a moment ago, all different: each is held (listened on) until
 * all are taken, since a port released at once may be handed out again by the next call (a NATS
 * cluster's client port and another server's route port once came out the same).
 */
export async function freePorts(n: number): Promise<number[]> {
  const held = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = held.map((s) => (s.address() as { port: number }).port);
  await Promise.all(held.map((s) => new Promise((closed) => s.close(closed))));
  return ports;
}
