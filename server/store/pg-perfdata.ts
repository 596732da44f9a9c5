/**
 * Perfdata history in the PostgreSQL store: the same tables, retention and answers as the
 * SQLite one (store/perfdata.ts, whose comment explains the model). The results of 100 ms are
 * one round trip (PERF_BATCH_MS): the per-value logic (series lookup, threshold change log, counter rates,
 * minute and hour aggregates) runs in the database as hawatch_perf_record().
 *
 * Kept apart from store/perfdata.ts on purpose: a change of the tiers or retention there
 * (a new table, a new resolution) must be made here too, as a new migration in
 * pg-migrations.ts (never by editing PG_PERFDATA_SCHEMA once released).
 */
import { DEFAULT_RETENTION, HOUR, MINUTE, type PerfPoint, type PerfQueryResult, type PerfSeriesInfo } from './perfdata.ts';
import type { PgSession } from './pg-connect.ts';
import type { AnyStore } from './types.ts';

export const PG_PERFDATA_SCHEMA = `
CREATE TABLE perf_series (
  id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL, label TEXT NOT NULL, unit TEXT NOT NULL,
  warn TEXT, crit TEXT, min DOUBLE PRECISION, max DOUBLE PRECISION, last_at BIGINT, last_value DOUBLE PRECISION, UNIQUE (key, label));
CREATE TABLE perf_raw (series BIGINT NOT NULL, at BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL, PRIMARY KEY (series, at));
CREATE TABLE perf_minute (series BIGINT NOT NULL, at BIGINT NOT NULL, n INTEGER NOT NULL, sum DOUBLE PRECISION NOT NULL, min DOUBLE PRECISION NOT NULL, max DOUBLE PRECISION NOT NULL, PRIMARY KEY (series, at));
CREATE TABLE perf_hour (series BIGINT NOT NULL, at BIGINT NOT NULL, n INTEGER NOT NULL, sum DOUBLE PRECISION NOT NULL, min DOUBLE PRECISION NOT NULL, max DOUBLE PRECISION NOT NULL, PRIMARY KEY (series, at));
CREATE TABLE perf_threshold (series BIGINT NOT NULL, at BIGINT NOT NULL, warn TEXT, crit TEXT, PRIMARY KEY (series, at));
CREATE INDEX perf_raw_at ON perf_raw(at);
CREATE INDEX perf_minute_at ON perf_minute(at);
CREATE INDEX perf_hour_at ON perf_hour(at);
CREATE FUNCTION hawatch_perf_record(p_key TEXT, p_at BIGINT, p_label TEXT, p_value DOUBLE PRECISION, p_unit TEXT,
    p_warn TEXT, p_crit TEXT, p_min DOUBLE PRECISION, p_max DOUBLE PRECISION) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r perf_series%ROWTYPE;
  agg DOUBLE PRECISION;
BEGIN
  SELECT * INTO r FROM perf_series WHERE key = p_key AND label = p_label FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO perf_series (key, label, unit, warn, crit, min, max) VALUES (p_key, p_label, p_unit, p_warn, p_crit, p_min, p_max) RETURNING * INTO r;
    INSERT INTO perf_threshold VALUES (r.id, p_at, p_warn, p_crit) ON CONFLICT (series, at) DO UPDATE SET warn = excluded.warn, crit = excluded.crit;
  ELSIF r.warn IS DISTINCT FROM p_warn OR r.crit IS DISTINCT FROM p_crit THEN
    INSERT INTO perf_threshold VALUES (r.id, p_at, p_warn, p_crit) ON CONFLICT (series, at) DO UPDATE SET warn = excluded.warn, crit = excluded.crit;
  END IF;
  INSERT INTO perf_raw VALUES (r.id, p_at, p_value) ON CONFLICT (series, at) DO UPDATE SET value = excluded.value;
  -- A result older than the last one is kept raw, not aggregated (store/perfdata.ts).
  IF r.last_at IS NOT NULL AND p_at <= r.last_at THEN
    RETURN;
  END IF;
  agg := p_value;
  IF p_unit = 'c' THEN
    IF r.last_at IS NOT NULL AND r.last_value IS NOT NULL AND p_value >= r.last_value THEN
      agg := (p_value - r.last_value) * 1000 / (p_at - r.last_at);
    ELSE
      agg := NULL;
    END IF;
  END IF;
  IF agg IS NOT NULL THEN
    INSERT INTO perf_minute VALUES (r.id, p_at - p_at % 60000, 1, agg, agg, agg) ON CONFLICT (series, at) DO UPDATE
      SET n = perf_minute.n + 1, sum = perf_minute.sum + excluded.sum, min = least(perf_minute.min, excluded.min), max = greatest(perf_minute.max, excluded.max);
    INSERT INTO perf_hour VALUES (r.id, p_at - p_at % 3600000, 1, agg, agg, agg) ON CONFLICT (series, at) DO UPDATE
      SET n = perf_hour.n + 1, sum = perf_hour.sum + excluded.sum, min = least(perf_hour.min, excluded.min), max = greatest(perf_hour.max, excluded.max);
  END IF;
  UPDATE perf_series SET unit = p_unit, warn = p_warn, crit = p_crit, min = p_min, max = p_max, last_at = p_at, last_value = p_value WHERE id = r.id;
END $$;
`;

interface SeriesRow {
  id: number;
  key: string;
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

/** Results gathered into one statement: at 170 checks/s a round trip per result cost more CPU in the server than the rows. */
export const PERF_BATCH_MS = 100;

export function pgPerfdataStore(s: PgSession, o: { batchMs?: number } = {}): AnyStore['perfdata'] & { flushPending(): Promise<void> } {
  const batchMs = o.batchMs ?? PERF_BATCH_MS;
  interface Row { key: string; at: number; label: string; value: number; unit: string; warn: string | null; crit: string | null; min: number | null; max: number | null }
  let rows: Row[] = [];
  let waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  let timer: NodeJS.Timeout | null = null;
  /** Writes what was gathered as one statement, in the order recorded; every caller of the batch hears its outcome. */
  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = rows;
    const told = waiters;
    rows = [];
    waiters = [];
    if (!batch.length) return Promise.resolve();
    const col = <K extends keyof Row>(k: K) => batch.map((r) => r[k]);
    const done = s.run((c) =>
      c.query(
        `SELECT hawatch_perf_record(k, a, l, v, u, w, cr, mi, ma) FROM unnest($1::text[], $2::bigint[], $3::text[], $4::float8[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::float8[]) WITH ORDINALITY AS t(k, a, l, v, u, w, cr, mi, ma, o) ORDER BY o`,
        [col('key'), col('at'), col('label'), col('value'), col('unit'), col('warn'), col('crit'), col('min'), col('max')],
      ),
    );
    return done.then(
      () => told.forEach((w) => w.resolve()),
      (e: unknown) => told.forEach((w) => w.reject(e)),
    );
  };
  const flushThen = <T>(read: () => Promise<T>): Promise<T> => {
    void flush();
    return read();
  };
  return {
    flushPending: flush,
    record(key, at, samples) {
      const ok = samples.filter((x) => Number.isFinite(x.value));
      if (!ok.length) return Promise.resolve();
      for (const x of ok) rows.push({ key, at, label: x.label, value: x.value, unit: x.unit, warn: x.warn ?? null, crit: x.crit ?? null, min: x.min ?? null, max: x.max ?? null });
      const p = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
      if (batchMs <= 0) void flush();
      else timer ??= setTimeout(() => void flush(), batchMs);
      return p;
    },
    // A read sees what was recorded before it: the gathered rows go first (one connection, in order).
    series: async (key) => (await flushThen(() => s.run((c) => c.query('SELECT * FROM perf_series WHERE key = $1 ORDER BY label', [key])))).rows.map((r) => info(r as SeriesRow)),
    latest: async () =>
      (await flushThen(() => s.run((c) => c.query('SELECT * FROM perf_series WHERE last_at IS NOT NULL ORDER BY key, label')))).rows.map((r) => ({ key: (r as SeriesRow).key, series: info(r as SeriesRow) })),
    query: (key, label, from, to, resolution) =>
      flushThen(() => s.run(async (c): Promise<PerfQueryResult | null> => {
        const row = (await c.query('SELECT * FROM perf_series WHERE key = $1 AND label = $2', [key, label])).rows[0] as SeriesRow | undefined;
        if (!row) return null;
        let points: PerfPoint[];
        if (resolution === 'raw') {
          const raws = (await c.query('SELECT at, value FROM perf_raw WHERE series = $1 AND at >= $2 AND at <= $3 ORDER BY at', [row.id, from, to])).rows as { at: number; value: number }[];
          if (row.unit === 'c') {
            let p = (await c.query('SELECT at, value FROM perf_raw WHERE series = $1 AND at < $2 ORDER BY at DESC LIMIT 1', [row.id, from])).rows[0] as { at: number; value: number } | undefined;
            points = [];
            for (const r of raws) {
              if (p && r.value >= p.value && r.at > p.at) {
                const rate = ((r.value - p.value) * 1000) / (r.at - p.at);
                points.push({ at: r.at, avg: rate, min: rate, max: rate });
              }
              p = r;
            }
          } else points = raws.map((r) => ({ at: r.at, avg: r.value, min: r.value, max: r.value }));
        } else {
          const table = resolution === 'minute' ? 'perf_minute' : 'perf_hour';
          const step = resolution === 'minute' ? MINUTE : HOUR;
          const rows = (await c.query(`SELECT at, n, sum, min, max FROM ${table} WHERE series = $1 AND at >= $2 AND at <= $3 ORDER BY at`, [row.id, from - (from % step), to])).rows as { at: number; n: number; sum: number; min: number; max: number }[];
          points = rows.map((r) => ({ at: r.at, avg: r.sum / r.n, min: r.min, max: r.max, n: Number(r.n) }));
        }
        const thresholds = (
          await c.query(
            `SELECT at, warn, crit FROM perf_threshold WHERE series = $1 AND at <= $2 AND at >= coalesce((SELECT max(at) FROM perf_threshold WHERE series = $1 AND at <= $3), 0) ORDER BY at`,
            [row.id, to, from],
          )
        ).rows as { at: number; warn: string | null; crit: string | null }[];
        return { series: info(row), resolution, points, thresholds };
      })),
    expire: (now, retention = DEFAULT_RETENTION) =>
      flushThen(() => s.tx(async (c) => {
        const del = async (table: string, ms: number) => (await c.query(`DELETE FROM ${table} WHERE at < $1`, [now - ms])).rowCount ?? 0;
        const raw = await del('perf_raw', retention.rawMs);
        const minute = await del('perf_minute', retention.minuteMs);
        const hour = await del('perf_hour', retention.hourMs);
        await c.query('DELETE FROM perf_threshold t WHERE at < $1 AND at < (SELECT max(t2.at) FROM perf_threshold t2 WHERE t2.series = t.series)', [now - retention.hourMs]);
        const gone = `SELECT id FROM perf_series WHERE last_at IS NULL OR last_at < $1`;
        await c.query(`DELETE FROM perf_threshold WHERE series IN (${gone})`, [now - retention.hourMs]);
        await c.query(`DELETE FROM perf_series WHERE id IN (${gone})`, [now - retention.hourMs]);
        return { raw, minute, hour };
      })),
    forget: (keys) =>
      flushThen(() => s.tx(async (c) => {
        const ids = `SELECT id FROM perf_series WHERE key = ANY($1::text[])`;
        for (const t of ['perf_raw', 'perf_minute', 'perf_hour', 'perf_threshold']) await c.query(`DELETE FROM ${t} WHERE series IN (${ids})`, [keys]);
        await c.query('DELETE FROM perf_series WHERE key = ANY($1::text[])', [keys]);
      })),
  };
}
