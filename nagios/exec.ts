/**
 * Runs external commands for the collect step: never through a shell, always with a
 * timeout, with bounded output. Failures become a CommandError whose message says what
 * failed; the caller adds what to do (which package or sudoers rule).
 *
 * Every command runs in a process group of its own, and a timeout, an abort or too much
 * output ends the whole group: a wrapper script's hung grandchild, or the program sudo
 * started, goes with it (SIGTERM first so sudo can pass it on, SIGKILL shortly after).
 *
 * A program given by bare name is found by findProgram: PATH, then the sbin and bin
 * directories, because Nagios, NRPE and init systems often run checks with PATH=/usr/bin:/bin
 * and most cluster tools live in /usr/sbin.
 */
import type * as ChildProcess from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  /** null when the process was killed by a signal. */
  readonly exitCode: number | null;
  readonly signal: string | null;
}

export interface RunOptions {
  readonly timeoutMs: number;
  /** Variables added to (or, when undefined, removed from) the inherited environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly input?: string;
  /** Output beyond this many bytes (stdout + stderr) kills the command. Default 16 MiB. */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
  readonly cwd?: string;
  /**
   * Called with the pid (= process group id) once the command started: a caller that must know
   * whether a killed command is really gone (a probe stuck in an uninterruptible wait on a dead
   * NFS server survives SIGKILL) keeps it. Runners that do not spawn never call it.
   */
  readonly onSpawn?: (pid: number) => void;
}

/** Searched after PATH for a program given by bare name, in this order. */
export const FALLBACK_DIRS: readonly string[] = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** How long a killed group gets between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 200;

/**
 * The absolute path of `name`: itself when it has a slash, else the first executable regular
 * file named so in `pathVar`'s directories, then in FALLBACK_DIRS; undefined when none is.
 */
export function findProgram(name: string, pathVar: string | undefined): string | undefined {
  if (name.includes('/')) return name;
  if (name === '' || name === '.' || name === '..') return undefined;
  const dirs = [...(pathVar ?? '').split(':').filter((d) => d.startsWith('/')), ...FALLBACK_DIRS];
  for (const dir of dirs) {
    const candidate = `${dir}/${name}`;
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Where findProgram looked, for a "not found" message. */
export function searchedText(): string {
  return `PATH or ${FALLBACK_DIRS.join(', ')}`;
}

export type CommandRunner = (file: string, args: readonly string[], opts: RunOptions) => Promise<CommandResult>;

export type CommandErrorKind = 'not-found' | 'permission' | 'timeout' | 'too-large' | 'aborted' | 'failed';

export class CommandError extends Error {
  override name = 'CommandError';
  readonly kind: CommandErrorKind;
  readonly command: string;
  constructor(kind: CommandErrorKind, command: string, message: string) {
    super(message);
    this.kind = kind;
    this.command = command;
  }
}

function mergedEnv(extra: RunOptions['env']): NodeJS.ProcessEnv {
  if (!extra) return process.env;
  const env = { ...process.env };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

// node:child_process costs 2-9 ms to load, which every check would pay at start-up even when it
// reads --input-file and runs nothing; it is loaded on the first command instead. require(), not
// import(): in the CJS bundles import() would start the ESM loader, which costs more again.
let childProcess: typeof ChildProcess | undefined;
const loadChildProcess = (): typeof ChildProcess =>
  (childProcess ??= createRequire(process.execPath)('node:child_process') as typeof ChildProcess);

/** 749 -> '0.7', 5000 -> '5': readable in a status line. */
export function formatSeconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

/** Process groups being killed or still running: whatever is left is killed when the process exits. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function signalGroup(pgid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false; // ESRCH: the group is gone; EPERM: only processes of another user are left
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A standalone check prints and exits at once when -t runs out; the SIGKILL of a group
  // still in its grace time would never be sent, so it is sent here, synchronously.
  process.on('exit', () => {
    for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  });
}

/**
 * Ends process group `pgid`: SIGTERM now, SIGKILL after KILL_GRACE_MS. Resolves once SIGKILL
 * was sent (or the group was found gone). For callers that spawn on their own with
 * `detached: true` (the server's local executor) as well as for runCommand.
 */
export function killProcessGroup(pgid: number, graceMs = KILL_GRACE_MS): Promise<void> {
  installExitHook();
  liveGroups.add(pgid);
  if (!signalGroup(pgid, 'SIGTERM')) {
    liveGroups.delete(pgid);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    setTimeout(() => {
      signalGroup(pgid, 'SIGKILL');
      liveGroups.delete(pgid);
      resolve();
    }, graceMs);
  });
}

export const runCommand: CommandRunner = (file, args, opts) => {
  const { spawn } = loadChildProcess();
  return new Promise((resolve, reject) => {
    const env = mergedEnv(opts.env);
    const path = findProgram(file, env.PATH);
    if (path === undefined) {
      reject(new CommandError('not-found', file, `'${file}' was not found in ${searchedText()}`));
      return;
    }
    const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
    let settled = false;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    installExitHook();
    // detached: setsid() in the child, so it leads a process group of its own that can be
    // killed as a whole. argv0 keeps the name as given (multi-call binaries look at it).
    const child = spawn(path, args, {
      argv0: file,
      env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      shell: false,
      detached: true,
    });
    const pgid = child.pid;
    let killing = false;
    if (pgid !== undefined) liveGroups.add(pgid);
    if (pgid !== undefined) opts.onSpawn?.(pgid);
    child.on('exit', () => {
      // The leader is reaped: a normal end leaves the group alone (its id may be reused).
      if (pgid !== undefined && !killing) liveGroups.delete(pgid);
    });
    // Rejects only after the group got its SIGKILL: a caller that awaits the failure knows
    // nothing of the command is left running.
    const killThen = (fail: () => void): void => {
      if (settled) return;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (pgid === undefined || killing) return finish(fail);
      killing = true;
      child.stdout?.destroy();
      child.stderr?.destroy();
      void killProcessGroup(pgid).then(() => finish(fail));
    };
    const timer = setTimeout(() => {
      killThen(() => reject(new CommandError('timeout', file, `'${file}' did not finish within ${formatSeconds(opts.timeoutMs)} s`)));
    }, opts.timeoutMs);
    const onAbort = (): void => {
      killThen(() => reject(new CommandError('aborted', file, `'${file}' was stopped: the check timed out`)));
    };
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        killThen(() => reject(new CommandError('too-large', file, `'${file}' printed more than ${maxBytes} bytes`)));
        return;
      }
      into.push(chunk);
    };
    child.stdout?.on('data', collect(out));
    child.stderr?.on('data', collect(err));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') finish(() => reject(new CommandError('not-found', file, `'${file}' was not found`)));
      else if (e.code === 'EACCES' || e.code === 'EPERM') finish(() => reject(new CommandError('permission', file, `no permission to run '${file}'`)));
      else finish(() => reject(new CommandError('failed', file, `'${file}' could not be started: ${e.message}`)));
    });
    child.on('close', (code, signal) => {
      if (killing) return;
      finish(() =>
        resolve({
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          exitCode: code,
          signal,
        }),
      );
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {
        /* the command may exit before reading its input */
      });
      child.stdin.end(opts.input);
    }
  });
};
