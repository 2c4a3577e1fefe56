/**
 * The body of the journal's sync thread (see sync-thread.ts): waits for a request, syncs the
 * file, answers, and waits again. It only ever blocks in `Atomics.wait` or in fdatasync.
 */
import { fdatasyncSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CTRL, STOP } from './sync-thread-protocol.js';

const ctrl = (workerData as { ctrl: Int32Array }).ctrl;
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, CTRL.requested, seen);
  const requested = Atomics.load(ctrl, CTRL.requested);
  if (requested === STOP) break;
  if (requested === seen) continue;
  let error = 0;
  try {
    fdatasyncSync(Atomics.load(ctrl, CTRL.fd));
  } catch (err) {
    // Node's errno is negative (-5 for EIO); 0 must keep meaning "durable".
    error = Math.abs(Number((err as NodeJS.ErrnoException).errno)) || 1;
  }
  Atomics.store(ctrl, CTRL.error, error);
  Atomics.store(ctrl, CTRL.done, requested);
  seen = requested;
  parentPort!.postMessage(requested);
}
