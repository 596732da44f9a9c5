/**
 * The outbox row as both stores keep it (the same columns in SQLite and PostgreSQL), read
 * into the OutboxRow the notifier works with, and the one-line reason of a store error.
 */
import type { OutboxRow } from './types.ts';

export interface OutboxDbRow {
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
  attempt_at: number | null;
  attempt_message_id: string | null;
}

export function toRow(r: OutboxDbRow): OutboxRow {
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
    attempt: r.attempt_at !== null && r.attempt_message_id !== null ? { at: r.attempt_at, messageId: r.attempt_message_id } : null,
  };
}

/** A store error in one line: its code (SQLITE_FULL, 57P01) and the first line of its message. */
export const reason = (e: unknown): string => {
  const err = e as { code?: string; message?: string };
  return `${err.code ? `${err.code} ` : ''}${String(err.message ?? e).split('\n')[0]}`;
};
