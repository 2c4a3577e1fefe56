/**
 * The optional `traceparent` of a command (an extension, see PROTOCOL-NOTES.md "Tracing"):
 * a W3C trace context header value. A malformed one is ignored, never refused: PROTOCOL.md
 * says unknown extra fields are ignored, so a client may already send a field of that name.
 */
export interface TraceParent {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

// version - trace-id - parent-id - flags; a later version may append fields after another '-'.
const SHAPE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZEROS = /^0+$/;

/** The `traceparent` of a context, as ordo writes it (version 00) on messages between actors. */
export function formatTraceparent(tp: TraceParent): string {
  return `00-${tp.traceId}-${tp.spanId}-${(tp.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  const m = SHAPE.exec(value);
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (ZEROS.test(traceId) || ZEROS.test(spanId)) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) };
}
