import { fdatasyncSync, fstatSync, ftruncateSync, writeSync } from 'node:fs';
import { mkdir, open, type FileHandle, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { ifAbsent, JournalCorruptError, JournalUnlinkedError } from '../errors.js';
import { FRAME_HEADER, MAX_FRAME, readFrame } from './frame.js';
import { SyncThread } from './sync-thread.js';
import { fsyncPath, writeAllSync } from './fsync.js';
import { decodeRecord, type JournalRecord, type ReplayStats } from './record.js';

/**
 * Where a commit's fdatasync runs (`ORDO_JOURNAL_SYNC`): on a sync thread of the writing thread's
 * own (`sync-thread`), inline on the writing thread (`inline`; `thread` is the same, its earlier
 * name), or in libuv's pool (`pool`). By default a host thread uses a sync thread, so that it
 * goes on running turns while the disk works; the gateway's thread (shards in-thread, or tools)
 * syncs inline, as Redis does before it sleeps: waking the gateway's loop for the answer cost
 * more than the wait (docs/PERFORMANCE.md, "The fourth round on issue 13").
 */
type SyncMode = 'sync-thread' | 'inline' | 'pool';
function journalSyncMode(env: NodeJS.ProcessEnv = process.env): SyncMode {
  const v = env.ORDO_JOURNAL_SYNC;
  if (v === 'pool') return 'pool';
  if (v === 'inline' || v === 'thread') return 'inline';
  if (v === 'sync-thread') return 'sync-thread';
  return isMainThread ? 'inline' : 'sync-thread';
}
const SYNC_MODE = journalSyncMode();

/** The sync thread of this thread's journals (one, started with the first commit that needs it). */
let syncThread: SyncThread | null = null;
function sharedSyncThread(): SyncThread {
  if (!syncThread || syncThread.failed) syncThread = new SyncThread();
  return syncThread;
}

const CHUNK = 8 * 1024 * 1024;

/**
 * How far ahead of its records a segment being appended to is filled with zeros. An fdatasync
 * that must also make a new file size durable commits the filesystem's metadata journal too:
 * measured on the 2-core VM's ext4, appending 3 KB then fdatasync costs ~270 µs and ~110 µs of
 * CPU per call; overwriting zeros already on disk, ~140 µs and ~65 µs. So the file grows a chunk
 * at a time, and most commits only overwrite.
 */
export const PREALLOCATE_BYTES = 1024 * 1024;
const ZEROS = Buffer.alloc(PREALLOCATE_BYTES);

/**
 * One segment file of a journal (see SegmentedJournal): frames appended with one
 * write and one fdatasync per batch, read back in order at recovery. Across machines the same
 * records would go to a replicated log. Keep it this small.
 */
export class SegmentFile {
  private fh: FileHandle | null = null;
  /** The sync thread's fdatasync of this file, while it runs: the file is not closed under it. */
  private syncing: Promise<void> | null = null;
  /** Where the records end (the next append goes there), and where the file does. */
  private end = 0;
  private allocated = 0;

  constructor(readonly path: string, private readonly onWarn: (msg: string) => void = () => {}) {}

  /**
   * Reads every frame. Zeros after the last frame (preallocated room) are cut off silently. A bad
   * frame at the very end is a torn tail (a crash mid-write) and is cut off when `allowTornTail`;
   * anywhere else it stops recovery with the file and offset.
   */
  async replay(onRecord: (rec: JournalRecord) => void, opts: { allowTornTail?: boolean } = {}): Promise<ReplayStats> {
    const allowTornTail = opts.allowTornTail ?? true;
    await mkdir(dirname(this.path), { recursive: true });
    const size = await stat(this.path).then((s) => s.size, ifAbsent(0));
    const fh = await open(this.path, 'a+');
    let records = 0;
    let good = 0; // file offset after the last good frame
    let buf = Buffer.alloc(0);
    let bufStart = 0; // file offset of buf[0]
    let readPos = 0;
    /** What follows the last good frame: nothing, preallocated zeros, or a torn record. */
    let end: 'zeros' | 'torn' = 'torn';
    try {
      reading: for (;;) {
        let off = good - bufStart;
        for (;;) {
          const f = readFrame(buf, off);
          if (f.kind === 'frame') {
            onRecord(decodeRecord(f.payload));
            records++;
            off = f.next;
            good = bufStart + off;
            continue;
          }
          if (f.kind === 'bad') {
            const found = await this.endAt(fh, good, size, buf, off);
            if (found === 'corrupt') throw new JournalCorruptError(this.path, good, f.why);
            end = found;
            break reading;
          }
          break; // incomplete: read more
        }
        if (readPos >= size) break;
        const chunk = Buffer.allocUnsafe(Math.min(CHUNK, size - readPos));
        const { bytesRead } = await fh.read(chunk, 0, chunk.length, readPos);
        readPos += bytesRead;
        buf = Buffer.concat([buf.subarray(good - bufStart), chunk.subarray(0, bytesRead)]);
        bufStart = good;
      }
      const truncated = size - good;
      // Zeros past the last frame are a segment's preallocated room (a crash left them before
      // `close` could cut them), in any segment; a torn record only ends the newest one.
      if (truncated > 0 && end === 'torn' && !allowTornTail) {
        throw new JournalCorruptError(this.path, good, 'a torn record in a segment that is not the newest');
      }
      if (truncated > 0) {
        if (end === 'torn') this.onWarn(`journal ${this.path}: cut a torn tail of ${truncated} bytes at offset ${good}`);
        await fh.truncate(good);
        await fh.datasync();
      }
      return { records, bytes: good, truncated };
    } finally {
      await fh.close();
    }
  }

  /** Reads the good frames without changing the file (stops at the first incomplete or bad one). */
  async scan(onRecord: (rec: JournalRecord) => void): Promise<void> {
    let data: Buffer;
    try {
      const fh = await open(this.path, 'r');
      try {
        data = await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (let off = 0; ; ) {
      const f = readFrame(data, off);
      if (f.kind !== 'frame') return;
      onRecord(decodeRecord(f.payload));
      off = f.next;
    }
  }

  /**
   * What a bad frame at `at` is. Nothing but zeros from it on: the end of the records (a
   * segment's preallocated room, or a filesystem that extended the file and lost the data). A
   * frame whose claimed extent reaches the end of the file or is followed only by zeros: a torn
   * tail (a crash mid-write: one write is one contiguous run of bytes, and nothing is written
   * past the commit in flight). Anything else is corruption in the middle.
   */
  private async endAt(fh: FileHandle, at: number, size: number, buf: Buffer, off: number): Promise<'zeros' | 'torn' | 'corrupt'> {
    if (await zerosFrom(fh, at, size)) return 'zeros';
    if (buf.length - off >= FRAME_HEADER) {
      const len = buf.readUInt32LE(off);
      if (len > 0 && len <= MAX_FRAME && (await zerosFrom(fh, at + FRAME_HEADER + len, size))) return 'torn';
    }
    return 'corrupt';
  }

  /**
   * Appends already-encoded frames with one write and one fdatasync; resolves once durable. A
   * segment is appended to only after its replay (which cuts everything past its last good
   * frame) or when it is new: its records end where the file does.
   */
  async append(frames: Buffer[]): Promise<void> {
    if (!this.fh) await this.open();
    const fh = this.fh!;
    let bytes = 0;
    for (const f of frames) bytes += f.length;
    if (this.end + bytes > this.allocated) this.preallocate(fh.fd, this.end + bytes);
    // The write itself is a copy into the page cache (microseconds): done synchronously it saves
    // one thread-pool round trip per commit, and the thread pool is shared with snapshots.
    writeAllSync(fh.fd, frames, this.end);
    this.end += bytes;
    // On a host thread the fdatasync runs on a thread that does nothing else, so that the host
    // goes on running turns (the next batch) while the disk works. libuv's pool would do the same
    // but wakes the writer only when a pool thread and a core are free (1–2.5 ms from issue to
    // callback on two cores). The gateway's thread syncs `inline`, blocking ~0.2–0.3 ms per
    // commit as Redis does before it sleeps: on two busy cores a sync thread's issue-to-answer
    // measured 0.74 ms (docs/PERFORMANCE.md, "The fifth round on issue 13").
    if (SYNC_MODE === 'sync-thread') {
      this.syncing = sharedSyncThread().sync(fh.fd);
      try {
        await this.syncing;
      } finally {
        this.syncing = null;
      }
    } else if (SYNC_MODE === 'inline') fdatasyncSync(fh.fd);
    else await fh.datasync();
    // Durable, but durable where? A file unlinked since it was opened (rm -rf of the data
    // directory) takes every write and fdatasync and loses them all on restart. One fstat per
    // commit (microseconds) tells: no name left means nothing written to it counts.
    if (fstatSync(fh.fd).nlink === 0) throw new JournalUnlinkedError(this.path);
  }

  /** Opens the file for appending, creating it (with a durable directory entry) if it does not exist. */
  private async open(): Promise<void> {
    if (this.fh) return;
    await mkdir(dirname(this.path), { recursive: true });
    const existed = await stat(this.path).then(() => true, ifAbsent(false));
    // Not O_APPEND: writes go to `end`, inside room already filled with zeros.
    const fh = await open(this.path, existed ? 'r+' : 'w+');
    // A new file's directory entry must be durable too, or a crash could lose the whole file.
    if (!existed) await fsyncPath(dirname(this.path));
    this.end = this.allocated = fstatSync(fh.fd).size;
    this.fh = fh;
  }

  /**
   * Fills the file with zeros from its end to a chunk past `needed`. They become durable with
   * the next fdatasync, the one commit per chunk that pays for a new file size.
   */
  private preallocate(fd: number, needed: number): void {
    const target = needed + PREALLOCATE_BYTES;
    for (let at = this.allocated; at < target; ) at += writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, target - at), at);
    this.allocated = target;
  }

  /** Closes the file, cut back to its records (a crash before this leaves zeros, which replay cuts). */
  async close(): Promise<void> {
    await this.syncing?.catch(() => {});
    if (this.fh && this.allocated > this.end) {
      try {
        ftruncateSync(this.fh.fd, this.end);
      } catch (err) {
        this.onWarn(`journal ${this.path}: could not cut its preallocated room: ${(err as Error).message}`);
      }
    }
    await this.fh?.close();
    this.fh = null;
  }
}

/** True when every byte of the file from `at` to `size` is zero (or there is none). */
async function zerosFrom(fh: FileHandle, at: number, size: number): Promise<boolean> {
  const chunk = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(0, size - at)));
  for (let pos = at; pos < size; ) {
    const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, size - pos), pos);
    if (bytesRead === 0) break;
    for (let i = 0; i < bytesRead; i++) if (chunk[i] !== 0) return false;
    pos += bytesRead;
  }
  return true;
}

/**
 * Creates an empty segment file whose name is durable (its directory fsynced), if it does not
 * exist: what a journal does ahead of the rotation to it, so that no commit waits for it.
 */
export async function createSegment(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const fh = await open(path, 'a');
  await fh.close();
  await fsyncPath(dirname(path));
}
