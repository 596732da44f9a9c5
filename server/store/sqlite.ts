/**
 * The default store: one SQLite file through better-sqlite3 (synchronous, so a state change
 * and its notifications are one transaction with no interleaving). WAL mode, synchronous
 * NORMAL: a committed transaction survives a process crash; the last ones may be lost on a
 * power cut, which the outbox tolerates (the check runs again).
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Silence } from '../notify/silences.ts';
import type { CheckStatus, Downtime, HistoryEvent } from '../state/types.ts';
import type { HistoryQuery, OutboxRow, Store, StoreChange } from './types.ts';
import { openPerfdataStore, type PerfdataStore } from './perfdata.ts';
import { reason, toRow, type OutboxDbRow } from './outbox-row.ts';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS status (key TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS downtime (id TEXT PRIMARY KEY, key TEXT NOT NULL, json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS downtime_key ON downtime(key);
CREATE TABLE IF NOT EXISTS history (
  id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, at INTEGER NOT NULL, type TEXT NOT NULL,
  state INTEGER NOT NULL, state_type TEXT NOT NULL, attempt INTEGER NOT NULL, output TEXT NOT NULL, detail TEXT);
CREATE INDEX IF NOT EXISTS history_key_at ON history(key, at);
CREATE INDEX IF NOT EXISTS history_at ON history(at);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, created_at INTEGER NOT NULL, contact TEXT NOT NULL, channel TEXT NOT NULL,
  notification TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT, attempt_at INTEGER, attempt_message_id TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS silence (id TEXT PRIMARY KEY, json TEXT NOT NULL);
`;


/** Thrown for a database file that must not be opened (the message says what to do). */
export class StoreOpenError extends Error {
  override name = 'StoreOpenError';
}

export type StoreLog = (level: 'warn' | 'error', msg: string) => void;

export function openSqliteStore(file: string, now: () => number = Date.now, log: StoreLog = (_l, m) => process.stderr.write(`hawatch-server: ${m}\n`)): Store {
  if (file !== ':memory:') {
    // SQLite treats an empty file as a new database: a file truncated by a full disk or a bad
    // copy would silently start with no state, no downtimes and no outbox.
    let size: number | null = null;
    try {
      size = statSync(file).size;
    } catch {
      /* absent: created below */
    }
    if (size === 0) throw new StoreOpenError(`${file} is empty (0 bytes), not a hawatch database: restore it from a backup, or delete it to start with no stored state`);
  }
  let db: Database.Database;
  let perfdata: PerfdataStore;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    // Databases written before the attempt mark existed.
    const columns = new Set((db.prepare('PRAGMA table_info(outbox)').all() as { name: string }[]).map((c) => c.name));
    if (!columns.has('attempt_at')) db.exec('ALTER TABLE outbox ADD COLUMN attempt_at INTEGER');
    if (!columns.has('attempt_message_id')) db.exec('ALTER TABLE outbox ADD COLUMN attempt_message_id TEXT');
    // Perfdata history tables (issue 15): created on databases written before them.
    perfdata = openPerfdataStore(db);
  } catch (e) {
    // The file as a whole is unusable (not a database, damaged header or schema, unwritable):
    // refuse with what to do rather than start on something else.
    const code = String((e as { code?: string }).code ?? '');
    const what = code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT') ? 'is not a readable hawatch database' : 'cannot be opened';
    throw new StoreOpenError(`${file} ${what} (${reason(e)}): restore it from a backup (or rebuild it with sqlite3 .recover), or move it away to start with no stored state`);
  }
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === 0) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  else if (version > SCHEMA_VERSION) {
    db.close();
    throw new Error(`${file} was written by a newer hawatch (schema ${version}, this one knows ${SCHEMA_VERSION}): upgrade hawatch or use another database file`);
  }

  const upsertStatus = db.prepare('INSERT INTO status (key, json) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET json = excluded.json');
  const deleteDowntimesOf = db.prepare('DELETE FROM downtime WHERE key = ?');
  const insertDowntime = db.prepare('INSERT OR REPLACE INTO downtime (id, key, json) VALUES (?, ?, ?)');
  const upsertSilence = db.prepare('INSERT INTO silence (id, json) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json');
  const deleteSilence = db.prepare('DELETE FROM silence WHERE id = ?');
  const insertHistory = db.prepare('INSERT INTO history (key, at, type, state, state_type, attempt, output, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insertOutbox = db.prepare('INSERT INTO outbox (created_at, contact, channel, notification, next_attempt_at) VALUES (?, ?, ?, ?, ?)');
  const pendingIds = db.prepare(`SELECT id FROM outbox WHERE status = 'pending' ORDER BY id LIMIT ?`);
  const rowById = db.prepare('SELECT * FROM outbox WHERE id = ?');
  const quarantineStmt = db.prepare(`UPDATE outbox SET status = 'quarantined', last_error = ? WHERE id = ?`);
  const markAttemptStmt = db.prepare(`UPDATE outbox SET attempt_at = ?, attempt_message_id = ? WHERE id = ? AND status = 'pending'`);
  /** Rows found undecodable whose quarantine could not be written yet (full disk): skipped, logged once. */
  const unreadable = new Set<number>();
  const markSentStmt = db.prepare(`UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ? AND status = 'pending'`);
  const markFailedStmt = db.prepare(`UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, attempt_at = NULL, attempt_message_id = NULL WHERE id = ? AND status = 'pending'`);

  const commit = db.transaction((change: StoreChange) => {
    for (const s of change.statuses) upsertStatus.run(s.key, JSON.stringify(s));
    for (const [key, list] of change.downtimes ?? []) {
      deleteDowntimesOf.run(key);
      for (const d of list) insertDowntime.run(d.id, d.key, JSON.stringify(d));
    }
    for (const [id, sil] of change.silences ?? []) {
      if (sil === null) deleteSilence.run(id);
      else upsertSilence.run(id, JSON.stringify(sil));
    }
    for (const h of change.history) insertHistory.run(h.key, h.at, h.type, h.state, h.stateType, h.attempt, h.output, h.detail ?? null);
    const created = now();
    for (const o of change.outbox) insertOutbox.run(created, o.contact, o.channel, JSON.stringify(o.notification), o.notBefore);
  });
  const forget = db.transaction((keys: readonly string[]) => {
    const delStatus = db.prepare('DELETE FROM status WHERE key = ?');
    for (const k of keys) {
      delStatus.run(k);
      deleteDowntimesOf.run(k);
    }
  });
  const markSent = db.transaction((ids: readonly number[], at: number) => {
    for (const id of ids) markSentStmt.run(at, id);
  });
  const markAttempt = db.transaction((ids: readonly number[], messageId: string, at: number) => {
    for (const id of ids) markAttemptStmt.run(at, messageId, id);
  });
  const markFailed = db.transaction((ids: readonly number[], error: string, next: number) => {
    for (const id of ids) markFailedStmt.run(error.slice(0, 1000), next, id);
  });

  /**
   * Reads every row of a state table one by one: a row with invalid JSON, or rows on a
   * corrupted page, are left out with a log line naming the file, so one bad row cannot stop
   * every start. The object then starts as pending and is checked again.
   */
  function loadJson<T>(table: 'status' | 'downtime' | 'silence', label: string): T[] {
    const out: T[] = [];
    let keys: { key: string; rowid: number }[];
    try {
      keys = db.prepare(`SELECT rowid, ${table === 'status' ? 'key' : 'id AS key'} FROM ${table}`).all() as { key: string; rowid: number }[];
    } catch (e) {
      log('error', `${file}: the ${table} table cannot be read (${reason(e)}): starting without stored ${label}; restore the file from a backup to get them back`);
      return out;
    }
    const one = db.prepare(`SELECT json FROM ${table} WHERE rowid = ?`);
    for (const k of keys) {
      try {
        const r = one.get(k.rowid) as { json: string } | undefined;
        if (r) out.push(JSON.parse(r.json) as T);
      } catch (e) {
        log('error', `${file}: stored ${label} row ${k.key} is unreadable (${reason(e)}): ignored`);
      }
    }
    return out;
  }

  return {
    loadStatuses: () => loadJson<CheckStatus>('status', 'status'),
    loadDowntimes: () => loadJson<Downtime>('downtime', 'downtime'),
    loadSilences: () => loadJson<Silence>('silence', 'silence'),
    commit: (change) => commit(change),
    forget: (keys) => forget(keys),
    history(q: HistoryQuery): HistoryEvent[] {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (q.key !== undefined) {
        where.push('key = ?');
        params.push(q.key);
      } else if (q.prefix !== undefined) {
        where.push('(key = ? OR key LIKE ? ESCAPE \'\\\')');
        params.push(q.prefix, `${q.prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`);
      }
      if (q.before !== undefined) {
        where.push('at < ?');
        params.push(q.before);
      }
      const sql = `SELECT * FROM history ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT ?`;
      const rows = db.prepare(sql).all(...params, q.limit) as { key: string; at: number; type: string; state: number; state_type: string; attempt: number; output: string; detail: string | null }[];
      return rows.map((r) => ({ key: r.key, at: r.at, type: r.type as HistoryEvent['type'], state: r.state, stateType: r.state_type as HistoryEvent['stateType'], attempt: r.attempt, output: r.output, detail: r.detail ?? undefined }));
    },
    pendingOutbox(limit) {
      const out: OutboxRow[] = [];
      for (const { id } of pendingIds.all(limit + unreadable.size) as { id: number }[]) {
        if (unreadable.has(id)) continue;
        let row: OutboxRow;
        try {
          const r = rowById.get(id) as OutboxDbRow | undefined;
          if (!r) continue;
          row = toRow(r);
        } catch (e) {
          // One undecodable row (invalid JSON, a corrupted page) must not stop delivery of the others.
          const why = `unreadable: ${reason(e)}`;
          unreadable.add(id);
          try {
            quarantineStmt.run(why.slice(0, 1000), id);
            log('error', `${file}: outbox row ${id} quarantined (${why}); the other notifications go on`);
          } catch (e2) {
            log('error', `${file}: outbox row ${id} is ${why}; skipped (marking it quarantined failed too: ${reason(e2)})`);
          }
          continue;
        }
        out.push(row);
        if (out.length >= limit) break;
      }
      return out;
    },
    markAttempt: (ids, messageId, at) => markAttempt(ids, messageId, at),
    markSent: (ids, at) => markSent(ids, at),
    markFailed: (ids, error, next) => markFailed(ids, error, next),
    outboxCounts() {
      const rows = db.prepare('SELECT status, count(*) AS n FROM outbox GROUP BY status').all() as { status: string; n: number }[];
      return { pending: rows.find((r) => r.status === 'pending')?.n ?? 0, sent: rows.find((r) => r.status === 'sent')?.n ?? 0, quarantined: rows.find((r) => r.status === 'quarantined')?.n ?? 0 };
    },
    recentOutbox: (limit) =>
      (db.prepare('SELECT * FROM outbox ORDER BY id DESC LIMIT ?').all(limit) as OutboxDbRow[]).flatMap((r) => {
        try {
          return [toRow(r)];
        } catch {
          return []; // quarantined by pendingOutbox; not shown
        }
      }),
    nextOutboxDue() {
      const r = db.prepare(`SELECT min(next_attempt_at) AS t FROM outbox WHERE status = 'pending'`).get() as { t: number | null };
      return r.t;
    },
    getMeta: (key) => (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null,
    setMeta: (key, value) => {
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
    },
    perfdata,
    close: () => db.close(),
  };
}
