/**
 * Preconditions of the integration tests. They fail, never skip: a missing program names the
 * Debian package to install (CI installs the lists in .ci/packages/).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';

function install(debianPackages: string | readonly string[]): string {
  const list = typeof debianPackages === 'string' ? [debianPackages] : debianPackages;
  return `install the Debian package${list.length > 1 ? 's' : ''} ${list.join(' and ')} (apt-get install ${list.join(' ')})`;
}

/** Returns `path`; throws naming the package when it does not exist. */
export function requireFile(path: string, debianPackages: string | readonly string[]): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: ${install(debianPackages)}`);
  return path;
}

/** Finds `program` in PATH and returns its path; throws naming the package when it is not there. */
export function requireProgram(program: string, debianPackages: string | readonly string[]): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, program);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      /* not in this directory */
    }
  }
  throw new Error(`'${program}' is not in PATH: ${install(debianPackages)}`);
}

/** `why`: what the tests do that needs root, e.g. "the network namespace tests create namespaces". */
export function requireRoot(why: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${why}: run them as root (CI does)`);
}

/** The uid and gid of a system user that a Debian package creates (mysql, postgres). */
export function requireUser(name: string, debianPackages: string | readonly string[]): { uid: number; gid: number } {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) throw new Error(`the system user '${name}' is missing: ${install(debianPackages)}`);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
