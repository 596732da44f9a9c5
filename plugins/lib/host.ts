/**
 * What the host-basics checks (load, users, swap, memory, procs, disk) share: monitoring-plugins'
 * "free space" threshold grammar (`20%` or a size), /proc/meminfo, and MiB figures. Pure.
 */
import { PluginError } from '../../nagios/plugin.ts';

/** A "less than this much free" threshold: check_swap and check_disk read `-w 20%` or `-w 100`. */
export interface FreeThreshold {
  readonly percent?: number | undefined;
  readonly bytes?: number | undefined;
  /** As given, for messages. */
  readonly text: string;
}

const UNIT: Record<string, number> = {
  b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
};

/**
 * `20%` (percent free) or `N[unit]` (free size; a bare number is in `bareUnit` bytes, which is
 * 1 for check_swap and 1 MiB for check_disk, as in monitoring-plugins; KB, MB, GB and TB are
 * binary multiples there too).
 */
export function parseFreeThreshold(text: string, bareUnit: number, option: string): FreeThreshold {
  const t = text.trim();
  const m = /^(\d+(?:\.\d+)?)\s*(%|[a-zA-Z]*)$/.exec(t);
  if (!m) throw new PluginError(`invalid ${option} ${t}: expected a percentage of free space (20%) or a free size (100, 100MB, 2GB)`);
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  if (unit === '%') {
    if (n > 100) throw new PluginError(`invalid ${option} ${t}: a percentage is at most 100`);
    return { percent: n, text: t };
  }
  if (unit === '') return { bytes: n * bareUnit, text: t };
  const mult = UNIT[unit.toLowerCase()];
  if (mult === undefined) throw new PluginError(`invalid ${option} ${t}: unknown unit ${unit} (use B, KB, MB, GB or TB)`);
  return { bytes: n * mult, text: t };
}

/** Key -> bytes (kB values converted; HugePages counts kept as they are). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(\s+kB)?\s*$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]) * (m[3] ? 1024 : 1));
  }
  return out;
}

export function mib(bytes: number): string {
  return String(Math.round(bytes / 1024 ** 2));
}

/** 23.5 GiB, 812 MiB: for memory sizes in long output. */
export function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 || v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}
