import { test } from 'uvu';
import assert from 'node:assert/strict';
import type { Envelope } from '../src/runtime/kernel/envelope.js';
import { formatNote, LOG_LIMIT, type LogEntry, MessageLog, singleNote, type TurnNotes } from '../src/runtime/kernel/message-log.js';
import { TurnContext } from '../src/runtime/kernel/turn-context.js';
import { ActorCell } from '../src/runtime/kernel/actor-cell.js';
import { InventoryActor } from '../src/actors/inventory.js';

// The message log is a shard's flight recorder (message-log.ts): one ring of its latest turns,
// all actors together, in columns; a read shows one actor's latest LOG_LIMIT lines still held,
// oldest first, with their notes formatted then.

const turn = (k: number): Envelope => ({ t: 'req', to: 'sku:a', from: `order:o${k}`, id: k, request: { type: 'stock.confirm', orderId: `o${k}` } });
const NO_NOTES: TurnNotes = { noteText: null, noteA: undefined, noteB: undefined, noteC: undefined, moreNotes: null };
/** A turn's notes as TurnContext collects them: none, one with its arguments, or several. */
const notes = (k: number): TurnNotes =>
  k % 4 === 1 ? { ...NO_NOTES, noteText: 'note {} of {}', noteA: k, noteB: 'sku:a' } : k % 4 === 3 ? { ...NO_NOTES, noteText: `note ${k}`, moreNotes: ['and another'] } : NO_NOTES;
const line = (k: number): LogEntry => ({
  at: k,
  from: `order:o${k}`,
  message: 'stock.confirm',
  decisions: k % 4 === 1 ? [`note ${k} of sku:a`] : k % 4 === 3 ? [`note ${k}`, 'and another'] : [],
  outcome: k % 3 ? 'ok' : undefined,
});

test('an actor reads as its latest LOG_LIMIT lines, oldest first, however many turns it took', () => {
  for (const total of [0, 1, 2, 3, 5, LOG_LIMIT - 1, LOG_LIMIT, LOG_LIMIT + 1, 2 * LOG_LIMIT + 1, 100]) {
    const log = new MessageLog(1000);
    for (let k = 0; k < total; k++) {
      log.add('sku:a', k, turn(k), notes(k), k % 3 ? 'ok' : undefined);
      // Another actor's turns in between are not its lines.
      log.add('sku:b', k, turn(k), singleNote('elsewhere'), 'ok');
    }
    const kept = Math.min(total, LOG_LIMIT);
    assert.deepEqual(log.entries('sku:a'), Array.from({ length: kept }, (_, j) => line(total - kept + j)), `${total} turns`);
    assert.equal(log.entries('sku:b').length, kept);
    assert.deepEqual(log.entries('sku:c'), []);
  }
});

test('the ring keeps the shard’s latest turns only: older lines are overwritten, whichever actor took them', () => {
  const log = new MessageLog(10);
  for (let k = 0; k < 25; k++) log.add(k % 2 ? 'sku:odd' : 'sku:even', k, turn(k), NO_NOTES, 'ok');
  assert.equal(log.length, 10);
  // Turns 15..24 are held: the even ones 16..24, the odd ones 15..23.
  assert.deepEqual(log.entries('sku:even').map((e) => e.at), [16, 18, 20, 22, 24]);
  assert.deepEqual(log.entries('sku:odd').map((e) => e.at), [15, 17, 19, 21, 23]);
  assert.deepEqual(log.entries('sku:odd', 2).map((e) => e.at), [21, 23], 'a limit keeps the latest');
  assert.throws(() => new MessageLog(0), /at least one line/);
});

test('a line shows the message as it always did, and a note is formatted only when read', () => {
  const log = new MessageLog();
  const ctx = new TurnContext();
  const cell = new ActorCell('sku:a', InventoryActor);
  ctx.begin(cell, null, 1);
  ctx.note('reserved {} for {} (tentative)', 3, 'o1');
  ctx.note('then {}', true);
  log.add('sku:a', 1, { t: 'cmd', to: 'sku:a', cid: 1, command: { type: 'inventory.get', sku: 'a' }, principal: { role: 'admin' } }, ctx, 'ok');
  ctx.end();
  // The first note is kept as its text and arguments; the turn built no string for it.
  assert.equal(ctx.noteText, 'reserved {} for {} (tentative)');
  log.add('sku:a', 2, { t: 'reply', to: 'sku:a', from: 'order:o1', re: 1, reply: { ok: false, error: { code: 'NOT_FOUND', message: 'no' } } }, singleNote('dropped'), undefined);
  log.add('sku:a', 3, { t: 'timer', to: 'sku:a', name: 'verify' }, NO_NOTES, undefined);
  assert.deepEqual(
    log.entries('sku:a').map((e) => [e.from, e.message, e.decisions, e.outcome]),
    [
      ['client(admin)', 'inventory.get', ['reserved 3 for o1 (tentative)', 'then true'], 'ok'],
      ['order:o1', 'reply NOT_FOUND', ['dropped'], undefined],
      ['timer', 'timer verify', [], undefined],
    ],
  );
});

test('formatNote fills placeholders in turn, as a template literal would', () => {
  assert.equal(formatNote('plain {} text'), 'plain {} text');
  assert.equal(formatNote('{} has {} of {}; holds released', 'mug', 0, 2), 'mug has 0 of 2; holds released');
  assert.equal(formatNote('a {} b {}', 'x'), 'a x b undefined');
  assert.equal(formatNote('{}{}{}{}', 1, 2, 3), '123{}');
  assert.equal(formatNote('value {}', '{} stays'), 'value {} stays');
});

test.run();
