import assert from 'node:assert/strict';
import { test } from 'uvu';
import { InventoryActor } from '../src/actors/inventory.js';
import { ActiveCells } from '../src/runtime/kernel/active-cells.js';
import { ActorCell } from '../src/runtime/kernel/actor-cell.js';

const cell = (key: string) => new ActorCell(key, InventoryActor);

test('deleting the last actor in memory empties the shard without counting as an eviction, and the cap still evicts after it', () => {
  const leaving: string[] = [];
  const cells = new ActiveCells(2, (c) => (leaving.push(c.key), true));
  const a = cell('sku:a');
  cells.set(a.key, a);
  cells.delete(a.key); // the one entry: taken out by `pop` (see `delete`), not by lru-cache's clear
  assert.equal(cells.size, 0);
  assert.equal(cells.get(a.key), undefined);
  assert.deepEqual(leaving, [], 'an explicit delete is not a passivation');
  assert.equal(cells.passivated, 0);

  // The cache works as before afterwards: two fit, the third pushes out the least recently used.
  const [b, c, d] = [cell('sku:b'), cell('sku:c'), cell('sku:d')];
  cells.set(b.key, b);
  cells.set(c.key, c);
  assert.equal(cells.get(b.key), b);
  cells.set(d.key, d);
  assert.deepEqual(leaving, ['sku:c'], 'the cap evicts the least recently used');
  assert.equal(cells.passivated, 1);
  assert.deepEqual([...cells.values()].map((x) => x.key).sort(), ['sku:b', 'sku:d']);

  // Deleting down to one and then the last, in either order of recency.
  cells.delete(d.key);
  cells.delete(b.key);
  assert.equal(cells.size, 0);
  assert.deepEqual([...cells.values()], []);
  assert.equal(cells.passivated, 1);
  cells.set(a.key, a);
  assert.equal(cells.get(a.key), a, 'usable again after emptying');
});

test.run();
