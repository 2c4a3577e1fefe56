import { test } from 'uvu';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { JournalLostError, JournalStreamError, RecordTooLargeError } from '../src/runtime/cluster/errors.js';
import { JetStreamJournal, type JetStreamJournalOptions } from '../src/runtime/cluster/jetstream-journal.js';
import { batchMessageId, messageHeaders, readMeta } from '../src/runtime/cluster/journal-message.js';
import { connectNats, serverVersionWarning } from '../src/runtime/cluster/nats-connection.js';
import { journalStream } from '../src/runtime/cluster/names.js';
import { encodeRecord, type JournalRecord } from '../src/runtime/journal/record.js';
import { type NatsServer, startNatsServer } from './helpers/nats-server.js';

let server: NatsServer;
let nc: NatsConnection;
let journalNo = 0;

test.before(async () => {
  server = await startNatsServer();
  nc = await connectNats(server.url);
});
test.after(async () => {
  await nc?.close();
  await server?.dispose();
});

const rec = (i: number, tag = 'a'): JournalRecord => ({ k: `order:${tag}${i}`, r: [{ n: i }] });
const frames = (from: number, n: number, tag = 'a') => Array.from({ length: n }, (_, i) => encodeRecord(rec(from + i, tag)));

/** A journal on a stream of its own (a fresh journal number per test). */
async function journal(opts: Partial<JetStreamJournalOptions> = {}, n = ++journalNo): Promise<JetStreamJournal> {
  return JetStreamJournal.open({ nc, cluster: 't', journal: n, writer: 'node-a', ackTimeoutMs: 2000, retryForMs: 5000, ...opts });
}

async function replayAll(j: JetStreamJournal, from = 1): Promise<{ records: JournalRecord[]; seqs: number[]; stats: Awaited<ReturnType<JetStreamJournal['replay']>> }> {
  const records: JournalRecord[] = [];
  const seqs: number[] = [];
  const stats = await j.replay(from, (r, seq) => {
    records.push(r);
    seqs.push(seq);
  });
  return { records, seqs, stats };
}

/**
 * Publishes `batch` as `j`'s first append of `epoch` would (its own message id and headers, at
 * the sequence after `seq`): a first try that landed, as if its acknowledgement had been lost.
 */
async function publishAsFirstTry(j: JetStreamJournal, batch: Buffer[], epoch: number, seq: number): Promise<void> {
  await jetstream(nc).publish(j.subject, Buffer.concat(batch), {
    msgID: batchMessageId(epoch, 1, 0, j.writer),
    expect: { lastSequence: seq },
    headers: messageHeaders('batch', epoch, j.writer),
  });
}

/** Every message of a stream: its sequence, kind and writer. */
async function messagesOf(stream: string): Promise<{ seq: number; kind: string; writer: string; epoch: number }[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const out = [];
  for (let s = state.first_seq; s <= state.last_seq && state.messages > 0; s++) {
    const m = await jsm.streams.getMessage(stream, { seq: s });
    const meta = m && readMeta(m.header);
    if (meta) out.push({ seq: s, kind: meta.kind, writer: meta.writer, epoch: meta.epoch });
  }
  return out;
}

test('the server version check warns below 2.10 and is silent from 2.10 on', async () => {
  assert.match(serverVersionWarning('2.9.10')!, /older than 2\.10.*sync_interval/);
  assert.match(serverVersionWarning('v2.9.25')!, /older than 2\.10/);
  assert.equal(serverVersionWarning('2.10.0'), null);
  assert.equal(serverVersionWarning('2.11.4'), null);
  assert.equal(serverVersionWarning('3.0.0'), null);
  const warnings: string[] = [];
  const c = await connectNats(server.url, (w) => warnings.push(w));
  const version = c.info!.version;
  await c.close();
  const expected = serverVersionWarning(version);
  assert.deepEqual(warnings, expected ? [expected] : [], `connecting to ${version} warns exactly when the version check does`);
});

test('appends and replay round-trip: one message per batch after the fence, records in order, fences not replayed', async () => {
  const j = await journal();
  const { epoch, seq } = await j.acquire();
  assert.deepEqual({ epoch, seq }, { epoch: 1, seq: 1 }, 'a new stream: epoch 1, fence at sequence 1');
  await j.append(frames(0, 3));
  await j.append(frames(3, 1));
  await j.append(frames(4, 16));
  const { records, seqs, stats } = await replayAll(j);
  assert.deepEqual(records, Array.from({ length: 20 }, (_, i) => rec(i)));
  assert.deepEqual([...new Set(seqs)], [2, 3, 4], 'each batch is one message, right after the fence');
  assert.equal(stats.records, 20);
  assert.equal(stats.messages, 4, 'the fence was read and skipped');
  assert.equal(stats.last, 4);
  const tail = await replayAll(j, 3);
  assert.deepEqual(tail.records, Array.from({ length: 17 }, (_, i) => rec(i + 3)), 'replay from a sequence starts there');
  assert.equal(j.messages, 3);
  assert.equal(j.records, 20);
});

test('a replay that receives nothing while messages remain gives up after replayStallMs (the take fails and is tried again) instead of hanging', async () => {
  const j = await journal({ replayStallMs: 400 });
  await j.acquire();
  await j.append(frames(0, 2));
  await j.append(frames(2, 2));
  // The stream's last message gone, its sequence still the stream's last: what a replay waits
  // for never comes (as when the stream's leader is lost mid-replay).
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(j.stream);
  assert.ok(await jsm.streams.deleteMessage(j.stream, state.last_seq));
  assert.equal((await jsm.streams.info(j.stream)).state.last_seq, state.last_seq);
  const started = Date.now();
  const seen: JournalRecord[] = [];
  await assert.rejects(j.replay(1, (r) => seen.push(r)), (err: Error) => err instanceof JournalStreamError && /stalled/.test(err.message) && err.message.includes(String(state.last_seq)));
  const ms = Date.now() - started;
  assert.ok(ms >= 400 && ms < 5000, `gave up after ${ms} ms`);
  assert.deepEqual(seen, [rec(0), rec(1)], 'what arrived before the stall was handed over, in order');
  // A replay that ends normally is not cut short by the same limit.
  const k = await journal({ replayStallMs: 400 });
  await k.acquire();
  await k.append(frames(0, 3));
  assert.equal((await replayAll(k)).records.length, 3);
});

test('append before acquire is refused and writes nothing', async () => {
  const j = await journal();
  await assert.rejects(j.append(frames(0, 1)), /before acquire/);
  assert.equal((await messagesOf(j.stream)).length, 0);
});

test('pipelined appends (none awaited before the next is sent) land in the order they were made', async () => {
  const j = await journal();
  await j.acquire();
  const appends = Array.from({ length: 100 }, (_, b) => j.append(frames(b * 3, 3)));
  await Promise.all(appends);
  const { records, seqs } = await replayAll(j);
  assert.deepEqual(records, Array.from({ length: 300 }, (_, i) => rec(i)));
  assert.deepEqual([...new Set(seqs)], Array.from({ length: 100 }, (_, i) => i + 2), 'batch b is message b + 2, no gaps, no repeats');
});

test('a batch past the payload limit is split at frame boundaries into consecutive messages; a record past it is refused', async () => {
  const j = await journal({ maxMessageBytes: 1000 });
  await j.acquire();
  const big = Array.from({ length: 40 }, (_, i) => encodeRecord({ k: `order:s${i}`, r: [{ pad: 'x'.repeat(80) }] }));
  assert.ok(big.every((f) => f.length < 1000) && big.reduce((n, f) => n + f.length, 0) > 3000);
  await j.append(big);
  const { records, seqs } = await replayAll(j);
  assert.deepEqual(records.map((r) => r.k), big.map((_, i) => `order:s${i}`));
  const messages = [...new Set(seqs)];
  assert.ok(messages.length >= 4, `40 frames of ~110 bytes under a 1000-byte limit: ${messages.length} messages`);
  assert.deepEqual(messages, messages.map((_, i) => i + 2), 'the parts are consecutive messages');
  await assert.rejects(j.append([encodeRecord({ k: 'order:huge', r: ['y'.repeat(2000)] })]), RecordTooLargeError);
  assert.equal((await messagesOf(j.stream)).length, 1 + messages.length, 'nothing of the refused batch was appended');
  assert.equal(j.failed, null, 'a refused record does not break the journal');
  await j.append(frames(0, 1));
});

test('a retried append whose first try landed (ack lost) is one record: answered duplicate', async () => {
  const j = await journal();
  const { epoch, seq } = await j.acquire();
  const batch = frames(0, 5);
  // The first try: landed, but its ack never came back.
  await publishAsFirstTry(j, batch, epoch, seq);
  await j.append(batch);
  await j.append(frames(5, 1));
  const { records, stats } = await replayAll(j);
  assert.deepEqual(records, Array.from({ length: 6 }, (_, i) => rec(i)), 'the retried batch once, then the next');
  assert.equal(stats.duplicates, 0);
  assert.equal((await messagesOf(j.stream)).length, 3, 'fence + one message for the retried batch + the next');
});

test('a retried append answered "wrong last sequence" with our own message there (the cluster case) is one record', async () => {
  const n = ++journalNo;
  const jsm = await jetstreamManager(nc);
  // A duplicate window of 100 ms: past it, the server no longer says `duplicate`, as on an R3 stream.
  await jsm.streams.add({ name: journalStream('t', n), subjects: [`t.journal.${n}`], duplicate_window: 100_000_000 });
  const j = await journal({}, n);
  const { epoch, seq } = await j.acquire();
  const batch = frames(0, 4);
  await publishAsFirstTry(j, batch, epoch, seq);
  await new Promise((r) => setTimeout(r, 300));
  await j.append(batch);
  await j.append(frames(4, 2));
  const { records } = await replayAll(j);
  assert.deepEqual(records, Array.from({ length: 6 }, (_, i) => rec(i)));
  assert.equal((await messagesOf(j.stream)).length, 3);
  assert.equal(j.failed, null);
});

test('fencing: the second acquire wins; the first writer is told it lost, and nothing of it lands after the fence', async () => {
  const n = ++journalNo;
  const lostA: JournalLostError[] = [];
  const a = await journal({ writer: 'node-a', onLost: (e) => lostA.push(e) }, n);
  const b = await journal({ writer: 'node-b' }, n);
  assert.deepEqual(await a.acquire(), { epoch: 1, seq: 1 });
  await a.append(frames(0, 2, 'a'));
  const fence = await b.acquire();
  assert.deepEqual(fence, { epoch: 2, seq: 3 }, 'epoch one past the last message; fence after it');
  // A does not know yet: several appends in flight at once, all refused.
  const inFlight = [a.append(frames(2, 1, 'a')), a.append(frames(3, 1, 'a')), a.append(frames(4, 1, 'a'))];
  for (const p of inFlight) await assert.rejects(p, JournalLostError);
  assert.equal(lostA.length, 1, 'onLost is called once');
  assert.equal(lostA[0]!.byWriter, 'node-b');
  assert.ok(a.failed instanceof JournalLostError);
  await assert.rejects(a.append(frames(5, 1, 'a')), JournalLostError, 'and every later append is refused');
  await b.append(frames(0, 2, 'b'));
  const msgs = await messagesOf(b.stream);
  assert.deepEqual(msgs.map((m) => `${m.kind}:${m.writer}:${m.epoch}`), ['fence:node-a:1', 'batch:node-a:1', 'fence:node-b:2', 'batch:node-b:2']);
  assert.ok(msgs.filter((m) => m.seq > fence.seq).every((m) => m.writer === 'node-b'), 'nothing of node-a after node-b\'s fence');
  const { records, stats } = await replayAll(b);
  assert.deepEqual(records, [rec(0, 'a'), rec(1, 'a'), rec(0, 'b'), rec(1, 'b')]);
  assert.equal(stats.stale, 0);
  // A can take it back, in a new epoch, and write on.
  const again = await a.acquire();
  assert.deepEqual(again, { epoch: 3, seq: 5 });
  await a.append(frames(9, 1, 'a'));
  await assert.rejects(b.append(frames(2, 1, 'b')), JournalLostError);
});

test('replay skips a batch of an older epoch after a fence (what a broken fence would leave)', async () => {
  const n = ++journalNo;
  const b = await journal({ writer: 'node-b' }, n);
  await (await journal({ writer: 'node-a' }, n)).acquire();
  const { seq } = await b.acquire();
  // Written around the fence check, as nats-server#4320 allowed for other checks.
  await jetstream(nc).publish(b.subject, Buffer.concat(frames(0, 1, 'zombie')), { msgID: batchMessageId(1, 7, 0, 'node-a'), headers: messageHeaders('batch', 1, 'node-a') });
  const warnings: string[] = [];
  const reader = await journal({ writer: 'node-c', onWarn: (w) => warnings.push(w) }, n);
  const { records, stats } = await replayAll(reader);
  assert.deepEqual(records, []);
  assert.equal(stats.stale, 1);
  assert.match(warnings[0]!, new RegExp(`message ${seq + 1} of epoch 1 after a fence of epoch 2`));
});

test('kill -9 of nats-server after acknowledged appends: after a restart on the same store every acknowledged record is there', async () => {
  const n = ++journalNo;
  const j = await journal({}, n);
  await j.acquire();
  const acked: JournalRecord[] = [];
  const appends: Promise<void>[] = [];
  for (let b = 0; b < 200; b++) {
    const batch = Array.from({ length: 4 }, (_, i) => rec(b * 4 + i, 'k'));
    appends.push(j.append(batch.map(encodeRecord)).then(() => void acked.push(...batch)));
  }
  await Promise.all(appends);
  await server.kill();
  await server.start();
  const c = await connectNats(server.url);
  try {
    const again = await JetStreamJournal.open({ nc: c, cluster: 't', journal: n, writer: 'node-b' });
    const fence = await again.acquire();
    assert.deepEqual(fence, { epoch: 2, seq: 202 }, 'every acknowledged message is there, the new fence right after them');
    const records: JournalRecord[] = [];
    await again.replay(1, (r) => records.push(r));
    assert.equal(records.length, 800);
    assert.deepEqual(new Set(records.map((r) => r.k)), new Set(acked.map((r) => r.k)));
    assert.deepEqual(records, Array.from({ length: 800 }, (_, i) => rec(i, 'k')), 'in the order they were appended');
  } finally {
    await c.close();
  }
});

test.run();
