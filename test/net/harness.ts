/**
 * Test harness for the network checks: real network namespaces joined by veth pairs,
 * real daemons started inside them, and the built plugins run inside them with
 * `ip netns exec`. Everything is named with a random suffix (other helpers run tests at
 * the same time) and removed in afterAll, and again on process exit should a test die.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** Fails (never skips) with the Debian package to install when a program is missing. */
export function requireProgram(program: string, debianPackage: string): string {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', program], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (r.status !== 0 || path === '') throw new Error(`'${program}' is not installed: apt-get install ${debianPackage} (listed in .ci/packages/net.txt)`);
  return path;
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('the network namespace tests need root (ip netns add); run them as root as CI does');
}

export function requireBuilt(bin: string): string {
  const path = join(ROOT, 'dist', 'bin', `${bin}.cjs`);
  const r = spawnSync('test', ['-f', path]);
  if (r.status !== 0) throw new Error(`${path} is missing: run 'npm run build' first (npm test does)`);
  return path;
}

export function suffix(): string {
  return randomBytes(3).toString('hex');
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolvePromise({ code, stdout, stderr }); });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Runs a command and throws with its output when it fails. */
export function sh(file: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${err.stderr || err.stdout || err.message}`);
  }
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A lab of namespaces, links, processes and temp dirs that cleans itself up. */
export class Lab {
  readonly id = suffix();
  readonly dir: string;
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly onExit = (): void => this.cleanupSync();
  readonly tag: string;

  constructor(tag: string) {
    this.tag = tag;
    this.dir = mkdtempSync(join(tmpdir(), `hawatch-${tag}-`));
    chmodSync(this.dir, 0o755);
    process.once('exit', this.onExit);
  }

  /** Creates a namespace named hw<tag><id><name> with loopback up. */
  netns(name: string): string {
    const ns = `hw${this.tag}${this.id}${name}`;
    sh('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** A veth pair between two namespaces, each end with an address; returns the interface names. */
  link(nsA: string, addrA: string, nsB: string, addrB: string, tag = ''): [string, string] {
    const a = `v${this.id}${tag}a`;
    const b = `v${this.id}${tag}b`;
    sh('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    sh('ip', ['link', 'set', a, 'netns', nsA]);
    sh('ip', ['link', 'set', b, 'netns', nsB]);
    sh('ip', ['-n', nsA, 'addr', 'add', addrA, 'dev', a]);
    sh('ip', ['-n', nsB, 'addr', 'add', addrB, 'dev', b]);
    sh('ip', ['-n', nsA, 'link', 'set', a, 'up']);
    sh('ip', ['-n', nsB, 'link', 'set', b, 'up']);
    return [a, b];
  }

  exec(ns: string, file: string, args: readonly string[], input?: string): string {
    return sh('ip', ['netns', 'exec', ns, file, ...args], input);
  }

  /** Starts a long-running process inside a namespace (ip netns exec execs it: same pid). */
  spawn(ns: string, file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; log?: string } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, file, ...args], { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const keep = (d: Buffer): void => { log = (log + d.toString()).slice(-20_000); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    (child as ChildProcess & { log: () => string }).log = () => log;
    this.children.push(child);
    return child;
  }

  async stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 8000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(t);
  }

  /** Runs a built plugin inside a namespace. */
  plugin(ns: string, bin: string, args: readonly string[]): Promise<RunResult> {
    return run('ip', ['netns', 'exec', ns, process.execPath, requireBuilt(bin), ...args], { timeoutMs: 30_000 });
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.children.map((c) => this.stop(c)));
    this.cleanupSync();
  }

  private cleanupSync(): void {
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) {
        try { c.kill('SIGKILL'); } catch { /* gone */ }
      }
    }
    for (const ns of this.namespaces.splice(0)) {
      // Deleting the namespace also deletes the veth ends inside it.
      spawnSync('ip', ['netns', 'del', ns]);
    }
    rmSync(this.dir, { recursive: true, force: true });
    process.removeListener('exit', this.onExit);
  }
}
