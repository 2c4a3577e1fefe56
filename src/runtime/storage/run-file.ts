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

/** Appends text to a file in chunks of about 1 MiB; counts the bytes. */
export class ChunkedWriter {
  private parts: string[] = [];
  private buffered = 0;
  /** Bytes handed to `write` so far (the next line's offset). */
  bytes = 0;

  constructor(private readonly fh: FileHandle) {}

  /**
   * Adds `text` (whose UTF-8 length is `length`); true when a chunk is due and the caller should
   * `flush()`. Synchronous otherwise: a run has one line per actor, and a promise per line cost
   * more than the line.
   */
  add(text: string, length: number): boolean {
    this.parts.push(text);
    this.buffered += length;
    this.bytes += length;
    return this.buffered >= CHUNK;
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.buffered = 0;
    await this.fh.write(text);
  }
}

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
  entries: AsyncIterable<[string, DirectoryEntry | null, string]> | Iterable<[string, DirectoryEntry | null, string]>,
  onEntry: (key: string, start: number, length: number) => void,
): Promise<WrittenRun> {
  const data = await open(runFile(snapDir, id, 'data'), 'w');
  const dir = await open(runFile(snapDir, id, 'dir'), 'w');
  try {
    const dataOut = new ChunkedWriter(data);
    const dirOut = new ChunkedWriter(dir);
    let n = 0;
    let previous: string | null = null;
    for await (const [key, e, dataLine] of entries) {
      if (previous !== null && !(previous < key)) throw new Error(`run ${id}: keys out of order (${previous}, ${key})`);
      previous = key;
      const start = dataOut.bytes;
      const length = Buffer.byteLength(dataLine);
      if (dataOut.add(`${dataLine}\n`, length + 1)) await dataOut.flush();
      const dirLine = `${JSON.stringify([key, e, start, length])}\n`;
      if (dirOut.add(dirLine, Buffer.byteLength(dirLine))) await dirOut.flush();
      onEntry(key, start, length);
      n++;
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
