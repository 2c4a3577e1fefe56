/**
 * Time, injected. Actors see it only through `ctx.now()`; the runtime arms timers through it.
 * Tests use `SimulatedClock` and advance it, so no test sleeps for a deadline.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once, `ms` from now. Delays longer than a platform timer allows are handled by the caller re-arming. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending deadline must not keep a process alive that is otherwise done.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface SimulatedTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to. `advance` runs every timer that falls due, in time order;
 * `set` moves time without running them, for a message that races its own deadline.
 */
export class SimulatedClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Set<SimulatedTimer>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const t = { at: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(t);
    return t;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as SimulatedTimer);
  }

  /** Moves time forward by `ms`, firing due timers (and timers they arm) in order. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      let next: SimulatedTimer | undefined;
      for (const t of this.timers) {
        if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.timers.delete(next);
      this.current = Math.max(this.current, next.at);
      next.fn();
    }
    this.current = end;
  }

  /**
   * Moves the clock to `at` (never back) without running the timers that fall due meanwhile:
   * they run at the next `advance`. What a test needs to have a message arrive exactly at a
   * deadline whose timer has not fired yet.
   */
  set(at: number): void {
    if (at < this.current) throw new RangeError(`a clock does not go back (from ${this.current} to ${at})`);
    this.current = at;
  }
}
