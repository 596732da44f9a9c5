/** Prometheus metrics, collected from the domain services at scrape time (own registry). */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { stateLabel } from '../state/types.ts';
import { perfdataGauges } from './metrics-perfdata.ts';
import { haGauges } from '../ha/http.ts';

export function registerMetrics(app: FastifyInstance): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hawatch_' });
  const h = () => app.hawatch;
  new Gauge({
    name: 'hawatch_objects',
    help: 'Hosts and services by kind, state and state type',
    labelNames: ['kind', 'state', 'state_type'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const s of h().monitor.allStatuses()) {
        const k = `${s.kind}\u0000${s.checked ? stateLabel(s.kind, s.state) : 'PENDING'}\u0000${s.stateType}`;
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      for (const [k, n] of counts) {
        const [kind = '', state = '', stateType = ''] = k.split('\u0000');
        this.set({ kind, state, state_type: stateType }, n);
      }
    },
  });
  new Gauge({
    name: 'hawatch_problems_unhandled',
    help: 'Hard problems neither acknowledged nor in downtime',
    registers: [registry],
    collect() {
      this.set(h().monitor.allStatuses().filter((s) => s.checked && s.state !== 0 && s.stateType === 'HARD' && !s.ack && s.downtimeDepth === 0).length);
    },
  });
  new Gauge({
    name: 'hawatch_cluster_failovers_total',
    help: 'Failovers seen per cluster rule since start: the role moved to other members while the rule held (counter semantics)',
    labelNames: ['rule'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [rule, n] of h().monitor.failovers) this.set({ rule }, n);
    },
  });
  const sched = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  sched('hawatch_checks_executed_total', 'Checks executed since start (counter semantics)', () => h().scheduler?.stats.executed ?? 0);
  sched('hawatch_checks_running', 'Checks in flight', () => h().scheduler?.stats.running ?? 0);
  sched('hawatch_checks_queued', 'Checks due but waiting for a free slot', () => h().scheduler?.stats.queued ?? 0);
  sched('hawatch_check_latency_seconds_avg', 'Average delay between due time and start of a check', () => {
    const s = h().scheduler?.stats;
    return s && s.executed ? s.latencyMsTotal / s.executed / 1000 : 0;
  });
  sched('hawatch_check_latency_seconds_max', 'Largest delay between due time and start of a check', () => (h().scheduler?.stats.maxLatencyMs ?? 0) / 1000);
  sched('hawatch_notifications_sent_total', 'Notifications delivered since start', () => h().dispatcher?.stats.sent ?? 0);
  sched('hawatch_notification_failures_total', 'Failed delivery attempts since start (each is retried)', () => h().dispatcher?.stats.failed ?? 0);
  sched('hawatch_notification_digests_total', 'Grouped messages sent since start', () => h().dispatcher?.stats.digests ?? 0);
  sched('hawatch_store_degraded', '1 while the store cannot be written (full disk): state is live but not stored, notifications held', () => (h().health?.degraded ? 1 : 0));
  sched('hawatch_notifications_possible_duplicates_total', 'Notifications resent after a restart because their send was never recorded', () => h().dispatcher?.stats.possibleDuplicates ?? 0);
  // A store that cannot be read must not break the scrape (the degraded metric above says why).
  // prom-client awaits an async collect (the PostgreSQL store answers later).
  const counts = async () => {
    try {
      return await h().store.outboxCounts();
    } catch {
      return { pending: NaN, sent: NaN, quarantined: NaN };
    }
  };
  const outboxGauge = (name: string, help: string, read: (c: { pending: number; quarantined: number }) => number) =>
    new Gauge({ name, help, registers: [registry], async collect() { this.set(read(await counts())); } });
  outboxGauge('hawatch_outbox_pending', 'Notifications waiting for delivery', (c) => c.pending);
  outboxGauge('hawatch_outbox_quarantined', 'Outbox rows that could not be decoded and were set aside (see the log)', (c) => c.quarantined);

  // Per object: its state and its latest perfdata values (bounded: server/http/metrics-perfdata.ts).
  perfdataGauges(registry, () => h().monitor);
  haGauges(registry, () => h().ha);

  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text exposition format)', tags: ['metrics'] } }, async (_req, reply) => {
    void reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
