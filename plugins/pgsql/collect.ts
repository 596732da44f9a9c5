/**
 * The only impure part of check_ha_pgsql: connects to each host (in parallel) with the
 * `pg` driver and runs one multi-statement query. Every value is kept as PostgreSQL's
 * text output (or null), so a capture replays through parse.ts exactly.
 *
 * `pg` is imported lazily: --help and --input-file never pay for loading it.
 */
import { userInfo } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import type { Client, ClientConfig, QueryConfig } from 'pg';
import { PluginError } from '../../nagios/plugin.ts';
import { parsePort, splitAddress } from '../lib/address.ts';
import { readTextFile } from '../lib/files.ts';
import type { HostCapture, HostErrorKind, Row } from './parse.ts';

/**
 * One round trip. CASE keeps the role-specific functions from running on the wrong role
 * (pg_current_wal_lsn() raises an error during recovery). Works on PostgreSQL 10 and later.
 */
export const STATUS_SQL = `
SELECT pg_is_in_recovery() AS in_recovery,
       current_setting('server_version_num') AS server_version_num,
       extract(epoch FROM now()) AS now,
       CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn() END AS current_lsn,
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() END AS receive_lsn,
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() END AS replay_lsn,
       CASE WHEN pg_is_in_recovery() THEN extract(epoch FROM pg_last_xact_replay_timestamp()) END AS last_replay_time,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS replay_paused;
SELECT application_name, client_addr, state, sent_lsn, write_lsn, flush_lsn, replay_lsn,
       extract(epoch FROM write_lag) AS write_lag, extract(epoch FROM flush_lag) AS flush_lag,
       extract(epoch FROM replay_lag) AS replay_lag, sync_priority, sync_state
  FROM pg_stat_replication ORDER BY application_name;
SELECT status, sender_host, sender_port, slot_name, latest_end_lsn,
       extract(epoch FROM last_msg_receipt_time) AS last_msg_receipt_time
  FROM pg_stat_wal_receiver;
`;

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface ConnectSettings {
  readonly user?: string | undefined;
  readonly database: string;
  readonly defaultPort: number;
  /** From --password-file or PGPASSWORD; undefined = look in PGPASSFILE / ~/.pgpass. */
  readonly password?: string | undefined;
  readonly sslMode: SslMode;
  readonly sslRootCert?: string | undefined;
}

export interface Target {
  /** As given with -H, for messages. */
  readonly label: string;
  readonly host: string;
  readonly port: number;
}

/** `db1`, `db1:5433`, `[fe80::1]:5433`, `::1`, `/var/run/postgresql` (a socket directory). */
export function parseTarget(text: string, defaultPort: number): Target {
  const t = text.trim();
  const bad = (): never => {
    throw new PluginError(`invalid host '${text}': expected HOST, HOST:PORT, [IPv6]:PORT or a socket directory (/var/run/postgresql)`);
  };
  if (t === '') bad();
  const a = splitAddress(t);
  if ('path' in a) return { label: t, host: a.path, port: defaultPort };
  if (a.host === '' || (a.port === undefined && /[\s/]/.test(a.host))) bad();
  const port = a.port === undefined ? defaultPort : parsePort(a.port);
  return port === undefined ? bad() : { label: t, host: a.host, port };
}

export async function readPasswordFile(path: string): Promise<string> {
  const text = await readTextFile(path, '--password-file', { permissionHint: 'the nagios user must be able to read it; keep it mode 0600' });
  const first = text.split(/\r?\n/)[0] ?? '';
  if (first === '') throw new PluginError(`--password-file '${path}' is empty: put the password on its first line`);
  return first;
}

export async function sslOptions(s: ConnectSettings, host: string): Promise<false | ConnectionOptions> {
  if (s.sslMode === 'disable') return false;
  // libpq's "require" encrypts without verifying the server; the verify modes check the
  // chain against --sslrootcert (or the system CAs) and verify-full the host name too.
  if (s.sslMode === 'require') return { rejectUnauthorized: false };
  let ca: string | undefined;
  if (s.sslRootCert) {
    try {
      ca = await readTextFile(s.sslRootCert, '--sslrootcert');
    } catch (e) {
      throw e instanceof PluginError ? e : new PluginError(`cannot read --sslrootcert '${s.sslRootCert}': ${(e as Error).message}`);
    }
  }
  const opts: ConnectionOptions = { rejectUnauthorized: true, ...(ca ? { ca } : {}) };
  if (s.sslMode === 'verify-ca') opts.checkServerIdentity = () => undefined;
  else opts.servername = host;
  return opts;
}

/** Maps a driver or server error to what it means for the check. */
export function classifyError(e: unknown, timeoutMs: number): { kind: HostErrorKind; message: string } {
  const err = e as { code?: string; message?: string; errno?: number };
  const msg = (err.message ?? String(e)).split('\n')[0] ?? '';
  switch (err.code) {
    case 'ECONNREFUSED': return { kind: 'down', message: 'connection refused (is PostgreSQL running and listening there?)' };
    case 'ENOENT': return { kind: 'down', message: 'no socket there (is PostgreSQL running? check the socket directory and port)' };
    case 'EHOSTUNREACH': case 'ENETUNREACH': return { kind: 'down', message: `host unreachable (${err.code})` };
    case 'ENOTFOUND': case 'EAI_AGAIN': return { kind: 'config', message: 'host name does not resolve' };
    case 'ECONNRESET': case 'EPIPE': return { kind: 'down', message: 'connection reset by the server' };
    case 'ETIMEDOUT': return { kind: 'timeout', message: 'connection timed out' };
    case '28P01': return { kind: 'auth', message: `authentication failed: ${msg} (check PGPASSWORD, --password-file or the .pgpass file in the home directory)` };
    case '28000': return { kind: 'auth', message: `connection rejected: ${msg} (check pg_hba.conf and the user name)` };
    case '3D000': return { kind: 'config', message: `${msg} (use -d to pick an existing database, e.g. postgres)` };
    case '42501': return { kind: 'auth', message: `${msg} (grant the monitoring user the pg_monitor role)` };
    case '57P03': return { kind: 'down', message: `server not accepting connections: ${msg}` };
    case '53300': return { kind: 'down', message: `server refuses connections: ${msg}` };
    case '57014': return { kind: 'timeout', message: `query cancelled by statement_timeout after ${timeoutMs / 1000} s` };
    default: break;
  }
  if (/client password must be a string|password must be a string|SASL.*password/i.test(msg)) {
    return { kind: 'auth', message: 'the server asks for a password and none was found (set PGPASSWORD, PGPASSFILE, the .pgpass file in the home directory or --password-file)' };
  }
  if (/timeout expired|connection timeout|Query read timeout|timed out/i.test(msg)) {
    return { kind: 'timeout', message: `no answer within ${(timeoutMs / 1000).toFixed(1)} s (server hung or overloaded?)` };
  }
  if (/self[- ]signed|certificate|unable to verify|Hostname\/IP does not match|does not support SSL/i.test(msg)) {
    return { kind: 'config', message: `TLS: ${msg} (check --sslmode and --sslrootcert)` };
  }
  if (/Connection terminated/i.test(msg)) return { kind: 'down', message: 'the server closed the connection' };
  if (err.code && /^[0-9A-Z]{5}$/.test(err.code)) return { kind: 'query', message: `${msg} (SQLSTATE ${err.code})` };
  return { kind: 'down', message: msg };
}

type PgModule = (typeof import('pg'))['default'];
let pgModule: Promise<PgModule> | undefined;
function loadPg(): Promise<PgModule> {
  pgModule ??= import('pg').then((m) => m.default);
  return pgModule;
}

/** Keeps every value as the server's text: a capture is then exact and JSON-safe. */
const textTypes = { getTypeParser: () => (v: string) => v } as unknown as NonNullable<ClientConfig['types']>;

/** Looks the password up in PGPASSFILE or ~/.pgpass like libpq (pgpass enforces mode 0600). */
async function pgpassLookup(t: Target, s: ConnectSettings, user: string): Promise<string | undefined> {
  const { default: pgpass } = await import('pgpass');
  return new Promise((resolve) => {
    pgpass({ host: t.host, port: t.port, database: s.database, user }, (pass) => resolve(pass));
  });
}

/** libpq's default user name: the OS user the check runs as. */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'postgres';
  }
}

export async function collectHost(t: Target, s: ConnectSettings, budgetMs: () => number, signal: AbortSignal): Promise<HostCapture> {
  const pg = await loadPg();
  const timeoutMs = Math.max(200, budgetMs());
  const user = s.user ?? osUser();
  const config: ClientConfig = {
    host: t.host,
    port: t.port,
    user,
    database: s.database,
    // A function: pg then never falls back to its own (deprecated, noisy) pgpass lookup.
    password: async () => s.password ?? (await pgpassLookup(t, s, user)) ?? '',
    ssl: await sslOptions(s, t.host),
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: 'check_ha_pgsql',
    types: textTypes,
  };
  let client: Client | undefined;
  const onAbort = (): void => {
    // Destroying the socket ends a hung connect or query at once, also in the agent.
    (client as unknown as { connection?: { stream?: { destroy(): void } } } | undefined)?.connection?.stream?.destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    client = new pg.Client(config);
    // An 'error' event after connect (server goes away) must not crash the process.
    client.on('error', () => undefined);
    try {
      await client.connect();
      // query_timeout per query is supported by pg but missing from its types. A
      // multi-statement simple query resolves to one result per statement.
      const query = { text: STATUS_SQL, query_timeout: Math.max(200, budgetMs()) } as QueryConfig;
      const results = (await client.query(query)) as unknown as { rows: Row[] }[];
      const [status, replication, walReceiver] = results;
      return { host: t.label, server: status?.rows[0], replication: replication?.rows ?? [], walReceiver: walReceiver?.rows ?? [] };
    } catch (e) {
      return { host: t.label, error: classifyError(e, timeoutMs) };
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    client?.end().catch(() => undefined);
  }
}
