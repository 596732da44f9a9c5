/**
 * Gets the DRBD status text: the only impure part of the check.
 *
 * Without --input-file the source is chosen the way the running DRBD supports: /proc/drbd is
 * read first; if it lists minors (DRBD 8.x) they are used; if it only holds the version and
 * that is 9.x, `drbdsetup status --json` is run. --source forces one.
 */
import { InputError, readBoundedFile } from '../../nagios/input.ts';
import { commandFailure, PluginError, type PluginContext } from '../../nagios/plugin.ts';
import { sudoCommand } from '../lib/sudo.ts';
import { detectFormat, DrbdParseError, type DrbdFormat } from './parse.ts';

export const SOURCES = ['auto', 'proc', 'status-json', 'events2'] as const;
export type DrbdSource = (typeof SOURCES)[number];

export interface Collected {
  readonly format: DrbdFormat;
  readonly text: string;
  /** Where the text came from, for error messages: `/proc/drbd`, `drbdsetup status --json`, ... */
  readonly origin: string;
}

export const DEFAULT_PROC_FILE = '/proc/drbd';

const DRBDSETUP_ARGS = {
  'status-json': ['status', '--json'],
  events2: ['events2', '--now', '--statistics'],
} as const;

const INSTALL_HINT = 'install the drbd-utils package (apt-get install drbd-utils, dnf install drbd-utils) or give its path with --drbdsetup';
const SUDO_HINT = "drbdsetup needs root: add the sudoers rule from the plugin's README and use --sudo";

async function readProc(path: string, signal: AbortSignal): Promise<string> {
  try {
    // Bounded and regular files only (/proc files are): --proc-file=/dev/zero or a FIFO is refused.
    return (await readBoundedFile(path, { signal })).text;
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    if (e.kind === 'not-found') {
      throw new PluginError(`'${path}' does not exist: the DRBD kernel module is not loaded (modprobe drbd), or this is not a DRBD node`);
    }
    throw new PluginError(`cannot read '${path}': ${e.reason}`);
  }
}

/** The last informative line of a command's stderr (drbdsetup prints its reason last). */
function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

async function runDrbdsetup(ctx: PluginContext, format: keyof typeof DRBDSETUP_ARGS): Promise<Collected> {
  const drbdsetup = ctx.string('drbdsetup') ?? 'drbdsetup';
  const args = DRBDSETUP_ARGS[format];
  const origin = `drbdsetup ${args.join(' ')}`;
  const sudo = ctx.flag('sudo');
  const command = sudo ? sudoCommand(drbdsetup, args) : { file: drbdsetup, args: [...args] };
  let result;
  try {
    result = await ctx.runCommand(command.file, command.args, { timeoutMs: ctx.remainingMs(), signal: ctx.signal });
  } catch (e) {
    commandFailure(e, {
      notFound: sudo ? 'install sudo, or run the check as root without --sudo' : INSTALL_HINT,
      permission: SUDO_HINT,
    });
  }
  if (result.exitCode !== 0) {
    const why = lastLine(result.stderr) || lastLine(result.stdout) || 'no message';
    const how = result.exitCode === null ? `was killed by ${result.signal ?? 'a signal'}` : `failed (exit ${result.exitCode})`;
    let hint = '';
    if (sudo && /password is required|not allowed|may not run|sudoers/i.test(result.stderr)) {
      hint = ": sudo refused; add the sudoers rule from the plugin's README";
    } else if (/modprobe|generic netlink family/i.test(result.stderr)) {
      hint = ': the DRBD kernel module is not loaded';
    } else if (/not permitted|permission denied|must be root/i.test(result.stderr)) {
      hint = `: ${SUDO_HINT}`;
    }
    throw new PluginError(`'${origin}' ${how}: ${why}${hint}`);
  }
  return { format, text: result.stdout, origin };
}

export async function collect(ctx: PluginContext, source: DrbdSource): Promise<Collected> {
  const input = await ctx.readInput();
  if (input !== undefined) {
    try {
      return { format: source === 'auto' ? detectFormat(input) : source, text: input, origin: 'the input file' };
    } catch (e) {
      if (e instanceof DrbdParseError) throw new PluginError(`cannot read the DRBD status from the input file: ${e.message}`);
      throw e;
    }
  }
  if (source === 'status-json' || source === 'events2') return runDrbdsetup(ctx, source);

  const procFile = ctx.string('proc-file') ?? DEFAULT_PROC_FILE;
  const proc = await readProc(procFile, ctx.signal);
  if (source === 'proc' || /^\s*\d+: cs:/m.test(proc)) return { format: 'proc', text: proc, origin: procFile };
  // DRBD 9 keeps only its version in /proc/drbd; its state is read through drbdsetup.
  const major = /^version: (\d+)\./m.exec(proc)?.[1];
  if (major !== undefined && Number(major) >= 9) return runDrbdsetup(ctx, 'status-json');
  return { format: 'proc', text: proc, origin: procFile };
}
