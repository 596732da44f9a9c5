/**
 * Connections to MySQL/MariaDB for the collectors (impure): credentials from an option
 * file or the environment (never argv), connections and queries with hard deadlines, and
 * driver errors sorted into kinds the evaluators can judge.
 *
 * The driver (mysql2) is loaded lazily so `--help` and `--input-file` runs never pay for it.
 */
import { readdirSync } from 'node:fs';
import { connect as netConnect, isIP } from 'node:net';
import { userInfo } from 'node:os';
import type { Connection } from 'mysql2';
import { InputError, readBoundedFileSync } from '../../nagios/input.ts';
import { PluginError } from '../../nagios/plugin.ts';
import { optionsFor, parseOptionFile, type OptionGroups } from './option-file.ts';
import type { Target } from './target.ts';

export interface TlsSettings {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  /** none: encrypted only (ssl-mode=REQUIRED); ca: chain checked; identity: chain and host name. */
  readonly verify: 'none' | 'ca' | 'identity';
}

export interface Credentials {
  readonly user: string;
  readonly password?: string | undefined;
  readonly tls?: TlsSettings | undefined;
  /** Where the user and password came from, for messages ("~/.my.cnf", "MYSQL_PWD"). */
  readonly source: string;
  /** `host`/`port`/`socket` from the option file: the default target when no -H is given. */
  readonly defaultTarget?: string | undefined;
  readonly defaultPort?: number | undefined;
}

export interface CredentialOptions {
  readonly defaultsFile?: string | undefined;
  readonly user?: string | undefined;
  /** Option file groups read after [client], e.g. `check_ha_mysql`. */
  readonly groups: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
}

const fsReader = {
  readFile(path: string): string | undefined {
    try {
      // Bounded, regular files only: a FIFO named by !include would block this thread for good.
      return readBoundedFileSync(path);
    } catch {
      return undefined;
    }
  },
  listDir(path: string): string[] {
    try {
      return readdirSync(path);
    } catch {
      return [];
    }
  },
};

function readOptionFile(path: string, required: boolean): OptionGroups | undefined {
  let text: string;
  try {
    text = readBoundedFileSync(path);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    if (!required && e.kind === 'not-found') return undefined;
    const why = e.kind === 'permission' ? 'permission denied (the check runs as the nagios user: make the file readable by it, mode 0600)' : e.reason;
    throw new PluginError(`cannot read option file '${path}': ${why}`);
  }
  return parseOptionFile(text, path, fsReader);
}

/**
 * Precedence as in the MySQL client: command line (user only) > option file > environment
 * (MYSQL_PWD, MYSQL_USER?, MYSQL_HOST, MYSQL_TCP_PORT) > the login name.
 */
export function loadCredentials(o: CredentialOptions): Credentials {
  const home = o.env.HOME;
  const file = o.defaultsFile ?? (home ? `${home}/.my.cnf` : undefined);
  const groups = file ? readOptionFile(file, o.defaultsFile !== undefined) : undefined;
  const opts = groups ? optionsFor(groups, ['client', ...o.groups]) : new Map<string, string>();
  const fileLabel = o.defaultsFile ?? file ?? '.my.cnf in the home directory';
  let user = o.user;
  let source = 'command line';
  if (user === undefined && opts.has('user')) { user = opts.get('user'); source = fileLabel; }
  if (user === undefined && o.env.MYSQL_USER) { user = o.env.MYSQL_USER; source = 'MYSQL_USER'; }
  if (user === undefined) {
    try { user = userInfo().username; } catch { user = 'root'; }
    source = 'login name';
  }
  let password: string | undefined;
  let pwSource = 'no password';
  if (opts.has('password') && opts.get('password') !== 'true') { password = opts.get('password'); pwSource = `password from ${fileLabel}`; }
  else if (o.env.MYSQL_PWD !== undefined) { password = o.env.MYSQL_PWD; pwSource = 'password from MYSQL_PWD'; }
  const ca = opts.get('ssl-ca');
  const cert = opts.get('ssl-cert');
  const key = opts.get('ssl-key');
  // ssl-mode as in the MySQL client; MariaDB's ssl / ssl-verify-server-cert map onto it.
  let mode = (opts.get('ssl-mode') ?? '').toUpperCase();
  if (mode === '') {
    if (opts.get('ssl-verify-server-cert') === 'true' || opts.get('ssl-verify-server-cert') === '1' || ca !== undefined) mode = 'VERIFY_IDENTITY';
    else if (opts.get('ssl') === 'true' || opts.get('ssl') === '1' || cert !== undefined) mode = 'REQUIRED';
  }
  if (mode !== '' && !['DISABLED', 'PREFERRED', 'REQUIRED', 'VERIFY_CA', 'VERIFY_IDENTITY'].includes(mode)) {
    throw new PluginError(`invalid ssl-mode '${mode}' in ${fileLabel}: expected DISABLED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY`);
  }
  let tls: TlsSettings | undefined;
  if (mode === 'REQUIRED' || mode === 'VERIFY_CA' || mode === 'VERIFY_IDENTITY') {
    const read = (p: string | undefined, what: string): string | undefined => {
      if (p === undefined) return undefined;
      const t = fsReader.readFile(p);
      if (t === undefined) throw new PluginError(`cannot read ${what} '${p}' named in ${fileLabel}`);
      return t;
    };
    tls = { ca: read(ca, 'ssl-ca'), cert: read(cert, 'ssl-cert'), key: read(key, 'ssl-key'), verify: mode === 'REQUIRED' ? 'none' : mode === 'VERIFY_CA' ? 'ca' : 'identity' };
  }
  const portText = opts.get('port') ?? o.env.MYSQL_TCP_PORT;
  const defaultPort = portText !== undefined && /^\d+$/.test(portText) ? Number(portText) : undefined;
  const defaultTarget = opts.get('socket') ?? opts.get('host') ?? o.env.MYSQL_HOST;
  return { user: user!, password, tls, source: `user '${user}' from ${source}, ${pwSource}`, defaultTarget, defaultPort };
}

export type DbErrorKind = 'refused' | 'auth' | 'privilege' | 'timeout' | 'unreachable' | 'tls' | 'query' | 'lost';

export class DbError extends Error {
  override name = 'DbError';
  readonly kind: DbErrorKind;
  readonly code: string | undefined;
  constructor(kind: DbErrorKind, message: string, code?: string) {
    super(message);
    this.kind = kind;
    this.code = code;
  }
}

interface DriverError {
  code?: string;
  errno?: number;
  sqlMessage?: string;
  message?: string;
  fatal?: boolean;
}

export function classifyError(e: unknown): DbError {
  if (e instanceof DbError) return e;
  const err = (e ?? {}) as DriverError;
  const code = err.code ?? '';
  const text = (err.sqlMessage ?? err.message ?? String(e)).split('\n')[0]!.trim();
  switch (code) {
    case 'ECONNREFUSED': return new DbError('refused', 'connection refused (is the server running and listening there?)', code);
    case 'ENOENT': return new DbError('refused', 'no such socket (is the server running?)', code);
    case 'ETIMEDOUT': return new DbError('timeout', 'no answer (connect or handshake timed out)', code);
    case 'ENOTFOUND': case 'EAI_AGAIN': return new DbError('unreachable', `cannot resolve the host name (${code})`, code);
    case 'EHOSTUNREACH': case 'ENETUNREACH': case 'ECONNRESET': case 'EPIPE': return new DbError('unreachable', `network error ${code}`, code);
    case 'ER_ACCESS_DENIED_ERROR': case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR': case 'ER_HOST_NOT_PRIVILEGED': case 'ER_DBACCESS_DENIED_ERROR': case 'ER_HOST_IS_BLOCKED': case 'ER_ACCOUNT_HAS_BEEN_LOCKED': case 'ER_MUST_CHANGE_PASSWORD_LOGIN':
      return new DbError('auth', text, code);
    case 'ER_SPECIFIC_ACCESS_DENIED_ERROR': case 'ER_TABLEACCESS_DENIED_ERROR': case 'ER_COLUMNACCESS_DENIED_ERROR':
      return new DbError('privilege', text, code);
    case 'PROTOCOL_CONNECTION_LOST': case 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR': case 'PROTOCOL_SEQUENCE_TIMEOUT':
      return new DbError('lost', 'the server closed the connection', code);
    case 'HANDSHAKE_SSL_ERROR': case 'HANDSHAKE_NO_SSL_SUPPORT': return new DbError('tls', `TLS failed: ${text}`, code);
    default:
      if (/certificate|self.signed|SSL|TLS/i.test(text)) return new DbError('tls', `TLS failed: ${text}`, code);
      return new DbError(err.fatal ? 'lost' : 'query', text, code || undefined);
  }
}

export type Row = Record<string, unknown>;

export interface Session {
  /** Runs one statement; rejects with a DbError, at the latest when `timeoutMs` has passed. */
  query(sql: string, timeoutMs: number, values?: readonly unknown[]): Promise<Row[]>;
  close(): void;
}

type Mysql2 = typeof import('mysql2');
let driver: Promise<Mysql2> | undefined;
function loadDriver(): Promise<Mysql2> {
  driver ??= import('mysql2').then((m) => ((m as { default?: Mysql2 }).default ?? m) as Mysql2);
  return driver;
}

function withDeadline<T>(p: Promise<T>, ms: number, signal: AbortSignal, onExpire: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const expire = (): void => {
      cleanup();
      onExpire();
      reject(new DbError('timeout', `no answer within ${(ms / 1000).toFixed(1)} s (server hung or overloaded?)`, 'ETIMEDOUT'));
    };
    const timer = setTimeout(expire, ms);
    const onAbort = (): void => expire();
    signal.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    p.then(
      (v) => { cleanup(); resolve(v); },
      (e: unknown) => { cleanup(); reject(classifyError(e)); },
    );
  });
}

/** Connects (TCP or socket, optional TLS) and authenticates within `timeoutMs`. */
export async function openSession(target: Target, creds: Credentials, timeoutMs: number, signal: AbortSignal): Promise<Session> {
  const mysql = await loadDriver();
  let conn: Connection | undefined;
  const destroy = (): void => {
    try { conn?.destroy(); } catch { /* already closed */ }
  };
  // mysql2 gives TLS no server name for an IP address, and Node then checks the certificate
  // against 'localhost'. A socket that carries the IP as its host name (what Node records
  // itself for host names) makes the identity check use the address we dialled.
  const ipIdentity = creds.tls?.verify === 'identity' && target.host !== undefined && isIP(target.host) !== 0;
  const connected = new Promise<void>((resolve, reject) => {
    conn = mysql.createConnection({
      ...(target.socketPath ? { socketPath: target.socketPath } : { host: target.host, port: target.port }),
      ...(ipIdentity
        ? {
            stream: () => {
              const sock = netConnect({ host: target.host!, port: target.port! });
              (sock as unknown as { _host: string })._host = target.host!;
              return sock;
            },
          }
        : {}),
      user: creds.user,
      password: creds.password ?? '',
      // Our own deadline (below) fires first and says how long we waited.
      connectTimeout: Math.max(1, timeoutMs) + 1000,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      multipleStatements: false,
      ...(creds.tls
        ? { ssl: { ca: creds.tls.ca, cert: creds.tls.cert, key: creds.tls.key, rejectUnauthorized: creds.tls.verify !== 'none', verifyIdentity: creds.tls.verify === 'identity' } }
        : {}),
    });
    // Errors after the handshake (server gone) must not become unhandled 'error' events.
    conn.on('error', () => undefined);
    conn.connect((err) => (err ? reject(err) : resolve()));
  });
  await withDeadline(connected, timeoutMs, signal, destroy).catch((e: unknown) => {
    destroy();
    throw e;
  });
  const c = conn!;
  return {
    query(sql, ms, values) {
      const p = new Promise<Row[]>((resolve, reject) => {
        c.query({ sql, values: values as unknown[] | undefined }, (err, rows) => (err ? reject(err) : resolve(Array.isArray(rows) ? (rows as Row[]) : [])));
      });
      return withDeadline(p, ms, signal, destroy);
    },
    close() {
      try {
        c.end(() => undefined);
        // end() waits for the server; never let a slow goodbye keep the process alive.
        setTimeout(destroy, 200).unref();
      } catch {
        destroy();
      }
    },
  };
}
