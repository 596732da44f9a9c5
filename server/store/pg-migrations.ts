/**
 * Versioned schema of the PostgreSQL store. Each migration runs once, in its own
 * transaction, recorded in schema_migrations; all of them under one advisory lock, so
 * several instances starting at once apply each migration once (the others wait, then see
 * it done). A database migrated by a newer hawatch is refused, not written.
 *
 * Add a migration at the end; never edit one that was released.
 */
import type pg from 'pg';
import { PG_PERFDATA_SCHEMA } from './pg-perfdata.ts';
import { HA_SCHEMA } from '../ha/schema.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'state, history, outbox, meta, silences',
    sql: `
CREATE TABLE status (key TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE downtime (id TEXT PRIMARY KEY, key TEXT NOT NULL, json TEXT NOT NULL);
CREATE INDEX downtime_key ON downtime(key);
CREATE TABLE history (
  id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL, at BIGINT NOT NULL, type TEXT NOT NULL,
  state INTEGER NOT NULL, state_type TEXT NOT NULL, attempt INTEGER NOT NULL, output TEXT NOT NULL, detail TEXT);
CREATE INDEX history_key_at ON history(key, at);
CREATE INDEX history_at ON history(at);
CREATE TABLE outbox (
  id BIGSERIAL PRIMARY KEY, created_at BIGINT NOT NULL, contact TEXT NOT NULL, channel TEXT NOT NULL,
  notification TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL, sent_at BIGINT, last_error TEXT, attempt_at BIGINT, attempt_message_id TEXT);
CREATE INDEX outbox_pending ON outbox(id) WHERE status = 'pending';
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE silence (id TEXT PRIMARY KEY, json TEXT NOT NULL);
`,
  },
  { version: 2, name: 'perfdata history', sql: PG_PERFDATA_SCHEMA },
  { version: 3, name: 'several instances: leases, status change sequence, outbox once and claims', sql: HA_SCHEMA },
];

/** Any 64-bit number that is ours: the lock every instance takes while migrating. */
const LOCK = 0x6861_7761_7463; // "hawatc"

export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
}

/** Applies the migrations not applied yet; returns the versions applied now. */
export async function migrate(c: pg.Client, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  await c.query('SELECT pg_advisory_lock($1)', [LOCK]);
  try {
    await c.query(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    const done = new Set(((await c.query('SELECT version FROM schema_migrations')).rows as { version: number }[]).map((r) => r.version));
    const known = Math.max(...migrations.map((m) => m.version));
    const newest = Math.max(0, ...done);
    if (newest > known) {
      throw new SchemaTooNewError(`the database was migrated by a newer hawatch (schema ${newest}, this one knows ${known}): upgrade hawatch or use another database`);
    }
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await c.query('BEGIN');
      try {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw new Error(`schema migration ${m.version} (${m.name}) failed: ${String((e as Error).message ?? e).split('\n')[0]}: nothing of it was applied; fix the cause and start again`);
      }
      applied.push(m.version);
    }
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [LOCK]).catch(() => {});
  }
  return applied;
}
