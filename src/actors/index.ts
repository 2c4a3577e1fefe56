import type { ActorBehaviour } from './behaviour.js';
import { CarrierActor } from './carrier.js';
import { InventoryActor } from './inventory.js';
import { OrderActor } from './order.js';
import { RefundsActor } from './refunds.js';
import { WarehouseActor } from './warehouse.js';
import { actorKind } from '../protocol/messages.js';

/** Every actor type, by the kind prefix of its key (`order:…`, `sku:…`, `warehouse`, …). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyBehaviour = ActorBehaviour<any, any>;

export const BEHAVIOURS: ReadonlyMap<string, AnyBehaviour> = new Map<string, AnyBehaviour>([
  [OrderActor.kind, OrderActor],
  [InventoryActor.kind, InventoryActor],
  [WarehouseActor.kind, WarehouseActor],
  [CarrierActor.kind, CarrierActor],
  [RefundsActor.kind, RefundsActor],
]);

export function behaviourFor(key: string): AnyBehaviour | undefined {
  return BEHAVIOURS.get(actorKind(key));
}
