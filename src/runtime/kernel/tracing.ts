import { type Link, ROOT_CONTEXT, type Span, type SpanContext, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { formatTraceparent, parseTraceparent } from '../../protocol/trace-context.js';

/**
 * Trace context through the actors (see PROTOCOL-NOTES.md, "Tracing"). A traced message carries
 * `tp`, the W3C `traceparent` of the span that sent it (the gateway's span for a command, the
 * sending turn's span for anything a turn sends); an untraced one has no such field, and nothing
 * here runs for it. Through @opentelemetry/api only: on a host thread the tracer is the API's
 * no-op one unless an SDK was registered on that thread too, and then no span is recorded, but
 * the trace id still travels with the messages and reaches the log lines.
 */
// The global provider is a proxy: an SDK registered after this line still receives the spans.
const tracer: Tracer = trace.getTracer('ordo');

/** The trace and span ids a log line names for a traced message (see `onActorError`). */
export interface LogTrace {
  trace_id: string;
  span_id?: string;
}

/** One actor turn of a traced message: its span, and the context what the turn sends carries. */
export interface TurnTrace {
  span: Span;
  /** The `traceparent` of the turn's span, or the incoming one when no span is recorded here. */
  tp: string;
  /** The turn's span context when it is recorded: what a commit of its record links to. */
  recorded: SpanContext | undefined;
}

/**
 * Starts the span of a turn of `key` handling a traced message, a child of the message's
 * context; undefined when `tp` is not a valid traceparent (the turn then runs untraced).
 */
export function startTurn(kind: string, key: string, message: string, tp: string): TurnTrace | undefined {
  const parent = parseTraceparent(tp);
  if (!parent) return undefined;
  const parentContext = trace.setSpanContext(ROOT_CONTEXT, { ...parent, isRemote: true });
  const span = tracer.startSpan(`ordo turn ${kind}`, { attributes: { 'ordo.actor': key, 'ordo.message': message } }, parentContext);
  // The no-op tracer's span is the parent's context itself: what the turn sends keeps the parent's.
  if (!span.isRecording()) return { span, tp, recorded: undefined };
  const sc = span.spanContext();
  return { span, tp: formatTraceparent(sc), recorded: sc };
}

/** Ends a turn's span with its outcome (a reply's code, `stashed`, `done`, or `threw`). */
export function endTurn(t: TurnTrace, outcome: string, err?: unknown): void {
  t.span.setAttribute('ordo.outcome', outcome);
  if (err !== undefined) {
    t.span.recordException(err instanceof Error ? err : String(err));
    t.span.setStatus({ code: SpanStatusCode.ERROR });
  }
  t.span.end();
}

/** The ids a log line about a turn names: the trace's, and the turn span's when it is recorded. */
export function logTrace(t: TurnTrace): LogTrace {
  const sc = t.recorded;
  return sc ? { trace_id: sc.traceId, span_id: sc.spanId } : { trace_id: t.tp.slice(3, 35) };
}

/**
 * The span of one group commit holding records of traced turns: a child of the first of them
 * (so a commit of one command's records lies in its trace), linked to every one of them.
 */
export function startCommit(turns: SpanContext[], frames: number): Span {
  const links: Link[] = turns.map((sc) => ({ context: sc }));
  return tracer.startSpan('ordo journal commit', { links, attributes: { 'ordo.frames': frames } }, trace.setSpanContext(ROOT_CONTEXT, turns[0]!));
}

export function endCommit(span: Span, ms: number, err?: unknown): void {
  span.setAttribute('ordo.ms', Math.round(ms * 1000) / 1000);
  if (err !== undefined) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}
