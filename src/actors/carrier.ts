import { stationBehaviour } from './station.js';

/**
 * The carrier (TMS). Packed orders queue here for collection. `tms.ack` is the interceptor's point:
 * the carrier asks the order actor for the hand-over and the parcel leaves only if the order grants
 * it; a cancelled order answers `INTERCEPTED`. Whichever of cancel and hand-over the order's mailbox
 * takes first wins.
 */
export const CarrierActor = stationBehaviour({
  kind: 'carrier',
  toRequest: {
    'tms.ack': (c, by) => ({ type: 'order.handover', orderId: c.orderId, trackingNo: c.trackingNo as string, by }),
    'tms.delivered': (c, by) => ({ type: 'order.deliver', orderId: c.orderId, by }),
  },
  leavesQueue: new Set(['order.handover']),
});
