import type { Command } from '../protocol/commands.js';
import type { ActorEvent, InternalCommand, Reply } from '../protocol/messages.js';
import type { Order, Principal } from '../protocol/model.js';
import type { OrderQuery } from '../runtime/query/order-query.js';
import type { ReplyReceiver } from './encoded-reply.js';
import type { HostStats } from './metrics.js';

/**
 * What the gateway needs of the actor system. On one machine it is `ActorRuntime`; across
 * machines it would be a client that routes to the node owning the shard. Keep it this small.
 */
export interface CommandRuntime {
  readonly state: 'recovering' | 'ready' | 'stopping' | 'stopped';
  readonly inFlight: number;
  /** `traceparent`: the W3C trace context (the gateway's span) the actor turns of the command continue. */
  execute(key: string, command: Command | InternalCommand, principal: Principal, traceparent?: string): Promise<Reply>;
  /**
   * Optional: `execute` for a client's command, its reply handed to `receiver` already encoded
   * for the wire (a runtime whose replies cross threads as text). Without it the gateway
   * encodes what `execute` answers.
   */
  executeEncoded?(key: string, command: Command, principal: Principal, traceparent: string | undefined, receiver: ReplyReceiver): void;
  listOrders(q: OrderQuery): Promise<{ orders: Order[]; next: string | null }>;
  onEvent(listener: (e: ActorEvent) => void): void;
  stats(): Promise<HostStats[]>;
  /** An actor's state, timers, outbox and message log, or null when the actor does not exist. */
  inspect(key: string): Promise<unknown>;
  /**
   * Optional, all three or none: a runtime that keeps the dashboard's views of the order events
   * itself, so that its events need to reach `onEvent` only while the gateway has subscribers
   * (`setEventInterest`). Without them the gateway keeps those views from every event.
   */
  setEventInterest?(wanted: boolean): void;
  recentOrders?(): Promise<Order[]>;
  busiestSkus?(n: number): Promise<{ sku: string; placements: number }[]>;
  /** What `/healthz` adds to its status (a cluster node: its name, members, the journals it owns). */
  health?(): Record<string, unknown>;
}
