import { LRUCache } from 'lru-cache';
import type { ActorCell } from './actor-cell.js';

/**
 * The actors of a shard that are in memory. At most `max` are kept in least-recently-used order
 * (lru-cache); an actor pushed out while it cannot leave yet (busy, or changed since its last
 * snapshot) is pinned until it can, and leaves at the next `passivate()`. A passivated actor is
 * reloaded from its snapshot on its next message.
 */
export class ActiveCells {
  private readonly lru: LRUCache<string, ActorCell>;
  private readonly pinned = new Map<string, ActorCell>();
  passivated = 0;

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
        if (reason !== 'evict') return;
        if (this.canLeave(cell) || this.setAside(cell)) this.passivated++;
        else this.pinned.set(key, cell);
      },
    });
  }

  get size(): number {
    return this.lru.size + this.pinned.size;
  }

  get(key: string): ActorCell | undefined {
    const c = this.lru.get(key);
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
    // A new incarnation (after a restart) replaces a pinned old one too.
    this.pinned.delete(key);
    this.lru.set(key, cell);
  }

  *values(): IterableIterator<ActorCell> {
    yield* this.lru.values();
    yield* this.pinned.values();
  }

  delete(key: string): void {
    this.lru.delete(key);
    this.pinned.delete(key);
  }

  /** Lets pinned actors that have become idle and clean (or can be set aside) leave memory. */
  passivate(): number {
    let n = 0;
    for (const [key, cell] of this.pinned) {
      if (this.canLeave(cell) || this.setAside(cell)) {
        this.pinned.delete(key);
        n++;
      }
    }
    this.passivated += n;
    return n;
  }
}
