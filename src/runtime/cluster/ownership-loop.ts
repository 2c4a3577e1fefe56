import { assignJournals } from './assignment.js';
import type { NodeLease } from './node-lease.js';

export interface OwnershipLoopOptions {
  lease: NodeLease;
  /** The cluster's journal count (the same on every node). */
  journals: number;
  /**
   * This node should own `journal` now: the caller fences it (`JetStreamJournal.acquire`),
   * replays it and starts serving its shards. A rejection is reported and retried at a later poll.
   */
  take(journal: number): Promise<void>;
  /**
   * This node should no longer own `journal` (another node joined, or this one stops or lapsed):
   * the caller stops its shards and flushes. Also called after `lost(journal)`, where the flush
   * will fail: the journal is already another node's.
   */
  release(journal: number): Promise<void>;
  /**
   * Whether this node still owns `journal` (`JetStreamJournal.stillOwner`): asked of every held
   * journal for a while after the view changes. Two nodes that disagreed for a poll may both have
   * fenced it, and the one meant to keep it may be the one fenced; a `false` is treated as `lost`.
   */
  check?(journal: number): Promise<boolean>;
  /** How often the leases are read (default 1 s). */
  pollMs?: number;
  /**
   * How long a node must be seen in every read before it counts (default two polls): a node that
   * flaps (its lease lapsing and coming back) does not pull journals to itself at each return.
   * A node that leaves counts no more at once: its TTL already was its grace.
   */
  settleMs?: number;
  onError?: (err: unknown, journal: number | null) => void;
  /** The nodes counted changed (for the log). */
  onView?: (view: string[]) => void;
  /** `journal` was lost to another node and is not taken back before `until` (for the log). */
  onCooldown?: (journal: number, until: number) => void;
}

/**
 * Turns the leases into journal ownership: every poll it reads the live nodes, computes the
 * assignment every node computes (assignment.ts) and calls `take` for the journals newly this
 * node's and `release` for those no longer its own. Calls for one journal run one after another
 * (a release waits for a take in progress); different journals proceed in parallel, and a slow
 * take (a long replay) does not delay the polls.
 *
 * Liveness only. Two nodes whose views differ for a poll may both take a journal; the fence in
 * the journal's stream decides, and the loser learns it from a refused append (`lost`).
 */
export class OwnershipLoop {
  readonly node: string;
  private readonly pollMs: number;
  private readonly settleMs: number;
  /** Journals taken or being taken (what this node means to own). */
  private readonly intent = new Set<number>();
  /** Journals whose `take` resolved and whose `release` has not started. */
  private readonly held = new Set<number>();
  private readonly chains = new Map<number, Promise<void>>();
  /** When each node was first seen in an unbroken run of reads. */
  private readonly firstSeen = new Map<string, number>();
  /** Journals lost to another node: not taken back before this time. */
  private readonly cooldown = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();
  private running = false;
  private stopped = false;
  /** Held journals are checked until this time (the view changed not long before). */
  private checkUntil = 0;
  /** The nodes counted at the last poll. */
  view: string[] = [];
  polls = 0;

  constructor(private readonly opts: OwnershipLoopOptions) {
    this.node = opts.lease.node;
    this.pollMs = opts.pollMs ?? 1000;
    this.settleMs = opts.settleMs ?? 2 * this.pollMs;
  }

  /** The journals this node owns now (their `take` resolved), ascending. */
  get owned(): number[] {
    return [...this.held].filter((j) => this.intent.has(j)).sort((a, b) => a - b);
  }

  /**
   * Journals with a take or release under way, ascending: a hand-over is done only when this is
   * empty on every node (`owned` leaves out a take still replaying, which may yet fence the
   * journal under the node meant to keep it).
   */
  get moving(): number[] {
    return [...this.chains.keys()].sort((a, b) => a - b);
  }

  /** Resolves once no take or release is in progress (they may still start at the next poll). */
  async idle(): Promise<void> {
    while (this.chains.size) await Promise.all([...this.chains.values()]);
  }

  /** Polls now and every `pollMs` after. */
  start(): void {
    if (this.stopped || this.running) return;
    this.running = true;
    this.loop();
  }

  /**
   * Stops polling without releasing anything or touching the lease: with `NodeLease.suspend`,
   * what a frozen process looks like (for tests). `start()` resumes.
   */
  pause(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * The caller saw `journal` taken by another node (`onLost` of its JetStreamJournal): it is
   * forgotten, released, and not taken back for `settleMs` (the other node's view is newer).
   */
  lost(journal: number): void {
    const until = Date.now() + this.settleMs;
    this.cooldown.set(journal, until);
    this.opts.onCooldown?.(journal, until);
    if (this.intent.has(journal)) this.dropJournal(journal);
  }

  /** One poll: read the leases and take or release what changed. Exposed for tests. */
  poll(): Promise<void> {
    this.ticking = this.ticking.then(() => this.tick());
    return this.ticking;
  }

  /**
   * The SIGTERM hand-over: stops polling, releases every journal (the caller flushes), then
   * deletes the lease so the others see this node gone at their next poll, not after the TTL.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.pause();
    this.stopped = true;
    await this.ticking;
    for (const j of [...this.intent]) this.dropJournal(j);
    await Promise.all([...this.chains.values()]);
    await this.opts.lease.stop();
  }

  private loop(): void {
    if (!this.running) return;
    void this.poll().finally(() => {
      if (!this.running) return;
      this.timer = setTimeout(() => this.loop(), this.pollMs);
      this.timer.unref?.();
    });
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.polls++;
    const lease = this.opts.lease;
    let present: string[];
    try {
      present = (await lease.members()).map((m) => m.node);
    } catch (err) {
      this.opts.onError?.(err, null);
      // Unreadable leases: keep what we hold, unless our own lease may have lapsed meanwhile.
      if (!lease.lapsed) return;
      present = [];
    }
    if (this.stopped) return;
    // A node whose own renewals have not been acknowledged for the TTL may already be gone in the
    // others' eyes: it must not count itself, whatever the bucket showed it.
    if (lease.lapsed) present = present.filter((n) => n !== this.node);
    const now = Date.now();
    for (const n of [...this.firstSeen.keys()]) if (!present.includes(n)) this.firstSeen.delete(n);
    for (const n of present) if (!this.firstSeen.has(n)) this.firstSeen.set(n, now);
    const view = present.filter((n) => now - this.firstSeen.get(n)! >= this.settleMs);
    const changed = view.join('\n') !== this.view.join('\n');
    if (changed) this.checkUntil = now + this.settleMs + 3 * this.pollMs;
    this.view = view;
    if (changed) this.opts.onView?.(view);
    if (this.opts.check && now < this.checkUntil) await this.checkHeld();
    const mine = new Set<number>();
    for (const [j, n] of assignJournals(this.opts.journals, this.view)) if (n === this.node) mine.add(j);
    for (const j of [...this.intent]) if (!mine.has(j)) this.dropJournal(j);
    for (const j of mine) {
      if (this.intent.has(j)) continue;
      const until = this.cooldown.get(j);
      if (until !== undefined && now < until) continue;
      this.cooldown.delete(j);
      this.takeJournal(j);
    }
  }

  /** Held journals another node fenced (and perhaps already let go of) count as lost. */
  private async checkHeld(): Promise<void> {
    await Promise.all(
      this.owned.map(async (j) => {
        const ok = await this.opts.check!(j).catch((err) => {
          this.opts.onError?.(err, j);
          return true;
        });
        if (!ok) this.lost(j);
      }),
    );
  }

  private takeJournal(j: number): void {
    this.intent.add(j);
    this.chain(j, async () => {
      // Released before its turn came, or still held (a release was asked for and taken back).
      if (!this.intent.has(j) || this.held.has(j)) return;
      try {
        await this.opts.take(j);
        this.held.add(j);
      } catch (err) {
        this.intent.delete(j);
        this.opts.onError?.(err, j);
      }
    });
  }

  private dropJournal(j: number): void {
    this.intent.delete(j);
    this.chain(j, async () => {
      // Asked for again meanwhile (keep it), or never taken (its take failed): nothing to undo.
      if (this.intent.has(j) || !this.held.has(j)) return;
      this.held.delete(j);
      try {
        await this.opts.release(j);
      } catch (err) {
        this.opts.onError?.(err, j);
      }
    });
  }

  private chain(j: number, op: () => Promise<void>): void {
    const next = (this.chains.get(j) ?? Promise.resolve()).then(op);
    this.chains.set(j, next);
    void next.then(() => {
      if (this.chains.get(j) === next) this.chains.delete(j);
    });
  }
}
