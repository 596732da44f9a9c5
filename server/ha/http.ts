/**
 * The instances over HTTP (server.ha): GET /api/v1/ha (this instance, its shards, lease
 * age, and every instance seen in PostgreSQL) and the /metrics gauges. Any instance answers
 * for all (their heartbeats are in the database).
 */
import type { FastifyInstance } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import type { HaCoordinator } from './coordinator.ts';

export function registerHaRoutes(app: FastifyInstance): void {
  app.get('/api/v1/ha', { schema: { summary: 'Several instances: this one, its shards and lease age, and all instances with their heartbeat and shards (404 without server.ha)', tags: ['metrics'] } }, async (_req, reply) => {
    const ha = app.hawatch.ha;
    if (!ha) {
      void reply.status(404);
      return { error: 'NOT_FOUND', message: 'this server runs alone (no server.ha in the inventory)' };
    }
    return ha.status();
  });
}

export function haGauges(registry: Registry, ha: () => HaCoordinator | null | undefined): void {
  new Gauge({
    name: 'hawatch_ha_instances',
    help: 'Instances seen in PostgreSQL by state (alive, gone without leaving, left)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      const h = ha();
      if (!h) return;
      const list = h.status().instances;
      this.set({ state: 'alive' }, list.filter((i) => i.alive).length);
      this.set({ state: 'gone' }, list.filter((i) => !i.alive && !i.left).length);
      this.set({ state: 'left' }, list.filter((i) => i.left).length);
    },
  });
  new Gauge({
    name: 'hawatch_ha_shards',
    help: 'Shards held per instance (by the leases in PostgreSQL)',
    labelNames: ['instance'],
    registers: [registry],
    collect() {
      this.reset();
      for (const i of ha()?.status().instances ?? []) if (i.alive) this.set({ instance: i.id }, i.shards);
    },
  });
  new Gauge({
    name: 'hawatch_ha_heartbeat_age_seconds',
    help: 'Seconds since each instance last renewed its lease, by the database clock',
    labelNames: ['instance'],
    registers: [registry],
    collect() {
      this.reset();
      for (const i of ha()?.status().instances ?? []) this.set({ instance: i.id }, i.heartbeatAgeS);
    },
  });
  new Gauge({
    name: 'hawatch_ha_lease_age_seconds',
    help: 'Seconds since this instance last renewed its lease (stops acting at the lease length)',
    registers: [registry],
    collect() {
      const s = ha()?.status();
      if (s && s.leaseAgeS !== null) this.set(s.leaseAgeS);
    },
  });
  new Gauge({
    name: 'hawatch_ha_fenced_drops_total',
    help: 'Statuses and notifications this instance did not write because its lease was gone (fenced)',
    registers: [registry],
    collect() {
      const h = ha();
      if (h) this.set(h.fencedDrops);
    },
  });
}
