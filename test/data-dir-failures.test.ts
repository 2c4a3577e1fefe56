import { test } from 'uvu';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OrdoClient } from '../src/client/ordo-client.js';
import { spawnServer } from './helpers/child-server.js';
import { DATA_FORMAT } from '../src/runtime/storage/data-dir.js';
import { TOKENS, withTempDir } from './helpers/server.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

test('data directory deleted under a running server: nothing more is acknowledged, and the server stops', async () => {
  await withTempDir('ordo-deleted-', async (dir) => {
    const dataDir = join(dir, 'data');
    const srv = await spawnServer(dataDir);
    try {
      const admin = await OrdoClient.connect(srv.url, 'tok-admin');
      assert.ok((await admin.call('inventory.set', { sku: 'rm', onHand: 1000 })).ok);
      const before = await admin.call('order.place', { orderId: 'rm-0', customerId: 'ana', items: [{ sku: 'rm', quantity: 1 }] });
      assert.ok(before.ok);
      await rm(dataDir, { recursive: true, force: true });
      // Every command sent after the deletion: none may be answered ok, whatever it is.
      const after = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          admin.call('order.place', { orderId: `rm-${i + 1}`, customerId: 'ana', items: [{ sku: 'rm', quantity: 1 }] }),
        ),
      );
      assert.deepEqual(after.filter((r) => r.ok), [], 'nothing acknowledged into a deleted journal');
      assert.equal(await srv.exited, 70, 'the server fail-stops');
      assert.match(srv.output.join('\n'), /no longer on disk/);
    } finally {
      await srv.kill('SIGKILL');
    }
  });
});

/** Starts the real server and expects it to refuse: exit 1 with one line on stderr. */
function startFails(dataDir: string, extra: string[] = []): string {
  const r = spawnSync(process.execPath, [MAIN, '--port', '0', '--data', dataDir, '--workers', '1', ...extra], {
    env: { ...process.env, ORDO_TOKENS: JSON.stringify(TOKENS), ORDO_LOG_LEVEL: 'silent' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 1, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  return lines[0]!;
}

test('start-up failures say, in one line, what failed, on which path, and the errno', async () => {
  await withTempDir('ordo-startup-', async (dir) => {
    // The data directory is a file.
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    const notDir = startFails(file);
    assert.match(notDir, /not-a-dir/);
    assert.match(notDir, /EEXIST|ENOTDIR/);

    // A stale LOCK (its process is gone) that cannot be removed: the cause is the errno of the
    // removal, not "could not lock". A directory in place of the LOCK file refuses unlink (EISDIR
    // or EPERM) even as root, as a read-only file system (EROFS) would.
    const stale = join(dir, 'stale');
    await mkdir(join(stale, 'LOCK'), { recursive: true });
    const locked = startFails(stale);
    assert.match(locked, /LOCK/);
    assert.match(locked, /EISDIR|EPERM/);
    assert.doesNotMatch(locked, /^ordo: could not lock data directory/);

    // An unreadable description of the data directory.
    const badMeta = join(dir, 'bad-meta');
    await mkdir(badMeta);
    await writeFile(join(badMeta, 'meta.json'), '{ not json');
    const meta = startFails(badMeta);
    assert.match(meta, /meta\.json/);

    // A data directory of another data format is refused, never half-read.
    const oldFormat = join(dir, 'old-format');
    await mkdir(oldFormat);
    await writeFile(join(oldFormat, 'meta.json'), JSON.stringify({ format: 1, shards: 8, journals: 2, createdAt: new Date().toISOString() }));
    assert.match(startFails(oldFormat), /data format 1; this ordo reads format \d+ only/);

    // A journal directory that is a file.
    const badJournal = join(dir, 'bad-journal');
    await mkdir(badJournal);
    await writeFile(join(badJournal, 'journals'), 'x');
    await writeFile(join(badJournal, 'meta.json'), JSON.stringify({ format: DATA_FORMAT, shards: 2, journals: 1, createdAt: new Date().toISOString() }));
    await mkdir(join(badJournal, 'shards'));
    const journal = startFails(badJournal);
    assert.match(journal, /journals/);
    assert.match(journal, /ENOTDIR|EEXIST/);

    // The port is taken.
    const srv = await spawnServer(join(dir, 'first'));
    try {
      const port = startFails(join(dir, 'second'), ['--port', String(srv.port)]);
      assert.match(port, /EADDRINUSE/);
      assert.match(port, new RegExp(String(srv.port)));
    } finally {
      await srv.kill('SIGKILL');
    }
  });
});

test.run();
