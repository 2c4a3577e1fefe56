import { actorKind } from '../protocol/messages.js';
import { readFrame } from './journal/frame.js';
import { decodeRecord } from './journal/record.js';
import type { MergeStep } from './storage/run-merge.js';

/**
 * Test-only fault injection for crash tests: `ORDO_TEST_CRASH_AFTER=<actor kind>[:<n>]` kills the
 * whole process with SIGKILL right after the group commit that wrote the n-th record of that actor
 * kind is durable, before any reply or cross-shard message of that commit leaves. Records are
 * counted per worker thread. It lets a test
 * stop the server exactly between two steps of a saga (e.g. `sku:1`: a reservation is on disk,
 * its answer to the order is not). Unset in production: this returns null.
 */
export function crashPointFromEnv(env: NodeJS.ProcessEnv = process.env): ((frames: Buffer[][]) => void) | null {
  const spec = env.ORDO_TEST_CRASH_AFTER;
  if (!spec) return null;
  const [kind, nth] = spec.split(':');
  let remaining = Number(nth ?? 1);
  return (batches) => {
    for (const frames of batches) {
      for (const f of frames) {
        const r = readFrame(f, 0);
        if (r.kind === 'frame' && actorKind(decodeRecord(r.payload).k) === kind) remaining--;
      }
    }
    if (remaining <= 0) process.kill(process.pid, 'SIGKILL');
  };
}

/**
 * Test-only: `ORDO_TEST_CRASH_IN_MERGE=written|committed` kills the process with SIGKILL at that
 * step of the first merge (output durable but not in use; manifest naming it, inputs not yet
 * deleted). Unset in production: null.
 */
export function mergeCrashPointFromEnv(env: NodeJS.ProcessEnv = process.env): ((step: MergeStep) => void) | null {
  const at = env.ORDO_TEST_CRASH_IN_MERGE;
  if (!at) return null;
  return (step) => {
    if (step === at) process.kill(process.pid, 'SIGKILL');
  };
}
