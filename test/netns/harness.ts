/**
 * The namespace lab for the network checks: real network namespaces joined by veth pairs,
 * real daemons started inside them, and the built plugins run inside them with
 * `ip netns exec`. Everything is named with a random suffix (other helpers run tests at
 * the same time) and removed in afterAll, and again on process exit should a test die.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { binPath, runProgram, type RunResult } from '../support/bin.ts';
import { stopChild } from '../support/process.ts';
import { requireRoot } from '../support/require.ts';
import { removeDir, tempDir } from '../support/tmp.ts';

/** Namespaces and veth pairs need root. */
export function requireNamespaces(): void {
  requireRoot('the network namespace tests create namespaces and veth pairs (ip netns add)');
}

export function suffix(): string {
  return randomBytes(3).toString('hex');
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
    this.dir = tempDir(`hawatch-${tag}-`, { mode: 0o755 });
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

  stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 8000): Promise<void> {
    return stopChild(child, timeoutMs, signal);
  }

  /** Runs a built plugin inside a namespace. */
  plugin(ns: string, bin: string, args: readonly string[]): Promise<RunResult> {
    return runProgram('ip', ['netns', 'exec', ns, process.execPath, binPath(bin), ...args], { timeoutMs: 30_000 });
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
    removeDir(this.dir);
    process.removeListener('exit', this.onExit);
  }
}
