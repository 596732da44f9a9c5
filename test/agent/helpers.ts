/**
 * Test helpers: free ports, the built agent started on a temp config, the stock nrpe daemon
 * and check_nrpe. Everything started here is stopped by `cleanup()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { binPath, runProgram, type RunResult } from '../support/bin.ts';
import { ROOT } from '../support/paths.ts';
import { freePort, isListening } from '../support/ports.ts';
import { stopChild } from '../support/process.ts';
import { requireFile } from '../support/require.ts';
import { removeDir, tempDir as makeTempDir } from '../support/tmp.ts';
import { expect } from 'vitest';
import { waitFor } from '../support/wait.ts';

export const AGENT_BIN = join(ROOT, 'dist/bin/hawatch-agent.cjs');
export const CHECK_NRPE = '/usr/lib/nagios/plugins/check_nrpe';
export const NRPE_DAEMON = '/usr/sbin/nrpe';
export const CHECK_DUMMY = '/usr/lib/nagios/plugins/check_dummy';

export function requireTools(): void {
  requireFile(CHECK_NRPE, 'nagios-nrpe-plugin');
  binPath('hawatch-agent');
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
  const dir = makeTempDir(prefix, { mode: 0o755 });
  onCleanup(() => removeDir(dir));
  return dir;
}

export function run(file: string, args: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
  return runProgram(file, args, { timeoutMs });
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

/** Waits until the daemon's output satisfies `pred`; fails at once if it exits, quoting its output. */
async function waitForOutput(getOut: () => string, proc: ChildProcess, pred: (out: string) => boolean, timeoutMs: number): Promise<void> {
  try {
    await waitFor('the daemon', () => pred(getOut()), timeoutMs, { everyMs: 20, stopWhen: () => (proc.exitCode !== null ? `it exited (${proc.exitCode})` : undefined) });
  } catch (e) {
    throw new Error(`${(e as Error).message}:\n${getOut()}`);
  }
}

const stopProc = (proc: ChildProcess): Promise<void> => stopChild(proc, 5000);

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
  requireFile(NRPE_DAEMON, 'nagios-nrpe-server');
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
  try {
    await waitFor('nrpe to listen', () => isListening(port), 10_000, { everyMs: 50, stopWhen: () => (proc.exitCode !== null ? `nrpe exited (${proc.exitCode})` : undefined) });
  } catch (e) {
    throw new Error(`${(e as Error).message}: ${out}`);
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

/** Perfdata items of a plugin output (first line after `|`, and after the `|` in the long output). */
export function perfdataItems(output: string): string[] {
  const [first = '', ...rest] = output.replace(/\n$/, '').split('\n');
  const long = rest.join('\n');
  const parts = [first.includes('|') ? first.slice(first.indexOf('|') + 1) : '', long.includes('|') ? long.slice(long.indexOf('|') + 1) : ''];
  return parts.join(' ').match(/'(?:[^']|'')*'\S*|\S+/g) ?? [];
}

/**
 * An answer cut to `max` bytes kept the first line's text whole and only whole perfdata
 * items of the full output, in their order (never `label=12;5` cut inside an item).
 */
export function expectCleanCut(answer: string, full: string, max: number): void {
  const text = answer.replace(/\n$/, '');
  expect(Buffer.byteLength(text)).toBeLessThanOrEqual(max);
  const head = (s: string): string => s.split('\n')[0]!.split('|')[0]!.trimEnd();
  expect(head(text)).toBe(head(full));
  const all = perfdataItems(full);
  const kept = perfdataItems(text);
  expect(all.slice(0, kept.length)).toEqual(kept);
}
