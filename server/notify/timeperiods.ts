/**
 * Nagios 4 time periods, pure: the directive syntax of `define timeperiod` (weekdays,
 * calendar dates, month dates, nth weekdays, `day N`, ranges with skip intervals) and
 * `exclude`, evaluated in one IANA time zone through Intl (so DST is the zone database's,
 * never a hand-made offset).
 *
 * Semantics (Nagios 4 object definitions, "Precedence in Time Periods"):
 * - On a given local day, the directive class of highest precedence that matches the day
 *   decides the day's time ranges: calendar date > specific month date > generic month date
 *   (`day N`) > nth weekday of a specific month > nth weekday > plain weekday. A lower class
 *   is not consulted when a higher one matched, so `2026-12-25 10:00-12:00` makes Christmas
 *   10 to 12 only, even on a weekday with 09:00-17:00.
 * - Within the winning class every matching line counts (their ranges are united). Nagios
 *   takes one line in list order there; the union only differs when lines of one class
 *   overlap the same day, and then it is the reading a person expects.
 * - A time is in the period when it is in the day's ranges and in no excluded period (each
 *   excluded period with its own exclusions, recursively).
 * - Ranges are wall-clock times of the local day, end exclusive, 24:00 the end of the day.
 *   A range cannot cross midnight: write `22:00-24:00` on one day and `00:00-06:00` on the
 *   next, as Nagios wants. On a DST day a range means the wall clock: 09:00-17:00 is 8 h of
 *   wall time (7 or 9 elapsed hours only if the change falls inside it); a range inside the
 *   skipped hour matches nothing.
 */

export interface TimeRange {
  /** Seconds since local midnight, inclusive. */
  readonly start: number;
  /** Seconds since local midnight, exclusive; 86400 = 24:00. */
  readonly end: number;
}

/** Nagios' daterange classes, in precedence order (index 0 wins). */
export const DATE_CLASSES = ['calendar', 'month_date', 'month_day', 'month_week_day', 'week_day', 'weekday'] as const;
export type DateClass = (typeof DATE_CLASSES)[number];

export type DateSpec =
  | { readonly kind: 'calendar'; readonly start: YMD; readonly end: YMD | 'open'; readonly skip: number }
  | { readonly kind: 'month_date'; readonly smon: number; readonly sday: number; readonly emon: number; readonly eday: number; readonly skip: number }
  | { readonly kind: 'month_day'; readonly sday: number; readonly eday: number; readonly skip: number }
  | { readonly kind: 'month_week_day'; readonly swd: number; readonly soff: number; readonly smon: number; readonly ewd: number; readonly eoff: number; readonly emon: number; readonly skip: number }
  | { readonly kind: 'week_day'; readonly swd: number; readonly soff: number; readonly ewd: number; readonly eoff: number; readonly skip: number }
  | { readonly kind: 'weekday'; readonly wd: number };

export interface YMD {
  readonly y: number;
  /** 1..12 */
  readonly m: number;
  readonly d: number;
}

export interface PeriodLine {
  /** The line as written (for messages and the Nagios export). */
  readonly text: string;
  /** The date part in Nagios' own spelling (lower case, single spaces). */
  readonly date: string;
  readonly spec: DateSpec;
  readonly ranges: readonly TimeRange[];
}

export interface TimePeriod {
  readonly name: string;
  readonly alias: string;
  readonly lines: readonly PeriodLine[];
  /** Excluded periods, resolved (the loader refuses unknown names and cycles). */
  readonly excludes: readonly TimePeriod[];
}

export const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
export const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'] as const;

/** The period every object has unless told otherwise (Nagios sample config's 24x7). */
export const TWENTY_FOUR_SEVEN: TimePeriod = {
  name: '24x7',
  alias: '24 hours a day, 7 days a week',
  lines: WEEKDAYS.map((w, i) => ({ text: `${w} 00:00-24:00`, date: w, spec: { kind: 'weekday', wd: i } as const, ranges: [{ start: 0, end: 86_400 }] })),
  excludes: [],
};

export class TimePeriodSyntaxError extends Error {
  override name = 'TimePeriodSyntaxError';
}

const WD = `(${WEEKDAYS.join('|')})`;
const MON = `(${MONTHS.join('|')})`;
const N = '(-?\\d+)';
const SKIP = '(?:\\s*/\\s*(\\d+))?';
const DATE = '(\\d{4})-(\\d{2})-(\\d{2})';

const RE = {
  calendar: new RegExp(`^${DATE}(?:\\s*-\\s*${DATE})?${SKIP}$`),
  monthDay: new RegExp(`^day\\s+${N}(?:\\s*-\\s*${N})?${SKIP}$`),
  monthWeekDay: new RegExp(`^${WD}\\s+${N}\\s+${MON}(?:\\s*-\\s*${WD}\\s+${N}\\s+${MON})?${SKIP}$`),
  monthDate: new RegExp(`^${MON}\\s+${N}(?:\\s*-\\s*(?:${MON}\\s+)?${N})?${SKIP}$`),
  weekDay: new RegExp(`^${WD}\\s+${N}(?:\\s*-\\s*${WD}\\s+${N})?${SKIP}$`),
  weekday: new RegExp(`^${WD}$`),
};

function fail(text: string, why: string): never {
  throw new TimePeriodSyntaxError(`${why} in: ${text}`);
}

function parseRanges(text: string, list: string): TimeRange[] {
  const out: TimeRange[] = [];
  for (const part of list.split(',')) {
    const m = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(part);
    if (!m) fail(text, `time range ${part.trim() || '(empty)'} is not HH:MM-HH:MM`);
    const [sh, sm, eh, em] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
    if (sh > 23 || sm > 59 || em > 59 || eh > 24 || (eh === 24 && em !== 0)) fail(text, `time range ${part.trim()} is not a time of day (00:00 to 24:00)`);
    const start = sh * 3600 + sm * 60;
    const end = eh * 3600 + em * 60;
    // 00:00-00:00 is Nagios' way of saying no time on that day (holiday definitions use it).
    if (end < start) fail(text, `time range ${part.trim()} crosses midnight: write it as two ranges, up to 24:00 on this day and from 00:00 on the next`);
    if (end > start) out.push({ start, end });
  }
  return out;
}

const offset = (text: string, s: string): number => {
  const n = Number(s);
  if (n === 0 || Math.abs(n) > 5) fail(text, `weekday offset ${s} must be 1 to 5 or -1 to -5 (the last is -1)`);
  return n;
};
const mday = (text: string, s: string): number => {
  const n = Number(s);
  if (n === 0 || Math.abs(n) > 31) fail(text, `day of month ${s} must be 1 to 31 or -1 to -31 (the last is -1)`);
  return n;
};
const skipOf = (s: string | undefined): number => (s === undefined ? 1 : Math.max(1, Number(s)));
const wdIndex = (s: string): number => WEEKDAYS.indexOf(s as (typeof WEEKDAYS)[number]);
const monIndex = (s: string): number => MONTHS.indexOf(s as (typeof MONTHS)[number]) + 1;

/** Parses one directive line, e.g. `monday 09:00-17:00,18:00-20:00` or `thursday -1 november 00:00-24:00`. */
export function parsePeriodLine(line: string): PeriodLine {
  const text = line.trim().replace(/\s+/g, ' ');
  const m = /^(.*?)\s+(\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}(?:\s*,\s*\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2})*)$/.exec(text);
  if (!m) fail(text, 'expected a day or date followed by time ranges like 09:00-17:00');
  const date = (m[1] as string).toLowerCase();
  const ranges = parseRanges(text, m[2] as string);
  return { text, date, spec: parseDate(text, date), ranges };
}

function needsRangeForSkip(text: string, hasEnd: boolean, skip: string | undefined): void {
  if (skip !== undefined && !hasEnd) fail(text, 'a skip interval (/ N) needs a date range (start - end / N)');
  if (skip !== undefined && Number(skip) < 1) fail(text, 'a skip interval must be at least 1');
}

function parseDate(text: string, date: string): DateSpec {
  let m: RegExpExecArray | null;
  if ((m = RE.calendar.exec(date))) {
    const start = ymd(text, m[1], m[2], m[3]);
    const end: YMD | 'open' = m[4] !== undefined ? ymd(text, m[4], m[5], m[6]) : m[7] !== undefined ? 'open' : start;
    if (end !== 'open' && dayNumber(end) < dayNumber(start)) fail(text, 'the range ends before it starts');
    return { kind: 'calendar', start, end, skip: skipOf(m[7]) };
  }
  if ((m = RE.monthDay.exec(date))) {
    needsRangeForSkip(text, m[2] !== undefined, m[3]);
    const sday = mday(text, m[1] as string);
    return { kind: 'month_day', sday, eday: m[2] !== undefined ? mday(text, m[2]) : sday, skip: skipOf(m[3]) };
  }
  if ((m = RE.monthWeekDay.exec(date))) {
    needsRangeForSkip(text, m[4] !== undefined, m[7]);
    const swd = wdIndex(m[1] as string);
    const soff = offset(text, m[2] as string);
    const smon = monIndex(m[3] as string);
    if (m[4] === undefined) return { kind: 'month_week_day', swd, soff, smon, ewd: swd, eoff: soff, emon: smon, skip: 1 };
    return { kind: 'month_week_day', swd, soff, smon, ewd: wdIndex(m[4]), eoff: offset(text, m[5] as string), emon: monIndex(m[6] as string), skip: skipOf(m[7]) };
  }
  if ((m = RE.monthDate.exec(date))) {
    needsRangeForSkip(text, m[4] !== undefined, m[5]);
    const smon = monIndex(m[1] as string);
    const sday = mday(text, m[2] as string);
    if (m[4] === undefined) return { kind: 'month_date', smon, sday, emon: smon, eday: sday, skip: 1 };
    return { kind: 'month_date', smon, sday, emon: m[3] !== undefined ? monIndex(m[3]) : smon, eday: mday(text, m[4]), skip: skipOf(m[5]) };
  }
  if ((m = RE.weekDay.exec(date))) {
    needsRangeForSkip(text, m[3] !== undefined, m[5]);
    const swd = wdIndex(m[1] as string);
    const soff = offset(text, m[2] as string);
    if (m[3] === undefined) return { kind: 'week_day', swd, soff, ewd: swd, eoff: soff, skip: 1 };
    return { kind: 'week_day', swd, soff, ewd: wdIndex(m[3]), eoff: offset(text, m[4] as string), skip: skipOf(m[5]) };
  }
  if ((m = RE.weekday.exec(date))) return { kind: 'weekday', wd: wdIndex(m[1] as string) };
  return fail(text, `unknown day or date ${date}; write e.g. monday, 2026-12-25, december 25, day 1 - 15, monday 3, thursday -1 november, 2026-01-01 - 2026-02-01 / 7`);
}

function ymd(text: string, y?: string, m?: string, d?: string): YMD {
  const v = { y: Number(y), m: Number(m), d: Number(d) };
  if (v.m < 1 || v.m > 12 || v.d < 1 || v.d > daysInMonth(v.y, v.m)) fail(text, `${y}-${m}-${d} is not a date`);
  return v;
}

// --- calendar arithmetic on local dates (no time zone involved) ---

const DAY_MS = 86_400_000;
export function dayNumber(d: YMD): number {
  return Math.floor(Date.UTC(d.y, d.m - 1, d.d) / DAY_MS);
}
function fromDayNumber(dn: number): YMD & { wd: number } {
  const x = new Date(dn * DAY_MS);
  return { y: x.getUTCFullYear(), m: x.getUTCMonth() + 1, d: x.getUTCDate(), wd: x.getUTCDay() };
}
function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}
/** Day N of a month (negative: from its end); null when the month has no such day. */
function monthDay(y: number, m: number, n: number): number | null {
  const len = daysInMonth(y, m);
  const d = n > 0 ? n : len + n + 1;
  return d >= 1 && d <= len ? dayNumber({ y, m, d }) : null;
}
/** The `off`-th weekday `wd` of a month (-1 = the last); null when there is none (a 5th Monday). */
function nthWeekday(y: number, m: number, wd: number, off: number): number | null {
  const len = daysInMonth(y, m);
  let d: number;
  if (off > 0) {
    const first = new Date(Date.UTC(y, m - 1, 1)).getUTCDay();
    d = 1 + ((wd - first + 7) % 7) + (off - 1) * 7;
  } else {
    const last = new Date(Date.UTC(y, m - 1, len)).getUTCDay();
    d = len - ((last - wd + 7) % 7) + (off + 1) * 7;
  }
  return d >= 1 && d <= len ? dayNumber({ y, m, d }) : null;
}
const addMonth = (y: number, m: number, k: number): [number, number] => {
  const i = y * 12 + (m - 1) + k;
  return [Math.floor(i / 12), (i % 12) + 1];
};

function within(dn: number, start: number | null, end: number | null, skip: number): boolean {
  if (start === null || end === null) return false;
  return dn >= start && dn <= end && (dn - start) % skip === 0;
}

/** Does the date part of a line cover this local day? */
export function dayMatches(spec: DateSpec, dn: number): boolean {
  const day = fromDayNumber(dn);
  switch (spec.kind) {
    case 'weekday':
      return day.wd === spec.wd;
    case 'calendar':
      return within(dn, dayNumber(spec.start), spec.end === 'open' ? Infinity : dayNumber(spec.end), spec.skip);
    case 'month_date':
      // The range may have begun last year (november 15 - february 15).
      for (const y of [day.y - 1, day.y]) {
        const s = monthDay(y, spec.smon, spec.sday);
        if (s === null) continue;
        let ey = y;
        let e = monthDay(ey, spec.emon, spec.eday) ?? (spec.eday > 0 ? monthDay(ey, spec.emon, -1) : null);
        if (e !== null && e < s) {
          ey++;
          e = monthDay(ey, spec.emon, spec.eday) ?? (spec.eday > 0 ? monthDay(ey, spec.emon, -1) : null);
        }
        if (within(dn, s, e, spec.skip)) return true;
      }
      return false;
    case 'month_day':
      for (const [y, m] of [addMonth(day.y, day.m, -1), [day.y, day.m] as [number, number]]) {
        const s = monthDay(y, m, spec.sday);
        if (s === null) continue;
        let e = monthDay(y, m, spec.eday) ?? (spec.eday > 0 ? monthDay(y, m, -1) : null);
        if (e !== null && e < s) {
          const [ny, nm] = addMonth(y, m, 1);
          e = monthDay(ny, nm, spec.eday);
        }
        if (within(dn, s, e, spec.skip)) return true;
      }
      return false;
    case 'month_week_day':
      for (const y of [day.y - 1, day.y]) {
        const s = nthWeekday(y, spec.smon, spec.swd, spec.soff);
        if (s === null) continue;
        let e = nthWeekday(y, spec.emon, spec.ewd, spec.eoff);
        if (e !== null && e < s) e = nthWeekday(y + 1, spec.emon, spec.ewd, spec.eoff);
        if (within(dn, s, e, spec.skip)) return true;
      }
      return false;
    case 'week_day': {
      const s = nthWeekday(day.y, day.m, spec.swd, spec.soff);
      const e = nthWeekday(day.y, day.m, spec.ewd, spec.eoff) ?? (spec.eoff > 0 ? monthDay(day.y, day.m, -1) : null);
      return e !== null && s !== null && e >= s && within(dn, s, e, spec.skip);
    }
  }
}

/** The time ranges a period's own lines give a local day (exclusions not applied). */
export function rangesOn(period: TimePeriod, dn: number): TimeRange[] {
  for (const cls of DATE_CLASSES) {
    const hits = period.lines.filter((l) => l.spec.kind === cls && dayMatches(l.spec, dn));
    if (hits.length) return hits.flatMap((l) => l.ranges);
  }
  return [];
}

// --- time zones, through Intl only ---

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(tz, f);
  }
  return f;
}

/** The process's zone (TZ or /etc/localtime), the default of server.timezone. */
export function processTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** True when Intl knows the zone (an IANA name such as Europe/Berlin, or UTC). */
export function isTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export interface LocalTime {
  readonly dn: number;
  /** Seconds since local midnight. */
  readonly sec: number;
}

export function localTime(instant: number, tz: string): LocalTime {
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(instant))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { dn: dayNumber({ y: p.year as number, m: p.month as number, d: p.day as number }), sec: (p.hour as number) * 3600 + (p.minute as number) * 60 + (p.second as number) };
}

/** The instant a local wall-clock time names (in a DST gap: the moment just after it). */
export function localToInstant(dn: number, sec: number, tz: string): number {
  const wall = dn * DAY_MS + sec * 1000;
  const offsetAt = (t: number): number => {
    const l = localTime(t, tz);
    return l.dn * DAY_MS + l.sec * 1000 - Math.floor(t / 1000) * 1000;
  };
  const t1 = wall - offsetAt(wall);
  return wall - offsetAt(t1);
}

// --- evaluation ---

function inPeriodAt(period: TimePeriod, lt: LocalTime): boolean {
  if (!rangesOn(period, lt.dn).some((r) => lt.sec >= r.start && lt.sec < r.end)) return false;
  return !period.excludes.some((x) => inPeriodAt(x, lt));
}

/** Is this instant inside the period, read in the time zone `tz`? */
export function isInPeriod(period: TimePeriod, instant: number, tz: string): boolean {
  return inPeriodAt(period, localTime(instant, tz));
}

/** Every second of the day at which the period or one it excludes may start or stop applying. */
function boundaries(period: TimePeriod, dn: number, out: Set<number>): void {
  for (const r of rangesOn(period, dn)) {
    out.add(r.start);
    out.add(r.end);
  }
  for (const x of period.excludes) boundaries(x, dn, out);
}

/**
 * The first instant at or after `instant` inside the period; null when there is none within
 * `horizonDays` (a period of past dates only, or `00:00-00:00` everywhere).
 */
export function nextValidTime(period: TimePeriod, instant: number, tz: string, horizonDays = 732): number | null {
  if (isInPeriod(period, instant, tz)) return instant;
  const first = localTime(instant, tz).dn;
  for (let dn = first; dn <= first + horizonDays; dn++) {
    const secs = new Set<number>([0]);
    boundaries(period, dn, secs);
    for (const sec of [...secs].sort((a, b) => a - b)) {
      const t = localToInstant(dn + Math.floor(sec / 86_400), sec % 86_400, tz);
      if (t > instant && isInPeriod(period, t, tz)) return t;
    }
  }
  return null;
}

// --- definitions: parse a set, resolve exclusions, refuse cycles ---

export interface PeriodDefinition {
  readonly alias?: string | undefined;
  readonly lines: readonly { readonly text: string; readonly where: string }[];
  readonly exclude: readonly { readonly name: string; readonly where: string }[];
}

/**
 * Builds every period of a set; problems are one line each, prefixed with the `where` of the
 * offending line. `24x7` exists unless the set defines its own.
 */
export function buildPeriods(defs: ReadonlyMap<string, PeriodDefinition>): { periods: Map<string, TimePeriod>; problems: string[] } {
  const problems: string[] = [];
  const parsed = new Map<string, PeriodLine[]>();
  for (const [name, def] of defs) {
    const lines: PeriodLine[] = [];
    for (const l of def.lines) {
      try {
        lines.push(parsePeriodLine(l.text));
      } catch (e) {
        problems.push(`${l.where}: ${(e as Error).message}`);
      }
    }
    parsed.set(name, lines);
  }
  for (const [name, def] of defs) {
    for (const x of def.exclude) if (!defs.has(x.name) && x.name !== '24x7') problems.push(`${x.where}: period ${name} excludes unknown time period ${x.name}; define it under timeperiods`);
  }
  // Cycles: a period that (through its exclusions) excludes itself has no meaning.
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      // Reported at the exclude that closes the cycle.
      const from = trail[trail.length - 2] as string;
      const where = defs.get(from)?.exclude.find((x) => x.name === name)?.where ?? 'timeperiods';
      problems.push(`${where}: exclusion cycle ${trail.slice(trail.indexOf(name)).join(' excludes ')}: remove one exclude`);
      return;
    }
    state.set(name, 'visiting');
    for (const x of defs.get(name)?.exclude ?? []) if (defs.has(x.name)) visit(x.name, [...trail, x.name]);
    state.set(name, 'done');
  };
  for (const name of defs.keys()) visit(name, [name]);

  const periods = new Map<string, TimePeriod>();
  if (!defs.has('24x7')) periods.set('24x7', TWENTY_FOUR_SEVEN);
  // Built even with problems (without the bad lines, unknown or cyclic exclusions), so that
  // references to these names do not add errors of their own.
  const building = new Set<string>();
  const build = (name: string): TimePeriod | null => {
    const done = periods.get(name);
    if (done) return done;
    const def = defs.get(name);
    if (!def || building.has(name)) return null;
    building.add(name);
    const excludes = def.exclude.map((x) => build(x.name)).filter((x): x is TimePeriod => x !== null);
    const p: TimePeriod = { name, alias: def.alias ?? name, lines: parsed.get(name) ?? [], excludes };
    periods.set(name, p);
    return p;
  };
  for (const name of defs.keys()) build(name);
  return { periods, problems };
}
