import type { Order, OrderStatus, Stats } from '../client/browser.js';
import { ORDER_STATUSES } from '../protocol/model.js';
import { byId, dateTime, el, replaceChildren, time } from './dom.js';

/** The status tiles, built once; `count-<status>` holds the number alone. */
export function buildCounts(): void {
  replaceChildren(
    byId('counts'),
    ORDER_STATUSES.map((s) =>
      el('div', { class: 'count' }, el('span', { class: 'n', 'data-testid': `count-${s}` }, '–'), el('span', { class: 'label' }, s.replace(/_/g, ' '))),
    ),
  );
}

export function renderCounts(orders: Record<OrderStatus, number>): void {
  for (const s of ORDER_STATUSES) {
    const n = document.querySelector(`[data-testid="count-${s}"]`);
    if (n) n.textContent = String(orders[s] ?? 0);
  }
}

export function renderSkus(stats: Stats): void {
  const rows = stats.busiestSkus.map((s) =>
    el('tr', {}, el('td', {}, s.sku), el('td', {}, String(s.onHand)), el('td', {}, String(s.reserved)), el('td', {}, String(s.available)), el('td', {}, String(s.placements))),
  );
  replaceChildren(byId('skus'), rows.length ? rows : [el('tr', {}, el('td', { colspan: '5', class: 'muted' }, 'no placements yet'))]);
}

export function renderShards(stats: Stats): void {
  const commits = new Map(stats.hosts.map((h) => [h.worker, h.commits]));
  replaceChildren(
    byId('shards'),
    stats.shards.map((s) =>
      el(
        'tr',
        {},
        el('td', {}, String(s.shard)),
        el('td', {}, String(s.worker)),
        el('td', {}, String(s.mailboxDepth)),
        el('td', {}, String(commits.get(s.worker) ?? 0)),
        el('td', {}, String(s.deadLetters)),
        el('td', {}, String(s.actors)),
      ),
    ),
  );
}

export function renderHealth(health: string): void {
  const h = byId('health');
  h.textContent = health;
  h.className = `badge ${health === 'ready' ? 'ready' : 'bad'}`;
}

const RECENT = 40;

/** Newest change first; one line per order (its latest state). */
export function noteRecent(order: Order): void {
  const list = byId('recent');
  for (const li of Array.from(list.children)) if ((li as HTMLElement).dataset.order === order.orderId) li.remove();
  const last = order.history[order.history.length - 1];
  const li = el(
    'li',
    { 'data-order': order.orderId },
    el('span', { class: 'muted' }, last ? time(last.at) : ''),
    el('span', { class: 'id', title: order.orderId }, order.orderId),
    el('span', { class: `status ${order.status}` }, `${order.status}${last ? ` · ${last.by}` : ''}`),
  );
  list.prepend(li);
  while (list.children.length > RECENT) list.lastElementChild?.remove();
}

/** The searched order: its fields, its payment deadline, and its history as a timeline. */
export function renderOrder(order: Order | null, orderId: string): void {
  const box = byId('order');
  if (!order) {
    replaceChildren(box, [el('p', { class: 'muted' }, `No order ${orderId}.`)]);
    return;
  }
  const deadline = order.paymentDeadline;
  const overdue = order.status === 'awaiting_payment' && deadline <= Date.now();
  const kv = el(
    'dl',
    { class: 'kv' },
    el('dt', {}, 'order'),
    el('dd', {}, order.orderId),
    el('dt', {}, 'customer'),
    el('dd', {}, order.customerId),
    el('dt', {}, 'status'),
    el('dd', {}, el('span', { class: `status ${order.status}` }, order.status + (order.reason ? ` (${order.reason})` : ''))),
    el('dt', {}, 'payment deadline'),
    el('dd', { 'data-testid': 'deadline' }, `${dateTime(deadline)}${overdue ? ' (passed)' : ''}`),
    el('dt', {}, 'items'),
    el('dd', {}, order.items.map((i) => `${i.quantity} × ${i.sku}`).join(', ')),
  );
  const timeline = el(
    'ol',
    { class: 'timeline', 'data-testid': 'timeline' },
    ...order.history.map((h) => el('li', {}, el('strong', {}, h.status), ` by ${h.by}`, el('div', { class: 'muted' }, dateTime(h.at)))),
  );
  replaceChildren(box, [kv, timeline]);
}
