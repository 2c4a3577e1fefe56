import { createServer, type Server } from 'node:http';

/**
 * The HTTP side of a bench peer (the ceiling, the Redis front): ordo's readiness probe and
 * nothing else, so the bench waits for every server the same way (GET /healthz → 200).
 */
export function readinessServer(): Server {
  return createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"status":"ready"}');
      return;
    }
    res.writeHead(404);
    res.end();
  });
}
