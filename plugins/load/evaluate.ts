/**
 * check_load's judgement: each of the 1, 5 and 15 minute averages against its own threshold
 * (strictly above alerts); with -r, divided by the number of CPUs first, the raw values shown too.
 */
import { parseRange } from '../../nagios/range.ts';
import type { Perfdata } from '../../nagios/perfdata.ts';
import { detail, type CheckResult } from '../../nagios/result.ts';
import { State, worst, type StateCode } from '../../nagios/states.ts';

export interface LoadInput {
  readonly load: readonly [number, number, number];
  readonly cpus: number;
  readonly perCpu: boolean;
  readonly warning?: readonly [number, number, number] | undefined;
  readonly critical?: readonly [number, number, number] | undefined;
}

const MINUTES = [1, 5, 15] as const;

const two = (n: number): string => n.toFixed(2);

export function evaluateLoad(i: LoadInput): CheckResult {
  const scaled = i.load.map((l) => (i.perCpu ? l / i.cpus : l));
  let state: StateCode = State.OK;
  const perfdata: Perfdata[] = [];
  for (const k of [0, 1, 2] as const) {
    const w = i.warning?.[k];
    const c = i.critical?.[k];
    if (c !== undefined && scaled[k]! > c) state = worst(state, State.CRITICAL);
    else if (w !== undefined && scaled[k]! > w) state = worst(state, State.WARNING);
    const wr = w === undefined ? undefined : parseRange(String(w));
    const cr = c === undefined ? undefined : parseRange(String(c));
    // As check_load: thresholds go on the figure they judge (the scaled one with -r).
    perfdata.push({ label: `load${MINUTES[k]}`, value: i.load[k]!, ...(i.perCpu ? {} : { warning: wr, critical: cr }), min: 0 });
    if (i.perCpu) perfdata.push({ label: `scaled_load${MINUTES[k]}`, value: Number(scaled[k]!.toFixed(3)), warning: wr, critical: cr, min: 0 });
  }
  const total = `total load average: ${i.load.map(two).join(', ')}`;
  const summary = i.perCpu ? `scaled load average: ${scaled.map(two).join(', ')} - ${total}` : total;
  const children = i.perCpu ? [detail('cpus', State.OK, `${i.cpus} online, the load averages are divided by this`)] : [];
  return { state, summary, perfdata, children };
}
