import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { test } from 'uvu';
import type { OrdoClient } from '../src/client/ordo-client.js';
import { eventually, launchChromium, watchErrors } from './helpers/browser.js';
import { startServer, type TestServer } from './helpers/server.js';
import { expectOk, uid } from './helpers/wire.js';

// The dashboard in a real browser (Debian's chromium through playwright-core), against a real server.

let srv: TestServer;
let launched: Browser | undefined;
let launchError: unknown;
let admin: OrdoClient;
let base: string;
const LIVE_MS = 2_000; // the page must show a change within 2 s, without a reload

test.before(async () => {
  // uvu does not print an error thrown by a hook: each browser test rethrows it instead.
  launched = await launchChromium().catch((err: unknown) => {
    launchError = err;
    return undefined;
  });
  srv = await startServer({ workers: 1, shards: 4 });
  admin = await srv.connect('tok-admin');
  base = `http://127.0.0.1:${srv.port}`;
});

test.after(async () => {
  await launched?.close();
  await srv?.destroy();
});

function browser(): Browser {
  if (!launched) throw launchError;
  return launched;
}

const count = (page: Page, status: string) => page.textContent(`[data-testid="count-${status}"]`).then((t) => Number(t));

async function counts(page: Page): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of ['awaiting_payment', 'paid', 'picking', 'cancelled']) out[s] = await count(page, s);
  return out;
}

async function place(sku: string): Promise<string> {
  const orderId = uid('o');
  expectOk(await admin.call('order.place', { orderId, customerId: 'ana', items: [{ sku, quantity: 1 }] }));
  return orderId;
}

test('the page, its stylesheet and modules are served under a strict CSP, with no Node import', async () => {
  const page = await fetch(`${base}/dashboard`);
  assert.equal(page.status, 200);
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /connect-src 'self' ws: wss:/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const html = await page.text();
  assert.doesNotMatch(html, /<script>|<style>|\sstyle=|\son[a-z]+=|https?:\/\//i, 'no inline code and nothing from elsewhere');
  for (const path of ['/dashboard/dashboard.css', '/dashboard/js/dashboard/app.js', '/dashboard/js/client/client.js']) {
    const r = await fetch(`${base}${path}`);
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const text = await r.text();
    assert.doesNotMatch(text, /from ['"](ws|node:[a-z_]+)['"]|import\(['"](ws|node:)/, `${path} imports nothing of Node`);
  }
  for (const bad of ['/dashboard/js/../../package.json', '/dashboard/js/client/node-socket.js', '/dashboard/js/gateway/server.js', '/dashboard/js/client/client.ts']) {
    assert.equal((await fetch(`${base}${bad}`)).status, 404, bad);
  }
});

test('counts change live as orders are placed, paid and cancelled; the token is never shown', async () => {
  const ctx = await browser().newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await ctx.newPage();
  const errors = watchErrors(page);
  const sku = uid('mug');
  expectOk(await admin.call('inventory.set', { sku, onHand: 50 }));
  await page.goto(`${base}/dashboard#token=tok-observer`);
  await eventually('the first counts', 5_000, async () => !Number.isNaN(await count(page, 'awaiting_payment')));
  assert.ok(!page.url().includes('tok-observer'), 'the token leaves the address bar');
  await page.evaluate('window.marker = 42');
  const before = await counts(page);

  const a = await place(sku);
  const b = await place(sku);
  await eventually('two more awaiting payment', LIVE_MS, async () => (await count(page, 'awaiting_payment')) === before.awaiting_payment + 2, async () => JSON.stringify(await counts(page)));
  expectOk(await admin.call('order.pay', { orderId: a, paymentRef: 'pay-a' }));
  expectOk(await admin.call('order.cancel', { orderId: b }));
  await eventually('one paid, one cancelled', LIVE_MS, async () => {
    const c = await counts(page);
    return c.awaiting_payment === before.awaiting_payment && c.cancelled === before.cancelled + 1 && c.paid + c.picking === before.paid + before.picking + 1;
  }, async () => JSON.stringify(await counts(page)));
  assert.equal(await page.evaluate('window.marker'), 42, 'no reload happened');

  // The recent changes list, and the search with its timeline and payment deadline.
  await eventually('the recent list', LIVE_MS, async () => ((await page.textContent('[data-testid="recent"]')) ?? '').includes(b));
  await page.fill('#search', a);
  await page.click('#search-form button');
  await eventually('the timeline', LIVE_MS, async () => {
    const t = (await page.textContent('[data-testid="timeline"]').catch(() => '')) ?? '';
    return t.includes('awaiting_payment') && t.includes('paid') && t.includes('picking');
  }, async () => (await page.textContent('[data-testid="order"]')) ?? '');
  assert.match((await page.textContent('[data-testid="deadline"]')) ?? '', /\d/);
  assert.equal(await page.locator('[data-testid="shards"] tr').count(), 4, 'one row per shard');
  assert.equal(await page.textContent('[data-testid="health"]'), 'ready');
  await eventually('the busiest SKU', LIVE_MS, async () => ((await page.textContent('#skus')) ?? '').includes(sku));

  const text = await page.evaluate<string>('document.body.innerText + document.documentElement.outerHTML');
  assert.ok(!text.includes('tok-observer'), 'the page never shows the token');
  await mkdir('test-artifacts', { recursive: true });
  await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: true });
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('a wrong token shows "token refused" and is not displayed', async () => {
  const ctx = await browser().newContext();
  const page = await ctx.newPage();
  // The browser itself logs the refused handshake; that one is expected, nothing else is.
  const errors = watchErrors(page, [/WebSocket connection to .* failed/]);
  await page.goto(`${base}/dashboard#token=wrong-token-7f3a`);
  await eventually('the refusal message', 5_000, async () => /token refused/i.test((await page.textContent('[data-testid="message"]')) ?? ''));
  assert.equal(await page.isVisible('#sign-in'), true, 'the sign-in field is offered');
  const text = await page.evaluate<string>('document.body.innerText + document.documentElement.outerHTML');
  assert.ok(!text.includes('wrong-token-7f3a'));
  assert.equal(await page.evaluate('sessionStorage.length'), 0, 'a refused token is not kept');
  assert.deepEqual(errors, []);
  await ctx.close();
});

test('sign-in field: the token is kept in sessionStorage; a role without access is told so', async () => {
  const ctx = await browser().newContext();
  const page = await ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${base}/dashboard`);
  await page.fill('#token', 'tok-admin');
  await page.click('#sign-in-form button');
  await eventually('the board', 5_000, async () => (await page.textContent('[data-testid="connection"]')) === 'live');
  assert.equal(await page.isVisible('#board'), true);
  assert.equal(await page.evaluate("Object.values(sessionStorage).includes('tok-admin')"), true);
  await page.reload();
  await eventually('the board after a reload', 5_000, async () => (await page.textContent('[data-testid="connection"]')) === 'live');
  assert.equal(await page.inputValue('#token'), '', 'the field does not keep the token');

  await page.click('#sign-out');
  await page.fill('#token', 'tok-alice');
  await page.click('#sign-in-form button');
  await eventually('the role message', 5_000, async () => /admin or observer role/.test((await page.textContent('[data-testid="message"]')) ?? ''));
  assert.deepEqual(errors, []);
  await ctx.close();
});

test.run();
