import { LRUCache } from 'lru-cache';

/**
 * Passed to every `get`: lru-cache's default (`getOptions = {}`) is a new object per call, and a
 * shard looks up a cell for every message. lru-cache writes its `status` into it, left undefined
 * while nobody subscribes to its diagnostics channel.
 */
const GET_OPTIONS: LRUCache.GetOptions<string, ActorCell, unknown> = {};
import type { ActorCell } from './actor-cell.js';
import { ASSERTS, invariant } from './dev-asserts.js';

/**
 * The actors of a shard that are in memory. At most `max` are kept in least-recently-used order
 * (lru-cache); an actor pushed out while it cannot leave yet (busy, or changed since its last
 * snapshot) is pinned until it can, and leaves at the next `passivate()`. A passivated actor is
 * reloaded from its snapshot on its next message.
 */
export class ActiveCells {
  private readonly lru: LRUCache<string, ActorCell>;
  private readonly pinned = new Map<string, ActorCell>();
  /**
   * The actors in memory changed since their latest snapshot (and maybe a few since cleaned:
   * the snapshot round that visits them drops those). Every cell put here registers itself.
   */
  readonly changed = new Set<ActorCell>();
  passivated = 0;
  /** Set while `delete` takes the last entry out with `pop` (see there): not an eviction. */
  private removingLast = false;

  constructor(
    max: number,
    private readonly canLeave: (cell: ActorCell) => boolean,
    /** Last resort for an actor that cannot leave cleanly: returns true if it was set aside in compact form. */
    private readonly setAside: (cell: ActorCell) => boolean = () => false,
  ) {
    this.lru = new LRUCache<string, ActorCell>({
      max,
      dispose: (cell, key, reason) => {
        // Only evictions by the cap matter here; explicit deletes and replacements are not passivations.
        if (reason !== 'evict' || this.removingLast) return;
        if (this.canLeave(cell) || this.setAside(cell)) {
          this.passivated++;
          this.forget(cell);
        } else this.pinned.set(key, cell);
      },
    });
  }

  get size(): number {
    return this.lru.size + this.pinned.size;
  }

  get(key: string): ActorCell | undefined {
    const c = this.lru.get(key, GET_OPTIONS);
    if (c) return c;
    const p = this.pinned.get(key);
    if (p) {
      this.pinned.delete(key);
      this.lru.set(key, p);
    }
    return p;
  }

  /** Looks without touching recency (inspection, snapshots). */
  peek(key: string): ActorCell | undefined {
    return this.lru.peek(key) ?? this.pinned.get(key);
  }

  set(key: string, cell: ActorCell): void {
    // A new incarnation (after a restart) replaces the old one, pinned or not.
    const old = this.peek(key);
    if (old && old !== cell) this.forget(old);
    this.pinned.delete(key);
    this.insert(key, cell);
  }

  /**
   * A cell for a key that is in memory in no form (its `get` just missed): `set` without looking
   * for an old incarnation. A new order's key is a miss in every large table of its shard, each
   * lookup a cache miss of its own (docs/PERFORMANCE.md, "The thirteenth round").
   */
  add(key: string, cell: ActorCell): void {
    if (ASSERTS) invariant(this.peek(key) === undefined, `a cell added for a key already in memory (${key})`);
    this.insert(key, cell);
  }

  private insert(key: string, cell: ActorCell): void {
    this.lru.set(key, cell);
    cell.changedSet = this.changed;
    if (cell.dirty) this.changed.add(cell);
  }

  /** A cell leaving memory (or replaced) is no longer this shard's to snapshot. */
  private forget(cell: ActorCell): void {
    cell.changedSet = null;
    this.changed.delete(cell);
  }

  *values(): IterableIterator<ActorCell> {
    yield* this.lru.values();
    yield* this.pinned.values();
  }

  delete(key: string): void {
    const cell = this.peek(key);
    if (cell) this.forget(cell);
    this.remove(key);
  }

  /** `delete` of a cell the caller has just found in memory under its key (no second lookup for it). */
  deleteCell(cell: ActorCell): void {
    if (ASSERTS) invariant(this.peek(cell.key) === cell, `a cell deleted that is not in memory under its key (${cell.key})`);
    this.forget(cell);
    this.remove(cell.key);
  }

  private remove(key: string): void {
    if (this.lru.size === 1 && this.lru.has(key)) {
      // lru-cache deletes its last entry by clearing the whole cache, which fills arrays of `max`
      // slots: tens of µs per call at 25,000 actors a shard, and a shard whose actors come and go
      // (orders set aside as soon as they are written) empties often. Popping that one entry, the
      // least recently used by definition, takes it out in constant time.
      this.removingLast = true;
      try {
        this.lru.pop();
      } finally {
        this.removingLast = false;
      }
    } else this.lru.delete(key);
    this.pinned.delete(key);
  }

  /** Lets pinned actors that have become idle and clean (or can be set aside) leave memory. */
  passivate(): number {
    let n = 0;
    for (const [key, cell] of this.pinned) {
      if (this.canLeave(cell) || this.setAside(cell)) {
        this.pinned.delete(key);
        this.forget(cell);
        n++;
      }
    }
    this.passivated += n;
    return n;
  }
}
