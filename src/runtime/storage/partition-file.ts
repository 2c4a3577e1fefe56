import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { SnapshotWriteError } from '../errors.js';
import { readJsonFile, replaceFile } from './durable-file.js';
import type { ByteRange } from './partition-index.js';
import type { DirectoryEntry, SnapshotEntry } from './shard-store.js';

/**
 * A snapshot partition is two files in the shard's `snapshot/` directory: `pNNN.dir.json` (what
 * recovery reads for every actor: summary, timers, unanswered requests) and `pNNN.data.json`
 * (the actors' state, read only when an actor is reactivated).
 */
export type PartitionData = Record<string, SnapshotEntry>;
/** A directory entry on disk also says where the actor's entry sits in the data file: [start, length] in bytes. */
export type PartitionDirectory = Record<string, DirectoryEntry & { d?: ByteRange }>;

export function partitionFile(snapDir: string, partition: number, kind: 'data' | 'dir'): string {
  return join(snapDir, `p${String(partition).padStart(3, '0')}.${kind}.json`);
}

/** The partition a `pNNN.dir.json` file name stands for, or null for any other name. */
export function directoryFilePartition(name: string): number | null {
  return /^p\d{3,}\.dir\.json$/.test(name) ? Number(name.slice(1, name.indexOf('.'))) : null;
}

export function readPartitionData(snapDir: string, p: number): Promise<PartitionData> {
  return readJsonFile<PartitionData>(partitionFile(snapDir, p, 'data'), {});
}

export function readPartitionDirectory(snapDir: string, p: number): Promise<PartitionDirectory> {
  return readJsonFile<PartitionDirectory>(partitionFile(snapDir, p, 'dir'), {});
}

/**
 * A partition's data as one JSON object laid out one actor per line, so each entry's byte range
 * is known: `{`, then `"key":{…},` per actor, then `}`.
 */
function layOut(data: PartitionData): { text: string; where: Map<string, ByteRange> } {
  const where = new Map<string, ByteRange>();
  const parts: string[] = ['{\n'];
  let pos = 2;
  const keys = Object.keys(data);
  keys.forEach((k, i) => {
    const entry = `${JSON.stringify(k)}:${JSON.stringify(data[k])}`;
    const length = Buffer.byteLength(entry);
    where.set(k, [pos, length]);
    const separator = i < keys.length - 1 ? ',\n' : '\n';
    parts.push(entry + separator);
    pos += length + separator.length;
  });
  parts.push('}');
  return { text: parts.join(''), where };
}

/**
 * Replaces a partition's two files (data first, then the directory that points into it), each
 * atomically; the caller fsyncs the directory before the manifest. Records each directory
 * entry's byte range in the data file and returns those ranges.
 */
export async function writePartitionFiles(snapDir: string, p: number, data: PartitionData, dir: PartitionDirectory, written: { bytes: number }): Promise<[string, ByteRange][]> {
  const { text, where } = layOut(data);
  const located: [string, ByteRange][] = [];
  for (const [k, range] of where) {
    const e = dir[k];
    if (!e) continue;
    e.d = range;
    located.push([k, range]);
  }
  for (const [path, contents] of [[partitionFile(snapDir, p, 'data'), text], [partitionFile(snapDir, p, 'dir'), JSON.stringify(dir)]] as const) {
    try {
      await replaceFile(path, contents, { syncDir: false });
      written.bytes += Buffer.byteLength(contents);
    } catch (err) {
      throw new SnapshotWriteError(path, err);
    }
  }
  return located;
}

/**
 * One actor's entry, read at its byte range. The entry names its key, so a read that raced a
 * snapshot replacing the file (offsets of the old file, bytes of the new) is recognised and
 * answered `null`; a key found at the right place in either file is that file's current entry.
 * `null` also when the range lies past the file's end or the file is gone: the caller falls back
 * to parsing the partition, which reports what is wrong with it.
 */
export async function readEntryAt(path: string, key: string, [start, length]: ByteRange): Promise<SnapshotEntry | null> {
  const buf = Buffer.allocUnsafe(length);
  let fh;
  try {
    fh = await open(path, 'r');
    const { bytesRead } = await fh.read(buf, 0, length, start);
    if (bytesRead !== length) return null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  } finally {
    await fh?.close();
  }
  let parsed: PartitionData;
  try {
    parsed = JSON.parse(`{${buf.toString('utf8')}}`) as PartitionData;
  } catch (err) {
    if (err instanceof SyntaxError) return null; // the bytes of another layout: not an entry
    throw err;
  }
  const keys = Object.keys(parsed);
  return keys.length === 1 && keys[0] === key ? parsed[key]! : null;
}
