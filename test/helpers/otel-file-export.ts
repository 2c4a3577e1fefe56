/**
 * A stand-in for an operator's OpenTelemetry setup, preloaded with `node --import` (see README,
 * "Tracing and dashboards"): registers an SDK on every thread it runs in and appends each ended
 * span, as one JSON line naming its thread, to the file `ORDO_TEST_SPANS` names.
 */
import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, type ReadableSpan, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';

export interface ExportedSpan {
  thread: number;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  links: string[];
}

const file = process.env.ORDO_TEST_SPANS;
if (file) {
  const exporter: SpanExporter = {
    export(spans: ReadableSpan[], done) {
      for (const s of spans) {
        const line: ExportedSpan = {
          thread: threadId,
          name: s.name,
          traceId: s.spanContext().traceId,
          spanId: s.spanContext().spanId,
          parentSpanId: s.parentSpanContext?.spanId,
          attributes: { ...s.attributes },
          links: s.links.map((l) => l.context.spanId),
        };
        appendFileSync(file, JSON.stringify(line) + '\n');
      }
      done({ code: 0 }); // ExportResultCode.SUCCESS
    },
    shutdown: async () => {},
  };
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
}
