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
  /**
   * `key␁name` → due time; the heap may hold stale entries, this map is the truth. Flat on
   * purpose: a million orders with one timer each cost a million map entries, not a million maps.
   */
  private readonly due = new Map<string, number>();
  /** key → its timer names (almost always one, kept as a plain string then). */
  private readonly names = new Map<string, string | string[]>();
  private count = 0;
  private armed: { handle: unknown; at: number } | null = null;
  private running = false;

  constructor(
    private readonly clock: Clock,
    private readonly fire: (key: string, name: string) => void,
  ) {}

  get size(): number {
    return this.count;
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
    const id = `${key}\u0001${name}`;
    if (!this.due.has(id)) {
      this.count++;
      const n = this.names.get(key);
      if (n === undefined) this.names.set(key, name);
      else if (typeof n === 'string') this.names.set(key, [n, name]);
      else n.push(name);
    }
    this.due.set(id, at);
    this.push({ at, key, name });
    if (this.running && (!this.armed || at < this.armed.at)) this.rearm();
  }

  cancel(key: string, name: string): void {
    if (!this.due.delete(`${key}\u0001${name}`)) return;
    this.count--;
    const n = this.names.get(key);
    if (n === name || n === undefined) this.names.delete(key);
    else if (Array.isArray(n)) {
      const rest = n.filter((x) => x !== name);
      if (rest.length === 1) this.names.set(key, rest[0]!);
      else this.names.set(key, rest);
    }
  }

  has(key: string): boolean {
    return this.names.has(key);
  }

  timersOf(key: string): Record<string, number> {
    const n = this.names.get(key);
    if (n === undefined) return {};
    const out: Record<string, number> = {};
    for (const name of typeof n === 'string' ? [n] : n) out[name] = this.due.get(`${key}\u0001${name}`)!;
    return out;
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
    return this.due.get(`${e.key}\u0001${e.name}`) !== e.at;
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
