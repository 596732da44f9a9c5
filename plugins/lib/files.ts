/**
 * Reading a file the user named in an option (saved command output, a policy, a password
 * file): a failure is one line for the user, `cannot read quorum file '/x': no such file`.
 * Replacing a file the check keeps (a baseline, state between runs) atomically and safely.
 */
import { readFile } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { PluginError } from '../../nagios/plugin.ts';

export interface ReadOptions {
  /** Said after "permission denied" in parentheses: what to change (mode, owner). */
  readonly permissionHint?: string;
}

/** Reads `path` as UTF-8; `what` names it in the message (`quorum file`, `--auth-file`). */
export async function readTextFile(path: string, what?: string, opts: ReadOptions = {}): Promise<string> {
  try {
    // node:fs, not node:fs/promises: see readInput in nagios/plugin.ts (start-up time).
    return await new Promise<string>((resolve, reject) => readFile(path, 'utf8', (err, text) => (err ? reject(err) : resolve(text))));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file'
      : code === 'EACCES' ? `permission denied${opts.permissionHint ? ` (${opts.permissionHint})` : ''}`
        : (e as Error).message;
    throw new PluginError(`cannot read ${what === undefined ? '' : `${what} `}'${path}': ${why}`);
  }
}

/**
 * Replaces `path` with `text`: written to a new temporary file next to it, then renamed over
 * it, so a reader never sees half a file. The temporary file is created exclusively
 * (O_CREAT|O_EXCL): a file or symlink planted under its name makes the write fail instead of
 * being followed, which matters when the check runs as root and the directory is shared.
 * Errors are thrown as they come (Node's, with a code); the caller words them.
 */
export async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
  await writeFile(tmp, text, { mode, flag: 'wx' });
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
