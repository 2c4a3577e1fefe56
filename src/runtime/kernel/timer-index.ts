import type { Clock } from './clock.js';

/** Node's timers misfire past 2^31-1 ms; longer deadlines are reached in steps. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * The deadlines of one shard: a min-heap ordered by due time with a single platform timer armed
 * for the earliest. A million pending orders cost a million heap entries, not a million timers.
 * The index itself is rebuilt from the journal on start (every timer is part of an actor record),
 * so it survives restarts; a deadline that passed while the server was down fires at once.
 *
 * An entry is a number, not an object: its due time, actor key and timer name live in columns
 * indexed by it (`Entries`), and the heap is an array of entry numbers. Every unpaid order has a
 * timer for as long as it waits, and an object per timer plus the boxed number of its due time
 * were two more objects per placed order for every young-generation collection to copy and every
 * full one to mark (docs/PERFORMANCE.md, the twelfth round).
 */
export class TimerIndex {
  private readonly entries = new Entries();
  /** Entry numbers, a min-heap by due time. It may hold stale entries (cancelled or replaced): dropped as they reach its top. */
  private readonly heap: number[] = [];
  /**
   * The truth: actor key → the entry of its one timer, the common case; an actor with several
   * timers is in `multi` instead (name → entry). An entry in the heap is current only while
   * `entries.current` says so. Keyed by the actor key itself, never a concatenated id: a
   * million pending orders cost a million map entries and no extra strings.
   */
  private readonly single = new Map<string, number>();
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

  set(key: string, name: string, at: number): void {
    const entries = this.entries;
    const e = entries.add(at, key, name);
    const one = this.single.get(key);
    if (one === undefined && !this.multi.has(key)) {
      this.single.set(key, e);
      this.count++;
    } else if (one !== undefined && entries.name[one] === name) {
      entries.retire(one);
      this.single.set(key, e);
    } else {
      let m = this.multi.get(key);
      if (!m) {
        // A second timer: the actor moves to the general form.
        m = new Map([[entries.name[one!]!, one!]]);
        this.multi.set(key, m);
        this.single.delete(key);
      }
      const old = m.get(name);
      if (old === undefined) this.count++;
      else entries.retire(old);
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
    const one = this.single.get(key);
    if (one !== undefined && this.entries.name[one] === name) {
      this.entries.retire(one);
      this.single.delete(key);
      this.count--;
      return;
    }
    const m = this.multi.get(key);
    const e = m?.get(name);
    if (e === undefined) return;
    this.entries.retire(e);
    m!.delete(name);
    this.count--;
    if (m!.size === 0) this.multi.delete(key);
  }

  has(key: string): boolean {
    return this.single.has(key) || this.multi.has(key);
  }

  /** The actors with a timer of this name armed. */
  keysWith(name: string): string[] {
    const keys: string[] = [];
    for (const [key, one] of this.single) if (this.entries.name[one] === name) keys.push(key);
    for (const [key, m] of this.multi) if (m.has(name)) keys.push(key);
    return keys;
  }

  timersOf(key: string): Record<string, number> {
    const one = this.single.get(key);
    if (one !== undefined) return { [this.entries.name[one]!]: this.entries.at[one]! };
    const m = this.multi.get(key);
    const out: Record<string, number> = {};
    if (m) for (const [name, e] of m) out[name] = this.entries.at[e]!;
    return out;
  }

  private rearm(): void {
    if (this.armed) this.clock.clearTimeout(this.armed.handle);
    this.armed = null;
    if (!this.running) return;
    this.dropStale();
    if (this.heap.length === 0) return;
    const at = this.entries.at[this.heap[0]!]!;
    const delay = Math.min(Math.max(0, at - this.clock.now()), MAX_TIMER_DELAY);
    this.armed = { at, handle: this.clock.setTimeout(() => this.onTimer(), delay) };
  }

  private onTimer(): void {
    this.armed = null;
    const now = this.clock.now();
    const entries = this.entries;
    for (;;) {
      this.dropStale();
      if (this.heap.length === 0) break;
      const head = this.heap[0]!;
      if (entries.at[head]! > now) break;
      this.pop();
      const key = entries.key[head]!;
      const name = entries.name[head]!;
      this.cancel(key, name);
      entries.free(head);
      this.fire(key, name);
    }
    this.rearm();
  }

  /** Pops stale entries off the top, freeing their numbers (an entry leaves the heap only here or in `onTimer`). */
  private dropStale(): void {
    const entries = this.entries;
    while (this.heap.length > 0 && !entries.current[this.heap[0]!]) entries.free(this.pop());
  }

  private earlier(a: number, b: number): boolean {
    return this.entries.at[a]! < this.entries.at[b]!;
  }

  private push(e: number): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.earlier(h[i]!, h[p]!)) break;
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
      if (l < h.length && this.earlier(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.earlier(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }

  /** Takes the top of a non-empty heap. */
  private pop(): number {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.siftDown(0);
    }
    return top;
  }
}

/**
 * The heap's entries as columns: entry `e` is due at `at[e]`, for timer `name[e]` of actor
 * `key[e]`, and still armed while `current[e]` is 1. A number is reused once its entry has left
 * the heap (`free`), never before: the heap may still hold a retired one.
 */
class Entries {
  at = new Float64Array(1024);
  current = new Uint8Array(1024);
  readonly key: string[] = [];
  readonly name: string[] = [];
  private readonly unused: number[] = [];

  add(at: number, key: string, name: string): number {
    let e = this.unused.pop();
    if (e === undefined) {
      e = this.key.length;
      this.key.push(key);
      this.name.push(name);
      if (e === this.at.length) this.grow();
    } else {
      this.key[e] = key;
      this.name[e] = name;
    }
    this.at[e] = at;
    this.current[e] = 1;
    return e;
  }

  /** Cancelled or replaced: stays in the heap, stale, until it reaches the top. */
  retire(e: number): void {
    this.current[e] = 0;
  }

  /** Out of the heap: its number may be reused. */
  free(e: number): void {
    this.current[e] = 0;
    // Its strings go now: a freed entry must not keep an actor's key alive.
    this.key[e] = '';
    this.name[e] = '';
    this.unused.push(e);
  }

  private grow(): void {
    const at = new Float64Array(this.at.length * 2);
    at.set(this.at);
    this.at = at;
    const current = new Uint8Array(this.current.length * 2);
    current.set(this.current);
    this.current = current;
  }
}
