// Issue 15 item 1: a year and more of perfdata history through the real recorder, the real
// SQLite store and the API, on the fake clock with the expiry job running as in production:
// raw for 2 days, 1-minute aggregates for 8, 1-hour aggregates for 400; each range answered
// from the tier it asks for, a year from hour rows in a bounded number of points, a counter as
// a rate in every tier, and each tier pruned at its own boundary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { PerfdataRecorder } from '../../server/core/perfdata-history.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { consolidate, DAY, DEFAULT_RETENTION, HOUR, MINUTE } from '../../server/store/perfdata.ts';
import { FakeExecutors, syncStore } from './helpers.ts';

const INVENTORY = `
defaults: { check_interval: 1m, max_check_attempts: 1 }
hosts:
  db1: { address: 192.0.2.1, passive: true, freshness: false }
services:
  - { name: net, host: db1, passive: true, freshness: false }
`;
const EXPIRE_EVERY = HOUR;
const DAYS_HOURLY = 399; // one result an hour, then every 5 minutes for the last 3 days: 402 days in all
const DAYS_DENSE = 3;

type Answer = { resolution: string; stepMs: number; from: number; to: number; series: { label: string; unit: string; rate: boolean; points: number[][] }[] };

describe('perfdata history tiers over a year', () => {
  let rt: Runtime;
  let clock: FakeClock;
  let expiry: PerfdataRecorder;
  let now = 0;
  const get = async (url: string) => {
    const r = await rt.app.inject({ url });
    expect(r.statusCode, `${url}: ${r.body.slice(0, 200)}`).toBe(200);
    return r.json() as Answer;
  };
  const series = (a: Answer, label: string) => a.series.find((s) => s.label === label)!;

  beforeAll(async () => {
    clock = new FakeClock(Date.UTC(2024, 0, 1, 0, 0, 0));
    rt = await createRuntime({ inventory: loadInventory(INVENTORY), executorFactory: new FakeExecutors().factory, database: ':memory:', clock, autoStart: false });
    // The runtime's recorder writes (it listens without autoStart); this one only runs the
    // production expiry job on the fake clock (a source that never reports: nothing recorded
    // twice), one series per slice: the two series of the object are pruned in separate slices.
    expiry = new PerfdataRecorder({ source: { on: () => () => {}, status: () => undefined }, store: () => rt.store.perfdata, clock, expireEveryMs: EXPIRE_EVERY, expireSlice: 1 });
    expiry.start();
    // A counter going up 10 per second, and a gauge alternating 0 and 10.
    let count = 5_000_000;
    let i = 0;
    const submit = () => {
      rt.monitor.submitResult('db1/net', { state: 0, output: 'OK', longOutput: '', perfdataText: `rx=${count}c lag=${(i++ % 2) * 10}s;5;30;0`, executedAt: clock.now(), durationMs: 1 });
    };
    const every = (ms: number, n: number) => {
      for (let k = 0; k < n; k++) {
        submit();
        clock.advance(ms);
        count += (10 * ms) / 1000;
      }
    };
    every(HOUR, DAYS_HOURLY * 24);
    every(5 * MINUTE, (DAYS_DENSE * DAY) / (5 * MINUTE));
    submit();
    now = clock.now();
  }, 60_000);

  afterAll(async () => {
    expiry?.stop();
    await rt?.stop();
  });

  it('a year is answered from hour rows, at most one point an hour, the counter as 10 per second', async () => {
    const a = await get(`/api/v1/objects/db1%2Fnet/perfdata?from=${now - 365 * DAY}&to=${now}`);
    expect(a.resolution).toBe('hour');
    expect(a.stepMs).toBe(HOUR);
    const rx = series(a, 'rx');
    expect(rx).toMatchObject({ unit: 'c', rate: true });
    // Every hour of the year has its row (the first one may start inside the hour of from).
    expect(rx.points.length).toBeGreaterThanOrEqual(365 * 24);
    expect(rx.points.length).toBeLessThanOrEqual(365 * 24 + 1);
    for (const p of rx.points) expect(p.slice(1).map((x) => Math.round(x * 1000) / 1000)).toEqual([10, 10, 10]);
    // An hour of 5-minute results: twelve values alternating 0 and 10.
    const lag = series(a, 'lag');
    expect(lag.points.at(-2)!.slice(1)).toEqual([5, 0, 10]);
  });

  it('maxPoints merges hour rows into wider buckets RRD-like: bounded points, weighted average, min and max kept', async () => {
    const a = await get(`/api/v1/objects/db1%2Fnet/perfdata?from=${now - 365 * DAY}&to=${now}&maxPoints=400`);
    expect(a.resolution).toBe('hour');
    expect(a.stepMs % HOUR).toBe(0);
    expect(a.stepMs).toBeGreaterThan(HOUR);
    const rx = series(a, 'rx');
    expect(rx.points.length).toBeLessThanOrEqual(400);
    expect(rx.points.length).toBeGreaterThan(300);
    for (const p of rx.points) expect(Math.round(p[1]! * 1000) / 1000).toBe(10);
    // Before the dense days one value an hour alternating: each bucket holds both.
    const lag = series(a, 'lag');
    expect(lag.points[10]!.slice(2)).toEqual([0, 10]);
    // Weighted by the count behind each point, not by points.
    expect(consolidate([{ at: 0, avg: 0, min: 0, max: 0, n: 1 }, { at: HOUR, avg: 10, min: 0, max: 20, n: 3 }], 0, 20 * HOUR - 1, 1, HOUR).points).toEqual([{ at: 0, avg: 7.5, min: 0, max: 20, n: 4 }]);
    const few = await get(`/api/v1/objects/db1%2Fnet/perfdata?label=rx&from=${now - HOUR}&to=${now}&maxPoints=100`);
    expect(few.series[0]!.points).toHaveLength(13); // fits: unchanged
    expect(few.stepMs).toBe(0);
  });

  it('a week from minute rows, a day from minute rows, an hour raw: the counter is a rate in each', async () => {
    const week = await get(`/api/v1/objects/db1%2Fnet/perfdata?label=rx&from=${now - 7 * DAY}&to=${now}`);
    expect(week.resolution).toBe('minute');
    expect(week.stepMs).toBe(MINUTE);
    // 4 hourly days, then 3 days of 5-minute results: one minute row each.
    expect(week.series[0]!.points).toHaveLength(4 * 24 + (3 * DAY) / (5 * MINUTE) + 1);
    for (const p of week.series[0]!.points) expect(Math.round(p[1]! * 1000) / 1000).toBe(10);
    const hour = await get(`/api/v1/objects/db1%2Fnet/perfdata?label=rx&from=${now - HOUR}&to=${now}`);
    expect(hour.resolution).toBe('raw');
    expect(hour.stepMs).toBe(0);
    expect(hour.series[0]!.points).toHaveLength(13); // from and to both included
    for (const p of hour.series[0]!.points) expect(p[1]).toBe(10);
    // raw, minute and hour agree on the rate of the same hour
    const h = now - 2 * HOUR;
    for (const step of ['raw', 'minute', 'hour']) {
      const a = await get(`/api/v1/objects/db1%2Fnet/perfdata?label=rx&from=${h}&to=${h + HOUR - 1}&step=${step}`);
      expect(a.series[0]!.points.length, step).toBeGreaterThan(0);
      for (const p of a.series[0]!.points) expect(Math.round(p[1]! * 1000) / 1000, step).toBe(10);
    }
  });

  it('each tier is pruned at its own boundary by the job on the server clock, and reaches back to it', () => {
    const r = DEFAULT_RETENTION;
    expect(r).toEqual({ rawMs: 2 * DAY, minuteMs: 8 * DAY, hourMs: 400 * DAY });
    const oldest = (step: 'raw' | 'minute' | 'hour') => syncStore(rt.store).perfdata.query('db1/net', 'lag', 0, now, step)!.points[0]!.at;
    // Nothing older than the retention (the job runs every EXPIRE_EVERY), and the tier is full up to it.
    expect(oldest('raw')).toBeGreaterThanOrEqual(now - r.rawMs - EXPIRE_EVERY);
    expect(oldest('raw')).toBeLessThanOrEqual(now - r.rawMs + 5 * MINUTE);
    expect(oldest('minute')).toBeGreaterThanOrEqual(now - r.minuteMs - EXPIRE_EVERY);
    expect(oldest('minute')).toBeLessThanOrEqual(now - r.minuteMs + HOUR);
    expect(oldest('hour')).toBeGreaterThanOrEqual(now - r.hourMs - EXPIRE_EVERY);
    expect(oldest('hour')).toBeLessThanOrEqual(now - r.hourMs + HOUR);
    // The job goes slice by slice: each slice says where the next one starts, null after the last.
    const a = syncStore(rt.store).perfdata.expire(clock.now(), r, { after: -1, limit: 1 });
    expect(a.next).toBeGreaterThan(0);
    const b = syncStore(rt.store).perfdata.expire(clock.now(), r, { after: a.next!, limit: 1 });
    expect(b.next).toBeGreaterThan(a.next!);
    expect(syncStore(rt.store).perfdata.expire(clock.now(), r, { after: b.next!, limit: 1 }).next).toBeNull();
    // Crossing each boundary by one step: the oldest row of that tier goes, the next stays.
    for (const [step, ms, gap] of [['raw', r.rawMs, 5 * MINUTE], ['minute', r.minuteMs, HOUR], ['hour', r.hourMs, HOUR]] as const) {
      const first = oldest(step);
      const until = first + ms + 1 - clock.now();
      clock.advance(Math.max(0, until) + EXPIRE_EVERY);
      expect(oldest(step), step).toBeGreaterThan(first);
      expect(oldest(step) - first, step).toBeLessThanOrEqual(gap + EXPIRE_EVERY);
    }
  });
});
