/**
 * Reading a file the user named in an option (saved command output, a policy, a password
 * file): a failure is one line for the user, `cannot read quorum file /x: no such file`.
 * Reads are bounded (MAX_INPUT_BYTES), refuse FIFOs, devices and directories, and stop when
 * the check's signal fires: see nagios/input.ts for why fs.readFile is not used.
 * Replacing a file the check keeps (a baseline, state between runs) atomically and safely.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, unlink, writeFile } from 'node:fs/promises';
import { InputError, inputErrorOf, readBoundedFile, type BoundedText } from '../../nagios/input.ts';
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

export interface FileTail {
  readonly text: string;
  /** Where the read started (start, or later when more than maxBytes were waiting). */
  readonly from: number;
  /** The file's size when read: the next read starts here. */
  readonly size: number;
  readonly ino: number;
  readonly dev: number;
}

/**
 * Reads a growing file (a log) from byte `start` to its current end, at most the last `maxBytes`
 * of it, with its inode, so the caller can keep a read position across runs and see a rotation.
 * Same rules as readBoundedFile: O_NONBLOCK open, regular files only, stopped by the signal.
 */
export async function readFileFrom(path: string, start: number, opts: { maxBytes: number; signal?: AbortSignal | undefined }): Promise<FileTail> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw inputErrorOf(e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new InputError('not-regular', 'it is not a regular file');
    const size = st.size;
    const from = Math.min(Math.max(start, size - opts.maxBytes, 0), size);
    const chunks: Buffer[] = [];
    let pos = from;
    while (pos < size) {
      if (opts.signal?.aborted) throw new InputError('aborted', 'the check timed out while reading it');
      const buf = Buffer.allocUnsafe(Math.min(64 * 1024, size - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return { text: Buffer.concat(chunks).toString('utf8'), from, size: pos, ino: st.ino, dev: st.dev };
  } catch (e) {
    throw inputErrorOf(e);
  } finally {
    await fh.close();
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

export interface StateDirRule {
  /** Create it when missing (mode 0755, or 0700 when private). */
  readonly create?: boolean;
  /**
   * A directory in a shared place (TMPDIR): anyone could have made it first and planted state
   * in it, so it must be ours alone: owned by this user (not even root) and mode 0700.
   */
  readonly private?: boolean;
}

/**
 * Whether `dir` may hold state the check trusts between runs (earlier counts, the pid of a probe
 * in flight). Whoever can write there can feed the check what it reads back, or plant a symlink
 * where it writes: the directory must be a real directory (lstat, not a symlink), owned by this
 * user or root, and writable by nobody else (mode & 022 == 0). Returns one line saying what is
 * wrong and what to fix, or undefined when the directory is fit. Missing and not to be created,
 * or not creatable: the error is thrown as it comes (with its code), the caller decides.
 */
export async function unsafeStateDir(dir: string, rule: StateDirRule = {}): Promise<string | undefined> {
  let st;
  try {
    st = await lstat(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !rule.create) throw e;
    // Not recursive for a private directory: its parent (TMPDIR) must exist, and each level we
    // would create is one more directory to check.
    await mkdir(dir, rule.private ? { mode: 0o700 } : { recursive: true, mode: 0o755 }).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    });
    st = await lstat(dir);
  }
  const uid = process.getuid?.() ?? -1;
  const what = `state directory ${dir}`;
  if (!st.isDirectory()) return `unsafe ${what}: it is not a directory (${st.isSymbolicLink() ? 'a symlink' : 'another kind of file'}), remove it or give another --state-dir`;
  if (rule.private) {
    if (st.uid !== uid) return `unsafe ${what}: owned by uid ${st.uid}, not by this user (uid ${uid}), remove it or give --state-dir`;
    if ((st.mode & 0o777) !== 0o700) return `unsafe ${what}: mode ${(st.mode & 0o777).toString(8)}, expected 700, chmod 700 it or give --state-dir`;
    return undefined;
  }
  if (st.uid !== uid && st.uid !== 0) return `unsafe ${what}: owned by uid ${st.uid}, neither this user (uid ${uid}) nor root, chown it or give another --state-dir`;
  if ((st.mode & 0o022) !== 0) return `unsafe ${what}: writable by group or others (mode ${(st.mode & 0o777).toString(8)}), chmod go-w it or give another --state-dir`;
  return undefined;
}
