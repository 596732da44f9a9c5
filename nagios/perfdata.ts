/**
 * Performance data: `'label'=value[UOM];[warn];[crit];[min];[max]`, space separated.
 */
import type { Range } from './range.ts';

export const UNITS = ['', 's', 'ms', 'us', '%', 'B', 'KB', 'MB', 'GB', 'TB', 'c'] as const;
export type Unit = (typeof UNITS)[number];

export interface Perfdata {
  readonly label: string;
  /**
   * `'U'` when the value could not be determined. Such an item is left out of the output:
   * the plugin guidelines allow `U`, but Icinga 2.13 rejects the whole check result's
   * perfdata for it, and a gap in the graph says the same thing.
   */
  readonly value: number | 'U';
  readonly uom?: Unit | undefined;
  readonly warning?: Range | string | undefined;
  readonly critical?: Range | string | undefined;
  readonly min?: number | undefined;
  readonly max?: number | undefined;
}

/** Quotes a label when needed; `'` is escaped as `''`. `=` is not allowed in labels. */
export function formatLabel(label: string): string {
  const clean = label.replace(/=/g, '_');
  if (/[\s'"|]/.test(clean) || clean === '') return `'${clean.replace(/'/g, "''")}'`;
  return clean;
}

/** Plain decimal notation, no exponent, at most 6 decimals, no trailing zeros. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? '' : '';
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? n.toFixed(0) : BigInt(n).toString();
  let s = n.toFixed(6);
  s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

function rangeText(r: Range | string | undefined): string {
  if (r === undefined) return '';
  return typeof r === 'string' ? r : r.text;
}

/** One item as printed; empty for an undetermined (`U`) value, which is left out. */
export function formatPerfdata(p: Perfdata): string {
  if (p.value === 'U' || !Number.isFinite(p.value)) return '';
  const fields = [
    `${formatLabel(p.label)}=${formatNumber(p.value)}${p.uom ?? ''}`,
    rangeText(p.warning),
    rangeText(p.critical),
    p.min === undefined ? '' : formatNumber(p.min),
    p.max === undefined ? '' : formatNumber(p.max),
  ];
  while (fields.length > 1 && fields[fields.length - 1] === '') fields.pop();
  return fields.join(';');
}

export function formatPerfdataList(list: readonly Perfdata[]): string {
  return list.map(formatPerfdata).filter((t) => t !== '').join(' ');
}

/** A perfdata item as parsed from plugin output (ranges kept as text). */
export interface ParsedPerfdata {
  readonly label: string;
  readonly value: number | 'U';
  readonly uom: string;
  readonly warning?: string | undefined;
  readonly critical?: string | undefined;
  readonly min?: number | undefined;
  readonly max?: number | undefined;
}

function optNumber(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  const n = Number(s.replace(',', '.'));
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parses a perfdata string leniently, as graphers do: malformed items are skipped and
 * reported in `errors` rather than failing the whole result.
 */
export function parsePerfdata(text: string): { items: ParsedPerfdata[]; errors: string[] } {
  const items: ParsedPerfdata[] = [];
  const errors: string[] = [];
  let i = 0;
  const s = text;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    let label = '';
    if (s[i] === "'") {
      i++;
      for (;;) {
        if (i >= s.length) break;
        if (s[i] === "'") {
          if (s[i + 1] === "'") { label += "'"; i += 2; continue; }
          i++;
          break;
        }
        label += s[i];
        i++;
      }
    } else {
      while (i < s.length && s[i] !== '=' && !/\s/.test(s[i]!)) { label += s[i]; i++; }
    }
    if (s[i] !== '=') {
      let j = i;
      while (j < s.length && !/\s/.test(s[j]!)) j++;
      errors.push(`perfdata item '${label}${s.slice(i, j)}' has no '='`);
      i = j;
      continue;
    }
    i++;
    let j = i;
    while (j < s.length && !/\s/.test(s[j]!)) j++;
    const rest = s.slice(i, j);
    i = j;
    const [valueUom = '', warning, critical, min, max] = rest.split(';');
    const m = /^(U|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z%]*)$/.exec(valueUom.replace(',', '.'));
    if (!m) {
      errors.push(`perfdata item '${label}' has an invalid value '${valueUom}'`);
      continue;
    }
    items.push({
      label,
      value: m[1] === 'U' ? 'U' : Number(m[1]),
      uom: m[2] ?? '',
      warning: warning || undefined,
      critical: critical || undefined,
      min: optNumber(min),
      max: optNumber(max),
    });
  }
  return { items, errors };
}
