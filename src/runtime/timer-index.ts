import type { Clock } from './clock.js';

/** Node's timers misfire past 2^31-1 ms; longer deadlines are reached in steps. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

interface Entry {
  at: number;
  key: string;
  name: string;
}

/**
 * The deadlines of one shard: a min-heap ordered by due time with a single platform timer armed
 * for the earliest. A million pending orders cost a million heap entries, not a million timers.
 * The index itself is rebuilt from the journal on start (every timer is part of an actor record),
 * so it survives restarts; a deadline that passed while the server was down fires at once.
 */
export class TimerIndex {
  private readonly heap: Entry[] = [];
  /** key → name → due time; the heap may hold stale entries, this map is the truth. */
  private readonly due = new Map<string, Map<string, number>>();
  private armed: { handle: unknown; at: number } | null = null;
  private running = false;

  constructor(
    private readonly clock: Clock,
    private readonly fire: (key: string, name: string) => void,
  ) {}

  get size(): number {
    let n = 0;
    for (const m of this.due.values()) n += m.size;
    return n;
  }

  /** Starts firing; before this, timers are only collected (during recovery). */
  start(): void {
    this.running = true;
    this.rearm();
  }

  stop(): void {
    this.running = false;
    if (this.armed) this.clock.clearTimeout(this.armed.handle);
    this.armed = null;
  }

  set(key: string, name: string, at: number): void {
    let m = this.due.get(key);
    if (!m) this.due.set(key, (m = new Map()));
    m.set(name, at);
    this.push({ at, key, name });
    if (this.running && (!this.armed || at < this.armed.at)) this.rearm();
  }

  cancel(key: string, name: string): void {
    const m = this.due.get(key);
    if (!m) return;
    m.delete(name);
    if (m.size === 0) this.due.delete(key);
  }

  has(key: string): boolean {
    return this.due.has(key);
  }

  timersOf(key: string): Record<string, number> {
    return Object.fromEntries(this.due.get(key) ?? []);
  }

  private rearm(): void {
    if (this.armed) this.clock.clearTimeout(this.armed.handle);
    this.armed = null;
    if (!this.running) return;
    this.dropStale();
    const head = this.heap[0];
    if (!head) return;
    const delay = Math.min(Math.max(0, head.at - this.clock.now()), MAX_TIMER_DELAY);
    this.armed = { at: head.at, handle: this.clock.setTimeout(() => this.onTimer(), delay) };
  }

  private onTimer(): void {
    this.armed = null;
    const now = this.clock.now();
    for (;;) {
      this.dropStale();
      const head = this.heap[0];
      if (!head || head.at > now) break;
      this.pop();
      this.cancel(head.key, head.name);
      this.fire(head.key, head.name);
    }
    this.rearm();
  }

  private isStale(e: Entry): boolean {
    return this.due.get(e.key)?.get(e.name) !== e.at;
  }

  private dropStale(): void {
    while (this.heap.length > 0 && this.isStale(this.heap[0]!)) this.pop();
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
