/**
 * Perfdata history in the SQLite store, RRD-like: every numeric value raw (2 days), and
 * 1-minute and 1-hour aggregates (count, sum, min, max) kept longer. The aggregates are
 * updated at write time (one upsert each), so no job has to re-read the raw rows and a
 * restart loses nothing; a periodic job on the server's clock only deletes expired rows.
 *
 * Counters (unit `c`) are stored raw as counted; their aggregates hold the rate per second
 * between two results (a reset, a smaller value, leaves a gap), so every resolution answers
 * in rates.
 *
 * Size (measured, see server/README.md): rows are WITHOUT ROWID tables keyed by (series, at),
 * the thresholds are kept as a change log (a row only when they change), not per value.
 */
import type Database from 'better-sqlite3';

export const PERFDATA_SCHEMA = `
CREATE TABLE IF NOT EXISTS perf_series (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL, label TEXT NOT NULL, unit TEXT NOT NULL,
  warn TEXT, crit TEXT, min REAL, max REAL, last_at INTEGER, last_value REAL, UNIQUE (key, label));
CREATE TABLE IF NOT EXISTS perf_raw (series INTEGER NOT NULL, at INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY (series, at)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS perf_minute (series INTEGER NOT NULL, at INTEGER NOT NULL, n INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (series, at)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS perf_hour (series INTEGER NOT NULL, at INTEGER NOT NULL, n INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (series, at)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS perf_threshold (series INTEGER NOT NULL, at INTEGER NOT NULL, warn TEXT, crit TEXT, PRIMARY KEY (series, at)) WITHOUT ROWID;
`;

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** How long each resolution is kept (ms). */
export interface PerfRetention {
  readonly rawMs: number;
  readonly minuteMs: number;
  readonly hourMs: number;
}
/**
 * Hours are kept 400 days, as long as the widest range the API answers (a year and a margin:
 * last year's same week is still there); minutes 8 days (the 1-week graph), raw 2 days.
 */
export const DEFAULT_RETENTION: PerfRetention = { rawMs: 2 * DAY, minuteMs: 8 * DAY, hourMs: 400 * DAY };

export interface PerfSample {
  readonly label: string;
  readonly value: number;
  readonly unit: string;
  readonly warn?: string | undefined;
  readonly crit?: string | undefined;
  readonly min?: number | undefined;
  readonly max?: number | undefined;
}

export interface PerfSeriesInfo {
  readonly label: string;
  readonly unit: string;
  readonly warn: string | null;
  readonly crit: string | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly lastAt: number | null;
  readonly lastValue: number | null;
}

export type PerfResolution = 'raw' | 'minute' | 'hour';

/** One point: raw points have avg = min = max. Counters: rates per second. */
export interface PerfPoint {
  readonly at: number;
  readonly avg: number;
  readonly min: number;
  readonly max: number;
  /** Values behind the point (1 for raw), so that merging points weighs their averages. */
  readonly n?: number;
}

/** Milliseconds between the points of a resolution (raw: 0, as reported). */
export const STEP_MS: Record<PerfResolution, number> = { raw: 0, minute: MINUTE, hour: HOUR };

/**
 * At most `maxPoints` points, RRD consolidation: the range cut into equal buckets (a whole
 * number of the resolution's step), each one point at its start with the count-weighted
 * average, the min of the mins and the max of the maxes. Answers the points unchanged when
 * they fit, and the bucket width used (ms).
 */
export function consolidate(points: readonly PerfPoint[], from: number, to: number, maxPoints: number, stepMs: number): { points: PerfPoint[]; stepMs: number } {
  if (points.length <= maxPoints) return { points: [...points], stepMs };
  const unit = stepMs > 0 ? stepMs : 1000;
  const width = Math.max(unit, Math.ceil((to - from + 1) / maxPoints / unit) * unit);
  const start = from - (((from % width) + width) % width);
  const out: PerfPoint[] = [];
  let cur: { at: number; w: number; sum: number; min: number; max: number } | null = null;
  const flush = () => {
    if (cur) out.push({ at: cur.at, avg: cur.sum / cur.w, min: cur.min, max: cur.max, n: cur.w });
  };
  for (const p of points) {
    const at = start + Math.floor((p.at - start) / width) * width;
    const w = p.n ?? 1;
    if (!cur || cur.at !== at) {
      flush();
      cur = { at, w: 0, sum: 0, min: p.min, max: p.max };
    }
    cur.w += w;
    cur.sum += p.avg * w;
    cur.min = Math.min(cur.min, p.min);
    cur.max = Math.max(cur.max, p.max);
  }
  flush();
  return { points: out, stepMs: width };
}

export interface PerfQueryResult {
  readonly series: PerfSeriesInfo;
  readonly resolution: PerfResolution;
  readonly points: PerfPoint[];
  readonly thresholds: { at: number; warn: string | null; crit: string | null }[];
}

export interface PerfdataStore {
  /** Stores the values of one check result of `key` taken at `at`. */
  record(key: string, at: number, samples: readonly PerfSample[]): void;
  series(key: string): PerfSeriesInfo[];
  /** Every series' latest value (metrics). */
  latest(): { key: string; series: PerfSeriesInfo }[];
  query(key: string, label: string, from: number, to: number, resolution: PerfResolution): PerfQueryResult | null;
  /**
   * Deletes rows older than the retention; returns rows deleted per table. With `slice`, only
   * the series with an id above `after`, at most `limit` of them, and `next` is the `after` of
   * the next slice (null after the last): the job lets the event loop run between slices.
   */
  expire(now: number, retention?: PerfRetention, slice?: { after: number; limit: number }): { raw: number; minute: number; hour: number; next?: number | null };
  /** Forgets the series of objects that left the inventory. */
  forget(keys: readonly string[]): void;
}

interface SeriesRow {
  id: number;
  label: string;
  unit: string;
  warn: string | null;
  crit: string | null;
  min: number | null;
  max: number | null;
  last_at: number | null;
  last_value: number | null;
}
const info = (r: SeriesRow): PerfSeriesInfo => ({ label: r.label, unit: r.unit, warn: r.warn, crit: r.crit, min: r.min, max: r.max, lastAt: r.last_at, lastValue: r.last_value });

export function openPerfdataStore(db: Database.Database): PerfdataStore {
  db.exec(PERFDATA_SCHEMA);
  const findSeries = db.prepare('SELECT * FROM perf_series WHERE key = ? AND label = ?');
  const insertSeries = db.prepare('INSERT INTO perf_series (key, label, unit, warn, crit, min, max) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const updateSeries = db.prepare('UPDATE perf_series SET unit = ?, warn = ?, crit = ?, min = ?, max = ?, last_at = ?, last_value = ? WHERE id = ?');
  const insertRaw = db.prepare('INSERT OR REPLACE INTO perf_raw (series, at, value) VALUES (?, ?, ?)');
  const upsert = (table: 'perf_minute' | 'perf_hour') =>
    db.prepare(`INSERT INTO ${table} (series, at, n, sum, min, max) VALUES (?, ?, 1, ?, ?, ?)
      ON CONFLICT (series, at) DO UPDATE SET n = n + 1, sum = sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max)`);
  const upsertMinute = upsert('perf_minute');
  const upsertHour = upsert('perf_hour');
  const insertThreshold = db.prepare('INSERT OR REPLACE INTO perf_threshold (series, at, warn, crit) VALUES (?, ?, ?, ?)');
  const allSeriesIds = db.prepare('SELECT id FROM perf_series WHERE id > ? ORDER BY id LIMIT ?');
  const deleteOlder = {
    perf_raw: db.prepare('DELETE FROM perf_raw WHERE series = ? AND at < ?'),
    perf_minute: db.prepare('DELETE FROM perf_minute WHERE series = ? AND at < ?'),
    perf_hour: db.prepare('DELETE FROM perf_hour WHERE series = ? AND at < ?'),
  };

  const record = db.transaction((key: string, at: number, samples: readonly PerfSample[]) => {
    for (const s of samples) {
      if (!Number.isFinite(s.value)) continue;
      const warn = s.warn ?? null;
      const crit = s.crit ?? null;
      let row = findSeries.get(key, s.label) as SeriesRow | undefined;
      if (!row) {
        const id = Number(insertSeries.run(key, s.label, s.unit, warn, crit, s.min ?? null, s.max ?? null).lastInsertRowid);
        row = { id, label: s.label, unit: s.unit, warn: null, crit: null, min: null, max: null, last_at: null, last_value: null };
        insertThreshold.run(id, at, warn, crit);
      } else if (row.warn !== warn || row.crit !== crit) insertThreshold.run(row.id, at, warn, crit);
      // A result older than the last one (clock step, late passive result) is kept raw but
      // not aggregated as a counter step: its rate would be meaningless.
      if (row.last_at !== null && at <= row.last_at) {
        insertRaw.run(row.id, at, s.value);
        continue;
      }
      insertRaw.run(row.id, at, s.value);
      let agg: number | null = s.value;
      if (s.unit === 'c') {
        agg = row.last_at !== null && row.last_value !== null && s.value >= row.last_value ? ((s.value - row.last_value) * 1000) / (at - row.last_at) : null;
      }
      if (agg !== null) {
        upsertMinute.run(row.id, at - (at % MINUTE), agg, agg, agg);
        upsertHour.run(row.id, at - (at % HOUR), agg, agg, agg);
      }
      updateSeries.run(s.unit, warn, crit, s.min ?? null, s.max ?? null, at, s.value, row.id);
    }
  });

  return {
    record: (key, at, samples) => record(key, at, samples),
    series: (key) => (db.prepare('SELECT * FROM perf_series WHERE key = ? ORDER BY label').all(key) as SeriesRow[]).map(info),
    latest: () =>
      (db.prepare('SELECT * FROM perf_series WHERE last_at IS NOT NULL ORDER BY key, label').all() as (SeriesRow & { key: string })[]).map((r) => ({ key: r.key, series: info(r) })),
    query(key, label, from, to, resolution) {
      const row = findSeries.get(key, label) as SeriesRow | undefined;
      if (!row) return null;
      let points: PerfPoint[];
      if (resolution === 'raw') {
        // One point before the range for a counter's first rate.
        const raws = db.prepare('SELECT at, value FROM perf_raw WHERE series = ? AND at >= ? AND at <= ? ORDER BY at').all(row.id, from, to) as { at: number; value: number }[];
        if (row.unit === 'c') {
          const prev = db.prepare('SELECT at, value FROM perf_raw WHERE series = ? AND at < ? ORDER BY at DESC LIMIT 1').get(row.id, from) as { at: number; value: number } | undefined;
          points = [];
          let p = prev;
          for (const r of raws) {
            if (p && r.value >= p.value && r.at > p.at) {
              const rate = ((r.value - p.value) * 1000) / (r.at - p.at);
              points.push({ at: r.at, avg: rate, min: rate, max: rate, n: 1 });
            }
            p = r;
          }
        } else points = raws.map((r) => ({ at: r.at, avg: r.value, min: r.value, max: r.value, n: 1 }));
      } else {
        const table = resolution === 'minute' ? 'perf_minute' : 'perf_hour';
        const step = resolution === 'minute' ? MINUTE : HOUR;
        const rows = db.prepare(`SELECT at, n, sum, min, max FROM ${table} WHERE series = ? AND at >= ? AND at <= ? ORDER BY at`).all(row.id, from - (from % step), to) as { at: number; n: number; sum: number; min: number; max: number }[];
        points = rows.map((r) => ({ at: r.at, avg: r.sum / r.n, min: r.min, max: r.max, n: r.n }));
      }
      // The thresholds in force at `from` and every change after it.
      const thresholds = db
        .prepare(`SELECT at, warn, crit FROM perf_threshold WHERE series = ? AND at <= ? AND at >= coalesce((SELECT max(at) FROM perf_threshold WHERE series = ? AND at <= ?), 0) ORDER BY at`)
        .all(row.id, to, row.id, from) as { at: number; warn: string | null; crit: string | null }[];
      return { series: info(row), resolution, points, thresholds };
    },
    expire(now, retention = DEFAULT_RETENTION, slice) {
      // Per series on the primary key (series, at): a plain `WHERE at < ?` scanned every row of
      // every table (about 2 GB per 1,000 services) on the event loop each time the job ran.
      const ids = (allSeriesIds.all(slice?.after ?? -1, slice?.limit ?? -1) as { id: number }[]).map((r) => r.id);
      const next = slice && ids.length === slice.limit ? ids[ids.length - 1]! : null;
      const del = (table: keyof typeof deleteOlder, ms: number) => {
        const stmt = deleteOlder[table];
        let n = 0;
        for (const id of ids) n += stmt.run(id, now - ms).changes;
        return n;
      };
      // One transaction: thousands of small deletes, one commit.
      const { raw, minute, hour } = db.transaction(() => ({ raw: del('perf_raw', retention.rawMs), minute: del('perf_minute', retention.minuteMs), hour: del('perf_hour', retention.hourMs) }))();
      if (next !== null) return { raw, minute, hour, next };
      // Threshold changes older than the longest retention, except each series' latest one.
      db.prepare('DELETE FROM perf_threshold WHERE at < ? AND at < (SELECT max(t2.at) FROM perf_threshold t2 WHERE t2.series = perf_threshold.series)').run(now - retention.hourMs);
      // A series with no value for the longest retention (its object left the inventory, the
      // plugin dropped the label) has no rows left: it goes too, so renamed labels do not pile up.
      const gone = db.prepare('SELECT id FROM perf_series WHERE last_at IS NULL OR last_at < ?').all(now - retention.hourMs) as { id: number }[];
      for (const { id } of gone) {
        db.prepare('DELETE FROM perf_threshold WHERE series = ?').run(id);
        db.prepare('DELETE FROM perf_series WHERE id = ?').run(id);
      }
      return { raw, minute, hour, next: null };
    },
    forget: db.transaction((keys: readonly string[]) => {
      for (const k of keys) {
        const ids = db.prepare('SELECT id FROM perf_series WHERE key = ?').all(k) as { id: number }[];
        for (const { id } of ids) for (const t of ['perf_raw', 'perf_minute', 'perf_hour', 'perf_threshold']) db.prepare(`DELETE FROM ${t} WHERE series = ?`).run(id);
        db.prepare('DELETE FROM perf_series WHERE key = ?').run(k);
      }
    }),
  };
}

/**
 * The resolution for a range: raw up to 6 hours (and within raw retention), minutes up to 8
 * days (and within minute retention), hours beyond: a year is at most 24 x 366 hour points.
 */
export function pickResolution(from: number, to: number, now: number, retention: PerfRetention = DEFAULT_RETENTION): PerfResolution {
  const span = to - from;
  if (span <= 6 * HOUR && from >= now - retention.rawMs) return 'raw';
  if (span <= 8 * DAY && from >= now - retention.minuteMs) return 'minute';
  return 'hour';
}
