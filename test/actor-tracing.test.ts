import { test } from 'uvu';
import assert from 'node:assert/strict';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import type { AnyBehaviour } from '../src/actors/index.js';
import type { Envelope } from '../src/runtime/kernel/envelope.js';
import { Shard } from '../src/runtime/kernel/shard.js';
import { logActorError } from '../src/runtime/hosting/shard-host.js';
import { LocalSystem } from '../src/runtime/testing/local-system.js';
import { ADMIN, ALICE } from './helpers/principals.js';

/**
 * The trace context through the actors, in process (the same Shard and ShardGroup code as a
 * host thread): a span per turn of a traced message, a span per commit of traced turns' records,
 * the context on every message a traced turn sends, the trace id in the error line of a throw.
 */

const exporter = new InMemorySpanExporter();
let registered = false;
/** Registers the in-memory SDK (after the test that runs without one: the API's proxy then finds it). */
function withSdk(): void {
  if (!registered) assert.ok(trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })));
  registered = true;
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const GATEWAY_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE}-${GATEWAY_SPAN}-01`;

/** Every envelope any shard is handed, as it was handed (a copy, before the turn runs). */
const delivered: Envelope[] = [];
const deliver = Shard.prototype.deliver;
Shard.prototype.deliver = function (this: Shard, env: Envelope) {
  delivered.push({ ...env });
  return deliver.call(this, env);
};

async function stocked(journals: number): Promise<LocalSystem> {
  const sys = await LocalSystem.create({ shards: 4, journals });
  for (const sku of ['A', 'B']) assert.ok((await sys.ask(`sku:${sku}`, { type: 'inventory.set', sku, onHand: 5 }, ADMIN)).ok);
  exporter.reset();
  delivered.length = 0;
  return sys;
}

const place = (sys: LocalSystem, orderId: string, tp?: string) =>
  sys.ask('order:' + orderId, { type: 'order.place', orderId, customerId: 'alice', paymentTimeoutMs: 60_000, items: [{ sku: 'A', quantity: 1 }, { sku: 'B', quantity: 2 }] }, ALICE, tp);

const isTurn = (s: ReadableSpan) => s.name.startsWith('ordo turn ');
const label = (s: ReadableSpan) => `${s.attributes['ordo.actor']} ${s.attributes['ordo.message']} → ${s.attributes['ordo.outcome']}`;

/** A test-only actor kind that throws on every command. */
const Faulty: AnyBehaviour = {
  kind: 'faulty',
  initial: () => ({}),
  receive() {
    throw new Error('this behaviour always throws');
  },
  restore: (s) => s,
  isEmpty: () => true,
  snapshot: () => [],
};

function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

// First, with no SDK on the thread (the API's no-op tracer, as on a host thread by default).
test('without an SDK no span is recorded, yet messages carry the caller\'s context and the error line its trace id', async () => {
  const { log, lines } = capturingLog();
  const sys = await LocalSystem.create({ shards: 2, extraBehaviours: new Map([['faulty', Faulty]]), onActorError: (key, message, err, t) => logActorError(log, key, message, err, t) });
  for (const sku of ['A', 'B']) await sys.ask(`sku:${sku}`, { type: 'inventory.set', sku, onHand: 5 }, ADMIN);
  exporter.reset();
  delivered.length = 0;
  assert.ok((await place(sys, 'o3', TRACEPARENT)).ok);
  assert.ok(delivered.length >= 7);
  for (const env of delivered) assert.equal(env.t !== 'timer' && env.tp, TRACEPARENT, `${env.t} to ${env.to}`);
  await sys.ask('faulty:f2', { type: 'boom' } as never, ADMIN, TRACEPARENT);
  const line = lines.find((l) => l.msg === 'actor behaviour threw; answered INTERNAL');
  assert.equal(line?.trace_id, TRACE);
  assert.equal(line?.span_id, undefined, 'no span was recorded, so none is named');
  assert.deepEqual(exporter.getFinishedSpans(), []);
});

for (const journals of [1, 4]) {
  test(`a traced placement (${journals} journal(s)): every turn and commit is in the caller's trace, turns parented by what caused them, commits linked to the turns they wrote`, async () => {
    withSdk();
    const sys = await stocked(journals);
    assert.ok((await place(sys, 'o1', TRACEPARENT)).ok);
    const spans = exporter.getFinishedSpans();
    for (const s of spans) assert.equal(s.spanContext().traceId, TRACE, `${s.name} is in the caller's trace`);

    const turns = spans.filter(isTurn);
    const byId = new Map(turns.map((s) => [s.spanContext().spanId, s]));
    const parentOf = (s: ReadableSpan) => {
      const p = s.parentSpanContext?.spanId;
      return p === GATEWAY_SPAN ? 'gateway' : p && byId.has(p) ? label(byId.get(p)!) : `unknown parent ${p}`;
    };
    // The placement: the order asks both SKUs; each hold's reply is a turn of the order, child of
    // that SKU's turn; the last one answers the client and confirms both holds (one-way notices).
    const turnOf = (s: ReadableSpan) => `${s.name}: ${label(s)}  ⟵  ${parentOf(s)}`;
    const order = 'order:o1 order.place → done';
    const holdA = 'sku:A stock.reserve → ok';
    const holdB = 'sku:B stock.reserve → ok';
    const replies = turns.filter((s) => s.attributes['ordo.message'] === 'reply ok');
    assert.equal(replies.length, 2);
    const last = replies.find((s) => s.attributes['ordo.outcome'] === 'ok')!;
    const first = replies.find((s) => s !== last)!;
    assert.deepEqual(turns.map(turnOf).sort(), [
      `ordo turn order: ${order}  ⟵  gateway`,
      `ordo turn order: order:o1 reply ok → done  ⟵  ${parentOf(first)}`,
      `ordo turn order: order:o1 reply ok → ok  ⟵  ${parentOf(last)}`,
      `ordo turn sku: ${holdA}  ⟵  ${order}`,
      `ordo turn sku: ${holdB}  ⟵  ${order}`,
      `ordo turn sku: sku:A stock.confirm → done  ⟵  order:o1 reply ok → ok`,
      `ordo turn sku: sku:B stock.confirm → done  ⟵  order:o1 reply ok → ok`,
    ].sort());
    assert.deepEqual([parentOf(first), parentOf(last)].sort(), [holdA, holdB], 'each reply turn is a child of the SKU turn that answered');
    for (const s of turns) assert.equal(s.kind, 0, 'internal');

    // Records: the two holds and the order's. Each is in exactly one commit, which links to it.
    const commits = spans.filter((s) => s.name === 'ordo journal commit');
    assert.equal(commits.length + turns.length, spans.length, 'no other span');
    const linked = commits.flatMap((c) => c.links.map((l) => l.context.spanId));
    const wrote = turns.filter((s) => [holdA, holdB].includes(label(s)) || s === last).map((s) => s.spanContext().spanId);
    assert.deepEqual([...linked].sort(), [...wrote].sort(), 'the commits link to exactly the turns that wrote records');
    for (const c of commits) {
      assert.equal(c.parentSpanContext?.spanId, c.links[0]!.context.spanId, 'a commit is a child of its first traced turn');
      assert.equal(c.attributes['ordo.frames'], c.links.length, 'every frame of these commits is a traced turn\'s');
      assert.equal(typeof c.attributes['ordo.ms'], 'number');
    }
    if (journals === 1) assert.equal(commits.length, 1, 'one journal: the whole placement is one commit, whichever shards its order and SKUs are on');
    else assert.equal(commits.length, 3, 'a journal per shard: each record is a commit of its own');

    // Every message of the placement carried the trace, as the context of the span that sent it.
    assert.ok(delivered.length >= 7);
    const spanIds = new Set([GATEWAY_SPAN, ...byId.keys()]);
    for (const env of delivered) {
      assert.ok(env.t !== 'timer', 'no timer ran');
      const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(env.tp ?? '');
      assert.ok(m, `${env.t} to ${env.to} carries a traceparent: ${JSON.stringify(env)}`);
      assert.equal(m[1], TRACE);
      assert.ok(spanIds.has(m[2]!), 'the parent is the gateway or a turn');
    }
  });
}

test('an untraced placement records no span, and no message carries a trace field', async () => {
  withSdk();
  const sys = await stocked(1);
  assert.ok((await place(sys, 'o2')).ok);
  assert.deepEqual(exporter.getFinishedSpans(), [], 'no span (an SDK is registered, so one would be recorded)');
  assert.ok(delivered.length >= 7, 'the placement ran its turns');
  for (const env of delivered) assert.ok(!('tp' in env), `${env.t} to ${env.to} has no tp field at all`);
});

test('the host thread\'s error line for a behaviour that threw names the trace and the turn\'s span; its span says it threw', async () => {
  withSdk();
  const { log, lines } = capturingLog();
  const sys = await LocalSystem.create({ shards: 2, extraBehaviours: new Map([['faulty', Faulty]]), onActorError: (key, message, err, t) => logActorError(log, key, message, err, t) });
  exporter.reset();
  const traced = await sys.ask('faulty:f1', { type: 'boom' } as never, ADMIN, TRACEPARENT);
  assert.equal(traced.ok === false && traced.error.code, 'INTERNAL');
  assert.ok((await sys.ask('faulty:f1', { type: 'boom' } as never, ADMIN)).ok === false);

  const [span, ...others] = exporter.getFinishedSpans();
  assert.equal(others.length, 0, 'one span: the traced turn (the untraced one has none)');
  assert.equal(span!.name, 'ordo turn faulty');
  assert.equal(span!.parentSpanContext?.spanId, GATEWAY_SPAN);
  assert.deepEqual(span!.attributes, { 'ordo.actor': 'faulty:f1', 'ordo.message': 'boom', 'ordo.outcome': 'threw' });
  assert.equal(span!.status.code, SpanStatusCode.ERROR);
  assert.equal(span!.events[0]?.name, 'exception');

  const errors = lines.filter((l) => l.msg === 'actor behaviour threw; answered INTERNAL');
  assert.equal(errors.length, 2);
  assert.equal(errors[0]!.actor, 'faulty:f1');
  assert.equal(errors[0]!.trace_id, TRACE);
  assert.equal(errors[0]!.span_id, span!.spanContext().spanId);
  assert.equal(errors[1]!.trace_id, undefined, 'the untraced command\'s line names no trace');
  assert.equal(errors[1]!.span_id, undefined);
  assert.deepEqual(sys.actorErrors.map((e) => e.trace?.trace_id), [TRACE, undefined]);
});

test.run();
