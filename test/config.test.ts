import { test } from 'uvu';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig } from '../src/config.js';
import { defaultHostThreads } from '../src/runtime/placement.js';

test('host threads default to one per core but the gateway\'s, never fewer than one', () => {
  assert.equal(defaultHostThreads(0), 1);
  assert.equal(defaultHostThreads(1), 1);
  assert.equal(defaultHostThreads(2), 1);
  assert.equal(defaultHostThreads(8), 7);
});

test('flags win over environment variables, which win over defaults', () => {
  const c = loadConfig(['--workers', '3', '--port', '9000'], { ORDO_WORKERS: '5', ORDO_PORT: '7000', ORDO_SHARDS: '16' });
  assert.equal(c.workers, 3);
  assert.equal(c.port, 9000);
  assert.equal(c.shards, 16);
  assert.equal(loadConfig([], {}).workers, defaultHostThreads(availableParallelism()));
});

test('a malformed setting is refused with its name and the allowed range, not silently defaulted', () => {
  for (const [argv, env, name] of [
    [['--workers', '0'], {}, 'workers'],
    [[], { ORDO_SHARDS: '2.5' }, 'shards'],
    [[], { ORDO_PORT: 'eighty' }, 'port'],
    [[], { ORDO_SNAPSHOT_BYTES: '-1' }, 'ORDO_SNAPSHOT_BYTES'],
  ] as const) {
    assert.throws(() => loadConfig([...argv], { ...env }), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${name} must be an integer in`));
  }
});

test.run();
