/** Plain-data objects of the wire protocol (PROTOCOL.md, "Objects"). */

/** `observer` (extension): read-only — reads, subscriptions and stats, never a change. */
export const ROLES = ['admin', 'customer', 'payments', 'warehouse', 'carrier', 'observer'] as const;
export type Role = (typeof ROLES)[number];

/** Who caused a status change: a role, the payment deadline, or the runtime itself. */
export type ChangedBy = Role | 'timer' | 'system';

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
  by: ChangedBy;
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

/** Feeds kept by a station actor: the orders waiting for it. */
export const STATION_FEEDS = ['warehouse', 'carrier', 'refunds'] as const;
export type StationFeed = (typeof STATION_FEEDS)[number];

/** `orders` (extension, admin and observer): every durable change of every order. */
export const FEEDS = [...STATION_FEEDS, 'orders'] as const;
export type Feed = (typeof FEEDS)[number];
