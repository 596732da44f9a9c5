/**
 * Reading a file the user named in an option (saved command output, a policy, a password
 * file). A failure is one line for the user: `cannot read quorum file '/x': no such file`.
 */
import { readFile } from 'node:fs';
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
