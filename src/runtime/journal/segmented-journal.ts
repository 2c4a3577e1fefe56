import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncPath } from './fsync.js';
import type { JournalRecord, ReplayStats } from './record.js';
import { createSegment, SegmentFile } from './segment-file.js';
import { ifAbsent } from '../errors.js';

const SEGMENT = /^segment-(\d{8})\.log$/;

export function segmentName(n: number): string {
  return `segment-${String(n).padStart(8, '0')}.log`;
}

/** The numbers of the segments in `dir`, in order (none if it does not exist). */
export async function segmentsIn(dir: string): Promise<number[]> {
  const names = await readdir(dir).catch(ifAbsent<string[]>([]));
  return names
    .flatMap((n) => {
      const m = SEGMENT.exec(n);
      return m ? [Number(m[1])] : [];
    })
    .sort((a, b) => a - b);
}

/**
 * A journal as numbered segment files (see Journal for whose records it holds). Appends go
 * to the newest segment; a snapshot rotates to a new segment first, and once the snapshots cover
 * them, the segments before the rotation point are deleted. Only the newest segment may end torn.
 */
export class SegmentedJournal {
  private current: SegmentFile | null = null;
  private currentNo = 1;
  /**
   * The segment after the current one, created ahead of the rotation that moves to it: creating
   * a file and making its name durable (an fsync of the directory) took 5–19 ms during snapshot
   * rounds, and the first commit after a rotation waited for it, holding every reply meanwhile.
   * Until it holds records it is empty, which replay tells apart (see `replay`).
   */
  private spare: { no: number; made: Promise<boolean> } | null = null;
  /** Bytes of good records per segment on disk (read at replay, counted on append). */
  readonly sizes = new Map<number, number>();
  /** Bytes appended since this process opened the journal. */
  bytesWritten = 0;

  constructor(
    readonly dir: string,
    private readonly onWarn: (msg: string) => void = () => {},
  ) {}

  async segments(): Promise<number[]> {
    await mkdir(this.dir, { recursive: true });
    return segmentsIn(this.dir);
  }

  /**
   * Replays every segment numbered `from` or later, in order (each record with its segment's
   * number), and continues appending in the last, or in segment `appendFrom` if that is later
   * (a snapshot point past every segment on disk: records written now must not fall before it).
   */
  async replay(from: number, onRecord: (rec: JournalRecord, segment: number) => void, appendFrom = from): Promise<ReplayStats & { segments: number }> {
    const all = (await this.segments()).filter((n) => n >= from);
    const total: ReplayStats & { segments: number } = { records: 0, bytes: 0, truncated: 0, segments: all.length };
    // The newest segment is the last one holding anything: empty ones after it are spares a
    // crash left before they were used (see `spare`), and a torn tail may end only the newest.
    const sizes = await Promise.all(all.map((n) => stat(join(this.dir, segmentName(n))).then((st) => st.size, ifAbsent(0))));
    let newest = all.length - 1;
    while (newest > 0 && sizes[newest] === 0) newest--;
    for (let i = 0; i < all.length; i++) {
      const n = all[i]!;
      const j = new SegmentFile(join(this.dir, segmentName(n)), this.onWarn);
      const s = await j.replay((rec) => onRecord(rec, n), { allowTornTail: i >= newest });
      this.sizes.set(n, s.bytes);
      total.records += s.records;
      total.bytes += s.bytes;
      total.truncated += s.truncated;
    }
    this.currentNo = Math.max(from, appendFrom, all.at(-1) ?? from);
    this.current = new SegmentFile(join(this.dir, segmentName(this.currentNo)), this.onWarn);
    return total;
  }

  /** Reads segments `from` on without changing anything (an actor's restart re-reads its records). */
  async scan(from: number, onRecord: (rec: JournalRecord) => void): Promise<void> {
    for (const n of (await this.segments()).filter((x) => x >= from)) {
      await new SegmentFile(join(this.dir, segmentName(n))).scan(onRecord);
    }
  }

  async append(frames: Buffer[]): Promise<void> {
    if (!this.current) this.current = new SegmentFile(join(this.dir, segmentName(this.currentNo)), this.onWarn);
    let n = 0;
    for (const f of frames) n += f.length;
    this.bytesWritten += n;
    this.sizes.set(this.currentNo, (this.sizes.get(this.currentNo) ?? 0) + n);
    // Only a journal being written prepares its next segment (tools that read one write nothing).
    if (!this.spare) this.prepareSpare();
    await this.current.append(frames);
  }

  /**
   * Starts a new segment and returns its number: everything appended from now on lands there.
   * Must not run while an append is in flight (the group commit calls it between commits).
   */
  async rotate(): Promise<number> {
    await this.current?.close();
    await this.dropIfEmpty(this.currentNo);
    this.currentNo++;
    const spare = this.spare;
    this.spare = null;
    // With its spare made, the first append only opens an existing file; without (its making
    // failed, or none was made), that append creates it and reports what fails.
    if (spare) await spare.made;
    this.current = new SegmentFile(join(this.dir, segmentName(this.currentNo)), this.onWarn);
    this.prepareSpare();
    return this.currentNo;
  }

  /**
   * Creates the segment after the current one, empty, with a durable name, in the background
   * (see `spare`). No file handle is kept open for it: one a journal dropped without `close`
   * left to the collector ends the process on recent Node versions.
   */
  private prepareSpare(): void {
    const no = this.currentNo + 1;
    this.spare = { no, made: createSegment(join(this.dir, segmentName(no))).then(() => true, () => false) };
  }

  /**
   * Deletes segment `n` if it holds no record: a spare rotated to and away from (or closed)
   * without a write, which would otherwise stay on disk as an empty file. An empty segment and
   * no segment read the same, so a crash before this changes nothing.
   */
  private async dropIfEmpty(n: number): Promise<void> {
    if ((this.sizes.get(n) ?? 0) > 0) return;
    this.sizes.delete(n);
    await unlink(join(this.dir, segmentName(n))).catch(ifAbsent(undefined));
  }

  /** Deletes the segments numbered below `n`: their records are all in snapshots now. */
  async removeBefore(n: number): Promise<number> {
    let removed = 0;
    for (const s of await this.segments()) {
      if (s >= n) continue;
      this.sizes.delete(s);
      // Already gone is as good as removed (a crash between two removals, a concurrent trim).
      await unlink(join(this.dir, segmentName(s))).catch(ifAbsent(undefined));
      removed++;
    }
    if (removed) await fsyncPath(this.dir);
    return removed;
  }

  async close(): Promise<void> {
    await this.current?.close();
    this.current = null;
    await this.dropIfEmpty(this.currentNo);
    const spare = this.spare;
    this.spare = null;
    // Never used, so empty: a closed journal leaves no spare behind.
    if (spare && (await spare.made)) await unlink(join(this.dir, segmentName(spare.no))).catch(ifAbsent(undefined));
  }
}
