// Issue 10 item 6: Nagios 4 time periods, parsed and evaluated (pure), and their validation
// in the inventory. Times are written in UTC; the periods are read in Europe/Berlin, so a
// hand-made offset (or none) gets them wrong around DST.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderNagiosMainConfig } from '../../nagios/config.ts';
import { stopChild } from '../support/process.ts';
import { requireFile, requireUser } from '../support/require.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';
import { InventoryError, loadInventory } from '../../server/inventory/load.ts';
import { buildPeriods, isInPeriod, localToInstant, nextValidTime, parsePeriodLine, type PeriodDefinition, type TimePeriod } from '../../server/notify/timeperiods.ts';

const TZ = 'Europe/Berlin';
const MIN = 60_000;
const at = (iso: string): number => Date.parse(iso);
const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

function periods(defs: Record<string, { lines: string[]; exclude?: string[] }>): Map<string, TimePeriod> {
  const m = new Map<string, PeriodDefinition>();
  for (const [name, d] of Object.entries(defs)) m.set(name, { lines: d.lines.map((text) => ({ text, where: name })), exclude: (d.exclude ?? []).map((x) => ({ name: x, where: name })) });
  const r = buildPeriods(m);
  expect(r.problems).toEqual([]);
  return r.periods;
}
function one(lines: string[]): TimePeriod {
  return periods({ p: { lines } }).get('p') as TimePeriod;
}
/** Local Berlin wall-clock times of a day in a period, sampled each hour (for readable assertions). */
const inAt = (p: TimePeriod, t: string): boolean => isInPeriod(p, at(t), TZ);

describe('parsing every Nagios 4 directive class', () => {
  it('reads weekdays, dates, nth weekdays, day ranges and skip intervals', () => {
    const spec = (l: string) => parsePeriodLine(l).spec;
    expect(spec('monday 09:00-17:00,18:00-20:00')).toEqual({ kind: 'weekday', wd: 1 });
    expect(parsePeriodLine('monday 09:00-17:00, 18:00-20:00').ranges).toEqual([{ start: 9 * 3600, end: 17 * 3600 }, { start: 18 * 3600, end: 20 * 3600 }]);
    expect(spec('2026-12-25 00:00-24:00')).toMatchObject({ kind: 'calendar', start: { y: 2026, m: 12, d: 25 }, end: { y: 2026, m: 12, d: 25 } });
    expect(spec('december 25 00:00-24:00')).toEqual({ kind: 'month_date', smon: 12, sday: 25, emon: 12, eday: 25, skip: 1 });
    expect(spec('monday 3 00:00-24:00')).toEqual({ kind: 'week_day', swd: 1, soff: 3, ewd: 1, eoff: 3, skip: 1 });
    expect(spec('monday -1 may 00:00-24:00')).toMatchObject({ kind: 'month_week_day', swd: 1, soff: -1, smon: 5 });
    expect(spec('day 1 - 15 00:00-24:00')).toEqual({ kind: 'month_day', sday: 1, eday: 15, skip: 1 });
    expect(spec('2026-01-01 - 2026-02-01 / 7 00:00-24:00')).toMatchObject({ kind: 'calendar', end: { y: 2026, m: 2, d: 1 }, skip: 7 });
    expect(spec('2026-01-01 / 3 00:00-24:00')).toMatchObject({ kind: 'calendar', end: 'open', skip: 3 });
    expect(spec('tuesday 1 april - friday 2 may / 3 10:00-11:00')).toMatchObject({ kind: 'month_week_day', ewd: 5, eoff: 2, emon: 5, skip: 3 });
    expect(spec('february 10 - march 15 08:00-09:00')).toMatchObject({ kind: 'month_date', smon: 2, emon: 3, eday: 15 });
    expect(parsePeriodLine('january 1 00:00-00:00').ranges).toEqual([]); // Nagios' "no time that day"
  });

  it('refuses bad lines with the line text and what to write', () => {
    expect(() => parsePeriodLine('monday 22:00-02:00')).toThrow('time range 22:00-02:00 crosses midnight: write it as two ranges, up to 24:00 on this day and from 00:00 on the next in: monday 22:00-02:00');
    expect(() => parsePeriodLine('mondey 09:00-17:00')).toThrow(/^unknown day or date mondey; write e\.g\. monday/);
    expect(() => parsePeriodLine('monday 9-17')).toThrow('expected a day or date followed by time ranges like 09:00-17:00 in: monday 9-17');
    expect(() => parsePeriodLine('monday 09:00-25:00')).toThrow(/is not a time of day/);
    expect(() => parsePeriodLine('monday 0 00:00-24:00')).toThrow(/weekday offset 0 must be 1 to 5/);
    expect(() => parsePeriodLine('2026-02-30 00:00-24:00')).toThrow(/2026-02-30 is not a date/);
    expect(() => parsePeriodLine('december 25 / 2 00:00-24:00')).toThrow(/a skip interval \(\/ N\) needs a date range/);
  });
});

describe('evaluation', () => {
  const p = periods({
    workhours: { lines: ['monday 09:00-17:00', 'tuesday 09:00-17:00', 'wednesday 09:00-17:00', 'thursday 09:00-17:00', 'friday 09:00-17:00'], exclude: ['holidays'] },
    holidays: { lines: ['december 25 00:00-24:00', 'december 26 00:00-24:00', '2027-01-01 00:00-24:00', 'monday -1 may 00:00-24:00'] },
    night: { lines: ['monday 22:00-24:00', 'tuesday 00:00-06:00'] },
    early: { lines: ['sunday 01:00-04:00'] },
    gap: { lines: ['sunday 02:00-02:30'] },
    daily: { lines: ['sunday 09:00-17:00', 'monday 09:00-17:00', 'saturday 09:00-17:00'] },
  });
  const wh = p.get('workhours') as TimePeriod;

  it('a holiday exclusion removes the whole day, and the next valid time skips it', () => {
    // Thursday 2026-12-24 10:00 Berlin (09:00Z) is a work hour; Friday the 25th is a holiday.
    expect(inAt(wh, '2026-12-24T09:00:00Z')).toBe(true);
    expect(inAt(wh, '2026-12-25T09:00:00Z')).toBe(false);
    expect(inAt(wh, '2026-12-24T16:00:00Z')).toBe(false); // 17:00 local: end is exclusive
    expect(inAt(wh, '2026-12-24T15:59:59Z')).toBe(true);
    // From the holiday: Saturday and Sunday are no work days, Monday the 28th 09:00 CET is.
    expect(iso(nextValidTime(wh, at('2026-12-25T09:00:00Z'), TZ))).toBe('2026-12-28T08:00:00.000Z');
    // The last Monday of May (2026-05-25) is excluded, the one before is not.
    expect(inAt(wh, '2026-05-25T08:00:00Z')).toBe(false);
    expect(inAt(wh, '2026-05-18T08:00:00Z')).toBe(true);
    expect(iso(nextValidTime(wh, at('2026-05-25T08:00:00Z'), TZ))).toBe('2026-05-26T07:00:00.000Z');
  });

  it('a period that crosses midnight, written as two ranges', () => {
    const night = p.get('night') as TimePeriod;
    expect(inAt(night, '2026-03-02T20:59:00Z')).toBe(false); // Monday 21:59 CET
    expect(inAt(night, '2026-03-02T21:00:00Z')).toBe(true); // Monday 22:00
    expect(inAt(night, '2026-03-02T23:30:00Z')).toBe(true); // Tuesday 00:30
    expect(inAt(night, '2026-03-03T04:59:59Z')).toBe(true); // Tuesday 05:59:59
    expect(inAt(night, '2026-03-03T05:00:00Z')).toBe(false); // Tuesday 06:00
    expect(iso(nextValidTime(night, at('2026-03-03T05:00:00Z'), TZ))).toBe('2026-03-09T21:00:00.000Z');
  });

  it('DST: wall-clock ranges on the days the clocks change (Intl, not a fixed offset)', () => {
    const early = p.get('early') as TimePeriod;
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00Z. 01:00-04:00 local is two real hours.
    expect(inAt(early, '2026-03-28T23:59:00Z')).toBe(false); // 00:59 CET
    expect(inAt(early, '2026-03-29T00:00:00Z')).toBe(true); // 01:00 CET
    expect(inAt(early, '2026-03-29T01:30:00Z')).toBe(true); // 03:30 CEST
    expect(inAt(early, '2026-03-29T02:00:00Z')).toBe(false); // 04:00 CEST
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00Z. 01:00-04:00 local is four real hours.
    expect(inAt(early, '2026-10-24T23:00:00Z')).toBe(true); // 01:00 CEST
    expect(inAt(early, '2026-10-25T02:59:00Z')).toBe(true); // 03:59 CET
    expect(inAt(early, '2026-10-25T03:00:00Z')).toBe(false); // 04:00 CET
    // A range inside the skipped hour does not exist that day; the next is a week later.
    const gap = p.get('gap') as TimePeriod;
    expect(iso(nextValidTime(gap, at('2026-03-28T12:00:00Z'), TZ))).toBe('2026-04-05T00:00:00.000Z');
    // 09:00 the morning after the change is 07:00Z (CEST), the morning before 08:00Z (CET).
    const daily = p.get('daily') as TimePeriod;
    expect(iso(nextValidTime(daily, at('2026-03-28T20:00:00Z'), TZ))).toBe('2026-03-29T07:00:00.000Z');
    expect(iso(nextValidTime(daily, at('2026-03-28T05:00:00Z'), TZ))).toBe('2026-03-28T08:00:00.000Z');
  });

  it('precedence: a calendar date overrides the weekday, an nth weekday and day ranges match the right days', () => {
    const xmas = one(['friday 09:00-17:00', '2026-12-25 10:00-12:00']);
    expect(inAt(xmas, '2026-12-25T08:30:00Z')).toBe(false); // 09:30 local: the date wins
    expect(inAt(xmas, '2026-12-25T09:30:00Z')).toBe(true);
    expect(inAt(xmas, '2026-12-18T08:30:00Z')).toBe(true); // another Friday
    const third = one(['monday 3 00:00-24:00']);
    expect(inAt(third, '2026-06-15T10:00:00Z')).toBe(true); // third Monday of June 2026
    expect(inAt(third, '2026-06-08T10:00:00Z')).toBe(false);
    const firstHalf = one(['day 1 - 15 / 2 00:00-24:00', 'day -1 12:00-13:00']);
    expect(inAt(firstHalf, '2026-07-03T10:00:00Z')).toBe(true);
    expect(inAt(firstHalf, '2026-07-04T10:00:00Z')).toBe(false); // skip 2
    expect(inAt(firstHalf, '2026-07-16T10:00:00Z')).toBe(false);
    expect(inAt(firstHalf, '2026-02-28T11:30:00Z')).toBe(true); // last day of February
    const weekly = one(['2026-01-01 - 2026-02-01 / 7 00:00-24:00']);
    expect(['01', '02', '08', '29', '30'].map((d) => inAt(weekly, `2026-01-${d}T12:00:00Z`))).toEqual([true, false, true, true, false]);
    const winter = one(['november 15 - february 15 00:00-24:00']);
    expect(inAt(winter, '2027-01-10T12:00:00Z')).toBe(true);
    expect(inAt(winter, '2026-03-10T12:00:00Z')).toBe(false);
    expect(nextValidTime(one(['2020-01-01 00:00-24:00']), at('2026-01-01T00:00:00Z'), TZ)).toBeNull();
  });

  it('exclusions are recursive', () => {
    const q = periods({ all: { lines: ['sunday 00:00-24:00'], exclude: ['morning'] }, morning: { lines: ['sunday 00:00-12:00'], exclude: ['nine'] }, nine: { lines: ['sunday 09:00-10:00'] } }).get('all') as TimePeriod;
    // Sunday 2026-03-01, CET: 08:00 excluded, 09:30 re-included (excluded from the exclusion), 13:00 in.
    expect([inAt(q, '2026-03-01T07:00:00Z'), inAt(q, '2026-03-01T08:30:00Z'), inAt(q, '2026-03-01T12:00:00Z')]).toEqual([false, true, true]);
    expect(iso(nextValidTime(q, at('2026-03-01T09:30:00Z'), TZ))).toBe('2026-03-01T11:00:00.000Z');
  });
});

describe('inventory', () => {
  const base = (extra: string) => `
notifications: { email: { smtp: { host: 127.0.0.1, port: 25, security: none } } }
contacts: { ops: { email: ops@test.invalid, notification_period: workhours } }
hosts: { h: { local: true, contacts: [ops] } }
${extra}`;
  const problems = (text: string): string[] => {
    try {
      loadInventory(text, 'inv.yaml');
    } catch (e) {
      return [...(e as InventoryError).problems];
    }
    return [];
  };

  it('reads periods as lines or a mapping, with exclusions; 24x7 is built in', () => {
    const inv = loadInventory(base(`
server: { timezone: Europe/Berlin }
timeperiods:
  workhours:
    alias: work hours
    ranges: { monday: 09:00-17:00, "december 25": 00:00-24:00 }
    exclude: [holidays]
  holidays: ["december 25 00:00-24:00"]
`));
    expect([...(inv.timeperiods?.keys() ?? [])].sort()).toEqual(['24x7', 'holidays', 'workhours']);
    expect(inv.server.timezone).toBe('Europe/Berlin');
    expect(inv.contacts.get('ops')).toMatchObject({ hostNotificationPeriod: 'workhours', serviceNotificationPeriod: 'workhours' });
    expect(inv.timeperiods?.get('workhours')?.excludes.map((x) => x.name)).toEqual(['holidays']);
  });

  it('one line per problem: bad syntax with the line, unknown period, exclusion cycle, unknown zone', () => {
    const got = problems(base(`
server: { timezone: Mars/Olympus }
timeperiods:
  workhours: { ranges: ["monday 22:00-02:00"], exclude: [a] }
  a: { ranges: ["sunday 00:00-24:00"], exclude: [b] }
  b: { ranges: ["sunday 00:00-24:00"], exclude: [a, nope] }
services:
  - { name: s, host: h, command: check_x, check_period: offhours }
`));
    expect(got).toContain('inv.yaml:6:21: server.timezone: unknown time zone Mars/Olympus: use an IANA name such as Europe/Berlin or UTC');
    expect(got).toContain('inv.yaml:8:25: timeperiods.workhours.ranges[0]: time range 22:00-02:00 crosses midnight: write it as two ranges, up to 24:00 on this day and from 00:00 on the next in: monday 22:00-02:00');
    expect(got).toContain('inv.yaml:10:53: timeperiods.b.exclude[1]: period b excludes unknown time period nope; define it under timeperiods');
    expect(got).toContain('inv.yaml:10:50: timeperiods.b.exclude[0]: exclusion cycle a excludes b excludes a: remove one exclude');
    expect(got).toHaveLength(5); // no follow-up error for the contact that names workhours
    expect(got.some((l) => /services\[0\]\.check_period: unknown time period offhours; define it under timeperiods/.test(l))).toBe(true);
    for (const l of got) expect(l).not.toContain('\n');
  });
});

// The real nagios4 scheduler as the reference: a service whose check_period has no valid time
// now gets its first check at get_next_valid_time(), which status.dat shows as next_check.
// Every period below starts at least a day ahead, so Nagios' start-up spread (seconds) does
// not move the answer, and each is compared with nextValidTime() for the same instant.
const readLog = (dir: string): string => (existsSync(join(dir, 'nagios.log')) ? readFileSync(join(dir, 'nagios.log'), 'utf8') : '');

describe('cross-check with the real nagios4 (next_check of services held by check_period)', () => {
  const dir = tempDir('hawatch-tp-nagios-', { mode: 0o755 });
  afterAll(() => removeDir(dir));

  it('nagios4 schedules the first check where nextValidTime says: calendar date, month date, nth weekday of a month, skip interval, exclusion, next year', async () => {
    const NAGIOS = requireFile('/usr/sbin/nagios4', 'nagios4-core');
    const { uid, gid } = requireUser('nagios', 'nagios4-core');
    const now = Date.now();
    // Local Berlin dates relative to today, in Nagios spelling.
    const day = (k: number) => {
      const parts = new Intl.DateTimeFormat('en-US', { timeZone: TZ, year: 'numeric', month: 'long', day: 'numeric', weekday: 'long' }).formatToParts(new Date(now + k * 86_400_000));
      const get = (t: string) => parts.find((x) => x.type === t)?.value ?? '';
      const iso = new Intl.DateTimeFormat('sv-SE', { timeZone: TZ }).format(new Date(now + k * 86_400_000));
      const dom = Number(get('day'));
      return { iso, month: get('month').toLowerCase(), dom, weekday: get('weekday').toLowerCase(), nth: Math.ceil(dom / 7) };
    };
    // Nagios 4.4.6 reads a range on a DST-change day as seconds since midnight (10:00 becomes
    // 11:00 CEST on the spring day) and finds no time at all for ranges near the change, where
    // hawatch reads the wall clock (measured, see server/README.md): keep the relative dates off those days.
    const isDstDay = (k: number): boolean => {
      const dn = Math.floor(Date.parse(`${day(k).iso}T00:00:00Z`) / 86_400_000);
      return localToInstant(dn + 1, 0, TZ) - localToInstant(dn, 0, TZ) !== 86_400_000;
    };
    const off = (k: number): number => (isDstDay(k) ? k + 1 : k);
    const d3 = day(off(3));
    const d5 = day(off(5));
    const d9 = day(off(9));
    const d2 = day(off(2));
    const past = day(-3);
    const later = day(40);
    const lines: Record<string, { lines: string[]; exclude?: string[] }> = {
      calendar: { lines: [`${d3.iso} 10:00-11:00`] },
      monthdate: { lines: [`${d5.month} ${d5.dom} 08:30-09:00`] },
      nthweekday: { lines: [`${d9.weekday} ${d9.nth} ${d9.month} 13:00-14:00`] },
      skip: { lines: [`${past.iso} - ${later.iso} / 7 12:00-12:30`] },
      excluded: { lines: [`${d2.iso} 00:00-24:00`], exclude: ['morning'] },
      morning: { lines: [`${d2.iso} 00:00-10:00`] },
      before: { lines: ['2027-03-27 10:00-11:00'] },
      after: { lines: ['2027-04-05 10:00-11:00'] },
      far: { lines: [`${day(60).iso} 10:00-11:00`] },
    };
    const ps = periods(lines);
    const names = Object.keys(lines).filter((n) => n !== 'morning');
    const cfg = [
      'define command {\n  command_name x\n  command_line /bin/true\n}',
      'define timeperiod {\n  timeperiod_name always\n  alias always\n  sunday 00:00-24:00\n  monday 00:00-24:00\n  tuesday 00:00-24:00\n  wednesday 00:00-24:00\n  thursday 00:00-24:00\n  friday 00:00-24:00\n  saturday 00:00-24:00\n}',
      'define contact {\n  contact_name c\n  host_notification_period always\n  service_notification_period always\n  host_notification_options n\n  service_notification_options n\n  host_notification_commands x\n  service_notification_commands x\n}',
      'define host {\n  host_name tp\n  address 127.0.0.1\n  check_command x\n  max_check_attempts 1\n  check_period always\n  notification_period always\n  contacts c\n  active_checks_enabled 0\n}',
      ...Object.entries(lines).map(([n, d]) => `define timeperiod {\n  timeperiod_name ${n}\n  alias ${n}\n${d.lines.map((l) => `  ${l}`).join('\n')}\n${d.exclude ? `  exclude ${d.exclude.join(',')}\n` : ''}}`),
      ...names.map((n) => `define service {\n  host_name tp\n  service_description ${n}\n  check_command x\n  max_check_attempts 1\n  check_interval 5\n  retry_interval 1\n  check_period ${n}\n  notification_period always\n  contacts c\n}`),
    ].join('\n\n');
    mkdirSync(join(dir, 'checkresults'), { recursive: true });
    chownSync(dir, uid, gid);
    chownSync(join(dir, 'checkresults'), uid, gid);
    writeFileSync(join(dir, 'tp.cfg'), cfg + '\n');
    writeFileSync(join(dir, 'resource.cfg'), '$USER1$=/usr/lib/nagios/plugins\n');
    writeFileSync(join(dir, 'nagios.cfg'), renderNagiosMainConfig({ varDir: dir, cfgFiles: [join(dir, 'tp.cfg')], resourceFile: join(dir, 'resource.cfg'), extra: { use_timezone: TZ, max_service_check_spread: 1, retain_state_information: true, retention_update_interval: 0 } }));
    for (const f of ['tp.cfg', 'resource.cfg', 'nagios.cfg']) chmodSync(join(dir, f), 0o644);
    const started = Math.floor(Date.now() / 1000) * 1000;
    const child = spawn(NAGIOS, [join(dir, 'nagios.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    // The event loop sleeps until the first check is due (days away), so status.dat is not
    // written; the retention file, saved at shutdown, carries next_check too.
    try {
      await waitFor('nagios4 to start its workers', () => (out.includes('command file worker') || readLog(dir).includes('command file worker') ? true : undefined), 30_000, { stopWhen: () => (child.exitCode !== null ? `nagios4 exited: ${out}` : undefined) });
    } finally {
      await stopChild(child, 10_000);
    }
    const next = new Map<string, number>();
    for (const block of readFileSync(join(dir, 'retention.dat'), 'utf8').split('service {').slice(1)) {
      const name = /service_description=(.*)/.exec(block)?.[1];
      const at = Number(/\bnext_check=(\d+)/.exec(block)?.[1]);
      if (name && at > 0) next.set(name, at * 1000);
    }
    // Nagios adds its start-up spread (the service's index times the inter-check delay, seconds).
    const late = Object.fromEntries(names.map((n) => {
      const ours = nextValidTime(ps.get(n) as TimePeriod, started, TZ);
      const theirs = next.get(n);
      return [n, ours === null || theirs === undefined ? `ours ${iso(ours)} nagios ${theirs}` : theirs - ours >= 0 && theirs - ours < 5 * MIN ? 'agrees' : `ours ${iso(ours)} nagios ${iso(theirs)}`];
    }));
    expect(late).toEqual(Object.fromEntries(names.map((n) => [n, 'agrees'])));
  }, 60_000);
});
