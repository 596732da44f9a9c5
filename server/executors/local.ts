/**
 * Runs plugins on the admin node itself, as Nagios does for local checks: no shell (the
 * argv comes from nagios/commandline.ts, macros already substituted word by word), a
 * timeout that kills the plugin, bounded output.
 */
import { CommandError, runCommand, type CommandRunner } from '../../nagios/exec.ts';
import { State } from '../../nagios/states.ts';
import { explainEmptyStdout, failureOutcome, pluginOutcome, seconds } from './outcome.ts';
import type { CheckOutcome, CheckRequest, Executor } from './types.ts';
import { DEFAULT_CHECK_ENVIRONMENT } from '../inventory/load.ts';

/**
 * The complete environment of a plugin: runCommand adds to the server's environment, so
 * every variable of the server is named here as removed (undefined) first. A plugin never
 * sees HAWATCH_API_TOKEN, the SMTP password or anything else the server was started with.
 */
export function pluginEnvironment(base: Readonly<Record<string, string>> | undefined, extra: Readonly<Record<string, string | undefined>> | undefined): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const k of Object.keys(process.env)) env[k] = undefined;
  Object.assign(env, base ?? DEFAULT_CHECK_ENVIRONMENT, extra ?? {});
  return env;
}

export interface LocalExecutorOptions {
  /** Bytes of stdout + stderr accepted; more kills the plugin (UNKNOWN). Default 1 MiB. */
  readonly maxOutputBytes?: number;
  /** Variables added to the plugins' environment after the request's (undefined removes one). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Replaceable for tests; default nagios/exec.ts runCommand. */
  readonly runCommand?: CommandRunner;
}

export class LocalExecutor implements Executor {
  private readonly maxOutputBytes: number;
  private readonly env: LocalExecutorOptions['env'];
  private readonly runner: CommandRunner;
  private readonly running = new Set<AbortController>();
  private closed = false;

  constructor(options: LocalExecutorOptions = {}) {
    this.maxOutputBytes = options.maxOutputBytes ?? 1024 * 1024;
    this.env = options.env;
    this.runner = options.runCommand ?? runCommand;
  }

  async run(req: CheckRequest): Promise<CheckOutcome> {
    const startedAt = Date.now();
    const mono = performance.now();
    if (req.command.kind !== 'argv') {
      return failureOutcome('protocol', State.UNKNOWN, `${req.hostName}: the local executor cannot run the NRPE command ${req.command.command}, give the check a command line`, startedAt, mono);
    }
    if (this.closed) return failureOutcome('aborted', State.UNKNOWN, 'check not run: the server is shutting down', startedAt, mono);
    const [file, ...args] = req.command.argv;
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    if (req.signal?.aborted) ac.abort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    this.running.add(ac);
    try {
      const r = await this.runner(file, args, { timeoutMs: req.timeoutMs, maxBytes: this.maxOutputBytes, signal: ac.signal, env: pluginEnvironment(req.environment, this.env) });
      return explainEmptyStdout(pluginOutcome(r.exitCode, r.stdout, startedAt, mono), r.exitCode, r.stderr, r.signal);
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      switch (e.kind) {
        case 'timeout':
          return failureOutcome('timeout', req.timeoutState, `check timed out after ${seconds(req.timeoutMs)}: ${file} was killed`, startedAt, mono);
        case 'aborted':
          return failureOutcome('aborted', State.UNKNOWN, 'check aborted: the server is shutting down', startedAt, mono);
        case 'not-found':
          return failureOutcome('spawn', State.UNKNOWN, `${file} was not found: check the command path (is the plugin package installed?)`, startedAt, mono);
        case 'permission':
          return failureOutcome('spawn', State.UNKNOWN, `no permission to run ${file}: check its mode and owner`, startedAt, mono);
        case 'too-large':
          return failureOutcome('protocol', State.UNKNOWN, `${file} printed more than ${this.maxOutputBytes} bytes and was killed`, startedAt, mono);
        default:
          return failureOutcome('spawn', State.UNKNOWN, e.message, startedAt, mono);
      }
    } finally {
      this.running.delete(ac);
      req.signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const ac of this.running) ac.abort();
  }
}

export function createLocalExecutor(options?: LocalExecutorOptions): LocalExecutor {
  return new LocalExecutor(options);
}
