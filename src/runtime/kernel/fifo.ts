/**
 * A FIFO queue with O(1) push and shift. Used for actor mailboxes and for a shard's queue of
 * actors with mail.
 *
 * Most mailboxes hold one message at a time (a message arrives, its turn runs, the mailbox is
 * empty again), so the oldest item is kept in a field of its own and only the items behind it go
 * to an array (with a moving head, compacted now and then). A mailbox of one message allocates
 * nothing; with an array only, every message to an idle actor grew a new backing store.
 */
export class Fifo<T> {
  /** The oldest item; meaningful only while `count > 0`. */
  private first: T | undefined = undefined;
  /** The items behind `first`, from `head` on; null while there are none. */
  private rest: T[] | null = null;
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === 0) this.first = item;
    else if (this.rest === null) this.rest = [item];
    else this.rest.push(item);
    this.count++;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.first;
    this.count--;
    this.first = this.count === 0 ? undefined : this.takeFromRest();
    return item;
  }

  /** Puts `items` back in front, keeping their order (used to unstash). */
  unshiftAll(items: T[]): void {
    if (items.length === 0) return;
    const all = [...items, ...this.toArray()];
    this.first = undefined;
    this.rest = null;
    this.head = 0;
    this.count = 0;
    for (const item of all) this.push(item);
  }

  toArray(): T[] {
    if (this.count === 0) return [];
    const out = [this.first as T];
    if (this.rest !== null) for (let i = this.head; i < this.rest.length; i++) out.push(this.rest[i]!);
    return out;
  }

  /** The next item behind `first` (there is one), removed from `rest`. */
  private takeFromRest(): T {
    const rest = this.rest!;
    const item = rest[this.head]!;
    rest[this.head++] = undefined as T;
    if (this.head === rest.length) {
      // Drained: let the backing store go (most mailboxes sit empty most of the time).
      this.rest = null;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > rest.length) {
      this.rest = rest.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
