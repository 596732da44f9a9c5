/**
 * Starts real MariaDB servers for the tests: each in its own mkdtemp directory, listening
 * on a free loopback port, run as the `mysql` user (Galera's rsync SST refuses to work as
 * root: its rsync daemon drops to `nobody`). Killed and removed on cleanup and on exit.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { runBin, type BinResult } from '../../support/bin.ts';
import { freePort } from '../../support/ports.ts';
import { requireFile, requireUser } from '../../support/require.ts';
import { tempDir } from '../../support/tmp.ts';
import { waitFor } from '../../support/wait.ts';

export const MARIADBD = '/usr/sbin/mariadbd';
export const INSTALL_DB = '/usr/bin/mariadb-install-db';

/** Fails (never skips) with the Debian package to install; returns the mysql user's ids. */
export function requireMariaDb(): { uid: number; gid: number } {
  requireFile(MARIADBD, 'mariadb-server');
  requireFile(INSTALL_DB, 'mariadb-server');
  return requireUser('mysql', 'mariadb-server');
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) {
    try { process.kill(p.pid!, 'SIGCONT'); p.kill('SIGKILL'); } catch { /* gone */ }
  }
});

const FAST = [
  '--innodb-buffer-pool-size=16M', '--innodb-log-file-size=8M', '--innodb-data-file-path=ibdata1:10M:autoextend',
  '--innodb-flush-log-at-trx-commit=0', '--sync-binlog=0', '--skip-name-resolve', '--performance-schema=OFF',
];

export interface Server {
  readonly port: number;
  readonly socket: string;
  readonly dir: string;
  readonly proc: ChildProcess;
  readonly log: string;
  /** Runs SQL as root over the socket. */
  query<T = RowDataPacket[]>(sql: string, values?: unknown[]): Promise<T>;
  /** A fresh root connection (for sessions that must stay open, e.g. LOCK TABLES). */
  connect(): Promise<Connection>;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly serverId: number;
  readonly args?: readonly string[];
  readonly port?: number;
  readonly dir?: string;
  readonly name?: string;
  readonly waitReady?: (s: Server) => Promise<boolean>;
  readonly readyTimeoutMs?: number;
}

/** A temp dir owned by the mysql user (the server runs as mysql). */
export function makeDir(prefix: string): string {
  return tempDir(prefix, { owner: requireMariaDb() });
}

export async function startServer(o: StartOptions): Promise<Server> {
  requireMariaDb();
  const dir = o.dir ?? makeDir(`hawatch-mdb-${o.name ?? o.serverId}-`);
  const data = join(dir, 'data');
  if (!existsSync(data)) {
    const r = spawnSync(INSTALL_DB, ['--no-defaults', `--datadir=${data}`, '--user=mysql', '--auth-root-authentication-method=normal', '--skip-test-db', ...FAST], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`mariadb-install-db failed: ${r.stderr || r.stdout}`);
  }
  const port = o.port ?? (await freePort());
  const socket = join(dir, 'mysqld.sock');
  const log = join(dir, 'error.log');
  const proc = spawn(MARIADBD, [
    '--no-defaults', `--datadir=${data}`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1',
    `--server-id=${o.serverId}`, '--user=mysql', `--pid-file=${join(dir, 'mysqld.pid')}`, `--log-error=${log}`,
    ...FAST, ...(o.args ?? []),
  ], { stdio: 'ignore' });
  running.add(proc);
  let exited = false;
  proc.on('exit', () => { exited = true; running.delete(proc); });
  const server: Server = {
    port, socket, dir, proc, log,
    async query<T>(sql: string, values?: unknown[]) {
      const c = await createConnection({ socketPath: socket, user: 'root', connectTimeout: 10_000 });
      try {
        const [rows] = await c.query(sql, values);
        return rows as T;
      } finally {
        await c.end().catch(() => undefined);
      }
    },
    connect() {
      return createConnection({ socketPath: socket, user: 'root', connectTimeout: 10_000 });
    },
    async stop() {
      if (exited) return;
      try { proc.kill('SIGCONT'); } catch { /* ignore */ }
      proc.kill('SIGKILL');
      await new Promise<void>((r) => (exited ? r() : proc.once('exit', () => r())));
    },
  };
  const readyTimeoutMs = o.readyTimeoutMs ?? 30_000;
  try {
    await waitFor(`mariadbd ${o.name ?? o.serverId} to be ready`, async () => {
      await server.query('SELECT 1');
      return !o.waitReady || (await o.waitReady(server));
    }, readyTimeoutMs, { stopWhen: () => (exited ? 'it exited during start-up' : undefined) });
  } catch (e) {
    await server.stop();
    // The data dir is removed by the caller: quote the end of the error log now.
    let tail = '';
    try {
      tail = readFileSync(log, 'utf8').split('\n').filter((l) => /ERROR|\[Warning\] WSREP|Aborting|SST/.test(l)).slice(-6).join(' / ');
    } catch {
      /* no log written */
    }
    throw new Error(`${(e as Error).message}; see ${log}${tail ? `: ${tail}` : ''}`);
  }
  return server;
}

export function writeOptionFile(dir: string, user: string, password: string): string {
  const path = join(dir, `client-${user}.cnf`);
  writeFileSync(path, `# test credentials\n[client]\nuser = ${user}\npassword = "${password}"\n`, { mode: 0o600 });
  return path;
}

/** A built check with HOME pointing nowhere, so root's ~/.my.cnf never supplies credentials. */
export function runCheck(name: string, args: readonly string[], env: Record<string, string | undefined> = {}): Promise<BinResult> {
  return runBin(name, args, { env: { HOME: '/nonexistent', ...env } });
}
