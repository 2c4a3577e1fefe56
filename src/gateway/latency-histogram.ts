import type { Metric, MetricValueWithName } from 'prom-client';

/** One command type's observations: per-bucket counts (not cumulative), their sum and count. */
interface Series {
  type: string;
  perBucket: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram with one label, `type`, that a caller observes by a handle it keeps
 * (`series(type)`), for the one observation every command makes. prom-client's own histogram
 * checks and hashes its labels on every observation, which on the gateway's path was a
 * measurable part of a command. Exposed exactly as prom-client exposes its histograms
 * (`_bucket` per `le` then `+Inf`, `_sum`, `_count`), through the same registry.
 */
export class LatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly byType = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly upperBounds: readonly number[],
  ) {}

  /** The handle to observe commands of `type` with. Bounded: one per command type. */
  series(type: string): Series {
    let s = this.byType.get(type);
    if (!s) this.byType.set(type, (s = { type, perBucket: new Float64Array(this.upperBounds.length), sum: 0, count: 0 }));
    return s;
  }

  observe(s: Series, value: number): void {
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        s.perBucket[i]!++;
        break;
      }
    }
    s.sum += value;
    s.count++;
  }

  /** What the registry writes as text: bucket labels (`le`) apart from the series' own (`type`). */
  getForPromString() {
    const values: (MetricValueWithName<string> & { sharedLabels: Record<string, string> })[] = [];
    for (const s of this.byType.values()) {
      const sharedLabels = { type: s.type };
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += s.perBucket[i]!;
        values.push({ labels: { le }, sharedLabels, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: {}, sharedLabels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** As JSON (`getMetricsAsJSON`): each value's labels in one set. */
  get() {
    const m = this.getForPromString();
    return { ...m, values: m.values.map(({ sharedLabels, labels, ...v }) => ({ ...v, labels: { ...labels, ...sharedLabels } })) };
  }

  /** Zeroed in place: callers keep their handles. */
  reset(): void {
    for (const s of this.byType.values()) {
      s.perBucket.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  /** For `Registry.registerMetric`, which is typed for prom-client's own classes. */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}

export type LatencySeries = ReturnType<LatencyHistogram['series']>;
