import { test } from 'uvu';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { OrdoClient } from '../src/client/ordo-client.js';
import { spawnServer } from './helpers/child-server.js';
import { cleanEnv, ORDO_BIN, runOrdo } from './helpers/cli.js';
import { TOKENS, tempDir } from './helpers/server.js';
import { within } from './helpers/wire.js';

/** `ordo inspect` and `ordo tail` against a server that runs (it holds the data directory's lock). */

test('inspect finds a running server through its data directory and asks it over the socket', async () => {
  const dataDir = await tempDir();
  const srv = await spawnServer(dataDir);
  try {
    const admin = await OrdoClient.connect(srv.url, 'tok-admin');
    assert.ok((await admin.call('inventory.set', { sku: 'live-mug', onHand: 7 })).ok);
    assert.ok((await admin.call('order.place', { orderId: 'live-1', customerId: 'alice', items: [{ sku: 'live-mug', quantity: 2 }] })).ok);
    await admin.close();

    // No --url, no --token: the URL from <data>/server.json, the admin token from ORDO_TOKENS.
    const env = { ORDO_TOKENS: JSON.stringify(TOKENS) };
    const sku = await runOrdo(['inspect', 'sku', 'live-mug', '--data', dataDir], env);
    assert.equal(sku.code, 0, sku.stderr);
    const view = JSON.parse(sku.stdout) as { key: string; state: { onHand: number; reserved: number }; log: { message: string }[] };
    assert.equal(view.key, 'sku:live-mug');
    assert.equal(view.state.onHand, 7);
    assert.equal(view.state.reserved, 2, 'the placement is visible: read live, not from a stale file');
    assert.ok(view.log.some((e) => e.message === 'inventory.set'), 'the message log is included');

    // Explicit --url and --token (here a token from ORDO_TOKEN).
    const order = await runOrdo(['inspect', 'order', 'live-1', '--url', srv.url], { ORDO_TOKEN: 'tok-admin' });
    assert.equal(order.code, 0, order.stderr);
    const o = JSON.parse(order.stdout) as { state: { order: { status: string } }; timers: Record<string, number> };
    assert.equal(o.state.order.status, 'awaiting_payment');
    assert.ok(o.timers.payment! > Date.now(), 'the pending payment deadline is shown');

    const none = await runOrdo(['inspect', 'order', 'no-such', '--url', srv.url, '--token', 'tok-admin']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^ordo: NOT_FOUND: no actor order:no-such\n$/);

    // actor.inspect is admin-only: a customer token is refused, and says so in one line.
    const forbidden = await runOrdo(['inspect', 'order', 'live-1', '--url', srv.url, '--token', 'tok-alice']);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /^ordo: FORBIDDEN: /);

    const refused = await runOrdo(['inspect', 'order', 'live-1', '--url', srv.url, '--token', 'not-a-token']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^ordo: cannot connect to .*token was refused \(HTTP 401\)\n$/);

    const noToken = await runOrdo(['inspect', 'order', 'live-1', '--data', dataDir]);
    assert.equal(noToken.code, 1, 'ORDO_TOKENS is unset for this run and the server wrote no tokens.json');
    assert.match(noToken.stderr, /^ordo: no token: pass --token/);
  } finally {
    await srv.kill('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('tail prints the order, then one line per change made through another client; Ctrl-C exits 0', async () => {
  const dataDir = await tempDir();
  const srv = await spawnServer(dataDir);
  const admin = await OrdoClient.connect(srv.url, 'tok-admin');
  try {
    assert.ok((await admin.call('inventory.set', { sku: 'tail-mug', onHand: 3 })).ok);
    assert.ok((await admin.call('order.place', { orderId: 'tail-1', customerId: 'alice', items: [{ sku: 'tail-mug', quantity: 1 }] })).ok);

    const proc = spawn(process.execPath, [ORDO_BIN, 'tail', 'order', 'tail-1', '--url', srv.url, '--token', 'tok-alice'], {
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines: string[] = [];
    const waiters: { n: number; resolve: () => void }[] = [];
    let buf = '';
    proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      lines.push(...parts);
      for (const w of waiters.filter((w) => lines.length >= w.n)) w.resolve();
    });
    const lineCount = (n: number) => within(new Promise<void>((resolve) => (lines.length >= n ? resolve() : waiters.push({ n, resolve }))), 10_000, `${n} lines of tail (got ${JSON.stringify(lines)}, stderr ${stderr})`);

    await lineCount(1);
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT[\d:.]+Z tail-1 awaiting_payment by admin$/);
    assert.ok((await admin.call('order.pay', { orderId: 'tail-1', paymentRef: 'pay-1' })).ok);
    // paid (by admin), then the runtime's own hand-over to the warehouse (picking, by system).
    await lineCount(3);
    assert.match(lines[1]!, / tail-1 paid by admin$/);
    assert.match(lines[2]!, / tail-1 picking by system$/);
    assert.ok((await admin.call('order.cancel', { orderId: 'tail-1' })).ok);
    await lineCount(4);
    assert.match(lines[3]!, / tail-1 cancelled by admin reason=admin refundDue$/);

    proc.kill('SIGINT');
    assert.equal(await within(exited, 10_000, 'tail to exit'), 0, stderr);
    assert.equal(stderr, '');
  } finally {
    await admin.close();
    await srv.kill('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('tail exits 1 with one line when the server goes away', async () => {
  const dataDir = await tempDir();
  const srv = await spawnServer(dataDir);
  try {
    const admin = await OrdoClient.connect(srv.url, 'tok-admin');
    assert.ok((await admin.call('inventory.set', { sku: 'gone-mug', onHand: 1 })).ok);
    assert.ok((await admin.call('order.place', { orderId: 'gone-1', customerId: 'alice', items: [{ sku: 'gone-mug', quantity: 1 }] })).ok);
    await admin.close();
    const proc = spawn(process.execPath, [ORDO_BIN, 'tail', 'order', 'gone-1', '--url', srv.url, '--token', 'tok-admin'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    await within(new Promise((resolve) => proc.stdout.once('data', resolve)), 10_000, 'the first tail line');
    await srv.kill('SIGKILL');
    assert.equal(await within(exited, 10_000, 'tail to exit'), 1);
    assert.match(stderr, /^ordo: connection closed by the server \(code \d+\)\n$/);
  } finally {
    await srv.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
