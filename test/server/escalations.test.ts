// Issue 10 item 6: notification periods, contact periods, check periods and escalations by
// number and by elapsed time, through the real monitor (state machine, outbox in SQLite)
// and the real scheduler, on a fake clock. Each test fails when its rule is broken.
import { describe, expect, it } from 'vitest';
import { Monitor } from '../../server/core/monitor.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { Scheduler } from '../../server/scheduler/scheduler.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { FakeExecutors, settle } from './helpers.ts';

const MIN = 60_000;
const at = (iso: string): number => Date.parse(iso);

/** Monday 2025-01-06 is a Monday; the server reads periods in UTC here. */
function setup(services: string, start: string, extra = '') {
  const inv = loadInventory(`
server: { timezone: UTC }
defaults: { freshness: false, flap_detection: false, max_check_attempts: 1 }
notifications:
  email: { smtp: { host: 127.0.0.1, port: 25, security: none } }
  sms: { smstools: { spool_dir: /nonexistent } }
contacts:
  ops: { email: ops@test.invalid }
  dayonly: { email: day@test.invalid, notification_period: workhours }
  ann: { email: ann@test.invalid, sms: "+4915112345678", sms_via: smstools }
  boss: { email: boss@test.invalid }
timeperiods:
  workhours:
    ranges: [monday 09:00-17:00, tuesday 09:00-17:00, wednesday 09:00-17:00, thursday 09:00-17:00, friday 09:00-17:00]
    exclude: [holidays]
  holidays: ["2025-01-07 00:00-24:00"]
hosts:
  h: { local: true }
services:
${services}
${extra}`);
  const clock = new FakeClock(at(start));
  const store = openSqliteStore(':memory:');
  const monitor = new Monitor(inv, store, clock);
  const sent = () => store.recentOutbox(1000).sort((a, b) => a.id - b.id).map((r) => `${r.notification.type} #${r.notification.number} ${r.contact} ${r.channel} ${new Date(r.notification.at).toISOString().slice(11, 16)}`);
  const result = (key: string, state: number) => monitor.submitResult(key, { state: state as 0 | 1 | 2 | 3, output: `state ${state}`, longOutput: '', perfdataText: '', executedAt: clock.now(), durationMs: 1 });
  /** Moves the clock minute by minute, running the monitor's tick as the scheduler does. */
  const wait = (minutes: number) => {
    for (let i = 0; i < minutes; i++) {
      clock.advance(MIN);
      monitor.tick();
    }
  };
  const suppressed = (key: string) => store.history({ key, limit: 100 }).filter((e) => e.type === 'NOTIFICATION_SUPPRESSED').map((e) => e.detail);
  return { inv, clock, store, monitor, sent, result, wait, suppressed };
}

describe('notification periods', () => {
  it('a problem outside the object notification_period is held and sent when the period opens, not dropped', () => {
    const t = setup('  - { name: s, host: h, command: check_x, contacts: [ops], notification_period: workhours }', '2025-01-06T06:00:00Z');
    t.result('h/s', 2);
    expect(t.sent()).toEqual([]);
    expect(t.suppressed('h/s')).toEqual(['outside notification_period workhours: held until the period opens']);
    t.wait(179); // 08:59
    expect(t.sent()).toEqual([]);
    t.wait(1); // 09:00: the period opens, the problem still stands
    expect(t.sent()).toEqual(['PROBLEM #1 ops email 09:00']);
    t.wait(120);
    // Re-notified every 30 min (notification_interval) inside the period.
    expect(t.sent().map((l) => l.slice(-5))).toEqual(['09:00', '09:30', '10:00', '10:30', '11:00']);
  });

  it('held across a holiday: the exclusion keeps it until the next work day', () => {
    // Monday 18:00, Tuesday 2025-01-07 is a holiday: nothing until Wednesday 09:00.
    const t = setup('  - { name: s, host: h, command: check_x, contacts: [ops], notification_period: workhours, notification_interval: 0 }', '2025-01-06T18:00:00Z');
    t.result('h/s', 2);
    t.wait(60 * 24 + 14 * 60); // Tuesday 18:00 ... still Tuesday (holiday)
    t.wait(60); // Wednesday 09:00
    expect(t.sent()).toEqual(['PROBLEM #1 ops email 09:00']);
    expect(t.clock.now()).toBe(at('2025-01-08T09:00:00Z'));
  });

  it('a recovery before the period opens sends nothing', () => {
    const t = setup('  - { name: s, host: h, command: check_x, contacts: [ops], notification_period: workhours }', '2025-01-06T06:00:00Z');
    t.result('h/s', 2);
    t.wait(60);
    t.result('h/s', 0);
    t.wait(240);
    expect(t.sent()).toEqual([]);
  });

  it('a contact outside its own period is not notified, the others are, and history says why', () => {
    const t = setup('  - { name: s, host: h, command: check_x, contacts: [ops, dayonly] }', '2025-01-06T20:00:00Z');
    t.result('h/s', 2);
    expect(t.sent()).toEqual(['PROBLEM #1 ops email 20:00']);
    expect(t.suppressed('h/s')).toEqual(['PROBLEM: contact dayonly not notified: outside its service_notification_period workhours']);
    // Inside the period both are told (a new problem at Wednesday 10:00).
    const d = setup('  - { name: s, host: h, command: check_x, contacts: [ops, dayonly] }', '2025-01-08T10:00:00Z');
    d.result('h/s', 2);
    expect(d.sent()).toEqual(['PROBLEM #1 ops email 10:00', 'PROBLEM #1 dayonly email 10:00']);
  });
});

describe('check periods', () => {
  it('the scheduler runs no regular check outside check_period and resumes when it opens', async () => {
    const t = setup(
      ['  - { name: day, host: h, command: check_day, check_interval: 1h, check_period: workhours }', '  - { name: always, host: h, command: check_always, check_interval: 1h }'].join('\n'),
      '2025-01-06T16:00:00Z',
    );
    const fx = new FakeExecutors();
    const runs: string[] = [];
    fx.delay = async (req) => {
      const argv = req.command.kind === 'argv' ? req.command.argv : [req.command.command];
      runs.push(`${(argv[0] ?? '').replace('check_', '')} ${new Date(t.clock.now()).toISOString().slice(5, 16)}`);
    };
    const sched = new Scheduler({ monitor: t.monitor, clock: t.clock, executorFactory: fx.factory, tickMs: 60_000 });
    sched.start();
    try {
      // Monday 16:00 to Wednesday 10:30 (Tuesday is a holiday, excluded from workhours).
      for (let i = 0; i < (42 * 60 + 30) / 5; i++) {
        t.clock.advance(5 * MIN);
        await settle(2);
      }
    } finally {
      await sched.stop();
    }
    const day = runs.filter((r) => r.startsWith('day'));
    expect(day.length).toBeGreaterThanOrEqual(2);
    for (const r of day) {
      const [, when] = r.split(' ');
      const hour = Number(when?.slice(6, 8));
      const date = when?.slice(0, 5);
      expect(date === '01-06' || date === '01-08', r).toBe(true);
      expect(hour >= 9 && hour < 17, r).toBe(true);
    }
    // The first run of the day after the closed time is when the period opens.
    expect(day).toContain('day 01-08T09:00');
    // Without check_period the other service kept running through the night.
    expect(runs.filter((r) => r.startsWith('always') && r.includes('01-07')).length).toBeGreaterThanOrEqual(20);
  });
});

describe('escalations', () => {
  it('by notification number: from the third on, the escalation contacts replace the normal ones, at the escalation interval', () => {
    const t = setup(
      `  - name: s
    host: h
    command: check_x
    contacts: [ops]
    notification_interval: 10m
    escalations:
      - { first_notification: 3, last_notification: 4, contacts: [boss], notification_interval: 5m }`,
      '2025-01-08T10:00:00Z',
    );
    t.result('h/s', 2);
    t.wait(45);
    expect(t.sent()).toEqual([
      'PROBLEM #1 ops email 10:00',
      'PROBLEM #2 ops email 10:10',
      'PROBLEM #3 boss email 10:20',
      'PROBLEM #4 boss email 10:25',
      'PROBLEM #5 ops email 10:30', // past last_notification: back to the normal contacts and interval
      'PROBLEM #6 ops email 10:40',
    ]);
  });

  it('top-level escalation by host and service names; a recovery goes to the escalated contacts too', () => {
    const t = setup('  - { name: s, host: h, command: check_x, contacts: [ops], notification_interval: 10m }', '2025-01-08T10:00:00Z', `escalations:
  - { host: h, service: s, first_notification: 2, contacts: [ops, boss] }`);
    t.result('h/s', 2);
    t.wait(10);
    t.result('h/s', 0);
    expect(t.sent()).toEqual(['PROBLEM #1 ops email 10:00', 'PROBLEM #2 ops email 10:10', 'PROBLEM #2 boss email 10:10', 'RECOVERY #0 ops email 10:10', 'RECOVERY #0 boss email 10:10']);
  });

  const mailThenSms = `  - name: db
    host: h
    command: check_db
    contacts: [ann]
    notification_interval: 0
    escalations:
      - { first_notification: 1, last_notification: 1, contacts: [ann], channels: [email] }
      - { after: 15m, contacts: [ann], channels: [sms] }`;

  it('by elapsed time: mail first, SMS after 15 minutes unacknowledged', () => {
    const t = setup(mailThenSms, '2025-01-08T10:00:00Z');
    t.result('h/db', 2);
    expect(t.sent()).toEqual(['PROBLEM #1 ann email 10:00']);
    t.wait(14);
    expect(t.sent()).toHaveLength(1);
    t.wait(1);
    expect(t.sent()).toEqual(['PROBLEM #1 ann email 10:00', 'PROBLEM #2 ann sms 10:15']);
    t.wait(60); // notification_interval 0: nothing more
    expect(t.sent()).toHaveLength(2);
  });

  it('an acknowledgement before 15 minutes stops the escalation: no SMS', () => {
    const t = setup(mailThenSms, '2025-01-08T10:00:00Z');
    t.result('h/db', 2);
    t.wait(10);
    t.monitor.acknowledge('h/db', { sticky: true, notify: false, author: 'ann', comment: 'on it' });
    t.wait(60);
    t.result('h/db', 2);
    expect(t.sent()).toEqual(['PROBLEM #1 ann email 10:00']);
  });
});
