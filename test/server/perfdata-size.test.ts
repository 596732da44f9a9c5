// Issue 15 item 1, the documented size: a day of 1-minute results for N services, each with
// 3 perfdata values (a gauge with thresholds, a byte count, a counter), written through the
// real recorder into a real database file; bytes per table measured with SQLite's dbstat and
// scaled to 1,000 services. HAWATCH_PERF_SIZE_SERVICES=1000 measures 1,000 for real (slow).
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { samplesOf } from '../../server/core/perfdata-history.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { MINUTE } from '../../server/store/perfdata.ts';
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
    // Steady state: raw kept 2 days, minutes 8, hours 366 (a day's hour rows are 1/60 of its minute rows).
    const steady = 2 * day('perf_raw') + 8 * day('perf_minute') + 366 * day('perf_hour');
    const report = { services: N, valuesPerResult: 3, writeMs: Math.round(writeMs), perDayPer1000: { raw: day('perf_raw'), minute: day('perf_minute'), hour: day('perf_hour') }, steadyStatePer1000Bytes: steady };
    console.log(`perfdata size: ${JSON.stringify(report)}`);
    // The bound documented in server/README.md (per 1,000 services of 3 values at 1-minute checks).
    expect(day('perf_raw')).toBeLessThan(150e6);
    expect(steady).toBeLessThan(2.5e9);
    expect(day('perf_hour') * 50).toBeLessThan(day('perf_minute'));
  }, 120_000);
});
