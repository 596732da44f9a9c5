/** /proc/loadavg and /sys/devices/system/cpu/online. Pure. */
import { PluginError } from '../../nagios/plugin.ts';

export interface LoadAvg {
  readonly load: readonly [number, number, number];
  readonly running?: number | undefined;
  readonly total?: number | undefined;
}

/** `2.48 2.95 5.39 2/121 10021` (the uptime format `load average: 2.48, 2.95, 5.39` is read too). */
export function parseLoadavg(text: string): LoadAvg {
  const proc = /^\s*(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)(?:\s+(\d+)\/(\d+))?/.exec(text);
  if (proc) {
    return { load: [Number(proc[1]), Number(proc[2]), Number(proc[3])], running: proc[4] ? Number(proc[4]) : undefined, total: proc[5] ? Number(proc[5]) : undefined };
  }
  const up = /load averages?:\s*(\d+(?:[.,]\d+)?),?\s+(\d+(?:[.,]\d+)?),?\s+(\d+(?:[.,]\d+)?)/.exec(text);
  if (up) return { load: [Number(up[1]!.replace(',', '.')), Number(up[2]!.replace(',', '.')), Number(up[3]!.replace(',', '.'))] };
  throw new PluginError('cannot read the load averages: expected /proc/loadavg (three numbers, then running/total) or uptime output')
}

/** `0-3,8-11` -> 8: how glibc counts online CPUs for sysconf(_SC_NPROCESSORS_ONLN), as check_load does. */
export function countCpuList(text: string): number | undefined {
  let n = 0;
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    n += m[2] === undefined ? 1 : Number(m[2]) - Number(m[1]) + 1;
  }
  return n > 0 ? n : undefined;
}

/** `-w .15,.10,.05` or `-w 5` (one value for all three), as check_load reads it. */
export function parseTriplet(text: string, option: string): [number, number, number] {
  const parts = text.split(',').map((s) => s.trim());
  const nums = parts.map((p) => (/^(\d+(\.\d*)?|\.\d+)$/.test(p) ? Number(p) : NaN));
  if (parts.length > 3 || nums.some((n) => Number.isNaN(n))) {
    throw new PluginError(`invalid ${option} ${text}: expected LOAD1,LOAD5,LOAD15 (or one number for all three), e.g. 5,4,3`);
  }
  const [a, b = a, c = b] = nums as [number, number?, number?];
  return [a, b, c];
}
