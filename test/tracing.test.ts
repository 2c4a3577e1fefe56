import { test } from 'uvu';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type Context, type Span, type SpanContext, type SpanOptions, trace, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { pino } from 'pino';
import { parseTraceparent } from '../src/protocol/trace-context.js';
import { startServer } from './helpers/server.js';
import { call, expectOk } from './helpers/wire.js';

/** The `traceparent` extension: parsed, ignored when malformed, spans and log lines per command. */

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

test('traceparent: W3C shapes are read; anything malformed is ignored', () => {
  assert.deepEqual(parseTraceparent(`00-${TRACE}-${PARENT}-01`), { traceId: TRACE, spanId: PARENT, traceFlags: 1 });
  assert.deepEqual(parseTraceparent(`01-${TRACE}-${PARENT}-00-future`), { traceId: TRACE, spanId: PARENT, traceFlags: 0 }, 'a later version may add fields');
  for (const bad of [undefined, 42, '', 'garbage', `00-${TRACE}-${PARENT}-01-extra`, `ff-${TRACE}-${PARENT}-01`, `00-${'0'.repeat(32)}-${PARENT}-01`, `00-${TRACE}-${'0'.repeat(16)}-01`, `00-${TRACE.toUpperCase()}-${PARENT}-01`, `00-${TRACE}-${PARENT}`]) {
    assert.equal(parseTraceparent(bad), undefined, `${JSON.stringify(bad)} is ignored`);
  }
});

interface Recorded {
  name: string;
  parent: SpanContext | undefined;
  context: SpanContext;
  attributes: Record<string, unknown>;
  ended: boolean;
}

/** A tracer provider that records spans, standing in for an operator's SDK. */
function recordingProvider(spans: Recorded[]): TracerProvider {
  const tracer = {
    startSpan(name: string, options: SpanOptions = {}, ctx?: Context): Span {
      const parent = ctx ? trace.getSpanContext(ctx) : undefined;
      const rec: Recorded = {
        name,
        parent,
        context: { traceId: parent?.traceId ?? randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), traceFlags: 1 },
        attributes: { ...options.attributes },
        ended: false,
      };
      spans.push(rec);
      const span = {
        spanContext: () => rec.context,
        setAttribute: (k: string, v: unknown) => ((rec.attributes[k] = v), span),
        setAttributes: (a: Record<string, unknown>) => (Object.assign(rec.attributes, a), span),
        setStatus: () => span,
        recordException: () => {},
        end: () => void (rec.ended = true),
        isRecording: () => !rec.ended,
      };
      return span as unknown as Span;
    },
  };
  return { getTracer: () => tracer as unknown as Tracer };
}

// First, before any provider is registered (the gateway's tracer then finds the later one).
test('without an SDK (the API\'s no-op tracer) the log line still carries the client\'s trace id', async () => {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const srv = await startServer({ gateway: { log } });
  try {
    const admin = await srv.connect('tok-admin');
    expectOk(await call(admin, 'inventory.get', { sku: 'untraced', traceparent: `00-${TRACE}-${PARENT}-01` }));
    expectOk(await call(admin, 'inventory.get', { sku: 'untraced' }));
    const answered = lines.filter((l) => l.msg === 'command answered' && l.type === 'inventory.get');
    assert.equal(answered.length, 2);
    assert.equal(answered[0]!.trace_id, TRACE);
    assert.equal(answered[0]!.span_id, undefined, 'no span was recorded, so none is named');
    assert.equal(answered[1]!.trace_id, undefined, 'no trace id is made up without a traceparent or an SDK');
  } finally {
    await srv.destroy();
  }
});

test('with an SDK registered later, a command runs in a span, child of its traceparent; its log line names the trace', async () => {
  const spans: Recorded[] = [];
  assert.ok(trace.setGlobalTracerProvider(recordingProvider(spans)), 'the provider is registered');
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const srv = await startServer({ gateway: { log } });
  try {
    const admin = await srv.connect('tok-admin');
    expectOk(await call(admin, 'inventory.get', { sku: 'traced', traceparent: `00-${TRACE}-${PARENT}-01` }));
    const span = spans.find((s) => s.name === 'ordo inventory.get');
    assert.ok(span, `a span for the command: ${JSON.stringify(spans.map((s) => s.name))}`);
    assert.equal(span.parent?.traceId, TRACE);
    assert.equal(span.parent?.spanId, PARENT);
    assert.equal(span.parent?.isRemote, true);
    assert.deepEqual(span.attributes, { 'ordo.command': 'inventory.get', 'ordo.role': 'admin', 'ordo.outcome': 'ok' });
    assert.ok(span.ended);
    const line = lines.find((l) => l.msg === 'command answered' && l.type === 'inventory.get');
    assert.ok(line, 'a debug line for the command');
    assert.equal(line.trace_id, TRACE);
    assert.equal(line.span_id, span.context.spanId);
    assert.equal(line.outcome, 'ok');

    // A refusal is traced with its code as the outcome.
    await call(admin, 'order.get', { orderId: 'nope', traceparent: `00-${TRACE}-${PARENT}-01` });
    assert.equal(spans.find((s) => s.name === 'ordo order.get')?.attributes['ordo.outcome'], 'NOT_FOUND');

    // Malformed: the command is answered as usual, in a trace of its own.
    const before = spans.length;
    expectOk(await call(admin, 'inventory.get', { sku: 'traced', traceparent: 'not-a-trace' }));
    expectOk(await call(admin, 'inventory.get', { sku: 'traced', traceparent: { traceId: TRACE } }));
    const fresh = spans.slice(before);
    assert.equal(fresh.length, 2);
    for (const s of fresh) {
      assert.equal(s.parent, undefined, 'no parent from a malformed traceparent');
      assert.notEqual(s.context.traceId, TRACE);
    }
  } finally {
    await srv.destroy();
    trace.disable();
  }
});

test.run();
