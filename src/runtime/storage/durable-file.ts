import { open, readFile, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncPath } from '../journal/fsync.js';

/**
 * Replaces `path` with `text`, atomically and durably: the text goes to a temp file beside it,
 * which is fsync'ed, then renamed over `path`; then the directory is fsync'ed so the rename
 * survives a crash. A reader sees the old file or the new one, never a mix. With
 * `syncDir: false` the caller fsyncs the directory itself, once for several files (a snapshot
 * does so before its manifest, the commit point).
 */
export async function replaceFile(path: string, text: string, opts: { syncDir?: boolean } = {}): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  if (opts.syncDir ?? true) await fsyncPath(dirname(path));
}

/** A JSON file's contents, or `absent` if there is no such file. */
export async function readJsonFile<T>(path: string, absent: T): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return absent;
    throw err;
  }
  return JSON.parse(text) as T;
}
