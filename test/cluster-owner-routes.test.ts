import { test } from 'uvu';
import assert from 'node:assert/strict';
import { OwnerRoutes } from '../src/runtime/cluster/owner-routes.js';

// A node's routing view, fed by the owner records' watch: which records move a route, and which
// mean a new owner (its unanswered requests go again).
const rec = (node: string, epoch: number) => ({ node, epoch, since: 1, sequence: epoch * 10 });

test('a record with a newer epoch moves the route and says so; an older or the same one does not', () => {
  const routes = new OwnerRoutes();
  assert.equal(routes.update(3, rec('a', 2)), true, 'first owner known');
  assert.equal(routes.update(3, rec('a', 2)), false, 'the same record again');
  assert.equal(routes.update(3, rec('z', 1)), false, 'an older epoch');
  assert.equal(routes.get(3)?.node, 'a');
  assert.equal(routes.update(3, rec('b', 3)), true, 'a new owner');
  assert.deepEqual(routes.get(3), rec('b', 3));
});

test('a deleted record keeps its epoch with no node; the owner\'s record written again at that epoch is not a new owner', () => {
  const routes = new OwnerRoutes();
  routes.update(1, rec('b', 5));
  assert.equal(routes.update(1, null), false);
  assert.deepEqual(routes.get(1), { ...rec('b', 5), node: '' }, 'stale mail stamped below epoch 5 is still refused');
  assert.equal(routes.update(1, rec('b', 5)), false, 'the keeper rewrote the same owner and epoch');
  assert.equal(routes.get(1)?.node, 'b');
  assert.equal(routes.update(2, null), false, 'a deletion of a journal never seen changes nothing');
  assert.equal(routes.get(2), undefined);
});

test('the /healthz view lists every journal: its node and epoch, or null when none is known', () => {
  const routes = new OwnerRoutes();
  routes.update(0, rec('a', 4));
  routes.update(2, rec('b', 7));
  routes.update(2, null);
  assert.deepEqual(routes.view(3), [
    { journal: 0, node: 'a', epoch: 4 },
    { journal: 1, node: null, epoch: null },
    { journal: 2, node: null, epoch: 7 },
  ]);
});

test.run();
