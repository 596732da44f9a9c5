/**
 * check_swap's judgement (monitoring-plugins 2.3): free swap is SwapFree plus SwapCached (pages
 * in swap that also sit in memory cost nothing to drop); a percent threshold alerts when the
 * whole-number used percentage reaches 100 minus it, a size threshold when free swap is at or
 * below it. No swap at all gives the -n state (CRITICAL by default). Pure.
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { detail, type CheckResult } from '../../nagios/result.ts';
import { State, worst, type StateCode } from '../../nagios/states.ts';
import { mib, type FreeThreshold } from '../lib/host.ts';

export interface SwapSpace {
  readonly name: string;
  readonly totalBytes: number;
  readonly freeBytes: number;
}

export interface SwapInput {
  readonly total: SwapSpace;
  /** With -a: each swap area judged on its own. */
  readonly areas?: readonly SwapSpace[] | undefined;
  readonly warning: readonly FreeThreshold[];
  readonly critical: readonly FreeThreshold[];
  readonly noSwapState: StateCode;
}

function alerts(s: SwapSpace, list: readonly FreeThreshold[]): boolean {
  const usedPct = Math.floor(((s.totalBytes - s.freeBytes) / s.totalBytes) * 100);
  return list.some((t) => (t.percent !== undefined ? usedPct >= 100 - t.percent : t.bytes !== undefined && s.freeBytes <= t.bytes));
}

export function judgeSwap(s: SwapSpace, i: Pick<SwapInput, 'warning' | 'critical' | 'noSwapState'>): StateCode {
  if (s.totalBytes <= 0) return i.noSwapState;
  if (alerts(s, i.critical)) return State.CRITICAL;
  if (alerts(s, i.warning)) return State.WARNING;
  return State.OK;
}

function freePct(s: SwapSpace): number {
  return s.totalBytes > 0 ? 100 - Math.floor(((s.totalBytes - s.freeBytes) / s.totalBytes) * 100) : 0;
}

/** The free-bytes value printed as the perfdata threshold (the last percent or size given). */
function perfThreshold(list: readonly FreeThreshold[], total: number): string | undefined {
  const t = list[list.length - 1];
  if (!t) return undefined;
  return String(Math.round(t.percent !== undefined ? (t.percent * total) / 100 : (t.bytes ?? 0)));
}

export function evaluateSwap(i: SwapInput): CheckResult {
  const { total } = i;
  const areas = i.areas ?? [];
  let state = areas.length ? State.OK : judgeSwap(total, i);
  const children: CheckResult[] = areas.map((a) => {
    const s = judgeSwap(a, i);
    state = worst(state, s);
    return detail(a.name, s, `${freePct(a)}% free (${mib(a.freeBytes)} MiB out of ${mib(a.totalBytes)} MiB)`);
  });
  if (areas.length === 0 && total.totalBytes <= 0) state = i.noSwapState;
  const perfdata: Perfdata[] = [
    { label: 'swap', value: Math.round(total.freeBytes), uom: 'B', warning: perfThreshold(i.warning, total.totalBytes), critical: perfThreshold(i.critical, total.totalBytes), min: 0, max: Math.round(total.totalBytes) },
  ];
  let summary = `${freePct(total)}% free (${mib(total.freeBytes)} MiB out of ${mib(total.totalBytes)} MiB)`;
  if (total.totalBytes <= 0) summary += ' - swap is disabled, not present or of zero size';
  return { state, summary, perfdata, children };
}
