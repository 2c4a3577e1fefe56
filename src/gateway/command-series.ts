/**
 * Commands answered per second and their p99 latency, for the last minute (the dashboard's
 * chart). Each second keeps a bounded reservoir sample of latencies, so memory and the cost of
 * a reading stay fixed whatever the load.
 */
const SECONDS = 60;
const SAMPLE = 512;

interface Second {
  at: number;
  count: number;
  sample: number[];
}

export class CommandSeries {
  private readonly seconds: Second[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  record(latencyMs: number): void {
    const at = Math.floor(this.now() / 1000) * 1000;
    let cur = this.seconds[this.seconds.length - 1];
    if (!cur || cur.at !== at) {
      cur = { at, count: 0, sample: [] };
      this.seconds.push(cur);
      if (this.seconds.length > SECONDS) this.seconds.shift();
    }
    cur.count++;
    // Reservoir sampling: every latency of the second has the same chance to be in the sample.
    if (cur.sample.length < SAMPLE) cur.sample.push(latencyMs);
    else {
      const j = Math.floor(Math.random() * cur.count);
      if (j < SAMPLE) cur.sample[j] = latencyMs;
    }
  }

  /** One point per second of the last minute, oldest first; seconds without commands are 0. */
  read(): { at: number; commands: number; p99Ms: number }[] {
    const end = Math.floor(this.now() / 1000) * 1000;
    const byAt = new Map(this.seconds.map((s) => [s.at, s]));
    const out: { at: number; commands: number; p99Ms: number }[] = [];
    for (let at = end - (SECONDS - 1) * 1000; at <= end; at += 1000) {
      const s = byAt.get(at);
      out.push({ at, commands: s?.count ?? 0, p99Ms: s ? p99(s.sample) : 0 });
    }
    return out;
  }
}

function p99(sample: number[]): number {
  const sorted = sample.slice().sort((a, b) => a - b);
  const v = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? 0;
  return Math.round(v * 100) / 100;
}
