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
   * The truth (the heap may hold stale entries): actor key → the heap entry of its one timer,
   * the common case; an actor with several timers is in `multi` instead (name → entry). An entry
   * in the heap is current only while it is the very one named here. Keyed by the actor key
   * itself, never a concatenated id: a million pending orders cost a million map entries and
   * no extra strings.
   */
  private readonly single = new Map<string, Entry>();
  private readonly multi = new Map<string, Map<string, Entry>>();
  private count = 0;
  private armed: { handle: unknown; at: number } | null = null;
  private running = false;
  /** Entries appended without ordering (recovery): the heap is built once, at start. */
  private unordered = false;

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
    if (this.unordered) this.heapify();
    this.rearm();
  }

  stop(): void {
    this.running = false;
    if (this.armed) this.clock.clearTimeout(this.armed.handle);
    this.armed = null;
  }

  /** The current entry of timer `name` of `key`, if armed. */
  private entryOf(key: string, name: string): Entry | undefined {
    const one = this.single.get(key);
    if (one !== undefined) return one.name === name ? one : undefined;
    return this.multi.get(key)?.get(name);
  }

  set(key: string, name: string, at: number): void {
    const e: Entry = { at, key, name };
    const one = this.single.get(key);
    if (one === undefined && !this.multi.has(key)) {
      this.single.set(key, e);
      this.count++;
    } else if (one !== undefined && one.name === name) {
      this.single.set(key, e);
    } else {
      let m = this.multi.get(key);
      if (!m) {
        // A second timer: the actor moves to the general form.
        m = new Map([[one!.name, one!]]);
        this.multi.set(key, m);
        this.single.delete(key);
      }
      if (!m.has(name)) this.count++;
      m.set(name, e);
    }
    if (!this.running) {
      // Recovery: a million appends, ordered once by `heapify` at start.
      this.heap.push(e);
      this.unordered = true;
      return;
    }
    this.push(e);
    if (!this.armed || at < this.armed.at) this.rearm();
  }

  cancel(key: string, name: string): void {
    if (this.single.get(key)?.name === name) {
      this.single.delete(key);
      this.count--;
      return;
    }
    const m = this.multi.get(key);
    if (!m?.delete(name)) return;
    this.count--;
    if (m.size === 0) this.multi.delete(key);
  }

  has(key: string): boolean {
    return this.single.has(key) || this.multi.has(key);
  }

  /** The actors with a timer of this name armed. */
  keysWith(name: string): string[] {
    const keys: string[] = [];
    for (const [key, one] of this.single) if (one.name === name) keys.push(key);
    for (const [key, m] of this.multi) if (m.has(name)) keys.push(key);
    return keys;
  }

  timersOf(key: string): Record<string, number> {
    const one = this.single.get(key);
    if (one !== undefined) return { [one.name]: one.at };
    const m = this.multi.get(key);
    const out: Record<string, number> = {};
    if (m) for (const [name, e] of m) out[name] = e.at;
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
    return this.entryOf(e.key, e.name) !== e;
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

  /** Orders the whole array as a heap in O(n) (Floyd), instead of n sift-ups. */
  private heapify(): void {
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
    this.unordered = false;
  }

  private siftDown(from: number): void {
    const h = this.heap;
    let i = from;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.at < h[m]!.at) m = l;
      if (r < h.length && h[r]!.at < h[m]!.at) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      this.siftDown(0);
    }
    return top;
  }
}
