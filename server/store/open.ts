/**
 * Opens the store named by server.database: a postgres:// URL is the PostgreSQL store
 * (store/postgres.ts), anything else a SQLite file (store/sqlite.ts).
 */
import { isPostgresUrl } from './pg-connect.ts';
import { openPostgresStore } from './postgres.ts';
import { openSqliteStore, type StoreLog } from './sqlite.ts';
import type { AnyStore } from './types.ts';

export interface OpenStoreOptions {
  readonly passwordFile?: string | undefined;
  readonly now?: () => number;
  readonly log?: StoreLog;
}

export async function openStore(database: string, o: OpenStoreOptions = {}): Promise<AnyStore> {
  if (isPostgresUrl(database)) return openPostgresStore(database, { passwordFile: o.passwordFile, now: o.now, log: o.log });
  return openSqliteStore(database, o.now, o.log);
}

/** How the database is named in log lines and messages (never a password). */
export function describeDatabase(database: string, store: AnyStore): string {
  return store.describe ?? database;
}
