/** Plain-data objects of the wire protocol (PROTOCOL.md, "Objects"). */

export const ROLES = ['admin', 'customer', 'payments', 'warehouse', 'carrier'] as const;
export type Role = (typeof ROLES)[number];

/** Who caused a status change: a role, the payment deadline, or the runtime itself. */
export type Actor = Role | 'timer' | 'system';

export const ORDER_STATUSES = [
  'awaiting_payment',
  'paid',
  'picking',
  'packed',
  'dispatched',
  'delivered',
  'return_requested',
  'returned',
  'cancelled',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Statuses from which an order may still be cancelled: everything before the carrier's hand-over. */
export const CANCELLABLE: ReadonlySet<OrderStatus> = new Set(['awaiting_payment', 'paid', 'picking', 'packed']);

export interface Item {
  sku: string;
  quantity: number;
}

export interface HistoryEntry {
  at: number;
  status: OrderStatus;
  by: Actor;
}

export interface Order {
  orderId: string;
  customerId: string;
  items: Item[];
  status: OrderStatus;
  reason?: string;
  /** Extension: the free text given with `order.cancel`; `reason` keeps the protocol's enumerated cause. */
  cancelNote?: string;
  paymentDeadline: number;
  paymentRef?: string;
  trackingNo?: string;
  refundDue: boolean;
  history: HistoryEntry[];
}

export interface Stock {
  sku: string;
  onHand: number;
  reserved: number;
  available: number;
}

/** The identity a connection authenticated with. */
export interface Principal {
  role: Role;
  customerId?: string;
}

export const FEEDS = ['warehouse', 'carrier', 'refunds'] as const;
export type Feed = (typeof FEEDS)[number];
