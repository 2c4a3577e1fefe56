import { test } from 'uvu';
import assert from 'node:assert/strict';
import type { Envelope } from '../src/runtime/kernel/envelope.js';
import { LOG_LIMIT, type LogEntry, MessageLog, type Notes } from '../src/runtime/kernel/message-log.js';

// The message log keeps the latest LOG_LIMIT lines in a growing, then circular, flat array
// (message-log.ts): whatever the number of turns, it reads as the latest lines, oldest first.

const turn = (k: number): Envelope => ({ t: 'req', to: 'sku:a', from: `order:o${k}`, id: k, request: { type: 'stock.confirm', orderId: `o${k}` } });
/** A turn's notes as TurnContext collects them: none, one as itself, or several. */
const notes = (k: number): Notes => (k % 4 === 1 ? `note ${k}` : k % 4 === 3 ? [`note ${k}`, 'and another'] : null);
const line = (k: number): LogEntry => ({
  at: k,
  from: `order:o${k}`,
  message: 'stock.confirm',
  decisions: k % 4 === 1 ? [`note ${k}`] : k % 4 === 3 ? [`note ${k}`, 'and another'] : [],
  outcome: k % 3 ? 'ok' : undefined,
});

test('the log reads as its latest LOG_LIMIT lines, oldest first, however many turns it took', () => {
  for (const total of [0, 1, 2, 3, 5, LOG_LIMIT - 1, LOG_LIMIT, LOG_LIMIT + 1, 2 * LOG_LIMIT - 1, 2 * LOG_LIMIT, 2 * LOG_LIMIT + 1, 100]) {
    const log = new MessageLog();
    for (let k = 0; k < total; k++) log.add(k, turn(k), notes(k), k % 3 ? 'ok' : undefined);
    const kept = Math.min(total, LOG_LIMIT);
    const want = Array.from({ length: kept }, (_, j) => line(total - kept + j));
    assert.deepEqual(log.entries(), want, `${total} turns`);
    const continued = new MessageLog();
    continued.append(log);
    assert.deepEqual(continued.entries(), want, `${total} turns, carried over to a restarted actor`);
  }
});

test('a line shows the message as it always did', () => {
  const log = new MessageLog();
  log.add(1, { t: 'cmd', to: 'sku:a', cid: 1, command: { type: 'inventory.get', sku: 'a' }, principal: { role: 'admin' } }, null, 'ok');
  log.add(2, { t: 'reply', to: 'sku:a', from: 'order:o1', re: 1, reply: { ok: false, error: { code: 'NOT_FOUND', message: 'no' } } }, ['dropped'], undefined);
  log.add(3, { t: 'timer', to: 'sku:a', name: 'verify' }, null, undefined);
  assert.deepEqual(
    log.entries().map((e) => [e.from, e.message, e.decisions, e.outcome]),
    [
      ['client(admin)', 'inventory.get', [], 'ok'],
      ['order:o1', 'reply NOT_FOUND', ['dropped'], undefined],
      ['timer', 'timer verify', [], undefined],
    ],
  );
});

test.run();
