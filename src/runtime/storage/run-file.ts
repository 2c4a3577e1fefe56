import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { DirectoryEntry, SnapshotEntry } from './shard-store.js';

/**
 * A snapshot run: the actors one snapshot round changed (or the merge of several runs), as two
 * files in the shard's `snapshot/` directory, both sorted by key (JavaScript string order):
 *
 * - `rNNNNNNNN.data`: one line per actor, `["key",{…state…}]`, or `["key",null]` for an actor
 *   deleted by this run (a tombstone: it hides older runs' entries until a merge drops it);
 * - `rNNNNNNNN.dir`: one line per actor, `["key",{…directory entry…} | null, start, length]`,
 *   where [start, length) is the byte range of its line in the data file (without the newline).
 *
 * Recovery reads the directory files only; a reactivation reads one data line at its offset.
 * A run is written once and never changed: it is in use when the manifest names it, so a file a
 * crash left half-written is never read (recovery deletes files the manifest does not name).
 */
export type RunDirLine = [key: string, dir: DirectoryEntry | null, start: number, length: number];

export function runFile(snapDir: string, id: number, kind: 'data' | 'dir'): string {
  return join(snapDir, `r${String(id).padStart(8, '0')}.${kind}`);
}

/** The run id a file name stands for, or null for any other name. */
export function runFileId(name: string): number | null {
  const m = /^r(\d{8,})\.(data|dir)$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Bytes collected before a write: few large writes, and a bounded buffer. */
const CHUNK = 1 << 20;
/** UTF-8 takes at most this many bytes per UTF-16 code unit (a surrogate pair: 4 for 2). */
const MAX_UTF8_PER_UNIT = 3;

/**
 * Appends text to a file in chunks of about 1 MiB; counts the bytes. Each text is encoded once,
 * straight into the chunk, which also gives its UTF-8 length: measuring it first, joining the
 * texts and encoding the join read every line three times, on the thread that runs the actors.
 */
export class ChunkedWriter {
  private chunk = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  /** Chunks filled and not yet written, in order. */
  private readonly filled: Buffer[] = [];
  /** Bytes added so far (the next text's offset). */
  bytes = 0;

  constructor(private readonly fh: FileHandle) {}

  /**
   * Adds `text` and returns its UTF-8 length. Synchronous: a run has one line per actor, and a
   * promise per line cost more than the line. `due` then says whether the caller should `flush()`.
   */
  add(text: string): number {
    if (text.length * MAX_UTF8_PER_UNIT > CHUNK) {
      // Larger than a chunk could surely hold: a buffer of its own, in its place in the order.
      const own = Buffer.from(text, 'utf8');
      this.seal();
      this.filled.push(own);
      this.bytes += own.length;
      return own.length;
    }
    if (this.used + text.length * MAX_UTF8_PER_UNIT > CHUNK) this.seal();
    // Room for the worst case was checked: the whole text is written.
    const n = this.chunk.write(text, this.used, 'utf8');
    this.used += n;
    this.bytes += n;
    return n;
  }

  /** A chunk is full: `flush()` before adding much more, so the buffers stay bounded. */
  get due(): boolean {
    return this.filled.length > 0;
  }

  async flush(): Promise<void> {
    this.seal();
    const parts = this.filled.splice(0);
    for (const part of parts) {
      for (let at = 0; at < part.length; ) at += (await this.fh.write(part, at, part.length - at)).bytesWritten;
    }
  }

  private seal(): void {
    if (this.used === 0) return;
    this.filled.push(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.allocUnsafe(CHUNK);
    this.used = 0;
  }
}

/** One actor of a run, as `writeRun` takes it: its key, directory entry (null: deleted) and data line. */
export type RunEntry = [key: string, dir: DirectoryEntry | null, dataLine: string];

/** What writing a run produced: per actor, where its data line is (the run's index is built from it). */
export interface WrittenRun {
  entries: number;
  dataBytes: number;
  dirBytes: number;
}

/**
 * Writes a run's two files from entries given in key order (data first), each fsync'ed. The
 * caller makes them durable names (an fsync of the directory) before a manifest names them.
 * `onEntry` gets each key with its data line's range.
 */
export async function writeRun(
  snapDir: string,
  id: number,
  entries: AsyncIterable<RunEntry> | Iterable<RunEntry>,
  onEntry: (key: string, start: number, length: number) => void,
): Promise<WrittenRun> {
  const data = await open(runFile(snapDir, id, 'data'), 'w');
  const dir = await open(runFile(snapDir, id, 'dir'), 'w');
  try {
    const dataOut = new ChunkedWriter(data);
    const dirOut = new ChunkedWriter(dir);
    let n = 0;
    let previous: string | null = null;
    const put = ([key, e, dataLine]: RunEntry): void => {
      if (previous !== null && !(previous < key)) throw new Error(`run ${id}: keys out of order (${previous}, ${key})`);
      previous = key;
      const start = dataOut.bytes;
      const length = dataOut.add(dataLine);
      dataOut.add('\n');
      dirOut.add(JSON.stringify([key, e, start, length]));
      dirOut.add('\n');
      onEntry(key, start, length);
      n++;
    };
    const flushDue = async (): Promise<void> => {
      if (dataOut.due) await dataOut.flush();
      if (dirOut.due) await dirOut.flush();
    };
    if (Symbol.iterator in entries) {
      // A snapshot round's array: `for await` would take a microtask per entry.
      for (const entry of entries) {
        put(entry);
        if (dataOut.due || dirOut.due) await flushDue();
      }
    } else {
      for await (const entry of entries) {
        put(entry);
        if (dataOut.due || dirOut.due) await flushDue();
      }
    }
    await dataOut.flush();
    await dirOut.flush();
    await data.sync();
    await dir.sync();
    return { entries: n, dataBytes: dataOut.bytes, dirBytes: dirOut.bytes };
  } finally {
    await data.close();
    await dir.close();
  }
}

/** An actor's data line from its serialised entry: `["key",{…}]`, or `["key",null]` for a deletion. */
export function dataLineOf(key: string, json: string | null): string {
  return `[${JSON.stringify(key)},${json ?? 'null'}]`;
}

/**
 * One data line, read at its range: `{ entry }` with the actor's entry (`null` if the run deletes
 * it), `'other'` if the line there is another actor's (a hash collision in the index), `'gone'`
 * if the file is (a merge replaced the run since the index was read: the caller looks again).
 */
export async function readDataAt(path: string, key: string, start: number, length: number): Promise<{ entry: SnapshotEntry | null } | 'other' | 'gone'> {
  const buf = Buffer.allocUnsafe(length);
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const { bytesRead } = await fh.read(buf, 0, length, start);
    if (bytesRead !== length) throw new Error(`${path}: ${length} bytes at ${start} expected, file ends first`);
  } finally {
    await fh.close();
  }
  const [k, entry] = JSON.parse(buf.toString('utf8')) as [string, SnapshotEntry | null];
  return k === key ? { entry } : 'other';
}

/**
 * Reads a run's directory file in order, about 1 MiB at a time: `entry` is the current line,
 * `next()` moves on (resolving false at the end). Lines never hold a raw newline (JSON escapes
 * it), so a chunk cut at its last newline parses as one JSON array.
 */
export class DirCursor {
  private batch: RunDirLine[] = [];
  private at = 0;
  private rest: Buffer = Buffer.alloc(0);
  private position = 0;
  private done = false;
  entry: RunDirLine | null = null;

  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
  ) {}

  static async open(path: string): Promise<DirCursor> {
    const c = new DirCursor(await open(path, 'r'), path);
    await c.next();
    return c;
  }

  /** Moves to the next line if it is already read (true); false if `next` must read on. */
  nextSync(): boolean {
    if (this.at + 1 >= this.batch.length) return false;
    this.entry = this.batch[++this.at]!;
    return true;
  }

  /** Moves to the next line; false (and `entry` null) at the end of the file. */
  async next(): Promise<boolean> {
    if (this.at + 1 < this.batch.length) {
      this.entry = this.batch[++this.at]!;
      return true;
    }
    while (!this.done) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await this.fh.read(buf, 0, CHUNK, this.position);
      this.position += bytesRead;
      if (bytesRead === 0) {
        this.done = true;
        if (this.rest.length > 0) throw new Error(`${this.path} ends inside a line`);
        break;
      }
      const joined = this.rest.length ? Buffer.concat([this.rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      const end = joined.lastIndexOf(10);
      if (end < 0) {
        this.rest = Buffer.from(joined);
        continue;
      }
      this.rest = Buffer.from(joined.subarray(end + 1));
      this.batch = JSON.parse(`[${joined.toString('utf8', 0, end).replaceAll('\n', ',')}]`) as RunDirLine[];
      this.at = 0;
      this.entry = this.batch[0]!;
      return true;
    }
    this.entry = null;
    this.batch = [];
    return false;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
