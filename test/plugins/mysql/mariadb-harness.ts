/**
 * Starts real MariaDB servers for the tests: each in its own mkdtemp directory, listening
 * on a free loopback port, run as the `mysql` user (Galera's rsync SST refuses to work as
 * root: its rsync daemon drops to `nobody`). Killed and removed on cleanup and on exit.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';

export const MARIADBD = '/usr/sbin/mariadbd';
export const INSTALL_DB = '/usr/bin/mariadb-install-db';

/** Fails (never skips) with the Debian package to install. */
export function requireMariaDb(): void {
  for (const [bin, pkg] of [[MARIADBD, 'mariadb-server'], [INSTALL_DB, 'mariadb-server']] as const) {
    if (!existsSync(bin)) throw new Error(`${bin} not found: install the Debian package ${pkg}`);
  }
  if (spawnSync('id', ['-u', 'mysql']).status !== 0) throw new Error("user 'mysql' missing: install the Debian package mariadb-server");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
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

export function makeDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chownSync(dir, uid('mysql'), gid('mysql'));
  return dir;
}

function uid(user: string): number {
  return Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
}
function gid(user: string): number {
  return Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
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
  const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) throw new Error(`mariadbd ${o.name ?? o.serverId} exited during start-up; see ${log}`);
    try {
      await server.query('SELECT 1');
      if (!o.waitReady || (await o.waitReady(server))) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`mariadbd ${o.name ?? o.serverId} not ready within ${(o.readyTimeoutMs ?? 30_000) / 1000} s; see ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return server;
}

export async function removeDir(dir: string): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
}

export function writeOptionFile(dir: string, user: string, password: string): string {
  const path = join(dir, `client-${user}.cnf`);
  writeFileSync(path, `# test credentials\n[client]\nuser = ${user}\npassword = "${password}"\n`, { mode: 0o600 });
  return path;
}

export async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 20_000, stepMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export interface PluginRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a built plugin from dist/bin (black box), with a hard kill as a safety net. */
export function runBin(name: string, args: readonly string[], env: Record<string, string | undefined> = {}, killAfterMs = 30_000): Promise<PluginRun> {
  const bin = join(import.meta.dirname, '..', '..', '..', 'dist', 'bin', `${name}.cjs`);
  if (!existsSync(bin)) throw new Error(`${bin} missing: run 'npm run build' first`);
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, HOME: '/nonexistent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}
