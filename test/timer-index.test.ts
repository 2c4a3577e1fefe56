import { test } from 'uvu';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SimulatedClock } from '../src/runtime/kernel/clock.js';
import { TimerIndex } from '../src/runtime/kernel/timer-index.js';

function index(clock: SimulatedClock) {
  const fired: string[] = [];
  const timers = new TimerIndex(clock, (key, name) => fired.push(`${key}/${name}`));
  return { timers, fired };
}

test('timers collected before start (recovery) fire in due order once started, overdue ones at once', () => {
  const clock = new SimulatedClock(1_000);
  const { timers, fired } = index(clock);
  for (const [key, at] of [['c', 1_300], ['a', 900], ['b', 1_200], ['d', 500]] as const) timers.set(key, 'payment', at);
  clock.advance(10_000);
  assert.deepEqual(fired, [], 'nothing fires before start');
  timers.start();
  clock.advance(0);
  assert.deepEqual(fired, ['d/payment', 'a/payment', 'b/payment', 'c/payment']);
  assert.equal(timers.size, 0);
});

test('several timers per actor, re-arming and cancelling: only the latest setting of each fires', () => {
  const clock = new SimulatedClock(0);
  const { timers, fired } = index(clock);
  timers.start();
  timers.set('o1', 'payment', 100);
  timers.set('o1', 'verify', 50);
  timers.set('o1', 'payment', 300); // moved: the entry at 100 is stale
  timers.set('o2', 'payment', 200);
  timers.cancel('o2', 'payment');
  timers.cancel('o2', 'never-set');
  assert.equal(timers.size, 2);
  assert.deepEqual(timers.timersOf('o1'), { payment: 300, verify: 50 });
  assert.ok(timers.has('o1') && !timers.has('o2'));
  clock.advance(100);
  assert.deepEqual(fired, ['o1/verify']);
  assert.deepEqual(timers.timersOf('o1'), { payment: 300 });
  clock.advance(200);
  assert.deepEqual(fired, ['o1/verify', 'o1/payment']);
  assert.equal(timers.size, 0);
  assert.ok(!timers.has('o1'));
});

test('a deadline beyond what a platform timer can wait (2^31-1 ms) fires on time, not early', () => {
  const clock = new SimulatedClock(0);
  const { timers, fired } = index(clock);
  timers.start();
  const far = 40 * 24 * 3600 * 1000; // 40 days
  timers.set('o', 'payment', far);
  clock.advance(2 ** 31);
  assert.deepEqual(fired, []);
  clock.advance(far - 2 ** 31);
  assert.deepEqual(fired, ['o/payment']);
});

test('property: whatever the operations, timers fire exactly as a plain map of due times says', () => {
  const op = fc.oneof(
    fc.record({ t: fc.constant('set' as const), key: fc.integer({ min: 0, max: 5 }), name: fc.constantFrom('p', 'v', 'w'), at: fc.integer({ min: 0, max: 1_000 }) }),
    fc.record({ t: fc.constant('cancel' as const), key: fc.integer({ min: 0, max: 5 }), name: fc.constantFrom('p', 'v', 'w') }),
    fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 300 }) }),
    fc.constant({ t: 'start' as const }),
    fc.constant({ t: 'restart' as const }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const clock = new SimulatedClock(0);
      const { timers, fired } = index(clock);
      const model = new Map<string, number>();
      const expected: string[] = [];
      let started = false;
      const fireDue = () => {
        if (!started) return;
        const due = [...model].filter(([, at]) => at <= clock.now()).sort((a, b) => a[1] - b[1]);
        for (const [id] of due) {
          model.delete(id);
          expected.push(id);
        }
      };
      for (const o of ops) {
        if (o.t === 'set') {
          timers.set(`k${o.key}`, o.name, o.at);
          model.set(`k${o.key}/${o.name}`, o.at);
        } else if (o.t === 'cancel') {
          timers.cancel(`k${o.key}`, o.name);
          model.delete(`k${o.key}/${o.name}`);
        } else if (o.t === 'start') {
          if (!started) timers.start();
          started = true;
        } else if (o.t === 'restart') {
          // Stopped, then started again: nothing fires in between, nothing is lost.
          timers.stop();
          clock.advance(50);
          timers.start();
          started = true;
        } else clock.advance(o.ms);
        clock.advance(0);
        fireDue();
        assert.deepEqual([...fired].sort(), [...expected].sort());
        assert.equal(timers.size, model.size);
      }
    }),
    { numRuns: 500 },
  );
});

test.run();
