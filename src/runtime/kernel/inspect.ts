import type { AnyBehaviour } from '../../actors/index.js';
import type { OutboxEntry } from '../journal/record.js';
import type { ActiveCells } from './active-cells.js';
import { ActorCell } from './actor-cell.js';
import type { ActorDirectory } from './actor-directory.js';
import { applySnapshot, type Recovery } from './recovery.js';
import type { MessageLog } from './message-log.js';
import type { SetAside } from './set-aside.js';
import type { ShardOptions } from './shard-options.js';
import type { TimerIndex } from './timer-index.js';

/** What inspection needs of its shard. */
export interface InspectHost {
  readonly opts: Pick<ShardOptions, 'store'>;
  readonly cells: ActiveCells;
  readonly directory: ActorDirectory;
  readonly timers: TimerIndex;
  readonly setAside: SetAside;
  readonly log: MessageLog;
  behaviourFor(key: string): AnyBehaviour | undefined;
}

export interface ActorInspection {
  key: string;
  inMemory: boolean;
  state: unknown;
  log: unknown[];
  outbox: OutboxEntry[];
  timers: Record<string, number>;
}

/**
 * An actor's state and message log, for operators: from memory, from its set-aside form, or (a
 * passivated actor, or one not back yet) read from its snapshot. Changes nothing in the shard.
 */
export async function inspectActor(shard: InspectHost, recovery: Recovery, key: string): Promise<ActorInspection | null> {
  // An actor still being loaded after the start would show its snapshot without its tail.
  if (shard.cells.peek(key)?.phase === 'deferred') await recovery.whenDeferredLoaded();
  let cell = shard.cells.peek(key);
  if (!cell) cell = shard.setAside.peek(key, () => new ActorCell(key, shard.behaviourFor(key)!));
  if (!cell || cell.phase !== 'active') {
    if (!shard.directory.has(key)) return null;
    const b = shard.behaviourFor(key);
    const entry = await shard.opts.store.loadActor(key);
    if (!b || !entry) return null;
    cell = new ActorCell(key, b);
    applySnapshot(cell, entry);
  }
  return {
    key,
    inMemory: shard.cells.peek(key) !== undefined,
    state: cell.state,
    log: shard.log.entries(key),
    outbox: [...cell.outbox.values()],
    timers: shard.timers.timersOf(key),
  };
}
