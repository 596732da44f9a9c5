/**
 * The default store: one SQLite file through better-sqlite3 (synchronous, so a state change
 * and its notifications are one transaction with no interleaving). WAL mode, synchronous
 * NORMAL: a committed transaction survives a process crash; the last ones may be lost on a
 * power cut, which the outbox tolerates (the check runs again).
 */
import Database from 'better-sqlite3';
import type { CheckStatus, Downtime, HistoryEvent } from '../state/types.ts';
import type { HistoryQuery, OutboxRow, Store, StoreChange } from './types.ts';

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
  next_attempt_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

interface OutboxDbRow {
  id: number;
  created_at: number;
  contact: string;
  channel: string;
  notification: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  sent_at: number | null;
  last_error: string | null;
}

function toRow(r: OutboxDbRow): OutboxRow {
  return {
    id: r.id,
    createdAt: r.created_at,
    contact: r.contact,
    channel: r.channel as OutboxRow['channel'],
    notification: JSON.parse(r.notification),
    notBefore: r.next_attempt_at,
    status: r.status as OutboxRow['status'],
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    sentAt: r.sent_at,
    lastError: r.last_error,
  };
}

export function openSqliteStore(file: string, now: () => number = Date.now): Store {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === 0) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  else if (version > SCHEMA_VERSION) {
    db.close();
    throw new Error(`${file} was written by a newer hawatch (schema ${version}, this one knows ${SCHEMA_VERSION}): upgrade hawatch or use another database file`);
  }

  const upsertStatus = db.prepare('INSERT INTO status (key, json) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET json = excluded.json');
  const deleteDowntimesOf = db.prepare('DELETE FROM downtime WHERE key = ?');
  const insertDowntime = db.prepare('INSERT OR REPLACE INTO downtime (id, key, json) VALUES (?, ?, ?)');
  const insertHistory = db.prepare('INSERT INTO history (key, at, type, state, state_type, attempt, output, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insertOutbox = db.prepare('INSERT INTO outbox (created_at, contact, channel, notification, next_attempt_at) VALUES (?, ?, ?, ?, ?)');
  const dueHeads = db.prepare(`SELECT DISTINCT contact, channel FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? LIMIT ?`);
  const pendingOf = db.prepare(`SELECT * FROM outbox WHERE status = 'pending' AND contact = ? AND channel = ? AND next_attempt_at <= ? ORDER BY id LIMIT ?`);
  const markSentStmt = db.prepare(`UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ? AND status = 'pending'`);
  const markFailedStmt = db.prepare(`UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ? AND status = 'pending'`);

  const commit = db.transaction((change: StoreChange) => {
    for (const s of change.statuses) upsertStatus.run(s.key, JSON.stringify(s));
    for (const [key, list] of change.downtimes ?? []) {
      deleteDowntimesOf.run(key);
      for (const d of list) insertDowntime.run(d.id, d.key, JSON.stringify(d));
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
  const markFailed = db.transaction((ids: readonly number[], error: string, next: number) => {
    for (const id of ids) markFailedStmt.run(error.slice(0, 1000), next, id);
  });

  return {
    loadStatuses: () => (db.prepare('SELECT json FROM status').all() as { json: string }[]).map((r) => JSON.parse(r.json) as CheckStatus),
    loadDowntimes: () => (db.prepare('SELECT json FROM downtime').all() as { json: string }[]).map((r) => JSON.parse(r.json) as Downtime),
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
    dueOutbox(at, lookaheadMs, limit) {
      const out: OutboxRow[] = [];
      for (const head of dueHeads.all(at, limit) as { contact: string; channel: string }[]) {
        for (const r of pendingOf.all(head.contact, head.channel, at + lookaheadMs, limit) as OutboxDbRow[]) out.push(toRow(r));
      }
      return out;
    },
    markSent: (ids, at) => markSent(ids, at),
    markFailed: (ids, error, next) => markFailed(ids, error, next),
    outboxCounts() {
      const rows = db.prepare('SELECT status, count(*) AS n FROM outbox GROUP BY status').all() as { status: string; n: number }[];
      return { pending: rows.find((r) => r.status === 'pending')?.n ?? 0, sent: rows.find((r) => r.status === 'sent')?.n ?? 0 };
    },
    recentOutbox: (limit) => (db.prepare('SELECT * FROM outbox ORDER BY id DESC LIMIT ?').all(limit) as OutboxDbRow[]).map(toRow),
    nextOutboxDue() {
      const r = db.prepare(`SELECT min(next_attempt_at) AS t FROM outbox WHERE status = 'pending'`).get() as { t: number | null };
      return r.t;
    },
    getMeta: (key) => (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null,
    setMeta: (key, value) => {
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
    },
    close: () => db.close(),
  };
}
