/**
 * The Nagios threshold range grammar: `[@]start:end`.
 *
 *   10      alert if x < 0 or x > 10
 *   10:     alert if x < 10
 *   ~:10    alert if x > 10
 *   10:20   alert if x < 10 or x > 20
 *   @10:20  alert if 10 <= x <= 20
 *
 * Bounds are inclusive, `~` is minus infinity, a missing end is plus infinity, a missing
 * start is 0. Decimals, negatives and exponents are accepted (monitoring-plugins uses strtod).
 */
import { State, type StateCode } from './states.ts';

export interface Range {
  readonly start: number;
  readonly end: number;
  /** true for `@`: alert when the value is inside the range instead of outside. */
  readonly alertInside: boolean;
  /** The text as given, printed back in perfdata so the shown threshold is the evaluated one. */
  readonly text: string;
}

export class RangeError extends Error {
  override name = 'RangeError';
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseBound(s: string, what: string, whole: string): number {
  if (!NUMBER.test(s)) {
    throw new RangeError(`invalid threshold range ${whole}: ${what} ${s} is not a number (expected forms: 10, 10:, 10:20, @10:20, and a tilde before the colon for no lower bound)`);
  }
  return Number(s);
}

export function parseRange(input: string): Range {
  const text = input.trim();
  if (text === '') throw new RangeError('invalid threshold range: it is empty (expected forms: 10, 10:, 10:20, @10:20, and a tilde before the colon for no lower bound)');
  let body = text;
  let alertInside = false;
  if (body.startsWith('@')) {
    alertInside = true;
    body = body.slice(1);
  }
  let start = 0;
  let end = Infinity;
  const colon = body.indexOf(':');
  if (colon === -1) {
    end = parseBound(body, 'end', text);
  } else {
    if (body.indexOf(':', colon + 1) !== -1) {
      throw new RangeError(`invalid threshold range ${text}: more than one colon (expected forms: 10, 10:, 10:20, @10:20, and a tilde before the colon for no lower bound)`);
    }
    const s = body.slice(0, colon);
    const e = body.slice(colon + 1);
    if (s === '~') start = -Infinity;
    else if (s !== '') start = parseBound(s, 'start', text);
    if (e !== '') end = parseBound(e, 'end', text);
  }
  if (start > end) {
    throw new RangeError(`invalid threshold range ${text}: start ${start} is greater than end ${end}`);
  }
  return { start, end, alertInside, text };
}

/** True when `value` triggers an alert for `range`. */
export function rangeAlerts(range: Range, value: number): boolean {
  const inside = value >= range.start && value <= range.end;
  return range.alertInside ? inside : !inside;
}

export interface Thresholds {
  readonly warning?: Range | undefined;
  readonly critical?: Range | undefined;
}

export function parseThresholds(warning?: string, critical?: string): Thresholds {
  return {
    warning: warning === undefined ? undefined : parseRange(warning),
    critical: critical === undefined ? undefined : parseRange(critical),
  };
}

/** CRITICAL if the critical range alerts, else WARNING if the warning range does, else OK. */
export function checkThresholds(value: number, t: Thresholds): StateCode {
  if (t.critical && rangeAlerts(t.critical, value)) return State.CRITICAL;
  if (t.warning && rangeAlerts(t.warning, value)) return State.WARNING;
  return State.OK;
}

/** A short human description of when a range alerts, for long output ("above 30", "below 2"). */
export function describeRange(range: Range): string {
  // Words, not < and >: Nagios strips those from notifications (illegal_macro_output_chars).
  const { start, end, alertInside } = range;
  if (alertInside) {
    if (start === -Infinity) return `at most ${end}`;
    if (end === Infinity) return `at least ${start}`;
    return `in ${start}..${end}`;
  }
  if (start === -Infinity) return `above ${end}`;
  if (end === Infinity) return `below ${start}`;
  if (start === 0 && end >= 0) return `above ${end}`;
  return `outside ${start}..${end}`;
}

/**
 * The same range with both bounds multiplied by `factor` (> 0), its text rewritten to match:
 * thresholds are given in a friendly unit (MiB) while the perfdata they are attached to is
 * printed in the base unit (B), and the printed warn/crit must be in the perfdata's unit.
 */
export function scaleRange(range: Range, factor: number): Range {
  if (!(factor > 0) || !Number.isFinite(factor)) throw new RangeError(`cannot scale a threshold range by ${factor}`);
  // Rounded to 15 digits so that 0.1 x 3 is 0.3, in the bounds as in the text.
  const round = (n: number): number => (Number.isFinite(n) ? Number(n.toPrecision(15)) : n);
  const start = round(range.start * factor);
  const end = round(range.end * factor);
  const num = (n: number): string => (Number.isInteger(n) ? n.toFixed(0) : String(n));
  const s = start === -Infinity ? '~' : num(start);
  let text: string;
  if (end === Infinity) text = `${s}:`;
  else if (start === 0) text = num(end);
  else text = `${s}:${num(end)}`;
  return { start, end, alertInside: range.alertInside, text: (range.alertInside ? '@' : '') + text };
}
