/**
 * Wires the domain services (plain modules) into Fastify as one decorator, typed here next
 * to the plugin (fastify/demo style). Routes reach them as `app.hawatch.monitor` etc.
 */
import type { HaCoordinator } from '../ha/coordinator.ts';
import fp from 'fastify-plugin';
import type { StoreHealth } from '../core/health.ts';
import type { Monitor } from '../core/monitor.ts';
import type { Inventory } from '../inventory/types.ts';
import type { Dispatcher } from '../notify/dispatcher.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { Clock } from '../state/clock.ts';
import type { AnyStore } from '../store/types.ts';

export interface HawatchServices {
  readonly monitor: Monitor;
  readonly store: AnyStore;
  readonly clock: Clock;
  /** Absent in tests that drive results by hand. */
  readonly scheduler: Scheduler | null;
  readonly dispatcher: Dispatcher | null;
  /** Whether the store can be written (degraded state); absent in tests without one. */
  readonly health?: StoreHealth | undefined;
  /** Current API token (from env or file); null = state changes disabled. */
  readonly apiToken: () => string | null;
  /** Re-reads and validates the inventory, then applies it; throws InventoryError. */
  readonly reload: (() => Promise<Inventory>) | null;
  readonly version: string;
  /** Several instances (server/ha/coordinator.ts); null or absent for one. */
  readonly ha?: HaCoordinator | null | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    hawatch: HawatchServices;
  }
}

export default fp<{ services: HawatchServices }>(
  async (app, opts) => {
    app.decorate('hawatch', opts.services);
  },
  { name: 'hawatch-domain' },
);
