import { type Client, connect, ConnectError, OrdoError, type Order } from '../client/browser.js';
import { chart } from './chart.js';
import { byId, replaceChildren } from './dom.js';
import { buildCounts, noteRecent, renderCounts, renderHealth, renderOrder, renderShards, renderSkus } from './panels.js';
import { forgetToken, saveToken, socketUrl, takeToken } from './session.js';

/**
 * The live dashboard: one connection with an admin or observer token, `stats.get` every second
 * (counts, chart, SKUs, shards, health), the `orders` feed for the list of recent changes and
 * for the searched order's timeline.
 */
const POLL_MS = 1_000;
let client: Client | null = null;
let poller: ReturnType<typeof setInterval> | null = null;
let shownOrder: string | null = null;

function message(text: string | null): void {
  const m = byId('message');
  m.textContent = text ?? '';
  m.hidden = text === null;
}

function showSignIn(show: boolean): void {
  byId('sign-in').hidden = !show;
  byId('board').hidden = show;
  byId('sign-out').hidden = show;
}

function setConnection(text: string): void {
  byId('connection').textContent = text;
}

/** A browser does not reveal why an upgrade failed; a server that answers /healthz refused the token. */
async function explainFailure(err: unknown): Promise<string> {
  if (err instanceof ConnectError && err.status === 401) return 'Token refused: sign in with a valid admin or observer token.';
  try {
    const res = await fetch('/healthz', { cache: 'no-store' });
    if (res.ok) return 'Token refused: the server is up but did not accept this token. Sign in with a valid admin or observer token.';
    return `The server is not ready (HTTP ${res.status}); try again shortly.`;
  } catch {
    return 'The server cannot be reached.';
  }
}

async function poll(c: Client): Promise<void> {
  try {
    const { stats } = await c.request('stats.get', {}, { timeoutMs: 5_000 });
    renderCounts(stats.orders);
    renderHealth(stats.health);
    replaceChildren(byId('chart'), [chart(stats.series)]);
    renderSkus(stats);
    renderShards(stats);
  } catch (err) {
    if (isForbidden(err)) signOutForbidden();
    // Anything else (a timeout while reconnecting) is retried by the next poll.
  }
}

async function search(orderId: string): Promise<void> {
  shownOrder = orderId;
  if (!client) return;
  try {
    const { order } = await client.request('order.get', { orderId });
    if (shownOrder === orderId) renderOrder(order, orderId);
  } catch (err) {
    if (shownOrder !== orderId) return;
    if (err instanceof OrdoError && (err.code === 'NOT_FOUND' || err.code === 'INVALID_ARGUMENT')) renderOrder(null, orderId);
    else message(`Could not read order ${orderId}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function onOrderChange(order: Order): void {
  noteRecent(order);
  if (order.orderId === shownOrder) renderOrder(order, order.orderId);
}

function isForbidden(err: unknown): boolean {
  return err instanceof OrdoError && err.code === 'FORBIDDEN';
}

/** A token of a role that may not read the dashboard: back to the sign-in, saying why. */
function signOutForbidden(): void {
  stop();
  forgetToken();
  showSignIn(true);
  message('This token may not read the dashboard: it needs the admin or observer role.');
}

function stop(): void {
  if (poller) clearInterval(poller);
  poller = null;
  client?.close();
  client = null;
}

async function start(token: string): Promise<void> {
  stop();
  message(null);
  setConnection('connecting…');
  let c: Client;
  try {
    c = await connect({
      url: socketUrl(),
      token,
      onState: (s) => setConnection(s === 'open' ? 'live' : s),
    });
  } catch (err) {
    setConnection('not connected');
    forgetToken();
    showSignIn(true);
    message(await explainFailure(err));
    return;
  }
  client = c;
  showSignIn(false);
  try {
    const { orders } = await c.subscribeFeed('orders', onOrderChange);
    for (const o of orders) noteRecent(o);
  } catch (err) {
    if (isForbidden(err)) return signOutForbidden();
  }
  await poll(c);
  poller = setInterval(() => void poll(c), POLL_MS);
}

function init(): void {
  buildCounts();
  byId('sign-in-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = byId<HTMLInputElement>('token');
    const token = input.value.trim();
    input.value = '';
    if (!token) return;
    saveToken(token);
    void start(token);
  });
  byId('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = byId<HTMLInputElement>('search').value.trim();
    if (id) void search(id);
  });
  byId('sign-out').addEventListener('click', () => {
    stop();
    forgetToken();
    setConnection('not connected');
    showSignIn(true);
  });
  const token = takeToken();
  if (token) void start(token);
  else showSignIn(true);
}

init();
