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
  /** key → the actor's `snapshot()` records, as JSON. Entries are compared by identity (see `forget`). */
  private readonly states = new Map<string, SetAsideState>();

  get size(): number {
    return this.states.size;
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
    this.states.set(cell.key, { json, log: cell.messageLog.length > 0 ? cell.messageLog.pack() : null });
    return true;
  }

  /** Sets aside a state rebuilt without a cell (recovery of a long tail, see `recovery.ts`). */
  putState(key: string, b: AnyBehaviour, state: unknown): void {
    this.states.set(key, { json: JSON.stringify(b.snapshot(state)), log: null });
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

export interface SetAsideState {
  /** Records that rebuild the actor (its `snapshot()`, or its latest turn's records), JSON-encoded. */
  readonly json: string;
  /** Its message log, packed (`MessageLog.pack`); null when it had none. */
  readonly log: string | null;
}

/** The state `json`'s records rebuild from nothing. */
function rebuilt(key: string, b: AnyBehaviour, json: string): unknown {
  let state = b.initial(key);
  for (const r of JSON.parse(json) as unknown[]) state = b.restore(state, r);
  return state;
}

/** The records a set-aside state holds, decoded (what a snapshot entry stores as `r`). */
function recordsOf(aside: SetAsideState): unknown[] {
  return JSON.parse(aside.json) as unknown[];
}

function restoreInto(cell: ActorCell, aside: SetAsideState): void {
  for (const r of recordsOf(aside)) cell.state = cell.behaviour.restore(cell.state, r);
  // The same records are still its compact form until a turn writes new ones.
  cell.recordsJson = aside.json;
  if (aside.log !== null) cell.messageLog.unpack(aside.log);
}
