import { type AnyBehaviour, BEHAVIOURS } from '../../actors/index.js';
import type { JournalRecord, ReplayStats } from '../journal/record.js';
import { type DirectoryEntry, partitionOf, type SnapshotEntry } from '../storage/shard-store.js';
import type { ActiveCells } from './active-cells.js';
import { ActorCell } from './actor-cell.js';
import { type ActorDirectory, NO_SUMMARY } from './actor-directory.js';
import type { SetAside } from './set-aside.js';
import type { ShardOptions } from './shard-options.js';
import type { TimerIndex } from './timer-index.js';
import { DEFAULTS } from '../../defaults.js';

/** What recovery needs of its shard. */
export interface RecoveryHost {
  readonly id: number;
  readonly opts: Pick<ShardOptions, 'store' | 'maxActiveActors' | 'onFatal' | 'extraBehaviours' | 'onRecoverySettled'>;
  readonly cells: ActiveCells;
  readonly directory: ActorDirectory;
  readonly timers: TimerIndex;
  readonly setAside: SetAside;
  behaviourFor(key: string): AnyBehaviour | undefined;
  noteDirectory(cell: ActorCell): void;
  schedule(cell: ActorCell): void;
}

/**
 * Rebuilding a shard after a start: the snapshot directory, then the journal tail since the last
 * snapshot; the actors left to load after the start (`deferred`); and the work a crash left owed
 * (`afterRecovery`), which the runtime waits for before it serves. Also the replay helpers a
 * restart and a reactivation share (`applySnapshot`, `applyRecord`).
 */
export class Recovery {
  /** Actors recovery left to load after the start (see `recover`); snapshots wait for them. */
  private deferredLoads: Promise<void> = Promise.resolve();
  /** Actors that owe work a crash left (a behaviour's `afterRecovery`), until they have done it. */
  private readonly owingAfterRecovery = new Set<string>();

  constructor(private readonly shard: RecoveryHost) {}

  /** Resolves once every actor recovery deferred is loaded (or its load failed, fatally). */
  whenDeferredLoaded(): Promise<void> {
    return this.deferredLoads;
  }

  /**
   * Rebuilds the shard: the snapshot directory (summaries and timers of every actor), then the
   * journal tail since the last snapshot. Actors the tail touches, and actors with unanswered
   * requests, are loaded now; the rest stay on disk until a message needs them.
   */
  async recover(): Promise<ReplayStats & { actors: number }> {
    const { shard } = this;
    const { store } = shard.opts;
    const tail = new Map<string, JournalRecord[]>();
    const busy: string[] = [];
    const stats = await store.recover(
      (key, e: DirectoryEntry) => {
        shard.directory.set(key, e.i ?? NO_SUMMARY);
        for (const [name, at] of Object.entries(e.t ?? {})) shard.timers.set(key, name, at);
        if (e.busy) busy.push(key);
      },
      (rec) => {
        const list = tail.get(rec.k);
        if (list) list.push(rec);
        else tail.set(rec.k, [rec]);
      },
    );
    const busySet = new Set(busy);
    const keys = [...new Set([...busy, ...tail.keys()])];
    // By partition, so each partition's snapshot file is read once.
    const P = store.partitions;
    keys.sort((a, b) => partitionOf(a, P) - partitionOf(b, P));
    const room = shard.opts.maxActiveActors ?? DEFAULTS.maxActiveActorsPerShard;
    const deferred: [ActorCell, JournalRecord[]][] = [];
    for (const key of keys) {
      const b = shard.behaviourFor(key);
      if (!b) throw new Error(`journal of shard ${shard.id} names an unknown actor type: ${key}`);
      const recs = tail.get(key);
      // A tail that holds a whole-state record (every order record) makes the snapshot moot,
      // unless the snapshot also holds unanswered requests: then it is read for those.
      const rebuiltByTail = !busySet.has(key) && recs !== undefined && recs.some((rec) => rec.r?.some((r) => b.isFullState?.(r)));
      // Past the cache's capacity a rebuilt actor would be set aside at once: go there directly.
      if (rebuiltByTail && shard.cells.size >= room && this.setAsideFromTail(key, b, recs)) continue;
      const cell = new ActorCell(key, b);
      if (shard.directory.has(key) && !rebuiltByTail && !busySet.has(key) && recs !== undefined && owesNothing(recs)) {
        // Needs its snapshot under its tail, but owes nothing to anyone: loaded after the shard
        // is up (its messages wait in its mailbox meanwhile) instead of before. Reading those
        // snapshot files is most of a long tail's recovery.
        for (const rec of recs) applyTimers(shard.timers, key, rec);
        cell.phase = 'deferred';
        cell.markChangedSinceSnapshot(); // the next snapshot must wait for it (see `snapshotter.ts`)
        deferred.push([cell, recs]);
        shard.cells.set(key, cell);
        continue;
      }
      if (shard.directory.has(key) && !rebuiltByTail) {
        const entry = await store.loadActor(key);
        if (entry) applySnapshot(cell, entry);
      }
      if (recs) {
        for (const rec of recs) {
          applyRecord(cell, rec);
          applyTimers(shard.timers, key, rec);
        }
        cell.markChangedSinceSnapshot();
        shard.noteDirectory(cell);
      }
      shard.cells.set(key, cell);
    }
    this.deferredLoads = this.loadDeferred(deferred);
    return { ...stats, actors: shard.directory.size };
  }

  /** Loads, in partition order, the actors `recover` left for after the start. */
  private async loadDeferred(cells: [ActorCell, JournalRecord[]][]): Promise<void> {
    const { shard } = this;
    for (const [cell, recs] of cells) {
      try {
        const entry = await shard.opts.store.loadActor(cell.key);
        if (entry) applySnapshot(cell, entry);
        // Their timers were applied by `recover` already.
        for (const rec of recs) applyRecord(cell, rec);
        shard.noteDirectory(cell);
      } catch (err) {
        // Unreadable snapshot or a record its behaviour cannot restore: the same fail-stop as
        // when recovery itself fails (a replaced host would only meet it again).
        shard.opts.onFatal?.(err);
        return;
      }
      cell.phase = 'active';
      if (cell.mailbox.length > 0) shard.schedule(cell);
    }
  }

  /**
   * Recovery of an actor that would only be set aside: its state rebuilt from its tail records
   * without a cell (a cell per key costs most of a long tail's replay). Only for an actor that
   * owes nothing once its tail is applied; returns false, changing nothing, for any other.
   */
  private setAsideFromTail(key: string, b: AnyBehaviour, recs: JournalRecord[]): boolean {
    const { shard } = this;
    if (!owesNothing(recs)) return false;
    let state = b.initial(key);
    for (const rec of recs) {
      for (const r of rec.r ?? []) state = b.restore(state, r);
      applyTimers(shard.timers, key, rec);
    }
    // An actor that ends empty but has a snapshot entry must be deleted by the next snapshot:
    // only a cell (dirty and empty) carries that, so it takes the ordinary path.
    if (b.isEmpty(state)) return !shard.directory.has(key);
    shard.directory.set(key, b.summary?.(state) ?? NO_SUMMARY);
    // Set aside, so changed since the last snapshot: the next one takes it.
    shard.setAside.putState(key, b, state);
    return true;
  }

  /**
   * At the start (see `Shard.start`): fires at once the timers that finish what a crash left owed
   * (see `afterRecovery`), and notes which actors owe it: the runtime serves once each has done
   * it (see `settled`), so that what a client reads right after a restart (a SKU's stock) is
   * exact, not exact in a few seconds.
   */
  armAfterRecovery(): void {
    const { shard } = this;
    const names = new Set<string>();
    for (const b of [...BEHAVIOURS.values(), ...(shard.opts.extraBehaviours?.values() ?? [])]) if (b.afterRecovery) names.add(b.afterRecovery.timer);
    for (const name of names) {
      for (const key of shard.timers.keysWith(name)) {
        if (shard.behaviourFor(key)?.afterRecovery?.timer !== name) continue;
        shard.timers.set(key, name, 0);
        this.owingAfterRecovery.add(key);
      }
    }
  }

  /** No actor owes recovery work any more. */
  get settled(): boolean {
    return this.owingAfterRecovery.size === 0;
  }

  /** After every turn: an actor that owed recovery work is done once its behaviour says so. */
  afterTurn(cell: ActorCell): void {
    if (this.owingAfterRecovery.size === 0 || !this.owingAfterRecovery.has(cell.key)) return;
    if (cell.behaviour.afterRecovery?.owes(cell.state)) return;
    this.owingAfterRecovery.delete(cell.key);
    if (this.owingAfterRecovery.size === 0) this.shard.opts.onRecoverySettled?.();
  }
}

/** Lays a snapshot entry under a fresh cell: its state, its unanswered requests, its request ids. */
export function applySnapshot(cell: ActorCell, entry: SnapshotEntry): void {
  for (const r of entry.r) cell.state = cell.behaviour.restore(cell.state, r);
  for (const e of entry.o ?? []) cell.addToOutbox(e);
  cell.nextRequestId = Math.max(cell.nextRequestId, entry.n);
}

/**
 * Replays one journal record of the cell's actor (state, requests sent, answers received). Its
 * timer changes are the shard's, not the cell's: see `applyTimers`.
 */
export function applyRecord(cell: ActorCell, rec: JournalRecord): void {
  if (rec.r) for (const r of rec.r) cell.state = cell.behaviour.restore(cell.state, r);
  if (rec.o) {
    for (const e of rec.o) {
      cell.addToOutbox(e);
      if (e.id >= cell.nextRequestId) cell.nextRequestId = e.id + 1;
    }
  }
  if (rec.a) for (const id of rec.a) cell.takeFromOutbox(id);
}

/** Replays one journal record's timer changes into the shard's timer index. */
export function applyTimers(timers: TimerIndex, key: string, rec: JournalRecord): void {
  for (const [name, at] of Object.entries(rec.t ?? {})) {
    if (at === null) timers.cancel(key, name);
    else timers.set(key, name, at);
  }
}

/** After these records, no request of the actor is left unanswered (nothing to re-send at start). */
function owesNothing(recs: JournalRecord[]): boolean {
  const outstanding = new Set<number>();
  for (const rec of recs) {
    for (const e of rec.o ?? []) outstanding.add(e.id);
    for (const id of rec.a ?? []) outstanding.delete(id);
  }
  return outstanding.size === 0;
}
