import { writevSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** fsync of a file or a directory (a directory's entries — new or renamed files — are durable only then). */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * writev at `position` until every byte is written (a regular file takes it all at once, but the
 * call may not promise it).
 */
export function writeAllSync(fd: number, frames: Buffer[], position: number): void {
  let left = frames;
  for (;;) {
    let n = writevSync(fd, left, position);
    position += n;
    const rest: Buffer[] = [];
    for (const f of left) {
      if (n >= f.length) n -= f.length;
      else {
        rest.push(n > 0 ? f.subarray(n) : f);
        n = 0;
      }
    }
    if (rest.length === 0) return;
    left = rest;
  }
}
