/**
 * Reading a file the user named in an option (saved command output, a policy, a password
 * file): a failure is one line for the user, `cannot read quorum file /x: no such file`.
 * Reads are bounded (MAX_INPUT_BYTES), refuse FIFOs, devices and directories, and stop when
 * the check's signal fires: see nagios/input.ts for why fs.readFile is not used.
 * Replacing a file the check keeps (a baseline, state between runs) atomically and safely.
 */
import { rename, unlink, writeFile } from 'node:fs/promises';
import { InputError, readBoundedFile, type BoundedText } from '../../nagios/input.ts';
import { PluginError } from '../../nagios/plugin.ts';

export { MAX_INPUT_BYTES, MAX_INPUT_TEXT } from '../../nagios/input.ts';

export interface ReadOptions {
  /** Said after "permission denied" in parentheses: what to change (mode, owner). */
  readonly permissionHint?: string;
  /** The check's signal (ctx.signal): the read stops when -t runs out. */
  readonly signal?: AbortSignal;
  /** Default MAX_INPUT_BYTES. */
  readonly maxBytes?: number;
}

/** readTextFile with the file's modification time (for state files that age). */
export async function readTextFileWithTime(path: string, what?: string, opts: ReadOptions = {}): Promise<BoundedText> {
  try {
    return await readBoundedFile(path, { signal: opts.signal, ...(opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes }) });
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    const why = e.kind === 'permission' && opts.permissionHint ? `${e.reason} (${opts.permissionHint})` : e.reason;
    throw new PluginError(`cannot read ${what === undefined ? '' : `${what} `}${path}: ${why}`);
  }
}

/** Reads `path` as UTF-8; `what` names it in the message (`quorum file`, `--auth-file`). */
export async function readTextFile(path: string, what?: string, opts: ReadOptions = {}): Promise<string> {
  return (await readTextFileWithTime(path, what, opts)).text;
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
