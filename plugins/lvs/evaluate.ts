/** Judges IPVS virtual services by how many of their real servers can take traffic (weight > 0). */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { checkThresholds, describeRange, type Thresholds } from '../../nagios/range.ts';
import { detail, group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State } from '../../nagios/states.ts';
import type { ServiceCounters, VirtualService } from './parse.ts';

export function serviceLabel(key: string): string {
  return key.toLowerCase().replace(/\s+/g, '_').replace(/[[\]]/g, '');
}

export interface LvsObservation {
  readonly services: readonly VirtualService[];
  /** --service filters; each must exist. */
  readonly wanted: readonly string[];
  readonly thresholds: Thresholds;
  /** True when -w was not given: warn when some real servers are at weight 0. */
  readonly warnOnQuiesced: boolean;
  readonly stats?: { columns: string[]; services: ServiceCounters[] } | undefined;
  readonly rate?: { columns: string[]; services: ServiceCounters[] } | undefined;
  /** How the input was read, when it matters to the reader (the kernel's hex table). */
  readonly note?: string | undefined;
}

const COUNTER_LABEL: Record<string, { label: string; uom: 'c' | '' }> = {
  Conns: { label: 'conns', uom: 'c' }, InPkts: { label: 'inpkts', uom: 'c' }, OutPkts: { label: 'outpkts', uom: 'c' },
  InBytes: { label: 'inbytes', uom: 'c' }, OutBytes: { label: 'outbytes', uom: 'c' },
  CPS: { label: 'cps', uom: '' }, InPPS: { label: 'inpps', uom: '' }, OutPPS: { label: 'outpps', uom: '' }, InBPS: { label: 'inbps', uom: '' }, OutBPS: { label: 'outbps', uom: '' },
};

function norm(key: string): string {
  return key.replace(/\s+/g, ' ').trim().toUpperCase();
}

export function evaluateLvs(o: LvsObservation): CheckResult {
  const children: CheckResult[] = [];
  const perf: Perfdata[] = [];
  const wanted = new Set(o.wanted.map(norm));
  const chosen = wanted.size ? o.services.filter((s) => wanted.has(norm(s.key)) || wanted.has(norm(s.address))) : o.services;
  for (const w of o.wanted) {
    if (!o.services.some((s) => norm(s.key) === norm(w) || norm(s.address) === norm(w))) children.push(leaf(w, State.CRITICAL, 'virtual service not configured'));
  }
  if (o.services.length === 0 && o.wanted.length === 0) children.push(leaf('services', State.CRITICAL, 'no IPVS virtual service is configured'));
  let usableTotal = 0;
  for (const s of chosen) {
    const usable = s.realServers.filter((r) => r.weight > 0);
    const quiesced = s.realServers.filter((r) => r.weight <= 0);
    usableTotal += usable.length;
    const active = s.realServers.reduce((n, r) => n + r.activeConns, 0);
    const inactive = s.realServers.reduce((n, r) => n + r.inactiveConns, 0);
    const label = serviceLabel(s.key);
    perf.push({ label: `${label}_usable`, value: usable.length, warning: o.thresholds.warning, critical: o.thresholds.critical, min: 0, max: s.realServers.length });
    perf.push({ label: `${label}_active`, value: active, min: 0 }, { label: `${label}_inactive`, value: inactive, min: 0 });
    let st = checkThresholds(usable.length, o.thresholds);
    if (st === State.OK && o.warnOnQuiesced && quiesced.length > 0) st = State.WARNING;
    const bound = st === State.CRITICAL && o.thresholds.critical ? ` (critical when ${describeRange(o.thresholds.critical)})` : st === State.WARNING && o.thresholds.warning ? ` (warning when ${describeRange(o.thresholds.warning)})` : '';
    const down = quiesced.length ? `, weight 0: ${quiesced.map((r) => r.address).join(', ')}` : '';
    // Each real server line is tagged with its own state (weight 0 takes no new connection:
    // WARNING), whatever the service was judged; the service line carries the verdict.
    const servers = s.realServers.map((r) => detail(r.address, r.weight > 0 ? State.OK : State.WARNING, `${r.forward} weight ${r.weight}${r.weight > 0 ? '' : ' (quiesced: no new connections)'}, ${r.activeConns} active, ${r.inactiveConns} inactive`));
    children.push({ name: s.key, state: st, summary: `${usable.length} of ${s.realServers.length} real servers usable${bound}${down} (${s.scheduler}${s.flags ? ` ${s.flags}` : ''})`, children: servers });
    for (const [what, data] of [['stats', o.stats], ['rate', o.rate]] as const) {
      const c = data?.services.find((x) => norm(x.key) === norm(s.key));
      if (!data || !c) continue;
      data.columns.forEach((col, i) => {
        const spec = COUNTER_LABEL[col];
        const v = c.values[i];
        if (spec && v !== undefined && Number.isFinite(v)) perf.push({ label: `${label}_${spec.label}`, value: v, uom: spec.uom, min: 0 });
      });
      void what;
    }
  }
  if (o.note) children.push(detail('input', State.OK, o.note));
  perf.push({ label: 'services', value: chosen.length, min: 0 });
  return group('', `${chosen.length} virtual service${chosen.length === 1 ? '' : 's'}, ${usableTotal} usable real server${usableTotal === 1 ? '' : 's'}`, children, perf);
}
