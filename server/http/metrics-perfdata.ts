/**
 * /metrics per object, for Grafana: `hawatch_object_state{host,service}` for every host and
 * service, and `hawatch_perfdata{host,service,label,unit}` for each latest perfdata value.
 * Values come from the live state (not the store), so a scrape reads no database and still
 * answers while the store is degraded.
 *
 * Cardinality is bounded, as Prometheus needs: at most server.metrics_max_labels_per_service
 * labels of one object (the first ones, in the plugin's order) and server.metrics_max_series
 * perfdata series in total; a service with `metrics: false` exports its state only. What was
 * left out is counted in hawatch_perfdata_series_dropped, never silently.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Monitor } from '../core/monitor.ts';
import { samplesOf } from '../core/perfdata-history.ts';

/** The state as a number: 0 OK/UP, 1 WARNING/DOWN, 2 CRITICAL/UNREACHABLE, 3 UNKNOWN, -1 not checked yet. */
export function perfdataGauges(registry: Registry, monitor: () => Monitor): void {
  let dropped = 0;
  let exported = 0;
  new Gauge({
    name: 'hawatch_object_state',
    help: 'State of each host (service empty) and service: 0 OK or UP, 1 WARNING or DOWN, 2 CRITICAL or UNREACHABLE, 3 UNKNOWN, -1 pending',
    labelNames: ['host', 'service'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of monitor().allStatuses()) this.set({ host: s.hostName, service: s.serviceName ?? '' }, s.checked ? s.state : -1);
    },
  });
  new Gauge({
    name: 'hawatch_perfdata',
    help: 'Latest perfdata value of each host and service by label, in its unit as given (for unit c, a counter: use rate())',
    labelNames: ['host', 'service', 'label', 'unit'],
    registers: [registry],
    collect() {
      this.reset();
      const m = monitor();
      const srv = m.inventory.server;
      dropped = 0;
      exported = 0;
      for (const s of m.allStatuses()) {
        if (!s.checked || !s.perfdata) continue;
        const o = m.object(s.key);
        if (o?.kind === 'service' && o.service.metrics === false) continue;
        const samples = samplesOf(s.perfdata);
        const seen = new Set<string>();
        let mine = 0;
        for (const p of samples) {
          if (seen.has(p.label)) continue; // a label given twice: the first, as graphers do
          seen.add(p.label);
          if (mine >= srv.metricsMaxLabelsPerService || exported >= srv.metricsMaxSeries) {
            dropped++;
            continue;
          }
          this.set({ host: s.hostName, service: s.serviceName ?? '', label: p.label, unit: p.unit }, p.value);
          mine++;
          exported++;
        }
      }
    },
  });
  new Gauge({
    name: 'hawatch_perfdata_series',
    help: 'Perfdata series exported in hawatch_perfdata at the last scrape',
    registers: [registry],
    collect() {
      this.set(exported);
    },
  });
  new Gauge({
    name: 'hawatch_perfdata_series_dropped',
    help: 'Perfdata series left out at the last scrape by server.metrics_max_labels_per_service or server.metrics_max_series (raise them, or set metrics: false on noisy services)',
    registers: [registry],
    collect() {
      this.set(dropped);
    },
  });
}
