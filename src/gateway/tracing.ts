import { context, ProxyTracerProvider, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { Logger } from '../logger.js';
import type { Command } from '../protocol/commands.js';
import { RefusedError, wireError } from '../protocol/errors.js';
import type { Reply } from '../protocol/messages.js';
import type { Principal } from '../protocol/model.js';
import { formatTraceparent, type TraceParent } from '../protocol/trace-context.js';

/**
 * A span around each command the gateway runs, child of the command's `traceparent` when it
 * sent one. Through @opentelemetry/api only: without an SDK registered by the operator the
 * tracer is the API's no-op one, whose span still carries the remote trace id, so log lines can
 * name it either way.
 */
// The global provider is a proxy: an SDK registered after this line still receives the spans.
const tracer: Tracer = trace.getTracer('ordo-gateway');

function idsOf(span: Span, parent: TraceParent | undefined): { trace_id?: string; span_id?: string } {
  const sc = span.spanContext();
  // The no-op tracer's span is the parent's context itself: its span id is the client's, not ours.
  if (span.isRecording() && trace.isSpanContextValid(sc)) return { trace_id: sc.traceId, span_id: sc.spanId };
  return parent ? { trace_id: parent.traceId } : {};
}

/**
 * The trace context the command's actor turns continue, as a `traceparent`: the gateway's span
 * when it is recorded (so the turns are its children), else the client's context when it sent
 * one (no SDK here: the trace id still reaches the host threads' spans and log lines), else none.
 */
function carried(span: Span, parent: TraceParent | undefined): string | undefined {
  const sc = span.spanContext();
  if (span.isRecording() && trace.isSpanContextValid(sc)) return formatTraceparent(sc);
  return parent ? formatTraceparent(parent) : undefined;
}

/**
 * Runs one command inside its span; a throw becomes INTERNAL (logged with the trace id). `run`
 * gets the `traceparent` to hand to the runtime (undefined for an untraced command).
 */
export async function traced(log: Logger, command: Command, who: Principal, parent: TraceParent | undefined, run: (traceparent: string | undefined) => Promise<Reply>): Promise<Reply> {
  if (!needsSpan(parent)) return untraced(log, command, run);
  const parentContext = parent ? trace.setSpanContext(context.active(), { ...parent, isRemote: true }) : context.active();
  const span = tracer.startSpan(
    `ordo ${command.type}`,
    { kind: SpanKind.SERVER, attributes: { 'ordo.command': command.type, 'ordo.role': who.role } },
    parentContext,
  );
  // Read while the span is live: an ended span no longer says whether it records.
  const ids = idsOf(span, parent);
  const tp = carried(span, parent);
  const started = performance.now();
  let reply: Reply;
  try {
    reply = await context.with(trace.setSpan(parentContext, span), run, undefined, tp);
  } catch (err) {
    if (err instanceof RefusedError) {
      reply = { ok: false, error: err.error };
    } else {
      log.error({ err, type: command.type, ...ids }, 'command failed inside the gateway');
      span.recordException(err instanceof Error ? err : String(err));
      reply = { ok: false, error: wireError('INTERNAL', 'internal error') };
    }
  }
  const outcome = reply.ok ? 'ok' : reply.error.code;
  span.setAttribute('ordo.outcome', outcome);
  if (!reply.ok && reply.error.code === 'INTERNAL') span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
  if (log.isLevelEnabled('debug')) {
    log.debug({ type: command.type, outcome, ms: Math.round((performance.now() - started) * 1000) / 1000, ...ids }, 'command answered');
  }
  return reply;
}

/**
 * Whether a command gets a span: it came with a trace context, or an SDK records ours. Otherwise
 * a span would carry nothing anywhere, so none is made (no span, no context switch: a few µs per
 * command on the hot path), and the command is run as it is.
 */
export function needsSpan(parent: TraceParent | undefined): boolean {
  return parent !== undefined || sdkRegistered();
}

/** Whether an SDK is registered behind the API's global proxy (checked per command: one may come later). */
function sdkRegistered(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer('ordo-gateway') !== undefined;
}

async function untraced(log: Logger, command: Command, run: (traceparent: string | undefined) => Promise<Reply>): Promise<Reply> {
  const started = performance.now();
  let reply: Reply;
  try {
    reply = await run(undefined);
  } catch (err) {
    log.error({ err, type: command.type }, 'command failed inside the gateway');
    reply = { ok: false, error: wireError('INTERNAL', 'internal error') };
  }
  if (log.isLevelEnabled('debug')) {
    log.debug({ type: command.type, outcome: reply.ok ? 'ok' : reply.error.code, ms: Math.round((performance.now() - started) * 1000) / 1000 }, 'command answered');
  }
  return reply;
}
