import { test } from 'uvu';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskSyncError, SyncThread } from '../src/runtime/journal/sync-thread.js';

function scratch(): { dir: string; file: (name: string) => number } {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-sync-'));
  return { dir, file: (name) => openSync(join(dir, name), 'a') };
}

test('syncs asked for at once are answered one at a time, in the order asked', async () => {
  const { dir, file } = scratch();
  const a = file('a');
  const b = file('b');
  const syncer = new SyncThread();
  try {
    const order: number[] = [];
    const all: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      const fd = i % 2 ? a : b;
      writeSync(fd, `${i}\n`);
      all.push(syncer.sync(fd).then(() => void order.push(i)));
    }
    await Promise.all(all);
    assert.deepEqual(order, Array.from({ length: 40 }, (_, i) => i));
    assert.equal(readFileSync(join(dir, 'a'), 'utf8').split('\n').filter(Boolean).length, 20);
  } finally {
    await syncer.close();
    closeSync(a);
    closeSync(b);
    rmSync(dir, { recursive: true });
  }
});

test('a failed fdatasync rejects that sync with its errno, and the thread goes on serving', async () => {
  const { dir, file } = scratch();
  const fd = file('a');
  // A number no file of this process has (a closed fd's number may be reused at once).
  const gone = 999_999;
  const syncer = new SyncThread();
  try {
    await assert.rejects(syncer.sync(gone), (err: unknown) => err instanceof DiskSyncError && err.code === 'EBADF');
    writeSync(fd, 'after\n');
    await syncer.sync(fd);
    assert.equal(syncer.failed, false);
  } finally {
    await syncer.close();
    closeSync(fd);
    rmSync(dir, { recursive: true });
  }
});

test('close waits for the sync in flight; a closed thread refuses new syncs', async () => {
  const { dir, file } = scratch();
  const fd = file('a');
  const syncer = new SyncThread();
  try {
    writeSync(fd, 'x\n');
    let done = false;
    const inFlight = syncer.sync(fd).then(() => (done = true));
    await syncer.close();
    assert.equal(done, true);
    await inFlight;
    assert.equal(syncer.failed, true);
    await assert.rejects(syncer.sync(fd), /closed/);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true });
  }
});

test.run();
