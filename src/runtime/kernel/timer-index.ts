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
   * The truth (the heap may hold stale entries): actor key → due time of its one timer, the
   * common case, with its name in `single`; an actor with several timers is in `multi` instead.
   * Keyed by the actor key itself, never a concatenated id: a million pending orders cost a
   * million map entries and no extra strings.
   */
  private readonly single = new Map<string, string>();
  private readonly singleAt = new Map<string, number>();
  private readonly multi = new Map<string, Map<string, number>>();
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

  private dueOf(key: string, name: string): number | undefined {
    if (this.single.get(key) === name) return this.singleAt.get(key);
    return this.multi.get(key)?.get(name);
  }

  set(key: string, name: string, at: number): void {
    const one = this.single.get(key);
    if (one === undefined && !this.multi.has(key)) {
      this.single.set(key, name);
      this.singleAt.set(key, at);
      this.count++;
    } else if (one === name) {
      this.singleAt.set(key, at);
    } else {
      let m = this.multi.get(key);
      if (!m) {
        // A second timer: the actor moves to the general form.
        m = new Map([[one!, this.singleAt.get(key)!]]);
        this.multi.set(key, m);
        this.single.delete(key);
        this.singleAt.delete(key);
      }
      if (!m.has(name)) this.count++;
      m.set(name, at);
    }
    if (!this.running) {
      // Recovery: a million appends, ordered once by `heapify` at start.
      this.heap.push({ at, key, name });
      this.unordered = true;
      return;
    }
    this.push({ at, key, name });
    if (!this.armed || at < this.armed.at) this.rearm();
  }

  cancel(key: string, name: string): void {
    if (this.single.get(key) === name) {
      this.single.delete(key);
      this.singleAt.delete(key);
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
    for (const [key, one] of this.single) if (one === name) keys.push(key);
    for (const [key, m] of this.multi) if (m.has(name)) keys.push(key);
    return keys;
  }

  timersOf(key: string): Record<string, number> {
    const one = this.single.get(key);
    if (one !== undefined) return { [one]: this.singleAt.get(key)! };
    const m = this.multi.get(key);
    return m ? Object.fromEntries(m) : {};
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
    return this.dueOf(e.key, e.name) !== e.at;
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
