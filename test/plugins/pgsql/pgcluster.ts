/**
 * Test helper: real PostgreSQL 15 servers (a primary and standbys made with pg_basebackup)
 * on loopback ports in temporary directories. postgres refuses to run as root, so every
 * server binary runs as the `postgres` system user through setpriv (which execs, so the
 * PID we see is the program's own).
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** PostgreSQL 15 (Debian bookworm) when present, else the newest installed major version. */
export const PG_BIN = ((): string => {
  const base = '/usr/lib/postgresql';
  if (existsSync(join(base, '15', 'bin', 'postgres'))) return join(base, '15', 'bin');
  const majors = existsSync(base) ? readdirSync(base).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  return join(base, majors[0] ?? '15', 'bin');
})();
export const SUPERUSER_PASSWORD = 'super-secret';
export const MONITOR_USER = 'hawatch_mon';
export const MONITOR_PASSWORD = 'mon-pw-1';
const REPL_PASSWORD = 'repl-pw-1';

/** Fails (never skips) with the Debian package to install. */
export function requirePostgres(): void {
  for (const bin of ['initdb', 'pg_ctl', 'postgres', 'pg_basebackup']) {
    if (!existsSync(join(PG_BIN, bin))) throw new Error(`${join(PG_BIN, bin)} is missing: install the Debian package postgresql (apt-get install postgresql)`);
  }
  if (process.getuid?.() !== 0) throw new Error('the PostgreSQL tests start servers as the postgres user through setpriv: run them as root (CI does)');
  if (!existsSync('/usr/bin/setpriv')) throw new Error('/usr/bin/setpriv is missing: install the Debian package util-linux');
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0) throw new Error("the 'postgres' system user is missing: install the Debian package postgresql-common");
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function pgIds(): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid };
}

/** Runs a PostgreSQL program as the postgres user; throws with its output on failure. */
function asPostgres(bin: string, args: readonly string[], env: Record<string, string> = {}): string {
  const r = spawnSync('/usr/bin/setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', join(PG_BIN, bin), ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', ...env },
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Servers still running when the test process exits (a crash, a kill) are stopped then. */
const live = new Set<PgServer>();
process.once('exit', () => {
  for (const s of live) s.cleanup();
});

export class PgServer {
  readonly name: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly port: number;
  private stopped = new Set<number>();

  constructor(name: string, dir: string, port: number) {
    this.name = name;
    this.dir = dir;
    this.dataDir = join(dir, 'data');
    this.port = port;
  }

  get hostArg(): string {
    return `127.0.0.1:${this.port}`;
  }

  start(): void {
    live.add(this);
    asPostgres('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', 'start']);
  }

  /** Stops the server if it runs; SIGCONTs it first in case a test left it stopped. */
  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    this.resume();
    if (!existsSync(join(this.dataDir, 'postmaster.pid'))) return;
    try {
      asPostgres('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '30', 'stop']);
    } catch {
      /* already stopped */
    }
  }

  postmasterPid(): number {
    const text = readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8');
    return Number(text.split('\n')[0]);
  }

  /** SIGSTOP the postmaster: it accepts TCP connections (the kernel does) but never answers. */
  hang(): void {
    const pid = this.postmasterPid();
    process.kill(pid, 'SIGSTOP');
    this.stopped.add(pid);
  }

  resume(): void {
    for (const pid of this.stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    this.stopped.clear();
  }

  /** Runs SQL as the superuser over the unix socket in the temp dir. */
  async sql<T extends Record<string, unknown> = Record<string, unknown>>(text: string): Promise<T[]> {
    const c = new pg.Client({ host: this.dir, port: this.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 10_000 });
    await c.connect();
    try {
      const r = await c.query(text);
      return (Array.isArray(r) ? r[r.length - 1] : r).rows as T[];
    } finally {
      await c.end();
    }
  }

  cleanup(): void {
    this.stop('immediate');
    live.delete(this);
  }
}

function baseConfig(dir: string, port: number): string {
  return [
    '',
    '# hawatch test settings',
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dir}'`,
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    'shared_buffers = 16MB',
    'max_connections = 20',
    'max_wal_senders = 5',
    'wal_receiver_status_interval = 1s',
    'hot_standby_feedback = off',
    'log_min_messages = warning',
    'logging_collector = off',
    '',
  ].join('\n');
}

function makeDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const { uid, gid } = pgIds();
  chownSync(dir, uid, gid);
  return dir;
}

/** initdb + start; creates the replication user and a pg_monitor user with passwords. */
export async function createPrimary(name = 'primary'): Promise<PgServer> {
  requirePostgres();
  const dir = makeDir('hawatch-pg-');
  const port = await freePort();
  const s = new PgServer(name, dir, port);
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, SUPERUSER_PASSWORD + '\n', { mode: 0o600 });
  const { uid, gid } = pgIds();
  chownSync(pwfile, uid, gid);
  asPostgres('initdb', ['-D', s.dataDir, '-U', 'postgres', '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync', '-E', 'UTF8', '--locale=C']);
  rmSync(pwfile);
  appendFileSync(join(s.dataDir, 'postgresql.conf'), baseConfig(dir, port));
  appendFileSync(join(s.dataDir, 'pg_hba.conf'), '\nhost replication all 127.0.0.1/32 scram-sha-256\n');
  s.start();
  await s.sql(`CREATE ROLE repl WITH LOGIN REPLICATION PASSWORD '${REPL_PASSWORD}'`);
  await s.sql(`CREATE ROLE ${MONITOR_USER} WITH LOGIN PASSWORD '${MONITOR_PASSWORD}'`);
  await s.sql(`GRANT pg_monitor TO ${MONITOR_USER}`);
  await s.sql('CREATE TABLE filler (id int, pad text)');
  return s;
}

/** pg_basebackup -R from the primary, with its own port and application_name, started. */
export async function createStandby(primary: PgServer, name: string): Promise<PgServer> {
  const dir = makeDir('hawatch-pgs-');
  const port = await freePort();
  const s = new PgServer(name, dir, port);
  mkdirSync(s.dataDir, { mode: 0o700 });
  const { uid, gid } = pgIds();
  chownSync(s.dataDir, uid, gid);
  asPostgres(
    'pg_basebackup',
    ['-D', s.dataDir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync', '-d', `host=127.0.0.1 port=${primary.port} user=repl application_name=${name}`],
    { PGPASSWORD: REPL_PASSWORD },
  );
  // -R writes primary_conninfo without the password (it came from the environment) and
  // without application_name: give the standby both so the primary knows it by name.
  appendFileSync(
    join(s.dataDir, 'postgresql.auto.conf'),
    `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=repl password=${REPL_PASSWORD} application_name=${name}'\n`,
  );
  appendFileSync(join(s.dataDir, 'postgresql.conf'), baseConfig(dir, port));
  s.start();
  return s;
}

/** Polls `probe` until it returns true, at most `timeoutMs`. */
export async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 20_000, everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      if (await probe()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
