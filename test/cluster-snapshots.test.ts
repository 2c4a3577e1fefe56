import { test } from 'uvu';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { JournalLostError } from '../src/runtime/cluster/errors.js';
import { JetStreamJournal } from '../src/runtime/cluster/jetstream-journal.js';
import { connectNats } from '../src/runtime/cluster/nats-connection.js';
import { JetStreamSnapshotStore } from '../src/runtime/cluster/snapshot-store.js';
import { encodeRecord, type JournalRecord } from '../src/runtime/journal/record.js';
import { type NatsServer, startNatsServer } from './helpers/nats-server.js';

let server: NatsServer;
let nc: NatsConnection;

test.before(async () => {
  server = await startNatsServer();
  nc = await connectNats(server.url);
});
test.after(async () => {
  await nc?.close();
  await server?.dispose();
});

const rec = (i: number): JournalRecord => ({ k: `sku:s${i}`, r: [{ n: i }] });

async function streamState(j: JetStreamJournal): Promise<{ first: number; last: number; messages: number }> {
  const { state } = await (await jetstreamManager(nc)).streams.info(j.stream);
  return { first: state.first_seq, last: state.last_seq, messages: state.messages };
}

async function replayKeys(j: JetStreamJournal, from: number): Promise<string[]> {
  const keys: string[] = [];
  await j.replay(from, (r) => keys.push(r.k));
  return keys;
}

test('put and get: the blob, the sequence it covers and its writer; a second put replaces the first', async () => {
  const snaps = await JetStreamSnapshotStore.open(nc, 's1');
  const j = await JetStreamJournal.open({ nc, cluster: 's1', journal: 0, writer: 'node-a' });
  await j.acquire();
  const name = JetStreamSnapshotStore.key(0, 3);
  assert.equal(name, 'journal-0/shard-3');
  assert.equal(await snaps.get(name), null, 'no snapshot yet');
  assert.equal(await snaps.covers(name), null);
  const blob = new Uint8Array(300_000).map((_, i) => i % 251);
  await snaps.put(name, blob, 17, j);
  const got = await snaps.get(name);
  assert.ok(got);
  assert.deepEqual(Buffer.from(got.data), Buffer.from(blob), 'a blob of several object chunks comes back whole');
  assert.deepEqual({ covers: got.covers, epoch: got.epoch, writer: got.writer }, { covers: 17, epoch: 1, writer: 'node-a' });
  await snaps.put(name, Buffer.from('newer'), 40, j);
  const newer = await snaps.get(name);
  assert.equal(Buffer.from(newer!.data).toString(), 'newer');
  assert.equal(await snaps.covers(name), 40);
  await snaps.delete(name);
  assert.equal(await snaps.get(name), null);
});

test('trim: nothing until every shard of the journal has a snapshot, then the stream is purged up to what all cover', async () => {
  const snaps = await JetStreamSnapshotStore.open(nc, 's2');
  const j = await JetStreamJournal.open({ nc, cluster: 's2', journal: 1, writer: 'node-a' });
  await j.acquire(); // sequence 1
  for (let b = 0; b < 10; b++) await j.append([encodeRecord(rec(b))]); // sequences 2..11
  const shards = [JetStreamSnapshotStore.key(1, 0), JetStreamSnapshotStore.key(1, 1)];
  await snaps.put(shards[0]!, Buffer.from('a'), 6, j);
  assert.equal(await snaps.trimCovered(j, shards), 0, 'shard 1 has no snapshot: the stream is kept whole');
  assert.deepEqual(await streamState(j), { first: 1, last: 11, messages: 11 });
  await snaps.put(shards[1]!, Buffer.from('b'), 8, j);
  assert.equal(await snaps.trimCovered(j, shards), 6, 'sequences 1..6 are covered by both');
  assert.deepEqual(await streamState(j), { first: 7, last: 11, messages: 5 });
  assert.deepEqual(await replayKeys(j, 7), [5, 6, 7, 8, 9].map((i) => `sku:s${i}`), 'replay from past the snapshot reads the rest');
  assert.deepEqual(await replayKeys(j, 1), [5, 6, 7, 8, 9].map((i) => `sku:s${i}`), 'and a replay from before it finds only what is left');
  // Everything covered: the last message stays, so that the next owner finds the epoch there.
  await snaps.put(shards[0]!, Buffer.from('a2'), 11, j);
  await snaps.put(shards[1]!, Buffer.from('b2'), 11, j);
  assert.equal(await snaps.trimCovered(j, shards), 4);
  assert.deepEqual(await streamState(j), { first: 11, last: 11, messages: 1 });
  assert.deepEqual(await replayKeys(j, 12), []);
  const next = await JetStreamJournal.open({ nc, cluster: 's2', journal: 1, writer: 'node-b' });
  assert.deepEqual(await next.acquire(), { epoch: 2, seq: 12 }, 'the epoch after a full trim is still one past the last');
  assert.equal(await snaps.trimCovered(next, shards), 1, 'the old last message is covered and no longer last');
  assert.deepEqual(await streamState(next), { first: 12, last: 12, messages: 1 });
  assert.equal(await snaps.trimCovered(next, shards), 0, 'a trim that would remove nothing does nothing');
});

test('a node whose journal was taken neither writes snapshots nor trims', async () => {
  const snaps = await JetStreamSnapshotStore.open(nc, 's3');
  const a = await JetStreamJournal.open({ nc, cluster: 's3', journal: 0, writer: 'node-a' });
  const b = await JetStreamJournal.open({ nc, cluster: 's3', journal: 0, writer: 'node-b' });
  await a.acquire();
  await a.append([encodeRecord(rec(0))]);
  await b.acquire();
  await assert.rejects(a.append([encodeRecord(rec(1))]), JournalLostError);
  const name = JetStreamSnapshotStore.key(0, 0);
  await assert.rejects(snaps.put(name, Buffer.from('stale'), 2, a), JournalLostError);
  assert.equal(await snaps.get(name), null);
  await assert.rejects(a.trim(2), JournalLostError);
  assert.equal((await streamState(b)).messages, 3, 'fence, record, fence: nothing purged');
});

test('a read that its object is replaced or deleted under (its chunks purged) reads the object anew, never waits forever', async () => {
  const writer = await JetStreamSnapshotStore.open(nc, 's4');
  const reader = await JetStreamSnapshotStore.open(nc, 's4');
  reader.recheckMs = 50;
  const j = await JetStreamJournal.open({ nc, cluster: 's4', journal: 0, writer: 'node-a' });
  await j.acquire();
  const name = JetStreamSnapshotStore.epochKey(0, 0, 1);
  const blob = (fill: number) => new Uint8Array(300_000).fill(fill);
  await writer.put(name, blob(1), 5, j);
  // The interleaving of a hand-over: the reader has looked the object up (the id of its chunks)
  // when the previous owner replaces it, which purges those chunks; only then does the reader
  // subscribe to them (the object store's reader subscribes right after its look-up).
  type Consumers = { getPushConsumer(...a: unknown[]): Promise<unknown> };
  const consumers = (reader as unknown as { os: { js: { consumers: Consumers } } }).os.js.consumers;
  const subscribe = consumers.getPushConsumer.bind(consumers);
  let interleave: (() => Promise<unknown>) | null = null;
  consumers.getPushConsumer = async (...a: unknown[]) => {
    const then = interleave;
    interleave = null;
    if (then) await then();
    return subscribe(...a);
  };
  const within = <T>(p: Promise<T>, what: string) =>
    Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: no answer within 10 s`)), 10_000))]);

  interleave = () => writer.put(name, blob(2), 9, j);
  const got = await within(reader.get(name), 'a read whose object was replaced');
  assert.ok(got);
  assert.equal(got.covers, 9, 'the newer version, with its own covered sequence');
  assert.deepEqual(Buffer.from(got.data), Buffer.from(blob(2)));

  interleave = () => writer.delete(name);
  assert.equal(await within(reader.get(name), 'a read whose object was deleted'), null);
  assert.equal(await within(reader.latest(0, 0, 2), 'latest of a deleted epoch'), null);
});

test.run();
