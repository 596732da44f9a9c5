// Interactions between today's features in the monitor: notification dependencies, silences
// and inhibition, notification periods and escalations, check periods. Each feature had its
// own tests; these cover the paths where one of them bypassed another (the tick's due
// notifications, the release of a held problem) and the cost of held and closed objects per
// tick. Real monitor, SQLite in memory, fake clock.
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { Monitor } from '../../server/core/monitor.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { nextValidTime, type TimePeriod } from '../../server/notify/timeperiods.ts';
import { Scheduler } from '../../server/scheduler/scheduler.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { FakeExecutors, settle } from './helpers.ts';

const MIN = 60_000;
const at = (iso: string): number => Date.parse(iso);

function setup(body: string, start: string) {
  const inv = loadInventory(`
server: { timezone: UTC }
defaults: { freshness: false, flap_detection: false, max_check_attempts: 1 }
notifications:
  email: { smtp: { host: 127.0.0.1, port: 25, security: none } }
  sms: { smstools: { spool_dir: /nonexistent } }
  group_window: 0s
contacts:
  ops: { email: ops@test.invalid }
  ann: { email: ann@test.invalid, sms: "+4915112345678", sms_via: smstools }
timeperiods:
  workhours: [monday 09:00-17:00, tuesday 09:00-17:00, wednesday 09:00-17:00, thursday 09:00-17:00, friday 09:00-17:00]
  never: {}
  nextyear: ["2026-01-08 00:00-24:00"]
${body}`);
  const clock = new FakeClock(at(start));
  const store = openSqliteStore(':memory:', () => clock.now());
  const monitor = new Monitor(inv, store, clock);
  const sent = () => store.recentOutbox(1000).sort((a, b) => a.id - b.id).map((r) => `${r.notification.type} ${r.notification.key} #${r.notification.number} ${r.contact} ${r.channel} ${new Date(r.notification.at).toISOString().slice(11, 16)}`);
  const result = (key: string, state: number) => monitor.submitResult(key, { state: state as 0 | 1 | 2 | 3, output: `state ${state}`, longOutput: '', perfdataText: '', executedAt: clock.now(), durationMs: 1 });
  const wait = (minutes: number) => {
    for (let i = 0; i < minutes; i++) {
      clock.advance(MIN);
      monitor.tick();
    }
  };
  const silence = (host: string, service: string | null, minutes: number) =>
    monitor.addSilence({ matchers: { host, service, states: null, rule: null }, author: 'alice', comment: 'maintenance', start: clock.now(), end: clock.now() + minutes * MIN });
  const suppressed = (key: string) => store.history({ key, limit: 100 }).filter((e) => e.type === 'NOTIFICATION_SUPPRESSED').map((e) => e.detail);
  return { inv, clock, store, monitor, sent, result, wait, silence, suppressed };
}

// db1 is the master of the replication service on db2 (Nagios host -> service dependency).
const DEP = (timing: string) => `
hosts:
  db1: { address: 192.0.2.11, check: check_ping, contacts: [ops] }
  db2: { address: 192.0.2.12, check: check_ping, contacts: [ops] }
services:
  - { name: repl, host: db2, command: check_repl, contacts: [ops], notification_interval: 0, ${timing} }
dependencies:
  - { dependent: db2/repl, master: db1, notification_failure_criteria: d }
`;

describe('a notification dependency holds the notifications the tick finds due', () => {
  for (const [what, timing] of [
    ['notification_period', 'notification_period: 24x7'],
    ['escalations', 'escalations: [{ first_notification: 1, contacts: [ops] }]'],
  ] as const) {
    it(`with ${what}: no PROBLEM while the master is DOWN, one once it is UP and the problem stands`, () => {
      const t = setup(DEP(timing), '2025-01-08T10:00:00Z');
      t.result('db1', 2);
      t.result('db2/repl', 2);
      expect(t.suppressed('db2/repl')).toEqual(['suppressed by dependency on db1 (DOWN)']);
      t.wait(10);
      expect(t.sent()).toEqual(['PROBLEM db1 #1 ops email 10:00']);
      t.result('db1', 0);
      t.wait(1);
      expect(t.sent()).toEqual(['PROBLEM db1 #1 ops email 10:00', 'RECOVERY db1 #0 ops email 10:10', 'PROBLEM db2/repl #1 ops email 10:11']);
    });
  }

  it('a silence that ends while the master is DOWN releases nothing', () => {
    const t = setup(DEP('notification_period: 24x7'), '2025-01-08T10:00:00Z');
    t.silence('db2', 'repl', 5);
    t.result('db2/repl', 2); // held by the silence
    t.result('db1', 2);
    t.wait(10);
    expect(t.sent()).toEqual(['PROBLEM db1 #1 ops email 10:00']);
  });
});

describe('releasing a held problem keeps notification_period and escalations', () => {
  it('a silence that expires outside the notification period: no page until the period opens', () => {
    const t = setup('hosts: { h: { local: true } }\nservices:\n  - { name: s, host: h, command: check_x, contacts: [ops], notification_period: workhours, notification_interval: 0 }', '2025-01-06T16:00:00Z');
    t.silence('h', 's', 120); // Monday 16:00 to 18:00
    t.result('h/s', 2);
    t.wait(120 + 14 * 60); // Tuesday 08:00
    expect(t.sent()).toEqual([]);
    t.wait(60); // Tuesday 09:00: the period opens
    expect(t.sent()).toEqual(['PROBLEM h/s #1 ops email 09:00']);
  });

  it('an escalation by time (after 15m, notification_interval 0) still fires after the release', () => {
    const t = setup(
      `hosts: { h: { local: true } }
services:
  - name: db
    host: h
    command: check_db
    contacts: [ann]
    notification_interval: 0
    escalations:
      - { first_notification: 1, last_notification: 1, contacts: [ann], channels: [email] }
      - { after: 15m, contacts: [ann], channels: [sms] }`,
      '2025-01-08T10:00:00Z',
    );
    const sil = t.silence('h', 'db', 60);
    t.result('h/db', 2);
    t.wait(5);
    t.monitor.expireSilence(sil.id); // the release sends the first notification, not the tick
    t.wait(15);
    expect(t.sent()).toEqual(['PROBLEM h/db #1 ann email 10:05', 'PROBLEM h/db #2 ann sms 10:15']);
  });
});

describe('a held problem costs nothing per tick', () => {
  it('a silenced service with notification_period 24x7: no store write and no status event over 10 ticks', () => {
    const t = setup('hosts: { h: { local: true } }\nservices:\n  - { name: s, host: h, command: check_x, contacts: [ops], notification_period: 24x7 }', '2025-01-08T10:00:00Z');
    t.silence('h', 's', 60);
    t.result('h/s', 2);
    expect(t.suppressed('h/s')).toHaveLength(1);
    let commits = 0;
    const commit = t.store.commit.bind(t.store);
    t.store.commit = (c) => {
      commits++;
      commit(c);
    };
    let events = 0;
    t.monitor.on((e) => {
      if (e.type === 'status') events++;
    });
    for (let i = 0; i < 10; i++) {
      t.clock.advance(1000);
      t.monitor.tick();
    }
    expect({ commits, events }).toEqual({ commits: 0, events: 0 });
    // Still held, and sent when the silence ends.
    t.wait(60);
    expect(t.sent()).toEqual(['PROBLEM h/s #1 ops email 11:00']);
  });
});

describe('objects outside their check period', () => {
  // never: no search at all; nextyear: one search per object, then remembered until it opens.
  for (const [period, count, firstBoundMs] of [['never', 200, 500], ['nextyear', 50, Infinity]] as const) {
    it(`${count} services with check_period ${period}: a tick is cheap and no check runs`, async () => {
      const services = Array.from({ length: count }, (_, i) => `  - { name: s${i}, host: h, command: check_x, check_interval: 1m, check_period: ${period}, freshness: true }`).join('\n');
      const t = setup(`hosts: { h: { local: true } }\nservices:\n${services}`, '2025-01-08T10:00:00Z');
      for (let i = 0; i < count; i++) t.result(`h/s${i}`, 0);
      const fx = new FakeExecutors();
      const sched = new Scheduler({ monitor: t.monitor, clock: t.clock, executorFactory: fx.factory, tickMs: 60_000 });
      sched.start();
      try {
        t.clock.advance(10 * MIN); // every result is far past its freshness threshold
        await settle(2);
        const t0 = performance.now();
        expect(t.monitor.tick()).toEqual([]);
        expect(performance.now() - t0).toBeLessThan(firstBoundMs);
        let worst = 0;
        for (let i = 0; i < 5; i++) {
          t.clock.advance(1000);
          const t1 = performance.now();
          expect(t.monitor.tick()).toEqual([]);
          worst = Math.max(worst, performance.now() - t1);
        }
        // A search per object and tick took about 30 ms (never: 732 days) or 15 ms (a year).
        expect(worst).toBeLessThan(50);
        t.clock.advance(60 * MIN);
        await settle(2);
      } finally {
        await sched.stop();
      }
      expect(fx.requests).toEqual([]);
      expect(t.monitor.status('h/s0')).toMatchObject({ state: 0, stale: false });
    });
  }

  it('nextValidTime of a period without ranges is null at once; the search is bounded', () => {
    const none: TimePeriod = { name: 'none', alias: 'none', lines: [], excludes: [] };
    const t0 = performance.now();
    expect(nextValidTime(none, at('2025-01-08T10:00:00Z'), 'UTC')).toBeNull();
    expect(performance.now() - t0).toBeLessThan(5);
    // Lines whose ranges are all 00:00-00:00 (parsed to none) are never too.
    const holidaysOnly: TimePeriod = { name: 'h', alias: 'h', lines: [{ text: 'monday 00:00-00:00', date: 'monday', spec: { kind: 'weekday', wd: 1 }, ranges: [] }], excludes: [] };
    expect(nextValidTime(holidaysOnly, at('2025-01-08T10:00:00Z'), 'UTC', 1_000_000)).toBeNull();
    // Never open through its exclusion: not known without searching, but the search stops
    // after two years whatever horizon is asked (a million days took about 40 s).
    const weekdays = { name: 'w', alias: 'w', lines: [{ text: 'monday 09:00-17:00', date: 'monday', spec: { kind: 'weekday', wd: 1 } as const, ranges: [{ start: 32_400, end: 61_200 }] }], excludes: [] };
    const excluded: TimePeriod = { ...weekdays, name: 'x', excludes: [weekdays] };
    const t1 = performance.now();
    expect(nextValidTime(excluded, at('2025-01-08T10:00:00Z'), 'UTC', 1_000_000)).toBeNull();
    expect(performance.now() - t1).toBeLessThan(3000);
  });
});
