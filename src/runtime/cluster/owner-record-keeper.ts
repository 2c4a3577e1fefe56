import type { OwnerRecord, OwnerRecords } from './owner-records.js';

export interface OwnerRecordKeeperOptions {
  records: OwnerRecords;
  /** How often every served journal's record is read (and written again where it is wrong). */
  everyMs: number;
  /** The journals this node serves now, each with the record that should name it. */
  served(): { journal: number; record: OwnerRecord }[];
  /** A record was found missing or stale and written again (`was`: what KV held, null for none). */
  onRewritten?(journal: number, was: OwnerRecord | null): void;
  onError?(err: unknown, journal: number): void;
}

/**
 * Keeps the owner records of the journals this node serves true after the take wrote them.
 *
 * Other nodes route by those records (cluster-runtime.ts, actor-mail.ts): while a journal's record
 * is missing or names an old owner, they park the actor messages bound for it and answer its
 * commands `UNAVAILABLE`, however healthy its owner is. Nothing else would ever correct it, and
 * two things can leave it wrong:
 * - the take's put fails (a timeout while the bucket's stream elects a leader) and is not retried;
 * - the previous owner's `clear`, at the end of its release, deletes its successor's record. It is
 *   a compare-and-set on the record's revision, which clustered servers before 2.9.21 do not
 *   honour reliably (nats-server#4320).
 *
 * So every `everyMs` each served journal's record is read, and written again unless it names this
 * node at this epoch or already names a newer epoch (a successor's: the fence decides, and the
 * journal's next append or check finds out). One round at a time; a failed read or write waits
 * for the next round.
 */
export class OwnerRecordKeeper {
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  rewritten = 0;

  constructor(private readonly opts: OwnerRecordKeeperOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.round ??= this.check().finally(() => (this.round = null));
    }, this.opts.everyMs);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.round;
  }

  /** One round: every served journal's record read, and written again where it is wrong. */
  async check(): Promise<void> {
    for (const { journal, record } of this.opts.served()) {
      try {
        // `put` writes only over no record or one of an older epoch: one read when all is well.
        const { written, was } = await this.opts.records.put(journal, record);
        if (written) {
          this.rewritten++;
          this.opts.onRewritten?.(journal, was);
        }
      } catch (err) {
        this.opts.onError?.(err, journal);
      }
    }
  }
}
