// Issue 15 item 1: perfdata history. Every numeric value stored with unit and thresholds,
// 1-minute and 1-hour aggregates (avg/min/max) kept at write time, counters answered as
// rates, old rows expired on the server's clock, and a store that fails loses no check result.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../server/core/runtime.ts';
import { PerfdataRecorder, samplesOf } from '../../server/core/perfdata-history.ts';
import { Monitor } from '../../server/core/monitor.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { DAY, HOUR, MINUTE, pickResolution } from '../../server/store/perfdata.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { FakeExecutors , syncStore } from './helpers.ts';

const dir = tempDir('hawatch-perf-');
afterAll(() => removeDir(dir));

const INVENTORY = `
defaults: { check_interval: 1m, max_check_attempts: 1 }
hosts:
  db1: { address: 192.0.2.1, passive: true, freshness: false }
services:
  - { name: drbd, host: db1, passive: true, freshness: false }
  - { name: net, host: db1, passive: true, freshness: false }
`;

async function runtime(database = ':memory:') {
  const clock = new FakeClock(Date.UTC(2025, 0, 6, 0, 0, 0));
  const rt = await createRuntime({ inventory: loadInventory(INVENTORY), executorFactory: new FakeExecutors().factory, database, clock, autoStart: false });
  const submit = (key: string, perf: string, state = 0) => rt.monitor.submitResult(key, { state: state as 0, output: 'OK - x', longOutput: '', perfdataText: perf, executedAt: clock.now(), durationMs: 1 });
  const get = async (url: string) => {
    const r = await rt.app.inject({ method: 'GET', url });
    return { status: r.statusCode, body: r.json() };
  };
  return { rt, clock, submit, get };
}

describe('perfdata history', () => {
  it('keeps every numeric value with unit and thresholds, and parses perfdata as graphers do', () => {
    expect(samplesOf("'r0/0 out_of_sync'=1048576B;;;0 lag=0.2s;5;30;0 gone=U bad=x1")).toEqual([
      { label: 'r0/0 out_of_sync', value: 1048576, unit: 'B', warn: undefined, crit: undefined, min: 0, max: undefined },
      { label: 'lag', value: 0.2, unit: 's', warn: '5', crit: '30', min: 0, max: undefined },
    ]);
  });

  it('aggregates per minute and per hour at write time with the exact avg, min and max', async () => {
    const { rt, clock, submit, get } = await runtime();
    const start = clock.now();
    // Every 10 s for 2 hours: value = seconds since start mod 60 (0,10,...,50 each minute).
    for (let i = 0; i < 720; i++) {
      submit('db1/drbd', `lag=${(i % 6) * 10}s;30;50;0`);
      clock.advance(10_000);
    }
    const raw = await get(`/api/v1/objects/db1%2Fdrbd/perfdata?label=lag&from=${start}&to=${start + HOUR - 1}`);
    expect(raw.status).toBe(200);
    expect(raw.body.resolution).toBe('raw');
    expect(raw.body.series[0].points).toHaveLength(360);
    expect(raw.body.series[0].points[3]).toEqual([start + 30_000, 30, 30, 30]);
    expect(raw.body.series[0]).toMatchObject({ label: 'lag', unit: 's', rate: false, warn: '30', crit: '50', min: 0 });

    const minute = await get(`/api/v1/objects/db1%2Fdrbd/perfdata?label=lag&from=${start}&to=${start + 2 * HOUR}&step=minute`);
    expect(minute.body.resolution).toBe('minute');
    expect(minute.body.series[0].points).toHaveLength(120);
    for (const p of minute.body.series[0].points) expect(p.slice(1)).toEqual([25, 0, 50]);
    expect(minute.body.series[0].points[1][0]).toBe(start + MINUTE);

    const hour = await get(`/api/v1/objects/db1%2Fdrbd/perfdata?label=lag&from=${start}&to=${start + 2 * HOUR}&step=hour`);
    expect(hour.body.series[0].points).toEqual([[start, 25, 0, 50], [start + HOUR, 25, 0, 50]]);
    await rt.stop();
  });

  it('picks the resolution by range and answers bad requests with one line', async () => {
    const { rt, clock, submit, get } = await runtime();
    submit('db1/drbd', 'lag=1s;5;10');
    clock.advance(MINUTE);
    submit('db1/drbd', 'lag=2s;6;10');
    const now = clock.now();
    expect(pickResolution(now - HOUR, now, now)).toBe('raw');
    expect(pickResolution(now - DAY, now, now)).toBe('minute');
    expect(pickResolution(now - 7 * DAY, now, now)).toBe('minute');
    expect(pickResolution(now - 30 * DAY, now, now)).toBe('hour');
    // raw is gone after 2 days, so a short range in the past is answered from minutes
    expect(pickResolution(now - 3 * DAY, now - 3 * DAY + HOUR, now)).toBe('minute');
    expect((await get(`/api/v1/objects/db1%2Fdrbd/perfdata?from=${now - HOUR}`)).body.resolution).toBe('raw');
    expect((await get(`/api/v1/objects/db1%2Fdrbd/perfdata`)).body.resolution).toBe('minute');
    expect((await get(`/api/v1/objects/db1%2Fdrbd/perfdata?from=${now - 365 * DAY}`)).body.resolution).toBe('hour');

    // All series of the object without label; the threshold change is in the log.
    const all = await get(`/api/v1/objects/db1%2Fdrbd/perfdata?from=${now - HOUR}`);
    expect(all.body.series.map((s: { label: string }) => s.label)).toEqual(['lag']);
    expect(all.body.series[0].thresholds).toEqual([{ at: now - MINUTE, warn: '5', crit: '10' }, { at: now, warn: '6', crit: '10' }]);

    const bad = [
      [`/api/v1/objects/db1%2Fdrbd/perfdata?from=${now}&to=${now - 1}`, 400, /from \(\d+\) must be before to/],
      [`/api/v1/objects/db1%2Fdrbd/perfdata?step=day`, 400, /step/],
      [`/api/v1/objects/db1%2Fdrbd/perfdata?from=yesterday`, 400, /from/],
      [`/api/v1/objects/db1%2Fdrbd/perfdata?label=nope`, 404, /db1\/drbd has no perfdata series nope: known labels are lag/],
      [`/api/v1/objects/db9%2Fdrbd/perfdata`, 404, /no host or service db9\/drbd in the inventory/],
      [`/api/v1/objects/db1%2Fdrbd/perfdata?from=0&to=${now}`, 400, /at most 400 are kept/],
    ] as const;
    for (const [url, status, msg] of bad) {
      const r = await get(url);
      expect(r.status, url).toBe(status);
      expect(r.body.message, url).toMatch(msg);
      expect(r.body.message).not.toContain('\n');
    }
    await rt.stop();
  });

  it('answers counters (unit c) as rates per second at every resolution, with a gap at a reset', async () => {
    const { rt, clock, submit, get } = await runtime();
    const start = clock.now();
    let count = 1_000_000;
    for (let i = 0; i < 10; i++) {
      if (i === 5) count = 0; // counter reset (agent restart)
      submit('db1/net', `rx=${count}c`);
      count += 600; // 10 per second
      clock.advance(MINUTE);
    }
    const raw = await get(`/api/v1/objects/db1%2Fnet/perfdata?label=rx&from=${start}&to=${clock.now()}&step=raw`);
    expect(raw.body.series[0]).toMatchObject({ unit: 'c', rate: true });
    const pts = raw.body.series[0].points as number[][];
    expect(pts).toHaveLength(8); // the first result and the reset have no rate
    for (const p of pts) expect(p[1]).toBe(10);
    expect(pts.map((p) => p[0])).not.toContain(start + 5 * MINUTE);
    const minute = await get(`/api/v1/objects/db1%2Fnet/perfdata?label=rx&from=${start}&to=${clock.now()}&step=minute`);
    expect(minute.body.series[0].points.map((p: number[]) => p[1])).toEqual(Array(8).fill(10));
    const hour = await get(`/api/v1/objects/db1%2Fnet/perfdata?label=rx&from=${start}&to=${clock.now()}&step=hour`);
    expect(hour.body.series[0].points).toEqual([[start, 10, 10, 10]]);
    await rt.stop();
  });

  it('several instances: an object another instance runs is not recorded here (its owner records it once)', () => {
    const clock = new FakeClock(Date.UTC(2025, 0, 6, 0, 0, 0));
    const store = openSqliteStore(':memory:', () => clock.now());
    const monitor = new Monitor(loadInventory(INVENTORY), store, clock);
    const recorded: string[] = [];
    const others = new Set(['db1/net']);
    const source = { on: monitor.on.bind(monitor), status: monitor.status.bind(monitor), mine: (k: string) => !others.has(k) };
    const rec = new PerfdataRecorder({ source, store: () => ({ ...store.perfdata, record: (key: string) => void recorded.push(key) }), clock });
    rec.start();
    monitor.submitResult('db1/drbd', { state: 0, output: 'OK', longOutput: '', perfdataText: 'lag=1s', executedAt: clock.now(), durationMs: 1 });
    monitor.submitResult('db1/net', { state: 0, output: 'OK', longOutput: '', perfdataText: 'rx=10c', executedAt: clock.now(), durationMs: 1 });
    expect(recorded).toEqual(['db1/drbd']);
    rec.stop();
  });

  it('deletes rows past their retention on the server clock: raw after 2 days, minutes after 8, hours after 400', async () => {
    const clock = new FakeClock(Date.UTC(2025, 0, 6, 0, 0, 0));
    const store = openSqliteStore(':memory:', () => clock.now());
    const monitor = new Monitor(loadInventory(INVENTORY), store, clock);
    const rec = new PerfdataRecorder({ source: monitor, store: () => store.perfdata, clock, expireEveryMs: HOUR });
    rec.start();
    const t0 = clock.now();
    monitor.submitResult('db1/drbd', { state: 0, output: 'OK', longOutput: '', perfdataText: 'lag=1s', executedAt: t0, durationMs: 1 });
    const count = () => {
      const q = (step: 'raw' | 'minute' | 'hour') => store.perfdata.query('db1/drbd', 'lag', 0, clock.now(), step)!.points.length;
      return [q('raw'), q('minute'), q('hour')];
    };
    expect(count()).toEqual([1, 1, 1]);
    clock.advance(2 * DAY - HOUR);
    expect(count()).toEqual([1, 1, 1]);
    clock.advance(2 * HOUR); // the hourly job ran past 2 days
    expect(count()).toEqual([0, 1, 1]);
    clock.advance(29 * DAY);
    expect(count()).toEqual([0, 0, 1]);
    // The series and its latest thresholds stay while any of its rows may (the page knows its unit).
    expect(store.perfdata.series('db1/drbd')).toMatchObject([{ label: 'lag', unit: 's', lastValue: 1 }]);
    clock.advance(368 * DAY);
    expect(count()).toEqual([0, 0, 1]); // a year and a month later: still in the hour tier
    clock.advance(2 * DAY);
    expect(store.perfdata.query('db1/drbd', 'lag', 0, clock.now(), 'hour')).toBeNull();
    // A series with no value for the longest retention is gone with its threshold log.
    expect(store.perfdata.series('db1/drbd')).toEqual([]);
    rec.stop();
    expect(clock.pendingTimers()).toBe(0);
    store.close();
  });

  it('a store that cannot write perfdata loses no check result and does not crash; writing resumes after', async () => {
    const db = join(dir, 'broken.db');
    const { rt, clock, submit } = await runtime(db);
    const logs: string[] = [];
    rt.app.log.error = ((m: string) => void logs.push(m)) as never;
    submit('db1/drbd', 'lag=1s');
    // Another connection breaks the perfdata tables under the running server.
    const other = new Database(db);
    other.exec('ALTER TABLE perf_raw RENAME TO perf_raw_moved');
    clock.advance(MINUTE);
    const s = submit('db1/drbd', 'lag=9s', 2);
    expect(s.state).toBe(2);
    clock.advance(MINUTE);
    submit('db1/drbd', 'lag=8s', 2);
    expect(rt.monitor.status('db1/drbd')?.perfdata).toBe('lag=8s');
    expect(syncStore(rt.store).history({ key: 'db1/drbd', limit: 10 }).map((h) => h.state)).toContain(2);
    expect(logs.filter((l) => l.includes('perfdata history'))).toHaveLength(1);
    expect(logs[0]).toMatch(/values of db1\/drbd not stored \(.*perf_raw.*\): graphs show a gap/);
    other.exec('ALTER TABLE perf_raw_moved RENAME TO perf_raw');
    other.close();
    clock.advance(MINUTE);
    submit('db1/drbd', 'lag=7s', 2);
    expect(syncStore(rt.store).perfdata.query('db1/drbd', 'lag', 0, clock.now(), 'raw')!.points.map((p) => p.avg)).toEqual([1, 7]);
    await rt.stop();
    // What was stored survives a restart.
    const again = openSqliteStore(db);
    expect(again.perfdata.series('db1/drbd')).toMatchObject([{ label: 'lag', lastValue: 7 }]);
    again.close();
  });
});
