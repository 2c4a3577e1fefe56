import { test } from 'uvu';
import assert from 'node:assert/strict';
import { InventoryActor, type InventoryState } from '../src/actors/inventory.js';
import { ActorCell } from '../src/runtime/kernel/actor-cell.js';
import { ASSERTS } from '../src/runtime/kernel/dev-asserts.js';
import { TurnContext } from '../src/runtime/kernel/turn-context.js';

// The suite runs with the dev-mode checks on (scripts/test.mjs sets ORDO_ASSERTS=1); these tests
// show that each check is live, so a green suite means the invariants held throughout.

test('the test runner turns dev asserts on', () => {
  assert.equal(process.env.ORDO_ASSERTS, '1');
  assert.equal(ASSERTS, true);
});

test('an actor cell refuses a negative unsettled count', () => {
  const cell = new ActorCell('sku:a', InventoryActor);
  cell.unsettled++;
  cell.unsettled--;
  assert.equal(cell.unsettled, 0);
  assert.throws(() => cell.unsettled--, /unsettled >= 0/);
});

test('turns never nest: a second begin before end throws', () => {
  const ctx = new TurnContext();
  const a = new ActorCell('sku:a', InventoryActor);
  const b = new ActorCell('sku:b', InventoryActor);
  ctx.begin(a, null, 0);
  assert.throws(() => ctx.begin(b, null, 0), /turns never nest/);
  ctx.end();
  ctx.begin(b, null, 0);
  ctx.end();
});

test("a SKU's reserved must be the sum of its holds after every turn", () => {
  const cell = new ActorCell('sku:a', InventoryActor);
  const s = cell.state as InventoryState;
  s.onHand = 10;
  s.reserved = 3;
  s.holds.set('o1', 2); // one unit reserved by no hold
  const ctx = new TurnContext();
  const command = { type: 'inventory.get', sku: 'a' } as const;
  const principal = { role: 'admin' } as const;
  ctx.begin(cell, { t: 'cmd', to: 'sku:a', cid: 1, command, principal }, 0);
  assert.throws(
    () => InventoryActor.receive(s, { kind: 'command', command, principal }, ctx),
    /reserved 3 is the sum of its holds \(2\)/,
  );
  ctx.end();
});

test.run();
