import { getSystemErrorName } from 'node:util';
import { Worker } from 'node:worker_threads';
import { CTRL, STOP } from './sync-thread-protocol.js';

/** A failed fdatasync, as the sync thread reported it (`code`: the errno's name, as in Node's fs errors). */
export class DiskSyncError extends Error {
  constructor(readonly code: string) {
    super(`fdatasync failed: ${code}`);
    this.name = 'DiskSyncError';
  }
}

interface Request {
  fd: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * fdatasync on a thread of its own, so that the thread writing the journal (a host thread, which
 * also runs the actors) goes on running turns while the disk makes the last commit durable: the
 * next batch is built during the wait instead of after it. One request is in flight at a time;
 * it and its answer cross in a SharedArrayBuffer (`Atomics.notify` wakes the sync thread at once),
 * and a one-word message wakes the writer's event loop when the answer is in.
 *
 * A file descriptor belongs to the process, so the sync thread syncs the very file the writer
 * wrote: fdatasync covers every write made before the call, whichever thread made it.
 */
export class SyncThread {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(CTRL.size * Int32Array.BYTES_PER_ELEMENT));
  private readonly worker: Worker;
  private seq = 0;
  private inFlight: Request | null = null;
  private readonly queue: Request[] = [];
  private failure: Error | null = null;
  private whenIdle: (() => void) | null = null;

  constructor() {
    this.worker = new Worker(new URL('./sync-thread-worker.js', import.meta.url), { workerData: { ctrl: this.ctrl } });
    this.worker.on('message', () => this.answered());
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', () => this.fail(new Error('the journal sync thread exited')));
    // Keeps the process alive only while a sync is asked for (`issue` refs it, `idle` unrefs it):
    // an idle journal never holds up an exit. After the listeners: a 'message' listener refs
    // the worker's port again.
    this.worker.unref();
  }

  /** The thread died or was closed: a new one is needed. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** Resolves once everything written to `fd` before this call is durable. */
  sync(fd: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const req = { fd, resolve, reject };
      if (this.inFlight) this.queue.push(req);
      else this.issue(req);
    });
  }

  private issue(req: Request): void {
    if (!this.inFlight) this.worker.ref();
    this.inFlight = req;
    Atomics.store(this.ctrl, CTRL.fd, req.fd);
    Atomics.store(this.ctrl, CTRL.requested, ++this.seq);
    Atomics.notify(this.ctrl, CTRL.requested);
  }

  private answered(): void {
    const req = this.inFlight;
    if (!req || Atomics.load(this.ctrl, CTRL.done) !== this.seq) return;
    const errno = Atomics.load(this.ctrl, CTRL.error);
    this.inFlight = null;
    const next = this.queue.shift();
    if (next) this.issue(next);
    if (errno === 0) req.resolve();
    else req.reject(new DiskSyncError(getSystemErrorName(-errno)));
    if (!next) this.idle();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const all = this.inFlight ? [this.inFlight, ...this.queue] : [...this.queue];
    this.inFlight = null;
    this.queue.length = 0;
    for (const r of all) r.reject(this.failure);
    this.idle();
  }

  private idle(): void {
    this.worker.unref();
    const idle = this.whenIdle;
    this.whenIdle = null;
    idle?.();
  }

  /** Lets the syncs asked for finish, then ends the thread. */
  async close(): Promise<void> {
    if (this.inFlight) await new Promise<void>((idle) => (this.whenIdle = idle));
    this.failure ??= new Error('the journal sync thread is closed');
    this.worker.removeAllListeners('exit');
    Atomics.store(this.ctrl, CTRL.requested, STOP);
    Atomics.notify(this.ctrl, CTRL.requested);
    await this.worker.terminate();
  }
}
