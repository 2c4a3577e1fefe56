import { test } from 'uvu';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig } from '../src/config.js';
import { defaultHostThreads } from '../src/runtime/placement.js';

test('host threads default to none on one or two cores (shards on the gateway\'s thread), else one per core but the gateway\'s', () => {
  assert.equal(defaultHostThreads(0), 0);
  assert.equal(defaultHostThreads(1), 0);
  assert.equal(defaultHostThreads(2), 0);
  assert.equal(defaultHostThreads(3), 2);
  assert.equal(defaultHostThreads(8), 7);
});

test('flags win over environment variables, which win over defaults', () => {
  const c = loadConfig(['--workers', '3', '--port', '9000'], { ORDO_WORKERS: '5', ORDO_PORT: '7000', ORDO_SHARDS: '16' });
  assert.equal(c.workers, 3);
  assert.equal(c.port, 9000);
  assert.equal(c.shards, 16);
  assert.equal(loadConfig([], {}).workers, defaultHostThreads(availableParallelism()));
  // 0: no host thread, the shards on the gateway's thread; the journals still default to one.
  assert.deepEqual([loadConfig(['--workers', '0'], {}).workers, loadConfig(['--workers', '0'], {}).journals], [0, 1]);
});

test('the heap growth policy: 20% from 128 MiB unless the environment says otherwise', () => {
  assert.deepEqual(loadConfig([], {}).heapGrowth, { percent: 20, fromMb: 128 });
  assert.deepEqual(loadConfig([], { ORDO_HEAP_GROWING_PERCENT: '50', ORDO_HEAP_GROWING_FROM_MB: '64' }).heapGrowth, { percent: 50, fromMb: 64 });
  assert.deepEqual(loadConfig([], { ORDO_HEAP_GROWING_PERCENT: '0' }).heapGrowth, { percent: 0, fromMb: 128 });
});

test('a malformed setting is refused with its name and the allowed range, not silently defaulted', () => {
  for (const [argv, env, name] of [
    [[], { ORDO_WORKERS: '-1' }, 'workers'],
    [['--workers', '1.5'], {}, 'workers'],
    [[], { ORDO_SHARDS: '2.5' }, 'shards'],
    [[], { ORDO_PORT: 'eighty' }, 'port'],
    [[], { ORDO_SNAPSHOT_BYTES: '-1' }, 'ORDO_SNAPSHOT_BYTES'],
    [[], { ORDO_HEAP_GROWING_PERCENT: 'lots' }, 'ORDO_HEAP_GROWING_PERCENT'],
    [[], { ORDO_HEAP_GROWING_FROM_MB: '-1' }, 'ORDO_HEAP_GROWING_FROM_MB'],
  ] as const) {
    assert.throws(() => loadConfig([...argv], { ...env }), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${name} must be an integer in`));
  }
});

test('cluster mode only with --nats (or ORDO_NATS_URL / ORDO_NATS); its settings, with the flag winning', () => {
  assert.equal(loadConfig([], {}).cluster, null, 'the single-node mode by default');
  assert.equal(loadConfig([], { ORDO_NATS_URL: ' ' }).cluster, null);
  const c = loadConfig(['--nats', 'nats://a:4222, nats://b:4222', '--node-id', 'n1'], { ORDO_NATS_URL: 'nats://env:4222', ORDO_CLUSTER: 'shop', ORDO_NODE_ID: 'env-id' })!.cluster!;
  assert.deepEqual(c.servers, ['nats://a:4222', 'nats://b:4222']);
  assert.equal(c.name, 'shop');
  assert.equal(c.nodeId, 'n1');
  assert.equal(c.journals, 16);
  assert.equal(c.shards, 16, 'one shard per journal unless told');
  assert.equal(c.leaseTtlMs, 5000);
  const alias = loadConfig([], { ORDO_NATS: 'nats://x:1', ORDO_CLUSTER_JOURNALS: '8' }).cluster!;
  assert.deepEqual(alias.servers, ['nats://x:1']);
  assert.equal(alias.nodeId, null, 'the node id defaults to host name and port once listening');
  assert.equal(alias.shards, 8);
  assert.throws(() => loadConfig(['--nats', 'nats://x:1', '--cluster', 'a.b'], {}), ConfigError);
  assert.throws(() => loadConfig([], { ORDO_NATS: 'nats://x:1', ORDO_CLUSTER_SHARDS: '4', ORDO_CLUSTER_JOURNALS: '8' }), /ORDO_CLUSTER_SHARDS must be an integer in 8\.\./);
});

test.run();
