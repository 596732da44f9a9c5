/**
 * The command line of a check's `--sudo` mode. sudo matches a sudoers rule against the full
 * path of the program it runs, so the program is always named by an absolute path: a bare
 * name is taken from /usr/sbin, where every documented sudoers rule of hawatch points (and
 * where Debian and RHEL install these tools), not from whatever PATH the caller has.
 * `-n`: never prompt for a password; a missing rule fails at once and says so.
 */
import { resolve } from 'node:path';

/** Where the sudoers rules in the plugins' READMEs expect programs given by bare name. */
export const SUDO_PROGRAM_DIR = '/usr/sbin';

/** The absolute path sudo is asked to run for `program` (as given by an option or a default name). */
export function sudoProgramPath(program: string): string {
  if (program.startsWith('/')) return program;
  return program.includes('/') ? resolve(program) : `${SUDO_PROGRAM_DIR}/${program}`;
}

/** `sudo -n /abs/program args...` as file and argv for ctx.runCommand. */
export function sudoCommand(program: string, args: readonly string[]): { file: string; args: string[] } {
  return { file: 'sudo', args: ['-n', sudoProgramPath(program), ...args] };
}
