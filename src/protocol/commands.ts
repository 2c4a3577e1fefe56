import type { Feed, Item, OrderStatus, Role } from './model.js';

/** Commands after validation: the shape the runtime and the actors work with. */
export type Command =
  | { type: 'inventory.set'; sku: string; onHand: number }
  | { type: 'inventory.adjust'; sku: string; delta: number; adjustmentId?: string }
  | { type: 'inventory.get'; sku: string }
  | { type: 'order.place'; orderId: string; items: Item[]; paymentTimeoutMs: number; customerId: string }
  | { type: 'order.pay'; orderId: string; paymentRef: string }
  | { type: 'order.cancel'; orderId: string; reason?: string }
  | { type: 'order.get'; orderId: string }
  | { type: 'order.list'; status?: OrderStatus; customerId?: string; limit: number; after?: string }
  | { type: 'order.subscribe'; orderId: string }
  | { type: 'feed.subscribe'; feed: Feed }
  | { type: 'wms.packed'; orderId: string }
  | { type: 'tms.ack'; orderId: string; trackingNo: string }
  | { type: 'tms.delivered'; orderId: string }
  | { type: 'order.return'; orderId: string; reason?: string }
  | { type: 'return.received'; orderId: string }
  | { type: 'stats.get' }
  // Extension (PROTOCOL-NOTES.md), admin only: an actor's state, timers and message log.
  | { type: 'actor.inspect'; key: string };

export type CommandType = Command['type'];
export type CommandOf<T extends CommandType> = Extract<Command, { type: T }>;

export const COMMAND_TYPES: readonly CommandType[] = [
  'inventory.set',
  'inventory.adjust',
  'inventory.get',
  'order.place',
  'order.pay',
  'order.cancel',
  'order.get',
  'order.list',
  'order.subscribe',
  'feed.subscribe',
  'wms.packed',
  'tms.ack',
  'tms.delivered',
  'order.return',
  'return.received',
  'stats.get',
  'actor.inspect',
];

/** PROTOCOL.md "Roles": what each role may send. `admin` may send everything. */
const ROLE_COMMANDS: Record<Exclude<Role, 'admin'>, ReadonlySet<CommandType>> = {
  customer: new Set<CommandType>([
    'order.place',
    'order.cancel',
    'order.get',
    'order.list',
    'order.subscribe',
    'order.return',
    'inventory.get',
  ]),
  payments: new Set<CommandType>(['order.pay', 'order.get', 'feed.subscribe']),
  warehouse: new Set<CommandType>(['wms.packed', 'return.received', 'order.get', 'feed.subscribe']),
  carrier: new Set<CommandType>(['tms.ack', 'tms.delivered', 'order.get', 'feed.subscribe']),
  // Read-only: everything that reads or watches, nothing that changes state.
  observer: new Set<CommandType>(['order.get', 'order.list', 'order.subscribe', 'feed.subscribe', 'inventory.get', 'stats.get']),
};

/** Roles that may watch every order (the `orders` feed, any station feed, any customer's orders). */
export function roleSeesAll(role: Role): boolean {
  return role === 'admin' || role === 'observer';
}

/** The one feed each station role may subscribe to (admin and observer may subscribe to any). */
export const ROLE_FEED: Partial<Record<Role, Feed>> = {
  payments: 'refunds',
  warehouse: 'warehouse',
  carrier: 'carrier',
};

export function roleMaySend(role: Role, type: CommandType): boolean {
  return role === 'admin' || ROLE_COMMANDS[role].has(type);
}

export const LIMITS = {
  idMaxLength: 128,
  reasonMaxLength: 500,
  maxItems: 100,
  maxQuantity: 1_000_000,
  maxOnHand: Number.MAX_SAFE_INTEGER,
  paymentTimeoutMinMs: 100,
  paymentTimeoutMaxMs: 30 * 24 * 60 * 60 * 1000,
  paymentTimeoutDefaultMs: 15 * 60 * 1000,
  listDefault: 100,
  listMax: 500,
} as const;
