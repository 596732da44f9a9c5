// Issue 15 item 1, the documented size: a day of 1-minute results for N services, each with
// 3 perfdata values (a gauge with thresholds, a byte count, a counter), written through the
// real recorder into a real database file; bytes per table measured with SQLite's dbstat and
// scaled to 1,000 services; then the same database filled to its steady state (2 days raw,
// 8 days of minutes, 400 days of hours) and measured again after the expiry job ran.
// HAWATCH_PERF_SIZE_SERVICES=1000 measures 1,000 for real (slow).
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { samplesOf } from '../../server/core/perfdata-history.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { DAY, DEFAULT_RETENTION, HOUR, MINUTE } from '../../server/store/perfdata.ts';
import { removeDir, tempDir } from '../support/tmp.ts';

const dir = tempDir('hawatch-perfsize-');
afterAll(() => removeDir(dir));
const N = Number(process.env.HAWATCH_PERF_SIZE_SERVICES ?? 25);

describe('perfdata history size', () => {
  it(`a day of 1-minute results for ${N} services, scaled to 1,000`, () => {
    const hosts = Math.ceil(N / 10);
    const inv = loadInventory(
      `hosts:\n${Array.from({ length: hosts }, (_, i) => `  h${i}: { address: 192.0.2.${(i % 250) + 1}, passive: true, freshness: false }\n`).join('')}` +
        `services:\n${Array.from({ length: N }, (_, i) => `  - { name: s${i % 10}, host: h${Math.floor(i / 10)}, passive: true, freshness: false }\n`).join('')}`,
    );
    const clock = new FakeClock(Date.UTC(2025, 0, 6, 0, 0, 0));
    const file = join(dir, 'size.db');
    const store = openSqliteStore(file, () => clock.now());
    const keys = [...inv.services.keys()];
    let values = 0;
    const t0 = performance.now();
    for (let m = 0; m < 1440; m++) {
      for (let i = 0; i < keys.length; i++) {
        const perf = `lag=${((m * 7 + i) % 300) / 10}s;5;30;0 used=${1e9 + m * 4096 + i}B;;;0;8000000000 rx=${m * 60_000 + i * 13}c`;
        // Straight into the perfdata store (the recorder's own path is tested in
        // perfdata-history.test.ts): this measures the history, not the state machine.
        const samples = samplesOf(perf);
        store.perfdata.record(keys[i]!, clock.now(), samples);
        values += samples.length;
      }
      clock.advance(MINUTE);
    }
    const writeMs = performance.now() - t0;
    expect(values).toBe(N * 1440 * 3);
    store.close();
    const db = new Database(file);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const perTable = Object.fromEntries(
      (db.prepare(`SELECT name, sum(pgsize) AS bytes FROM dbstat WHERE name LIKE 'perf_%' OR name LIKE 'sqlite_autoindex_perf%' GROUP BY name`).all() as { name: string; bytes: number }[]).map((r) => [r.name, r.bytes]),
    );
    db.close();
    const scale = 1000 / N;
    const day = (t: string) => Math.round((perTable[t] ?? 0) * scale);
    const R = DEFAULT_RETENTION;
    // Steady state computed from the measured day: raw kept 2 days, minutes 8, hours 400.
    const computed = (R.rawMs / DAY) * day('perf_raw') + (R.minuteMs / DAY) * day('perf_minute') + (R.hourMs / DAY) * day('perf_hour');

    // And measured: the same database filled to its steady state, every tier as full as its
    // retention lets it be (raw and minute rows copied from the measured day onto the days
    // before, hour rows for 400 days with values that do not compress), then the expiry job
    // run at the end of it: what it deletes is what a year of running would have deleted.
    const full = new Database(file);
    const fillMs = performance.now();
    const end = clock.now();
    full.exec('BEGIN');
    for (let d = 1; d < R.rawMs / DAY; d++) full.prepare('INSERT OR IGNORE INTO perf_raw SELECT series, at - ?, value + 0.5 FROM perf_raw WHERE at >= ?').run(d * DAY, end - DAY);
    for (let d = 1; d < R.minuteMs / DAY; d++) full.prepare('INSERT OR IGNORE INTO perf_minute SELECT series, at - ?, n, sum + 0.5, min, max + 0.5 FROM perf_minute WHERE at >= ?').run(d * DAY, end - DAY);
    full
      .prepare(`WITH RECURSIVE h(at) AS (SELECT ? UNION ALL SELECT at + ${HOUR} FROM h WHERE at < ?)
        INSERT OR IGNORE INTO perf_hour SELECT s.id, h.at, 60, abs(random() % 100000000) / 1000.0, abs(random() % 1000000) / 1000.0, abs(random() % 100000000) / 1000.0 FROM perf_series s, h`)
      .run(end - R.hourMs, end - DAY);
    full.exec('COMMIT');
    const filledMs = performance.now() - fillMs;
    const steadyStore = openSqliteStore(file, () => end);
    const e0 = performance.now();
    const expired = steadyStore.perfdata.expire(end + HOUR);
    const expireMs = performance.now() - e0;
    steadyStore.close();
    full.pragma('wal_checkpoint(TRUNCATE)');
    full.exec('VACUUM');
    const rows = Object.fromEntries(['perf_raw', 'perf_minute', 'perf_hour'].map((t) => [t, (full.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n]));
    const bytes = (full.prepare(`SELECT sum(pgsize) AS b FROM dbstat WHERE name LIKE 'perf_%' OR name LIKE 'sqlite_autoindex_perf%'`).get() as { b: number }).b;
    full.close();
    const measured = Math.round(bytes * scale);
    const series = N * 3;
    const report = {
      services: N,
      valuesPerResult: 3,
      writeMs: Math.round(writeMs),
      perDayPer1000: { raw: day('perf_raw'), minute: day('perf_minute'), hour: day('perf_hour') },
      steadyStatePer1000Bytes: { computed, measured },
      rowsPerSeries: { raw: rows.perf_raw! / series, minute: rows.perf_minute! / series, hour: rows.perf_hour! / series },
      fillMs: Math.round(filledMs),
      expireMsPer1000: Math.round(expireMs * scale),
      expiredRows: expired,
    };
    console.log(`perfdata size: ${JSON.stringify(report)}`);
    // Each tier holds what its retention says (the hour before the expiry ran is the margin).
    expect(rows.perf_raw! / series).toBeLessThanOrEqual((R.rawMs / MINUTE) + 1);
    expect(rows.perf_raw! / series).toBeGreaterThan((R.rawMs / MINUTE) - 120);
    expect(rows.perf_minute! / series).toBeLessThanOrEqual(R.minuteMs / MINUTE + 1);
    expect(rows.perf_hour! / series).toBeGreaterThan(R.hourMs / HOUR - 2);
    expect(rows.perf_hour! / series).toBeLessThanOrEqual(R.hourMs / HOUR + 1);
    // The bound documented in server/README.md (per 1,000 services of 3 values at 1-minute checks).
    expect(day('perf_raw')).toBeLessThan(150e6);
    expect(computed).toBeLessThan(3e9);
    expect(measured).toBeLessThan(3e9);
    expect(Math.abs(measured - computed) / computed).toBeLessThan(0.25);
    expect(day('perf_hour') * 50).toBeLessThan(day('perf_minute'));
  }, 120_000);
});
