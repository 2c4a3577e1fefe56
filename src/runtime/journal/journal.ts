import { JournalLayoutError, JournalMembershipError } from '../errors.js';
import type { JournalRecord, ReplayStats } from './record.js';
import { PendingBatch } from './pending-batch.js';
import { SegmentedJournal } from './segmented-journal.js';

interface Member {
  /** First segment this shard's snapshot does not cover (known once the shard read its manifest). */
  replayFrom: number | null;
  onRecord: ((rec: JournalRecord) => void) | null;
  records: number;
}

/**
 * The journal of one or more shards (its members: usually the shards of one host thread; a
 * shard with a journal of its own is a journal of one member). Shards stay the unit of placement
 * and of snapshots; the journal is what makes a group commit one `write` + one `fdatasync` instead of
 * one per shard, and what lets a message between two of these shards skip the output gate: both
 * records are in the same file, in the order they were produced (see PendingBatch), so a crash
 * keeps a prefix and never an effect without its cause.
 *
 * Each shard's snapshot says from which segment on its records are not covered; recovery replays
 * the journal once, from the oldest of those points, and hands each record to its shard if that
 * shard's snapshot does not already hold it. A segment is deleted once no shard needs it.
 *
 * @example
 *   const journal = new Journal(dir, [0, 2, 4, 6], (key) => shardOf(key, 8));
 *   // each shard's store: await journal.join(shard, replayFrom, onRecord)
 */
export class Journal {
  readonly pending = new PendingBatch();
  private readonly segments: SegmentedJournal;
  private readonly members = new Map<number, Member>();
  private joined = 0;
  private replayed: Promise<ReplayStats> | null = null;
  private startReplay: (() => void) | null = null;
  private closed = false;
  /** Trims run one at a time: two snapshots finishing together must not race over the same files. */
  private trimming: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    memberShards: readonly number[],
    private readonly shardOfKey: (key: string) => number,
    onWarn: (msg: string) => void = () => {},
    /** Records of shards that are not members are skipped instead of being an error (an offline reader of one shard). */
    private readonly onlyMembers = false,
  ) {
    this.segments = new SegmentedJournal(dir, onWarn);
    for (const s of memberShards) this.members.set(s, { replayFrom: null, onRecord: null, records: 0 });
  }

  /**
   * Recovery of one member shard: resolves with that shard's share of the replay once every
   * member has joined and the journal has been read (once, for all of them).
   */
  async join(shard: number, replayFrom: number, onRecord: (rec: JournalRecord) => void): Promise<ReplayStats> {
    const m = this.members.get(shard);
    if (!m) throw new JournalMembershipError(`shard ${shard} is not one of the shards of the journal in ${this.dir}`);
    if (m.onRecord) throw new JournalMembershipError(`shard ${shard} joined the journal in ${this.dir} twice`);
    m.replayFrom = replayFrom;
    m.onRecord = onRecord;
    if (!this.replayed) {
      // The first to join sets up the replay; the last to join starts it.
      const everyoneJoined = new Promise<void>((resolve) => (this.startReplay = resolve));
      this.replayed = everyoneJoined.then(() => this.replay());
    }
    if (++this.joined === this.members.size) this.startReplay!();
    const total = await this.replayed;
    // The journal's own figures go to its lowest member, so that sums over shards count them once.
    const first = Math.min(...this.members.keys()) === shard;
    return { records: m.records, bytes: first ? total.bytes : 0, truncated: first ? total.truncated : 0 };
  }

  private async replay(): Promise<ReplayStats> {
    const points = [...this.members.values()].map((m) => m.replayFrom!);
    // From the oldest snapshot point; new records go after the newest, or a shard whose
    // snapshot point lies past every segment on disk would skip them at the next recovery.
    return this.segments.replay(Math.min(...points), (rec, segment) => {
      const m = this.members.get(this.shardOfKey(rec.k));
      if (!m) {
        if (this.onlyMembers) return;
        throw new JournalLayoutError(`the journal in ${this.dir} holds a record of ${rec.k}, whose shard does not write here (was the data directory's layout changed by hand?)`);
      }
      // Before the shard's snapshot point: already in its snapshot.
      if (segment < m.replayFrom!) return;
      m.records++;
      m.onRecord!(rec);
    }, Math.max(...points));
  }

  append(frames: Buffer[]): Promise<void> {
    return this.segments.append(frames);
  }

  /** Records of one shard from `from` on, without changing anything (an actor's restart). */
  scan(shard: number, from: number, onRecord: (rec: JournalRecord) => void): Promise<void> {
    return this.segments.scan(from, (rec) => {
      if (this.shardOfKey(rec.k) === shard) onRecord(rec);
    });
  }

  /** Starts a new segment (between two commits): a member's snapshot covers what came before. */
  rotate(): Promise<number> {
    return this.segments.rotate();
  }

  /** A member's snapshot now covers its records before segment `point`; segments no member needs go. */
  covered(shard: number, point: number): Promise<void> {
    const m = this.members.get(shard);
    if (!m) return Promise.reject(new JournalMembershipError(`shard ${shard} is not one of the shards of the journal in ${this.dir}`));
    m.replayFrom = Math.max(m.replayFrom ?? point, point);
    const trim = this.trimming.then(async () => {
      let oldest = Infinity;
      for (const x of this.members.values()) {
        // A member that has not recovered (an offline reader of one shard) pins everything.
        if (x.replayFrom === null) return;
        oldest = Math.min(oldest, x.replayFrom);
      }
      await this.segments.removeBefore(oldest);
    });
    // Not a swallowed error: the caller gets it from `trim`; this chain only orders the trims.
    this.trimming = trim.catch(() => {});
    return trim;
  }

  /** Bytes appended since this process opened the journal (write amplification's denominator). */
  get bytesWritten(): number {
    return this.segments.bytesWritten;
  }

  /**
   * Journal bytes a member's recovery would read: everything from its snapshot point on. A shard
   * that writes little snapshots rarely, and its point pins the journal for all the others;
   * the host snapshots it once this grows past what its busy neighbours leave behind.
   */
  bytesPast(shard: number): number {
    const from = this.members.get(shard)?.replayFrom ?? 1;
    let n = 0;
    for (const [segment, bytes] of this.segments.sizes) if (segment >= from) n += bytes;
    return n;
  }

  get memberCount(): number {
    return this.members.size;
  }

  /** Closes the open segment; every member calls this, the first call does it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.segments.close();
  }
}
