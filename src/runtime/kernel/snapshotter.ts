import { type DirectoryEntry, partitionOf, type SnapshotChange, type SnapshotEntry } from '../storage/shard-store.js';
import { ASSERTS, invariant } from './dev-asserts.js';
import type { ActiveCells } from './active-cells.js';
import { type ActorCell, requestIdFloor } from './actor-cell.js';
import { type ActorDirectory, NO_SUMMARY } from './actor-directory.js';
import type { Recovery } from './recovery.js';
import type { SetAside, SetAsideState } from './set-aside.js';
import type { ShardOptions } from './shard-options.js';
import type { TimerIndex } from './timer-index.js';

/** What taking a snapshot needs of its shard. */
export interface SnapshotHost {
  readonly opts: Pick<ShardOptions, 'store' | 'afterDurable' | 'onFatal'>;
  readonly cells: ActiveCells;
  readonly directory: ActorDirectory;
  readonly timers: TimerIndex;
  readonly setAside: SetAside;
  bytesSinceSnapshot: number;
}

export interface SnapshotStats {
  partitions: number;
  actors: number;
  passivated: number;
  ms: number;
  /** The longest time the snapshot held the thread (serialising one partition). */
  longestSliceMs: number;
}

type PartitionChanges = Map<string, SnapshotChange | null>;

/** Takes a shard's snapshots, one at a time. */
export class Snapshotter {
  /** A snapshot is under way (the host starts no other meanwhile). */
  running = false;
  /** Snapshots completed. */
  completed = 0;

  constructor(
    private readonly shard: SnapshotHost,
    private readonly recovery: Recovery,
  ) {}

  /**
   * Writes every actor changed since the last snapshot into its partition's snapshot, then drops
   * the journal segments that are now covered. Runs alongside the mailboxes: the journal is
   * rotated first (between two group commits), each partition is serialised in its own turn of the
   * event loop, and actors changing meanwhile stay dirty for the next snapshot. Journal records
   * set state absolutely, so replaying the tail over a snapshot taken a little later is harmless.
   * Returns null, doing nothing, while another snapshot runs or an actor needs the journal as is.
   */
  async take(rotate: (fn: () => Promise<number>) => Promise<number>): Promise<SnapshotStats | null> {
    if (this.running) return null;
    this.running = true;
    const { shard } = this;
    const { store } = shard.opts;
    const started = performance.now();
    let longestSliceMs = 0;
    try {
      // Actors whose recovery finishes after the start are rebuilt from the segments a snapshot
      // deletes: it takes them once they are back.
      await this.recovery.whenDeferredLoaded();
      // An actor restarting after a fault is rebuilt from journal segments this snapshot would
      // delete: wait for the next round rather than lose its changes. (A deferred one still here
      // is one whose load failed, already reported as fatal: the same holds for it.)
      const changed = shard.cells.changed;
      if (ASSERTS) for (const cell of shard.cells.values()) invariant(!cell.dirty || changed.has(cell), `a changed actor is in its shard's changed set (${cell.key})`);
      for (const cell of changed) if (cell.dirty && (cell.phase === 'restarting' || cell.phase === 'deferred')) return null;
      const rotation = await rotate(() => {
        shard.bytesSinceSnapshot = 0;
        return store.beginSnapshot();
      });
      const byPartition = new Map<number, ActorCell[]>();
      const P = store.partitions;
      for (const cell of changed) {
        if (!cell.dirty) {
          changed.delete(cell);
          continue;
        }
        if (cell.phase !== 'active') continue;
        const p = partitionOf(cell.key, P);
        const list = byPartition.get(p);
        if (list) list.push(cell);
        else byPartition.set(p, [cell]);
      }
      // Set-aside actors are changed actors too: taken as they are now.
      const asideByPartition = new Map<number, [string, SetAsideState][]>();
      for (const [key, aside] of shard.setAside.entries()) {
        const p = partitionOf(key, P);
        const list = asideByPartition.get(p);
        if (list) list.push([key, aside]);
        else asideByPartition.set(p, [[key, aside]]);
        if (!byPartition.has(p)) byPartition.set(p, []);
      }
      let actors = 0;
      // 1. Serialise, one partition per event-loop turn, so the mailboxes keep running.
      const prepared: { p: number; changes: PartitionChanges; versions: [ActorCell, number][] }[] = [];
      for (const [p, list] of byPartition) {
        const sliceStart = performance.now();
        const changes: PartitionChanges = new Map();
        const versions: [ActorCell, number][] = [];
        for (const cell of list) {
          versions.push([cell, cell.version]);
          if (cell.isGone) {
            changes.set(cell.key, null);
            continue;
          }
          // Requests kept in memory only (a placement in progress) are not part of durable state.
          const outbox = [...cell.outbox.values()].filter((e) => !e.volatile);
          const timers = shard.timers.timersOf(cell.key);
          const dir: DirectoryEntry = {};
          const summary = cell.behaviour.summary?.(cell.state);
          if (summary !== undefined) dir.i = summary;
          if (Object.keys(timers).length) dir.t = timers;
          if (outbox.length) dir.busy = true;
          // Serialised here, in this turn, so the entry is one consistent state of the actor.
          const entry: SnapshotEntry = { r: cell.behaviour.snapshot(cell.state), o: outbox, n: cell.nextRequestId };
          changes.set(cell.key, { json: JSON.stringify(entry), dir });
        }
        for (const [key, aside] of asideByPartition.get(p) ?? []) {
          const dir: DirectoryEntry = {};
          const summary = shard.directory.get(key);
          if (summary !== undefined && summary !== NO_SUMMARY) dir.i = summary;
          const timers = shard.timers.timersOf(key);
          if (Object.keys(timers).length) dir.t = timers;
          // A set-aside actor owes no request, and its request counter was not kept: its next
          // incarnation starts from the floor, as a new one does.
          // The set-aside JSON already is the records' JSON: spliced into the entry (the same text
          // as `JSON.stringify({ r, n })`), not parsed and written again.
          changes.set(key, { json: `{"r":${aside},"n":${requestIdFloor()}}`, dir });
        }
        longestSliceMs = Math.max(longestSliceMs, performance.now() - sliceStart);
        prepared.push({ p, changes, versions });
        actors += list.length;
        await new Promise((r) => setImmediate(r));
      }
      // 2. What was serialised may include turns whose journal records are not durable yet (and
      //    their effects on actors of this shard): it goes to disk only once they are.
      await new Promise<void>((durable) => (shard.opts.afterDurable ? shard.opts.afterDurable(durable) : durable()));
      // 3. Write the partitions, then commit the snapshot.
      for (const { p, changes } of prepared) await store.writePartition(p, changes);
      await store.commitSnapshot(rotation);
      // 4. Only now is what was written readable (`loadActor` reads the runs the manifest names):
      //    an actor is clean if it did not change after it was serialised, and a set-aside state
      //    that has not come back (or changed) since is now just passivated. Before the commit,
      //    an actor leaving memory would be reloaded from an older run, or not found at all.
      for (const { p, versions } of prepared) {
        for (const [cell, v] of versions) {
          cell.snapshotted = Math.max(cell.snapshotted, v);
          if (!cell.dirty) changed.delete(cell);
        }
        for (const [key, aside] of asideByPartition.get(p) ?? []) shard.setAside.forget(key, aside);
      }
      const passivated = shard.cells.passivate();
      this.completed++;
      return {
        partitions: byPartition.size,
        actors,
        passivated,
        ms: Math.round(performance.now() - started),
        longestSliceMs: Math.round(longestSliceMs * 10) / 10,
      };
    } catch (err) {
      shard.opts.onFatal?.(err);
      throw err;
    } finally {
      this.running = false;
    }
  }
}
