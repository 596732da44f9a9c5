/**
 * Test helpers: free ports, the built agent started on a temp config, the stock nrpe daemon
 * and check_nrpe. Everything started here is stopped by `cleanup()`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const AGENT_BIN = join(ROOT, 'dist/bin/hawatch-agent.cjs');
export const CHECK_NRPE = '/usr/lib/nagios/plugins/check_nrpe';
export const NRPE_DAEMON = '/usr/sbin/nrpe';
export const CHECK_DUMMY = '/usr/lib/nagios/plugins/check_dummy';

export function requireFile(path: string, what: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: ${what}`);
}

export function requireTools(): void {
  requireFile(CHECK_NRPE, 'install the Debian package nagios-nrpe-plugin');
  requireFile(AGENT_BIN, "build first: 'npm run build' (npm test does it)");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const cleanups: (() => Promise<void> | void)[] = [];
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}
export async function cleanup(): Promise<void> {
  while (cleanups.length) {
    try {
      await cleanups.pop()!();
    } catch {
      /* keep cleaning */
    }
  }
}

/** A temp dir the nagios user can read (the agent drops to it and re-reads configs on SIGHUP). */
export async function tempDir(prefix = 'hawatch-agent-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export function run(file: string, args: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: timeoutMs, maxBuffer: 1 << 22, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

export function checkNrpe(port: number, args: readonly string[], host = '127.0.0.1'): Promise<RunResult> {
  return run(CHECK_NRPE, ['-H', host, '-p', String(port), '-t', '10', ...args]);
}

export interface Daemon {
  readonly port: number;
  readonly proc: ChildProcess;
  readonly dir: string;
  readonly cfgPath: string;
  /** Everything the daemon wrote to stderr/stdout so far. */
  output(): string;
  /** The JSON log records so far. */
  records(): Record<string, unknown>[];
  waitFor(pred: (out: string) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface AgentStart {
  /** Config lines after the generated server_port/server_address/nrpe_user ones. */
  readonly config: string;
  readonly plain?: boolean;
  readonly extraArgs?: readonly string[];
  readonly address?: string;
  /** The config's log_file: output() and records() read it too. */
  readonly logFile?: string;
}

function waitForOutput(getOut: () => string, proc: ChildProcess, pred: (out: string) => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      if (pred(getOut())) return resolve();
      if (proc.exitCode !== null) return reject(new Error(`daemon exited (${proc.exitCode}):\n${getOut()}`));
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`timed out waiting for the daemon:\n${getOut()}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

function stopProc(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

export async function startAgent(o: AgentStart): Promise<Daemon> {
  requireTools();
  const dir = await tempDir();
  const port = await freePort();
  const cfgPath = join(dir, 'agent.cfg');
  const head = [`server_port=${port}`, `server_address=${o.address ?? '127.0.0.1'}`, 'nrpe_user=nagios', 'nrpe_group=nagios'];
  await writeFile(cfgPath, [...head, o.config].join('\n') + '\n');
  await chmod(cfgPath, 0o644);
  const args = ['-c', cfgPath, ...(o.plain ? ['-n'] : []), ...(o.extraArgs ?? [])];
  const proc = spawn(process.execPath, [AGENT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const all = (): string => out + (o.logFile && existsSync(o.logFile) ? readFileSync(o.logFile, 'utf8') : '');
  const d: Daemon = {
    port,
    proc,
    dir,
    cfgPath,
    output: all,
    records: () =>
      all()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    waitFor: (pred, timeoutMs = 10_000) => waitForOutput(all, proc, pred, timeoutMs),
    stop: () => stopProc(proc),
  };
  onCleanup(d.stop);
  await d.waitFor((s) => s.includes('"msg":"started"'));
  return d;
}

/** The stock nrpe daemon, in the foreground on its own port, as root dropping to nagios. */
export async function startStockNrpe(config: string, plain = false): Promise<Daemon> {
  requireFile(NRPE_DAEMON, 'install the Debian package nagios-nrpe-server');
  const dir = await tempDir('hawatch-nrpe-');
  const port = await freePort();
  const cfgPath = join(dir, 'nrpe.cfg');
  const logPath = join(dir, 'nrpe.log');
  await writeFile(cfgPath, [`server_port=${port}`, 'server_address=127.0.0.1', 'nrpe_user=nagios', 'nrpe_group=nagios', `log_file=${logPath}`, 'debug=1', 'disable_syslog=1', config].join('\n') + '\n');
  await writeFile(logPath, '');
  await chmod(logPath, 0o666);
  const proc = spawn(NRPE_DAEMON, ['-c', cfgPath, '-f', ...(plain ? ['-n'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const d: Daemon = {
    port,
    proc,
    dir,
    cfgPath,
    output: () => out,
    records: () => [],
    waitFor: (pred, timeoutMs = 10_000) => waitForOutput(() => out, proc, pred, timeoutMs),
    stop: () => stopProc(proc),
  };
  onCleanup(d.stop);
  // nrpe logs "Listening for connections" to its log file; poll the port instead.
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) break;
    if (proc.exitCode !== null) throw new Error(`nrpe exited (${proc.exitCode}): ${out}`);
    if (Date.now() - t0 > 10_000) throw new Error(`nrpe did not start listening: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return d;
}

/** Sends raw bytes over plain TCP and collects whatever comes back until the server closes. */
export function rawExchange(port: number, data: Buffer | readonly Buffer[], opts: { timeoutMs?: number; delayMs?: number } = {}): Promise<{ reply: Buffer; closed: boolean; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = new Socket();
    const got: Buffer[] = [];
    let finished = false;
    const done = (closed: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ reply: Buffer.concat(got), closed, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => done(false), opts.timeoutMs ?? 5000);
    s.on('data', (c: Buffer) => got.push(c));
    s.on('error', () => done(true));
    s.on('close', () => done(true));
    s.connect(port, '127.0.0.1', async () => {
      const parts = Buffer.isBuffer(data) ? [data] : data;
      for (const p of parts) {
        if (s.destroyed) break;
        s.write(p);
        if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      }
    });
  });
}
