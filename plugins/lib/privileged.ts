/**
 * Runs a command that may need root (iptables-save, nft, arping, ipvsadm, keepalived
 * signals), directly or through `sudo -n`, and turns the usual failures into one line
 * that says what to install or which sudoers rule to add.
 */
import { CommandError, searchedText, type CommandResult } from '../../nagios/exec.ts';
import { PluginError, type PluginContext } from '../../nagios/plugin.ts';
import { sudoCommand } from './sudo.ts';

export interface PrivilegedSpec {
  /**
   * Absolute path, or a name looked up by nagios/exec.ts findProgram (PATH, then /usr/local/sbin,
   * /usr/sbin, /sbin, /usr/bin, /bin: a restricted PATH does not hide sbin tools). With sudo: in
   * /usr/sbin, see sudo.ts.
   */
  readonly file: string;
  readonly args: readonly string[];
  /** Debian package that ships `file`. */
  readonly debianPackage: string;
  /** The sudoers line that allows this command for the nagios user. */
  readonly sudoersRule: string;
  /** What to do about missing privileges, when it is not root or --sudo with sudoersRule. */
  readonly privilegeHint?: string;
  /** Run through `sudo -n`. */
  readonly sudo: boolean;
  readonly timeoutMs: number;
}

const PERMISSION = /permission denied|operation not permitted|not permitted|must be root|you need to be root|are you root|CAP_NET_(RAW|ADMIN)|UID\/EUID 0|you may need to run as root/i;
const SUDO_REFUSED = /a password is required|is not allowed to execute|not in the sudoers|may not run sudo|sudo: a terminal is required/i;

export function looksLikePermissionProblem(text: string): boolean {
  return PERMISSION.test(text);
}

function firstLine(s: string): string {
  return (s.trim().split('\n').find((l) => l.trim() !== '') ?? '').trim();
}

export function privilegeHint(spec: Pick<PrivilegedSpec, 'sudo' | 'sudoersRule' | 'privilegeHint'>): string {
  if (spec.privilegeHint !== undefined) return spec.privilegeHint;
  return spec.sudo
    ? `add the sudoers rule '${spec.sudoersRule}' (visudo -f /etc/sudoers.d/hawatch)`
    : `run as root, or pass --sudo and add the sudoers rule '${spec.sudoersRule}'`;
}

/**
 * Runs the command. Never throws for a non-zero exit status by itself: the caller knows
 * what each code means. Throws PluginError for a missing tool, a refused sudo, or a
 * permission error recognised in stderr.
 */
export async function runPrivileged(ctx: PluginContext, spec: PrivilegedSpec): Promise<CommandResult> {
  const { file, args } = spec.sudo ? sudoCommand(spec.file, spec.args) : { file: spec.file, args: [...spec.args] };
  let res: CommandResult;
  try {
    res = await ctx.runCommand(file, args, { timeoutMs: Math.min(spec.timeoutMs, ctx.remainingMs()), signal: ctx.signal, env: { LC_ALL: 'C' } });
  } catch (e) {
    if (e instanceof CommandError && e.kind === 'not-found') {
      if (spec.sudo) throw new PluginError(`'sudo' was not found: install the Debian package sudo and add the sudoers rule '${spec.sudoersRule}'`);
      throw new PluginError(`'${spec.file}' was not found in ${searchedText()}: install the Debian package ${spec.debianPackage}`);
    }
    if (e instanceof CommandError && e.kind === 'permission') {
      throw new PluginError(`no permission to run '${file}': ${privilegeHint(spec)}`);
    }
    if (e instanceof CommandError) throw new PluginError(e.message);
    throw e;
  }
  const err = res.stderr + '\n' + (res.exitCode === 0 ? '' : res.stdout);
  if (spec.sudo && res.exitCode !== 0 && SUDO_REFUSED.test(err)) {
    throw new PluginError(`sudo refused to run '${spec.file}' (${firstLine(res.stderr)}): ${privilegeHint(spec)}`);
  }
  if (spec.sudo && res.exitCode !== 0 && /sudo: .*command not found|sudo: .*No such file/i.test(res.stderr)) {
    throw new PluginError(`'${spec.file}' was not found: install the Debian package ${spec.debianPackage}`);
  }
  if (res.exitCode !== 0 && looksLikePermissionProblem(err)) {
    throw new PluginError(`'${spec.file}' needs more privileges (${firstLine(err)}): ${privilegeHint(spec)}`);
  }
  return res;
}

/** A command's failure as one line, for exit codes the caller does not expect. */
export function describeFailure(file: string, res: CommandResult): string {
  const why = firstLine(res.stderr) || firstLine(res.stdout) || (res.signal ? `killed by ${res.signal}` : `exit status ${res.exitCode}`);
  return `'${file}' failed: ${why}`;
}
