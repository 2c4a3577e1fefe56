import { test } from 'uvu';
import assert from 'node:assert/strict';
import type { AnyBehaviour } from '../src/actors/index.js';
import { LocalSystem } from '../src/runtime/testing/local-system.js';
import { ADMIN } from './helpers/principals.js';

/**
 * A test-only actor kind ("faulty:<id>"): a counter that persists every increment and throws,
 * after mutating its state, whenever asked to add a negative amount. It exists only here.
 */
const Faulty: AnyBehaviour = {
  kind: 'faulty',
  initial: () => ({ total: 0, seen: 0 }),
  receive(s, msg, ctx) {
    if (msg.kind === 'command') {
      const c = msg.command as unknown as { type: string; add?: number };
      s.seen++; // a mutation the failed turn must not leave behind
      if (c.type === 'get') {
        ctx.reply({ ok: true, orders: [], available: s.total });
        return s;
      }
      if ((c.add ?? 0) < 0) throw new Error(`refusing to add ${c.add}`);
      s.total += c.add ?? 0;
      ctx.persist({ total: s.total });
      ctx.reply({ ok: true, available: s.total });
      return s;
    }
    if (msg.kind === 'request') {
      throw new Error('this request always fails');
    }
    if (msg.kind === 'reply') return s;
    return s;
  },
  restore: (s, r: { total: number }) => ({ ...s, total: r.total }),
  isEmpty: (s) => s.total === 0,
  snapshot: (s) => [{ total: s.total }],
};

/** A second test-only kind that asks a faulty actor something, to exercise dead letters. */
const Asker: AnyBehaviour = {
  kind: 'asker',
  initial: () => ({ answers: [] as unknown[] }),
  receive(s, msg, ctx) {
    if (msg.kind === 'command') {
      ctx.send('faulty:f1', { type: 'queue.add', orderId: 'x' });
      ctx.persist({});
      ctx.reply({ ok: true });
    } else if (msg.kind === 'reply') {
      s.answers.push(msg.reply);
    }
    return s;
  },
  restore: (s) => s,
  isEmpty: () => false,
  snapshot: () => [],
};

/**
 * A third test-only kind: arms a timer whose handler always throws.
 */
const Tricky: AnyBehaviour = {
  kind: 'tricky',
  initial: () => ({ armed: false }),
  receive(s, msg, ctx) {
    if (msg.kind === 'command') {
      const c = msg.command as unknown as { type: string };
      if (c.type === 'arm') {
        ctx.setTimer('boom', ctx.now() + 1000);
        ctx.persist({ armed: true });
        ctx.reply({ ok: true });
      }
      return s;
    }
    if (msg.kind === 'timer') throw new Error('the timer handler always throws');
    return s;
  },
  restore: (s, r: { armed: boolean }) => ({ ...s, ...r }),
  isEmpty: (s) => !s.armed,
  snapshot: (s) => [{ armed: s.armed }],
};

const extraBehaviours = new Map([
  ['faulty', Faulty],
  ['asker', Asker],
  ['tricky', Tricky],
]);

const send = (sys: LocalSystem, key: string, cmd: object) => sys.ask(key, cmd as never, ADMIN);

test('a throwing behaviour answers INTERNAL, is logged, and the actor restarts from durable state', async () => {
  const sys = await LocalSystem.create({ shards: 2, extraBehaviours });
  assert.equal((await send(sys, 'faulty:f1', { type: 'add', add: 5 })).ok, true);
  const bad = await send(sys, 'faulty:f1', { type: 'add', add: -1 });
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.equal(bad.error.code, 'INTERNAL');
    assert.doesNotMatch(bad.error.message, /refusing|at |\//, 'no internals leak to the client');
  }
  assert.equal(sys.actorErrors.length, 1);
  assert.equal(sys.actorErrors[0]!.key, 'faulty:f1');
  assert.match(String(sys.actorErrors[0]!.err), /refusing to add -1/);
  // The restarted actor has its durable total and not the failed turn's mutation.
  const state = sys.shardFor('faulty:f1').cells.peek('faulty:f1')!.state as { total: number; seen: number };
  assert.equal(state.total, 5);
  assert.equal(state.seen, 0, 'in-memory leftovers of the failed turn are gone');
  // It goes on working.
  const more = await send(sys, 'faulty:f1', { type: 'add', add: 2 });
  assert.ok(more.ok && more.available === 7);
  const log = sys.shardFor('faulty:f1').logOf('faulty:f1');
  assert.deepEqual(
    log.map((e) => [e.from, e.message, e.decisions, e.outcome]),
    [
      ['client(admin)', 'add', [], 'ok'],
      ['client(admin)', 'add', ['threw: effects dropped, restarting from durable state'], 'INTERNAL'],
      ['client(admin)', 'add', [], 'ok'],
    ],
    'the log survives the restart, the failed turn included',
  );
});

test('a message that throws three times in a row is dead-lettered and does not block the mailbox', async () => {
  const sys = await LocalSystem.create({ shards: 2, extraBehaviours });
  await send(sys, 'faulty:f1', { type: 'add', add: 1 });
  assert.ok((await send(sys, 'asker:a1', { type: 'go' })).ok);
  await sys.settle();
  const shard = sys.shardFor('faulty:f1');
  assert.equal(shard.deadLetters.length, 1);
  assert.equal(shard.deadLetters[0]!.key, 'faulty:f1');
  assert.equal(shard.deadLetters[0]!.from, 'asker:a1');
  assert.equal(sys.actorErrors.filter((e) => e.key === 'faulty:f1').length, 3);
  // The sender got an answer (INTERNAL) and no longer waits.
  const asker = sys.shardFor('asker:a1').cells.peek('asker:a1')!;
  assert.equal(asker.outbox.size, 0);
  assert.deepEqual((asker.state as { answers: { ok: boolean; error?: { code: string } }[] }).answers.map((a) => a.error?.code), ['INTERNAL']);
  // The faulty actor's mailbox moved on.
  const after = await send(sys, 'faulty:f1', { type: 'add', add: 1 });
  assert.ok(after.ok && after.available === 2);
});

test('a restart keeps other actors of the shard running', async () => {
  const sys = await LocalSystem.create({ shards: 1, extraBehaviours });
  await send(sys, 'sku:A', { type: 'inventory.set', sku: 'A', onHand: 3 });
  const [bad, good] = await Promise.all([sys.send('faulty:f2', { type: 'add', add: -5 } as never, ADMIN), sys.send('sku:A', { type: 'inventory.get', sku: 'A' }, ADMIN), sys.settle()]);
  assert.equal(bad.ok, false);
  assert.ok(good.ok && good.stock?.onHand === 3);
});

test('a timer whose handler always throws is dead-lettered, not re-armed by each restart', async () => {
  const sys = await LocalSystem.create({ shards: 1, extraBehaviours });
  assert.ok((await send(sys, 'tricky:t2', { type: 'arm' })).ok);
  await sys.advance(1000);
  await sys.advance(10_000);
  const shard = sys.shardFor('tricky:t2');
  assert.equal(sys.actorErrors.filter((e) => e.key === 'tricky:t2').length, 3);
  assert.equal(shard.deadLetters.length, 1);
  assert.equal(shard.timers.has('tricky:t2'), false, 'the fired timer stays fired');
});

test.run();
