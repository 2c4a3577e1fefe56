import { stationBehaviour } from './station.js';

/**
 * The warehouse (WMS). Paid orders queue here for picking; `wms.packed` asks the order actor to
 * move the order to `packed` (the order then hands it to the carrier); `return.received` asks it
 * to take a returned parcel back.
 */
export const WarehouseActor = stationBehaviour({
  kind: 'warehouse',
  toRequest: {
    'wms.packed': (c, by) => ({ type: 'order.pack', orderId: c.orderId, by }),
    'return.received': (c, by) => ({ type: 'order.receive_return', orderId: c.orderId, by }),
  },
  leavesQueue: new Set(['order.pack']),
});
