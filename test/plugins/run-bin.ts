/** Runs a built plugin executable (dist/bin) the way Nagios does: argv, env, stdout, exit code. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePerfdata } from '../../nagios/perfdata.ts';

export const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

export interface BinResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** The status line without perfdata. */
  readonly status: string;
  readonly perf: string;
}

export function binPath(name: string): string {
  const p = join(ROOT, 'dist', 'bin', `${name}.cjs`);
  if (!existsSync(p)) throw new Error(`${p} is missing: run 'npm run build' first (npm test does)`);
  return p;
}

export function runBin(name: string, args: readonly string[], opts: { env?: Record<string, string | undefined>; input?: string; killAfterMs?: number } = {}): Promise<BinResult> {
  const file = binPath(name);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C', ...opts.env })) if (v !== undefined) env[k] = v;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [file, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      const first = stdout.split('\n')[0] ?? '';
      const bar = first.indexOf('|');
      resolve({ code, stdout, stderr, ms: Date.now() - started, status: bar === -1 ? first : first.slice(0, bar).trim(), perf: bar === -1 ? '' : first.slice(bar + 1).trim() });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The value of one perfdata label from a status line's perfdata ('U' stays a string). */
export function perfValue(perf: string, label: string): number | 'U' | undefined {
  return parsePerfdata(perf).items.find((p) => p.label === label)?.value;
}
