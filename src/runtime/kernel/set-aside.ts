import type { AnyBehaviour } from '../../actors/index.js';
import type { ActorCell } from './actor-cell.js';
import { ASSERTS, invariant } from './dev-asserts.js';

/**
 * Compact passivation. Changed actors that left memory before a snapshot took them: their whole
 * state as one JSON string (a few hundred bytes instead of a live actor's few kilobytes). Only for
 * behaviours whose records are whole states; the journal still holds the changes, so this is
 * memory only. A set-aside state is by definition changed since the last snapshot (a clean actor
 * simply leaves memory), so the next snapshot takes it (see `snapshotter.ts`).
 */
export class SetAside {
  /** key → the actor's compact form (`SetAsideState`). An entry is forgotten only while it is the one written (see `forget`). */
  private readonly states = new Map<string, SetAsideState>();

  get size(): number {
    return this.states.size;
  }

  has(key: string): boolean {
    return this.states.has(key);
  }

  /**
   * An idle, changed actor with nothing owed leaves memory in compact form (the cache's last resort
   * for an actor that cannot leave cleanly). Returns false, keeping nothing, for any other.
   */
  tryPut(cell: ActorCell): boolean {
    const b = cell.behaviour;
    // Not while its records are still being written (its output gate must stay closed), and not an
    // actor that owes anything or holds nothing worth keeping.
    if (!b.isFullState || cell.unsettled > 0 || cell.isGone || cell.phase !== 'active' || cell.scheduled) return false;
    if (cell.mailbox.length || cell.outbox.size || cell.kept.size || cell.stashed.length) return false;
    // Its latest records are its state (taken from their journal frame); else serialised now.
    const json = cell.recordsJson ?? JSON.stringify(b.snapshot(cell.state));
    if (ASSERTS) invariant(JSON.stringify(b.snapshot(rebuilt(cell.key, b, json))) === JSON.stringify(b.snapshot(cell.state)), `the compact form of ${cell.key} rebuilds its state as it is`);
    this.states.set(cell.key, json);
    return true;
  }

  /** Sets aside a state rebuilt without a cell (recovery of a long tail, see `recovery.ts`). */
  putState(key: string, b: AnyBehaviour, state: unknown): void {
    this.states.set(key, JSON.stringify(b.snapshot(state)));
  }

  /** Brings a set-aside actor back into `cell` (a fresh one); false if it was not set aside. */
  takeBack(cell: ActorCell): boolean {
    const aside = this.states.get(cell.key);
    if (!aside) return false;
    this.states.delete(cell.key);
    restoreInto(cell, aside);
    // Back from its compact form: still changed since the last snapshot.
    cell.markChangedSinceSnapshot();
    return true;
  }

  /** A copy of a set-aside actor in a throwaway cell, leaving it set aside (inspection). */
  peek(key: string, make: () => ActorCell): ActorCell | undefined {
    const aside = this.states.get(key);
    if (!aside) return undefined;
    const cell = make();
    restoreInto(cell, aside);
    return cell;
  }

  /** What a snapshot takes: every set-aside state as it is now. */
  entries(): [string, SetAsideState][] {
    return [...this.states];
  }

  /** Written by a snapshot: unless it came back (or changed) since, it is now just passivated. */
  forget(key: string, taken: SetAsideState): void {
    if (this.states.get(key) === taken) this.states.delete(key);
  }
}

/**
 * One string: the JSON of records that rebuild the actor (its `snapshot()`, or its latest turn's
 * records). Its message log stays in the shard's (see `message-log.ts`): each set-aside order is
 * copied by the young-generation collection it survives and counted by every full one, and a
 * packed log was half its bytes.
 */
export type SetAsideState = string;

/** `state` with the records of `json` replayed over it (`restore`, in order). */
function replayed(b: AnyBehaviour, state: unknown, json: string): unknown {
  for (const r of JSON.parse(json) as unknown[]) state = b.restore(state, r);
  return state;
}

/** The state `json`'s records rebuild from nothing. */
function rebuilt(key: string, b: AnyBehaviour, json: string): unknown {
  return replayed(b, b.initial(key), json);
}

function restoreInto(cell: ActorCell, aside: SetAsideState): void {
  cell.state = replayed(cell.behaviour, cell.state, aside);
  // The same records are still its compact form until a turn writes new ones.
  cell.recordsJson = aside;
}
