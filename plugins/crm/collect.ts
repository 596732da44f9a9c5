/**
 * Gets the cluster status XML: from --input-file, or by running crm_mon. The only impure
 * file of the check.
 *
 * crm_mon >= 2.0.3 takes `--output-as=xml`; 1.1.x and 2.0.0-2.0.2 reject it and are asked
 * again with `--as-xml` (their one-shot XML mode). `--inactive` makes both list stopped
 * resources, which is how "should run but is stopped" is seen at all.
 */
import { userInfo } from 'node:os';
import { commandFailure, PluginError, type PluginContext } from '../../nagios/plugin.ts';
import { findProgram, searchedText, type CommandResult } from '../../nagios/exec.ts';
import { checkRegularFile, InputError } from '../../nagios/input.ts';
import { sudoCommand } from '../lib/sudo.ts';
import { describeCrmMonFailure, isOldCrmMonUsageError } from './failure.ts';
import { looksLikeCrmMonXml } from './parse.ts';

export const MODERN_ARGS = ['--output-as=xml', '--inactive'] as const;
export const LEGACY_ARGS = ['--as-xml', '--inactive'] as const;

const NOT_FOUND_HINT = 'install pacemaker-cli-utils (Debian/Ubuntu; pacemaker-cli on RHEL/SUSE) or give its path with --crm-mon';

export interface Collected {
  readonly text: string;
  /** Where the text came from, for messages: `--input-file` or the crm_mon command run. */
  readonly source: string;
  /** The saved CIB crm_mon read instead of a live cluster, if any. */
  readonly cibFile?: string | undefined;
  readonly user?: string | undefined;
}

/** The absolute path of crm_mon (the shared lookup: PATH, then the sbin and bin directories). */
function resolveCrmMon(ctx: PluginContext): string {
  const name = ctx.string('crm-mon') ?? 'crm_mon';
  const found = findProgram(name, ctx.env.PATH);
  if (found === undefined) throw new PluginError(`'${name}' was not found in ${searchedText()}: ${NOT_FOUND_HINT}`);
  return found;
}

function currentUser(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return undefined;
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

export async function collect(ctx: PluginContext): Promise<Collected> {
  const input = await ctx.readInput();
  if (input !== undefined) return { text: input, source: '--input-file' };

  const sudo = ctx.flag('sudo');
  const cibFileOption = ctx.string('cib-file');
  if (sudo && cibFileOption !== undefined) throw new PluginError('--sudo and --cib-file cannot be combined: sudo drops the CIB_file variable');
  const cibFile = cibFileOption ?? (ctx.env.CIB_file || undefined);
  if (cibFile !== undefined) {
    // crm_mon reads it: a FIFO or /dev/zero would hang it (or grow it) until -t. A missing or
    // unreadable file is left to crm_mon, whose message failure.ts words.
    await checkRegularFile(cibFile).catch((e: unknown) => {
      if (e instanceof InputError && (e.kind === 'not-regular' || e.kind === 'too-large')) throw new PluginError(`cannot use CIB file '${cibFile}': ${e.reason}`);
    });
  }
  const crmMon = resolveCrmMon(ctx);
  const user = currentUser();

  // Only the variables crm_mon reads to find the CIB are passed on from the context's
  // environment; LC_ALL=C keeps its messages in English for the error mapping.
  const env: Record<string, string | undefined> = { LC_ALL: 'C', PATH: ctx.env.PATH };
  for (const k of ['CIB_file', 'CIB_shadow', 'CIB_shadow_dir', 'CIB_server', 'CIB_port', 'CIB_user', 'CIB_passwd', 'CIB_encrypted']) env[k] = ctx.env[k];
  env.CIB_file = cibFile;

  const run = async (args: readonly string[]): Promise<CommandResult> => {
    const command = sudo ? sudoCommand(crmMon, args) : { file: crmMon, args: [...args] };
    try {
      return await ctx.runCommand(command.file, command.args, { timeoutMs: ctx.remainingMs(), env, signal: ctx.signal });
    } catch (e) {
      return commandFailure(e, { notFound: sudo ? 'install sudo, or drop --sudo' : NOT_FOUND_HINT, permission: 'check the file mode of crm_mon' });
    }
  };
  const fail = (r: CommandResult): never => {
    if (sudo && /^sudo:/m.test(r.stderr)) {
      throw new PluginError(`sudo refused to run crm_mon (${r.stderr.trim().split('\n')[0]}): add the sudoers rule from the README`);
    }
    const v = describeCrmMonFailure({ code: r.exitCode, messages: [r.stderr, r.stdout], cibFile, user });
    throw new PluginError(v.message, v.state);
  };

  const modern = await run(MODERN_ARGS);
  if (looksLikeCrmMonXml(modern.stdout)) return { text: modern.stdout, source: `${crmMon} ${MODERN_ARGS.join(' ')}`, cibFile, user };
  const combined = `${modern.stderr}\n${modern.stdout}`;
  if (!isOldCrmMonUsageError(modern.exitCode, combined) && modern.exitCode !== 0) return fail(modern);

  // Pacemaker 1.1 / 2.0.0-2.0.2: no --output-as (some print their help and exit 0).
  const legacy = await run(LEGACY_ARGS);
  if (looksLikeCrmMonXml(legacy.stdout)) return { text: legacy.stdout, source: `${crmMon} ${LEGACY_ARGS.join(' ')}`, cibFile, user };
  return fail(legacy);
}
