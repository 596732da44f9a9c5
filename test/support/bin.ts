/**
 * Running programs from tests: any program with a hard time limit (`runProgram`), and the
 * built executables in dist/bin the way Nagios runs a check: argv, a small environment,
 * stdout, exit code (`runBin`, `runBinSync`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parsePerfdata } from '../../nagios/perfdata.ts';
import { ROOT } from './paths.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export interface RunResult {
  /** null when the program was killed by a signal (also by the time limit). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface RunOptions {
  /** The whole environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  readonly input?: string;
  /** SIGKILL after this long, so a hung program fails its test instead of hanging it (default 30 s). */
  readonly timeoutMs?: number;
}

/** Runs a program (no shell) and collects its output; rejects only when it cannot be started. */
export function runProgram(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, args, { env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input);
    }
  });
}

/** dist/bin/<name>.cjs; throws when it has not been built. */
export function binPath(name: string): string {
  const p = join(ROOT, 'dist', 'bin', `${name}.cjs`);
  if (!existsSync(p)) throw new Error(`${p} is missing: run 'npm run build' first (npm test does)`);
  return p;
}

export interface BinResult extends RunResult {
  /** The first line without perfdata. */
  readonly status: string;
  /** The first line's perfdata. */
  readonly perf: string;
}

export interface BinOptions {
  /** Variables set on top of baseEnv (undefined removes one). */
  readonly env?: Env;
  /** What the environment starts from; default nagiosEnv(): PATH, HOME and LANG=C, as NRPE gives a check. */
  readonly baseEnv?: Env;
  readonly input?: string;
  /** SIGKILL after this long (default 30 s). */
  readonly killAfterMs?: number;
}

/** The small environment a check gets from Nagios or NRPE. */
export function nagiosEnv(): Env {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C' };
}

function binEnv(opts: BinOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries({ ...(opts.baseEnv ?? nagiosEnv()), ...opts.env })) if (v !== undefined) env[k] = v;
  return env;
}

function withStatus(r: RunResult): BinResult {
  const first = r.stdout.split('\n')[0] ?? '';
  const bar = first.indexOf('|');
  return { ...r, status: bar === -1 ? first : first.slice(0, bar).trim(), perf: bar === -1 ? '' : first.slice(bar + 1).trim() };
}

/** Runs a built check, e.g. runBin('check_ha_drbd', ['-w', '5']). */
export async function runBin(name: string, args: readonly string[], opts: BinOptions = {}): Promise<BinResult> {
  const file = binPath(name);
  return withStatus(await runProgram(process.execPath, [file, ...args], { env: binEnv(opts), input: opts.input ?? '', timeoutMs: opts.killAfterMs }));
}

/** runBin, blocking: for tests that run one check after another and look at files in between. */
export function runBinSync(name: string, args: readonly string[], opts: BinOptions = {}): BinResult {
  const file = binPath(name);
  const started = performance.now();
  const r = spawnSync(process.execPath, [file, ...args], { env: binEnv(opts), input: opts.input ?? '', encoding: 'utf8', timeout: opts.killAfterMs ?? 30_000, killSignal: 'SIGKILL' });
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw r.error;
  return withStatus({ code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - started });
}

/** The value of one perfdata label in a status line's perfdata ('U' stays a string). */
export function perfValue(perf: string, label: string): number | 'U' | undefined {
  return parsePerfdata(perf).items.find((p) => p.label === label)?.value;
}
