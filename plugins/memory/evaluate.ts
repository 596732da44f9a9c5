/**
 * Memory judged on MemAvailable (the kernel's estimate of what can be allocated without
 * swapping: free memory plus the page cache and slab that can be dropped), with thresholds in
 * check_swap's grammar: a percentage of available memory or an available size. Pure.
 */
import { PluginError } from '../../nagios/plugin.ts';
import type { Perfdata } from '../../nagios/perfdata.ts';
import { detail, type CheckResult } from '../../nagios/result.ts';
import { State, type StateCode } from '../../nagios/states.ts';
import { humanBytes, parseMeminfo, type FreeThreshold } from '../lib/host.ts';

export interface MemoryFigures {
  readonly total: number;
  readonly available: number;
  readonly free: number;
  readonly buffers: number;
  readonly cached: number;
}

export function memoryFromMeminfo(text: string): MemoryFigures {
  const m = parseMeminfo(text);
  const total = m.get('MemTotal');
  const free = m.get('MemFree');
  if (total === undefined || free === undefined) throw new PluginError('cannot read memory figures: no MemTotal or MemFree line in /proc/meminfo (give /proc/meminfo content to --input-file)');
  const buffers = m.get('Buffers') ?? 0;
  const cached = (m.get('Cached') ?? 0) + (m.get('SReclaimable') ?? 0);
  // Kernels before 3.14 have no MemAvailable: free + buffers + cache is the old estimate.
  const available = m.get('MemAvailable') ?? free + buffers + cached;
  return { total, available, free, buffers, cached };
}

function alerts(f: MemoryFigures, list: readonly FreeThreshold[]): boolean {
  const pct = (f.available / f.total) * 100;
  return list.some((t) => (t.percent !== undefined ? pct <= t.percent : t.bytes !== undefined && f.available <= t.bytes));
}

function perfThreshold(list: readonly FreeThreshold[], total: number): string | undefined {
  const t = list[list.length - 1];
  if (!t) return undefined;
  return `${Math.round(t.percent !== undefined ? (t.percent * total) / 100 : (t.bytes ?? 0))}:`;
}

export function evaluateMemory(f: MemoryFigures, warning: readonly FreeThreshold[], critical: readonly FreeThreshold[]): CheckResult {
  let state: StateCode = State.OK;
  if (alerts(f, critical)) state = State.CRITICAL;
  else if (alerts(f, warning)) state = State.WARNING;
  const pct = Math.floor((f.available / f.total) * 100);
  const used = f.total - f.available;
  const perfdata: Perfdata[] = [
    { label: 'mem_available', value: f.available, uom: 'B', warning: perfThreshold(warning, f.total), critical: perfThreshold(critical, f.total), min: 0, max: f.total },
    { label: 'mem_used', value: used, uom: 'B', min: 0, max: f.total },
    { label: 'mem_free', value: f.free, uom: 'B', min: 0, max: f.total },
    { label: 'mem_buffers_cache', value: f.buffers + f.cached, uom: 'B', min: 0, max: f.total },
  ];
  return {
    state,
    summary: `${pct}% available (${humanBytes(f.available)} out of ${humanBytes(f.total)})`,
    perfdata,
    children: [detail('memory', State.OK, `${humanBytes(used)} used, ${humanBytes(f.free)} free, ${humanBytes(f.buffers + f.cached)} buffers and cache`)],
  };
}
