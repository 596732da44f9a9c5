/**
 * The PostgreSQL connection of the store: a libpq-style URL with several hosts, the
 * password from a file or $PGPASSWORD, and one session whose queries run one at a time.
 *
 * The `pg` driver (8.x) takes one host per client and ignores target_session_attrs, so the
 * libpq behaviour is done here: hosts are tried in order, and with
 * target_session_attrs=read-write (the default here: the store writes) a server that answers
 * `transaction_read_only = on` (a standby) is skipped, so after a failover the promoted
 * standby is found by the next connection. Not supported (refused with a message):
 * target_session_attrs other than any and read-write, a password in the URL (it would be
 * in the inventory, and with --data in argv), hostaddr, service files, load_balance_hosts.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { within } from '../core/bounded.ts';

export interface PgTarget {
  readonly hosts: readonly { readonly host: string; readonly port: number }[];
  readonly database: string | undefined;
  readonly user: string | undefined;
  readonly readWrite: boolean;
  readonly ssl: boolean | undefined;
  readonly connectTimeoutMs: number;
  readonly applicationName: string;
}

export class PgConfigError extends Error {
  override name = 'PgConfigError';
}

export const isPostgresUrl = (s: string): boolean => /^postgres(ql)?:\/\//i.test(s);

/** The URL as it may appear in logs (no password: there is none, the parser refuses one). */
export function describeTarget(t: PgTarget): string {
  return `postgres://${t.user ? `${t.user}@` : ''}${t.hosts.map((h) => `${h.host}:${h.port}`).join(',')}/${t.database ?? ''}`;
}

const KNOWN_PARAMS = new Set(['target_session_attrs', 'sslmode', 'connect_timeout', 'application_name', 'user', 'dbname']);

/** Parses postgres://[user@]host[:port][,host[:port]...][/db][?params] (libpq's multi-host form). */
export function parsePgUrl(url: string): PgTarget {
  const m = /^postgres(?:ql)?:\/\/(?:([^@/]*)@)?([^/?]*)(?:\/([^?]*))?(?:\?(.*))?$/i.exec(url);
  if (!m) throw new PgConfigError(`server.database ${url.split('@').pop()} is not a postgres:// URL: write postgres://user@host:5432,host2:5432/dbname`);
  const [, userinfo, hostlist, db, query] = m;
  if (userinfo?.includes(':')) {
    throw new PgConfigError('server.database has a password in its URL: remove it and put it in the file named by server.database_password_file, or in $PGPASSWORD');
  }
  const params = new URLSearchParams(query ?? '');
  for (const k of params.keys()) {
    if (!KNOWN_PARAMS.has(k)) throw new PgConfigError(`server.database: the URL parameter ${k} is not supported (known: ${[...KNOWN_PARAMS].join(', ')})`);
  }
  const tsa = params.get('target_session_attrs') ?? 'read-write';
  if (tsa !== 'read-write' && tsa !== 'any') {
    throw new PgConfigError(`server.database: target_session_attrs=${tsa} is not supported: use read-write (the default here) or any`);
  }
  const hosts = (hostlist ?? '').split(',').filter(Boolean).map((h) => {
    const hm = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(h);
    if (!hm) throw new PgConfigError(`server.database: host ${h} is not host or host:port`);
    return { host: decodeURIComponent((hm[1] ?? '').replace(/^\[|\]$/g, '')), port: hm[2] ? Number(hm[2]) : 5432 };
  });
  if (!hosts.length) throw new PgConfigError('server.database: the postgres URL names no host: write postgres://user@host:5432/dbname');
  const sslmode = params.get('sslmode');
  return {
    hosts,
    database: params.get('dbname') ?? (db ? decodeURIComponent(db) : undefined),
    user: params.get('user') ?? (userinfo ? decodeURIComponent(userinfo) : undefined),
    readWrite: tsa === 'read-write',
    ssl: sslmode === null ? undefined : sslmode !== 'disable' && sslmode !== 'allow' && sslmode !== 'prefer',
    connectTimeoutMs: Number(params.get('connect_timeout') ?? 5) * 1000,
    applicationName: params.get('application_name') ?? 'hawatch-server',
  };
}

/** Cuts a client's socket without the goodbye exchange. */
function destroy(c: pg.Client): void {
  (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/** Errors after which the connection is not trusted any more (it is dropped and made again). */
function connectionLost(e: unknown): boolean {
  const code = String((e as { code?: string })?.code ?? '');
  // SQLSTATE 08 connection exception, 57P0x shutdown/crash, 25006 read-only (a demoted primary),
  // 25P03 the server ended a session idle in a transaction (a paused instance resumed),
  // and anything without a SQLSTATE (socket errors, timeouts, a client that ended).
  if (/^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || code.startsWith('57P') || code === '25006' || code === '25P03' || code === '53300';
  return true;
}

export interface PgSessionOptions {
  readonly passwordFile?: string | undefined;
  /** Per query; a server that hangs fails the call instead of blocking the store. */
  readonly queryTimeoutMs?: number;
  /**
   * PostgreSQL ends a session left idle inside a transaction this long (its locks go with it).
   * Several instances need it: an instance cut off or paused in the middle of a fenced write
   * holds its shards' rows FOR SHARE, and the others' claims (SKIP LOCKED) pass over them
   * until the server drops the session, which without this is the TCP keepalive (hours).
   */
  readonly idleInTransactionMs?: number;
}

/**
 * One connection, made on first use and again after it was lost; `run` gives it to one
 * caller at a time (a transaction is never interleaved with another caller's query).
 */
export class PgSession {
  private client: pg.Client | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  readonly target: PgTarget;
  private readonly o: PgSessionOptions;
  private closed = false;
  private idleInTransactionMs: number | undefined;

  constructor(target: PgTarget, o: PgSessionOptions = {}) {
    this.target = target;
    this.o = o;
    this.idleInTransactionMs = o.idleInTransactionMs;
  }

  /** Sets idle_in_transaction_session_timeout for this session from now on (the current connection too). */
  async limitIdleInTransaction(ms: number): Promise<void> {
    this.idleInTransactionMs = Math.max(1, Math.round(ms));
    if (this.client) await this.run((c) => c.query(`SET idle_in_transaction_session_timeout = ${this.idleInTransactionMs}`));
  }

  private password(): (() => string) | undefined {
    const file = this.o.passwordFile;
    if (!file) return undefined; // pg reads $PGPASSWORD itself
    // Read at each connection: a rotated password is picked up without a restart.
    return () => {
      try {
        return readFileSync(file, 'utf8').split('\n')[0] ?? '';
      } catch (e) {
        throw new PgConfigError(`server.database_password_file ${file} cannot be read (${(e as Error).message.split('\n')[0]}): create it (mode 0600) with the password on its first line`);
      }
    };
  }

  private async connect(): Promise<pg.Client> {
    const failures: string[] = [];
    for (const h of this.target.hosts) {
      const c = new pg.Client({
        host: h.host,
        port: h.port,
        database: this.target.database,
        user: this.target.user,
        password: this.password(),
        ssl: this.target.ssl,
        connectionTimeoutMillis: this.target.connectTimeoutMs,
        query_timeout: this.o.queryTimeoutMs ?? 30_000,
        keepAlive: true,
        application_name: this.target.applicationName,
        ...(this.idleInTransactionMs ? { idle_in_transaction_session_timeout: this.idleInTransactionMs } : {}),
        // BIGINT (epoch ms, ids, counts) as numbers: every value stored fits in 2^53.
        types: { getTypeParser: ((oid: number, format?: string) => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser },
      });
      // An idle connection that breaks reports here, not to a caller: forget it.
      c.on('error', () => {
        if (this.client === c) this.client = null;
      });
      try {
        await c.connect();
        if (this.target.readWrite) {
          const r = await c.query('SHOW transaction_read_only');
          if ((r.rows[0] as { transaction_read_only?: string } | undefined)?.transaction_read_only !== 'off') {
            failures.push(`${h.host}:${h.port} is read-only (a standby)`);
            await c.end().catch(() => {});
            continue;
          }
        }
        return c;
      } catch (e) {
        failures.push(`${h.host}:${h.port} ${String((e as { code?: string }).code ?? '')} ${String((e as Error).message ?? e).split('\n')[0]}`.replace(/\s+/g, ' ').trim());
        await c.end().catch(() => {});
      }
    }
    const err = new Error(`no ${this.target.readWrite ? 'read-write ' : ''}PostgreSQL server reachable: ${failures.join(', ')}`) as Error & { code: string };
    err.code = 'ECONNREFUSED';
    throw err;
  }

  /** Runs fn with the connection, after every earlier caller; the connection is remade if lost. */
  run<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const next = this.tail.then(async () => {
      if (this.closed) throw new Error('the PostgreSQL store is closed');
      this.client ??= await this.connect();
      const c = this.client;
      try {
        return await fn(c);
      } catch (e) {
        if (connectionLost(e) && this.client === c) {
          this.client = null;
          void c.end().catch(() => {});
        }
        throw e;
      }
    });
    this.tail = next.catch(() => {});
    return next;
  }

  /** fn inside BEGIN ... COMMIT (rolled back on error). */
  tx<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    return this.run(async (c) => {
      await c.query('BEGIN');
      try {
        const r = await fn(c);
        await c.query('COMMIT');
        return r;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      }
    });
  }

  /**
   * Waits for the callers in line, at most `graceMs` (default: as long as they take); past
   * that the connection is cut (its socket destroyed: a server behind a firewall never
   * answers the goodbye either), and what was still running fails.
   */
  async close(graceMs?: number): Promise<void> {
    const done = graceMs === undefined ? (await this.tail, true) : await within(graceMs, this.tail, () => undefined);
    this.closed = true;
    const c = this.client;
    this.client = null;
    if (!c) return;
    if (done) {
      await within(graceMs ?? 5000, c.end().catch(() => {}), () => destroy(c));
      return;
    }
    destroy(c);
  }
}
