/**
 * The standard plugin runner shared by every check: option parsing with the Nagios
 * standard options, `-t` timeout, `--input-file`, error handling, rendering.
 *
 * `runPlugin` never exits the process and never throws: it returns the exit code and the
 * text, so the agent can run checks in-process and the bin shim can print and exit.
 */
import { parseArgs } from 'node:util';
import { CommandError, KILL_GRACE_MS, runCommand, type CommandRunner } from './exec.ts';
import { InputError, MAX_INPUT_TEXT, readBoundedFile, readBoundedStream } from './input.ts';
import { parseRange, RangeError, type Thresholds } from './range.ts';
import { DEFAULT_MAX_BYTES, render, renderMessage, VERBOSE_MAX_BYTES, type CheckResult, type Rendered } from './result.ts';
import { parseStateName, State, type StateCode } from './states.ts';
import { VERSION } from './version.ts';

export interface PluginOption {
  readonly name: string;
  readonly short?: string;
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly default?: string;
  /** Placeholder shown in help: `--role ROLE`. */
  readonly valueName?: string;
  readonly help: string;
  /**
   * The value names a file (read or written) or a program to run: the agent never lets a
   * network argument (`$ARGn$` with dont_blame_nrpe=1) set such an option or its value.
   */
  readonly restricted?: 'file' | 'program';
}

export interface PluginThresholds {
  /** What -w/-c judge, for help text: "out-of-sync data in MiB". */
  readonly subject: string;
  readonly warning?: string;
  readonly critical?: string;
}

export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface PluginContext {
  readonly options: OptionValues;
  readonly thresholds: Thresholds;
  readonly verbose: number;
  readonly timeoutMs: number;
  /** Aborted when `-t` expires; pass it to every command and connection. */
  readonly signal: AbortSignal;
  readonly runCommand: CommandRunner;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Contents of `--input-file` (`-` for stdin), or undefined when not given. */
  readInput(): Promise<string | undefined>;
  /**
   * Time left before `-t` expires, plus a little, for sub-timeouts: a sub-timeout given all of
   * it never fires before the check's own timeout, so running out of time ends in the -t state
   * whatever the check was doing (a connect or query timeout does not become CRITICAL).
   */
  remainingMs(): number;
  string(name: string): string | undefined;
  strings(name: string): string[];
  flag(name: string): boolean;
}

export interface PluginDescriptor {
  /** Executable name: `check_ha_drbd`. */
  readonly name: string;
  /** Status line prefix: `DRBD`. */
  readonly prefix: string;
  /** One paragraph for `--help`. */
  readonly description: string;
  readonly options: readonly PluginOption[];
  readonly thresholds?: PluginThresholds;
  /** Whether `--input-file` is offered (every check that reads command or file output). */
  readonly inputFile?: boolean;
  /** Extra help text: examples, privileges. */
  readonly notes?: string;
  run(ctx: PluginContext): Promise<CheckResult>;
}

/** An expected failure with a message for the user. */
export class PluginError extends Error {
  override name = 'PluginError';
  readonly state: StateCode;
  constructor(message: string, state: StateCode = State.UNKNOWN) {
    super(message);
    this.state = state;
  }
}

export interface RunDeps {
  readonly runCommand?: CommandRunner;
  /** Reads `--input-file -`; given the check's signal, it must stop when it fires. */
  readonly readStdin?: (signal: AbortSignal) => Promise<string>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Aborts the check from outside (the agent's command_timeout): commands and connections
   * started through the context are stopped, as when -t expires.
   */
  readonly signal?: AbortSignal;
}

export const DEFAULT_TIMEOUT_S = 10;
/** Sub-timeouts given all the time left end this long after `-t` (see remainingMs). */
const SLACK_MS = 100;
/** After `-t`, how long the runner waits for the commands it started to be killed and reaped. */
const RELEASE_WAIT_MS = KILL_GRACE_MS + 300;

const STANDARD_OPTIONS: readonly PluginOption[] = [
  { name: 'help', short: 'h', type: 'boolean', help: 'Print this help and exit.' },
  { name: 'version', short: 'V', type: 'boolean', help: 'Print the version and exit.' },
  { name: 'verbose', short: 'v', type: 'boolean', multiple: true, help: 'More detail (repeatable; -vvv prints internal errors with their stack to stderr).' },
  { name: 'timeout', short: 't', type: 'string', valueName: 'SECONDS[:STATE]', help: `Give up after SECONDS (default ${DEFAULT_TIMEOUT_S}) and exit UNKNOWN, or STATE (OK, WARNING, CRITICAL, UNKNOWN).` },
];

function allOptions(d: PluginDescriptor): PluginOption[] {
  const list = [...STANDARD_OPTIONS];
  if (d.thresholds) {
    list.push(
      { name: 'warning', short: 'w', type: 'string', valueName: 'RANGE', help: `Warning range for ${d.thresholds.subject}${d.thresholds.warning ? ` (default ${d.thresholds.warning})` : ''}.` },
      { name: 'critical', short: 'c', type: 'string', valueName: 'RANGE', help: `Critical range for ${d.thresholds.subject}${d.thresholds.critical ? ` (default ${d.thresholds.critical})` : ''}.` },
    );
  }
  if (d.inputFile) {
    list.push({ name: 'input-file', type: 'string', valueName: 'PATH', restricted: 'file', help: `Read the data from PATH ('-' for stdin) instead of running the collector; the format is detected from the content. PATH must be a regular file (no FIFO or device) of at most ${MAX_INPUT_TEXT}; stdin is read up to ${MAX_INPUT_TEXT} too.` });
  }
  list.push(...d.options);
  return list;
}

/** Every option a plugin accepts (standard ones included), as its command line parser sees them. */
export function pluginOptions(d: PluginDescriptor): readonly PluginOption[] {
  return allOptions(d);
}

export function helpText(d: PluginDescriptor): string {
  const opts = allOptions(d);
  const rows = opts.map((o) => {
    const flags = [o.short ? `-${o.short}` : undefined, `--${o.name}`].filter(Boolean).join(', ');
    const value = o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : '';
    const def = o.default !== undefined ? ` (default: ${o.default})` : '';
    return { left: `  ${flags}${value}`, right: `${o.help}${def}` };
  });
  const width = Math.min(36, Math.max(...rows.map((r) => r.left.length)) + 2);
  const lines = [
    `${d.name} ${VERSION} (hawatch)`,
    '',
    d.description,
    '',
    `Usage: ${d.name} [options]`,
    '',
    'Options:',
    ...rows.map((r) => (r.left.length + 1 > width ? `${r.left}\n${' '.repeat(width)}${r.right}` : r.left.padEnd(width) + r.right)),
  ];
  if (d.thresholds) {
    lines.push('', 'Ranges follow the Nagios grammar: 10 (alert outside 0..10), 10: (alert below 10), ~:10 (alert above 10),', '10:20 (alert outside 10..20), @10:20 (alert inside 10..20).');
  }
  if (d.notes) lines.push('', d.notes.trimEnd());
  lines.push('', 'Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for --help and --version, as monitoring-plugins do).');
  return lines.join('\n') + '\n';
}

function parseTimeout(text: string | undefined): { ms: number; state: StateCode } {
  if (text === undefined) return { ms: DEFAULT_TIMEOUT_S * 1000, state: State.UNKNOWN };
  const [secs = '', stateText] = text.split(':', 2);
  const n = Number(secs);
  if (!/^\d+(\.\d+)?$/.test(secs.trim()) || !(n > 0) || n > 86400) {
    throw new PluginError(`invalid timeout '${text}': expected seconds (1-86400), optionally followed by :STATE`);
  }
  let state: StateCode = State.UNKNOWN;
  if (stateText !== undefined) {
    const s = parseStateName(stateText);
    if (s === undefined) throw new PluginError(`invalid timeout state '${stateText}': expected OK, WARNING, CRITICAL or UNKNOWN`);
    state = s;
  }
  return { ms: n * 1000, state };
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? '').trim();
}

function describeError(e: unknown, prefix: string, verbose: number): Rendered {
  if (verbose >= 3 && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  if (e instanceof PluginError) return renderMessage(prefix, e.state, e.message);
  if (e instanceof RangeError) return renderMessage(prefix, State.UNKNOWN, e.message);
  if (e instanceof CommandError) return renderMessage(prefix, State.UNKNOWN, e.message);
  const msg = e instanceof Error ? firstLine(e.message) : String(e);
  return renderMessage(prefix, State.UNKNOWN, `internal error: ${msg} (please report it; run with -vvv for details)`);
}

function readStdinDefault(signal: AbortSignal): Promise<string> {
  return readBoundedStream(process.stdin, { signal });
}

type ParseArgsOptions = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** Runs a plugin with the given arguments. Never throws, never exits. */
export async function runPlugin(d: PluginDescriptor, argv: readonly string[], deps: RunDeps = {}): Promise<Rendered> {
  const opts = allOptions(d);
  const spec: ParseArgsOptions = {};
  for (const o of opts) spec[o.name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  let values: OptionValues;
  try {
    const parsed = parseArgs({ args: [...argv], options: spec, strict: true, allowPositionals: false });
    values = parsed.values as OptionValues;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    const m = /'([^']+)'/.exec(err.message ?? '');
    const what = m?.[1] ?? firstLine(err.message ?? String(e));
    let msg: string;
    switch (err.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': msg = `unknown option '${what}'`; break;
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': msg = `unexpected argument '${what}'`; break;
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': msg = `option '${what.split(',')[0]}' needs a value`; break;
      default: msg = firstLine(err.message ?? String(e));
    }
    return renderMessage(d.prefix, State.UNKNOWN, `${msg}; see '${d.name} --help'`);
  }
  if (values.help) return { exitCode: State.UNKNOWN, text: helpText(d) };
  if (values.version) return { exitCode: State.UNKNOWN, text: `${d.name} ${VERSION} (hawatch)\n` };
  for (const o of opts) {
    if (o.default !== undefined && values[o.name] === undefined) values[o.name] = o.multiple ? [o.default] : o.default;
  }
  const verbose = Array.isArray(values.verbose) ? values.verbose.length : 0;

  let timeout: { ms: number; state: StateCode };
  let thresholds: Thresholds;
  try {
    timeout = parseTimeout(values.timeout as string | undefined);
    // Only a plugin that declares `thresholds` gets -w/-c read as ranges: the host basics
    // declare their own -w/-c in monitoring-plugins' grammar (load triplets, 20%, 100MB).
    const w = d.thresholds ? ((values.warning as string | undefined) ?? d.thresholds.warning) : undefined;
    const c = d.thresholds ? ((values.critical as string | undefined) ?? d.thresholds.critical) : undefined;
    thresholds = { warning: w === undefined ? undefined : parseRange(w), critical: c === undefined ? undefined : parseRange(c) };
  } catch (e) {
    return describeError(e, d.prefix, verbose);
  }

  const controller = new AbortController();
  const external = deps.signal;
  let stopped: (r: Rendered) => void = () => {};
  const stoppedFromOutside = new Promise<Rendered>((resolve) => (stopped = resolve));
  const onExternalAbort = (): void => {
    controller.abort();
    stopped(renderMessage(d.prefix, State.UNKNOWN, 'check stopped before it finished (the caller\'s time limit ran out)'));
  };
  if (external?.aborted) onExternalAbort();
  else external?.addEventListener('abort', onExternalAbort, { once: true });
  const started = Date.now();
  const env = deps.env ?? process.env;
  const inputPath = values['input-file'] as string | undefined;
  const baseRunner = deps.runCommand ?? runCommand;
  // A command given all the time left (remainingMs()) that runs out of it is the check timing
  // out: it must end in the -t state (-t 10:CRITICAL), not in a plain UNKNOWN.
  let budgetSpent = false;
  // Commands under way: after a timeout the runner waits (briefly) until they are killed, so a
  // check that timed out has released its processes when its result is returned.
  const inflight = new Set<Promise<unknown>>();
  // What the check was doing, for the timeout message.
  let activity: string | undefined;
  const ctx: PluginContext = {
    options: values,
    thresholds,
    verbose,
    timeoutMs: timeout.ms,
    signal: controller.signal,
    async runCommand(file, args, opts) {
      const budget = ctx.remainingMs();
      // The check's PATH (the agent passes the request's environment) is the one searched.
      const withPath = opts.env && 'PATH' in opts.env ? opts : { ...opts, env: { ...opts.env, PATH: env.PATH } };
      const p = baseRunner(file, args, withPath);
      inflight.add(p);
      const doing = `running ${file}`;
      activity = doing;
      try {
        return await p;
      } catch (e) {
        if (e instanceof CommandError && e.kind === 'timeout' && opts.timeoutMs >= budget) budgetSpent = true;
        throw e;
      } finally {
        inflight.delete(p);
        if (activity === doing) activity = undefined;
      }
    },
    env,
    async readInput() {
      if (inputPath === undefined) return undefined;
      activity = inputPath === '-' ? 'reading stdin' : `reading ${inputPath}`;
      try {
        if (inputPath === '-') return await (deps.readStdin ?? readStdinDefault)(controller.signal);
        return (await readBoundedFile(inputPath, { signal: controller.signal })).text;
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        throw new PluginError(`cannot read input ${inputPath === '-' ? 'from stdin' : `file ${inputPath}`}: ${e.reason}`);
      } finally {
        activity = undefined;
      }
    },
    remainingMs() {
      return Math.max(1, timeout.ms - (Date.now() - started) + SLACK_MS);
    },
    string(name) {
      const v = values[name];
      return typeof v === 'string' ? v : Array.isArray(v) && typeof v[v.length - 1] === 'string' ? (v[v.length - 1] as string) : undefined;
    },
    strings(name) {
      const v = values[name];
      if (v === undefined) return [];
      const list = Array.isArray(v) ? v : [v];
      return list.filter((x): x is string => typeof x === 'string').flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
    },
    flag(name) {
      return values[name] === true;
    },
  };

  // The -t timer is the earliest deadline of the check (sub-timeouts end SLACK_MS after it):
  // when it fires, the answer is the -t state, whatever the check is doing or throws later.
  let timer: NodeJS.Timeout | undefined;
  const timedOutText = (): string => `plugin timed out after ${timeout.ms / 1000} s${activity ? ` while ${activity}` : ''} (raise -t, or check why the data source is slow)`;
  const timedOut = new Promise<Rendered>((resolve) => {
    timer = setTimeout(() => {
      const text = timedOutText();
      controller.abort();
      resolve(renderMessage(d.prefix, timeout.state, text));
    }, timeout.ms);
  });
  const work = (async (): Promise<Rendered> => {
    try {
      const result = await d.run(ctx);
      if (controller.signal.aborted && !external?.aborted) return renderMessage(d.prefix, timeout.state, timedOutText());
      // Within Nagios 4's 8 KiB by default; -v asks for the detail a bigger limit holds.
      return render(result, { prefix: d.prefix, maxBytes: verbose > 0 ? VERBOSE_MAX_BYTES : DEFAULT_MAX_BYTES });
    } catch (e) {
      if (controller.signal.aborted) return renderMessage(d.prefix, timeout.state, timedOutText());
      if (budgetSpent) {
        const why = e instanceof Error ? firstLine(e.message) : String(e);
        return renderMessage(d.prefix, timeout.state, `plugin timed out after ${timeout.ms / 1000} s: ${why}`);
      }
      return describeError(e, d.prefix, verbose);
    }
  })();
  try {
    const rendered = await Promise.race([work, timedOut, stoppedFromOutside]);
    if (controller.signal.aborted && inflight.size > 0) {
      // Commands still being killed (SIGTERM, then SIGKILL after KILL_GRACE_MS): wait for it,
      // boundedly, so nothing of this check outlives its answer.
      let wait: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => (wait = setTimeout(r, RELEASE_WAIT_MS)))]);
      clearTimeout(wait);
    }
    return rendered;
  } finally {
    clearTimeout(timer);
    external?.removeEventListener('abort', onExternalAbort);
  }
}

/** Turns a CommandError from the collector into an actionable message. */
export function commandFailure(e: unknown, hints: { notFound?: string; permission?: string } = {}): never {
  if (e instanceof CommandError) {
    if (e.kind === 'not-found' && hints.notFound) throw new PluginError(`${e.message}: ${hints.notFound}`);
    if (e.kind === 'permission' && hints.permission) throw new PluginError(`${e.message}: ${hints.permission}`);
    throw new PluginError(e.message);
  }
  throw e;
}
