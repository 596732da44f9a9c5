/**
 * Perfdata as people read it: `out_of_sync 7.00 GiB`, `lag 3 s`, `connections 12 (warn 80, crit 95)`
 * instead of `'r0/0 out_of_sync'=7516192768B;;;0`. Used by the overview (a field of the status
 * API), the host view and the cluster view. Bytes are shown in binary units (what the kernel and
 * DRBD count in), seconds scaled up and down, counters as counts.
 */
import { parsePerfdata, type ParsedPerfdata } from '../../nagios/perfdata.ts';

const BYTE_UNITS: Readonly<Record<string, number>> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const SECOND_UNITS: Readonly<Record<string, number>> = { s: 1, ms: 1e-3, us: 1e-6 };

function trim(n: number, digits: number): string {
  return n.toFixed(digits);
}

export function formatBytes(bytes: number): string {
  const a = Math.abs(bytes);
  const steps: [number, string][] = [[1024 ** 4, 'TiB'], [1024 ** 3, 'GiB'], [1024 ** 2, 'MiB'], [1024, 'KiB']];
  for (const [f, u] of steps) if (a >= f) return `${trim(bytes / f, 2)} ${u}`;
  return `${bytes} B`;
}

export function formatSeconds(s: number): string {
  const a = Math.abs(s);
  if (a === 0) return '0 s';
  if (a < 1e-3) return `${+(s * 1e6).toPrecision(3)} us`;
  if (a < 1) return `${+(s * 1e3).toPrecision(3)} ms`;
  if (a < 120) return `${+s.toPrecision(3)} s`;
  if (a < 7200) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  if (a < 172800) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.round((s % 86400) / 3600)} h`;
}

function plain(n: number): string {
  return Number.isInteger(n) ? String(n) : String(+n.toPrecision(4));
}

/** One value with its unit, readable: 7516192768 B is 7.00 GiB, 0.25 s is 250 ms, 42 c is 42. */
export function formatValue(value: number, uom: string): string {
  if (uom in BYTE_UNITS) return formatBytes(value * BYTE_UNITS[uom]!);
  if (uom in SECOND_UNITS) return formatSeconds(value * SECOND_UNITS[uom]!);
  if (uom === '%') return `${plain(value)}%`;
  if (uom === 'c') return plain(value);
  return uom === '' ? plain(value) : `${plain(value)} ${uom}`;
}

/** A threshold range in the value's unit: 1073741824 with B is 1.00 GiB; ranges with : kept as given. */
function formatRange(r: string, uom: string): string {
  const n = Number(r);
  return r !== '' && Number.isFinite(n) ? formatValue(n, uom) : r;
}

export interface ReadablePerf {
  readonly label: string;
  readonly text: string;
}

/** `out_of_sync 7.00 GiB (warn 1.00 GiB)`: the label stripped of its resource prefix quotes, the value, the thresholds. */
export function readableItem(p: ParsedPerfdata): ReadablePerf {
  const value = p.value === 'U' ? 'unknown' : formatValue(p.value, p.uom);
  const limits: string[] = [];
  if (p.warning) limits.push(`warn ${formatRange(p.warning, p.uom)}`);
  if (p.critical) limits.push(`crit ${formatRange(p.critical, p.uom)}`);
  return { label: p.label, text: `${p.label} ${value}${limits.length ? ` (${limits.join(', ')})` : ''}` };
}

// The overview formats every object's perfdata on every refresh: most strings repeat between
// refreshes, so keep the answers for a bounded number of them.
const cache = new Map<string, ReadablePerf[]>();
const CACHE_MAX = 20_000;

/** Every item of a perfdata string, readable; malformed items are left out (the raw string stays available). */
export function readablePerfdata(text: string): ReadablePerf[] {
  if (text === '') return [];
  const hit = cache.get(text);
  if (hit) return hit;
  const out = parsePerfdata(text).items.map(readableItem);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(text, out);
  return out;
}
