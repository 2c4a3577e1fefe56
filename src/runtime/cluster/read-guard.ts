import type { Logger } from '../../logger.js';
import type { JournalHost } from './journal-host.js';
import type { NodeLease } from './node-lease.js';

/**
 * Whether a node may answer from memory for a journal it holds. Writes are safe whatever this
 * says (the fence refuses a stale owner's appends), but a read is answered from memory without a
 * write: a node frozen (SIGSTOP, a VM pause) past its lease may have lost the journal without
 * knowing, and once it runs again its lease renews at once and its loop may see nothing new. So
 * nothing is served while the lease is lapsed, nor after a gap in a 100 ms heartbeat (the event
 * loop did not run for a third of the lease) until every journal held is checked against its
 * stream (`stillOwner`); those another node took are reported lost.
 *
 * Checked where a command or message would be served, and again where its result is released:
 * the order in which a resumed process runs its timers and its sockets is not ours to choose.
 */
export class ReadGuard {
  private beat = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private verifying = false;

  constructor(
    private readonly hosts: () => Iterable<JournalHost>,
    private readonly lease: NodeLease,
    private readonly onLost: (host: JournalHost) => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.beat = Date.now();
    this.timer = setInterval(() => this.heartbeat(), 100);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Whether `host`'s shards may be served here now. */
  serves(host: JournalHost | undefined): host is JournalHost {
    return !!host && host.serving && !host.suspect && this.fresh();
  }

  /** The lease is live and the heartbeat ran lately: memory may be trusted (for journals not suspect). */
  fresh(): boolean {
    return Date.now() - this.beat < this.suspectAfterMs && !this.lease.lapsed;
  }

  private get suspectAfterMs(): number {
    return Math.max(200, Math.floor(this.lease.ttlMs / 3));
  }

  /** Exposed for tests, which stop the timer to play a frozen process. */
  heartbeat(): void {
    const now = Date.now();
    const gap = now - this.beat;
    this.beat = now;
    if (gap > this.suspectAfterMs || this.lease.lapsed) for (const h of this.hosts()) h.suspect = true;
    if (!this.verifying && [...this.hosts()].some((h) => h.suspect)) void this.verify(gap);
  }

  private async verify(gap: number): Promise<void> {
    this.verifying = true;
    try {
      await Promise.all(
        [...this.hosts()]
          .filter((h) => h.suspect)
          .map(async (h) => {
            if (this.lease.lapsed) return; // checked again once the lease is renewed
            const ok = await h.journal.stillOwner().catch(() => null);
            if (ok === true) h.suspect = false;
            else if (ok === false) {
              this.log.warn({ journal: h.journalNo, epoch: h.epoch, gapMs: gap }, `journal ${h.journalNo} was taken over while this node was not running`);
              this.onLost(h);
            }
          }),
      );
    } finally {
      this.verifying = false;
    }
  }
}
