/**
 * Runs external commands for the collect step: never through a shell, always with a
 * timeout, with bounded output. Failures become a CommandError whose message says what
 * failed; the caller adds what to do (which package or sudoers rule).
 */
import type * as ChildProcess from 'node:child_process';
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

export const runCommand: CommandRunner = (file, args, opts) => {
  const { spawn } = loadChildProcess();
  return new Promise((resolve, reject) => {
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
    const child = spawn(file, args, {
      env: mergedEnv(opts.env),
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      shell: false,
    });
    const kill = (): void => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      kill();
      finish(() => reject(new CommandError('timeout', file, `'${file}' did not finish within ${formatSeconds(opts.timeoutMs)} s`)));
    }, opts.timeoutMs);
    const onAbort = (): void => {
      kill();
      finish(() => reject(new CommandError('aborted', file, `'${file}' was stopped: the check timed out`)));
    };
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        kill();
        finish(() => reject(new CommandError('too-large', file, `'${file}' printed more than ${maxBytes} bytes`)));
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
