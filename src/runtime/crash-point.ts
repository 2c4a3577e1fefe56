import { actorKind } from '../protocol/messages.js';
import { readFrame } from './journal-format.js';

/**
 * Test-only fault injection for crash tests: `ORDO_TEST_CRASH_AFTER=<actor kind>[:<n>]` kills the
 * whole process with SIGKILL right after the n-th group commit that wrote a record of that actor
 * kind is durable, before any reply or cross-shard message of that commit leaves. It lets a test
 * stop the server exactly between two steps of a saga (e.g. `sku:1`: a reservation is on disk,
 * its answer to the order is not). Unset in production: this returns null.
 */
export function crashPointFromEnv(env: NodeJS.ProcessEnv = process.env): ((frames: Buffer[][]) => void) | null {
  const spec = env.ORDO_TEST_CRASH_AFTER;
  if (!spec) return null;
  const [kind, nth] = spec.split(':');
  let remaining = Number(nth ?? 1);
  return (batches) => {
    const hit = batches.some((frames) =>
      frames.some((f) => {
        const r = readFrame(f, 0);
        return r.kind === 'frame' && actorKind((JSON.parse(r.payload.toString('utf8')) as { k: string }).k) === kind;
      }),
    );
    if (hit && --remaining === 0) process.kill(process.pid, 'SIGKILL');
  };
}
