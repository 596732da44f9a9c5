/**
 * Probing a mount that may hang (NFS, CIFS, FUSE...) without ever hanging the check or the agent.
 *
 * The probe runs in a disposable child process: coreutils `stat --file-system` (statfs, which
 * NFS always sends to the server, unlike stat whose attributes may come from the client cache)
 * and, when asked, `find DIR -mindepth 1 -maxdepth 1 -print -quit` (opens and reads the
 * directory, stops at the first entry). Each child runs through the check's runCommand with its
 * own timeout: when it does not answer, its process group gets SIGTERM then SIGKILL and the
 * probe is HUNG. runCommand settles once SIGKILL was sent; it never waits for the child to
 * exit. That matters: a task in an uninterruptible sleep (state D) ignores even SIGKILL (NFS
 * waits are killable since Linux 2.6.25, but a child blocked on an inode lock held by another
 * stuck task is not), and the check must still answer in time. The standalone check exits
 * with process.exit, so a leftover child does not keep it alive; in the agent it is a
 * forgotten handle.
 *
 * One probe in flight per mount: the pid and start time of the running probe are kept in a
 * marker file under the state directory. A later run (another process, or the agent again)
 * that finds the marker's process still alive (same pid, same start time in /proc/PID/stat, so
 * a reused pid does not count) starts no second probe on that mount and reports it HUNG still,
 * for as long as the old one has been stuck. Without a writable state directory the probe runs
 * anyway, without that guard (said in the result).
 *
 * ESTALE (the server no longer knows the file handle: an export removed or its filesystem
 * replaced under it) is told apart from other errors: the mount then needs a remount.
 */
import { createHash } from 'node:crypto';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandError, type CommandRunner } from '../../nagios/exec.ts';
import { readBoundedFile } from '../../nagios/input.ts';

/** statfs figures, as `stat --file-system --format='%S %b %f %a %c %d'` prints them. */
export interface FsStats {
  /** Fundamental block size (f_frsize), what df multiplies by. */
  readonly bsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
}

export type MountProbe =
  | { readonly kind: 'ok'; readonly stats: FsStats; readonly ms: number; readonly note?: string | undefined }
  | {
      readonly kind: 'hung';
      /** How long it has gone unanswered: this probe's timeout, or since an earlier stuck probe started. */
      readonly afterMs: number;
      /** An earlier run's probe still stuck (none was started now). */
      readonly stuck?: { readonly pid: number; readonly state: string } | undefined;
      readonly note?: string | undefined;
    }
  | { readonly kind: 'error'; readonly reason: string; readonly stale?: boolean | undefined };

export interface MountProbeOptions {
  readonly timeoutMs: number;
  /** Also read the directory (a readdir goes to the server; a statfs alone may not reach a broken export). */
  readonly read?: boolean;
  /** Where the marker files of probes in flight live; undefined: no guard. */
  readonly markerDir?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Where a state directory is kept by default (the other checks' state files live there too). */
export const DEFAULT_STATE_DIR = '/var/lib/hawatch';

/** `stat --file-system --format='%S %b %f %a %c %d'`: frsize, blocks, free, avail, inodes, free inodes. */
export function parseStatF(text: string): FsStats | undefined {
  const n = text.trim().split(/\s+/).map(Number);
  if (n.length !== 6 || n.some((x) => !Number.isFinite(x))) return undefined;
  return { bsize: n[0]!, blocks: n[1]!, bfree: n[2]!, bavail: n[3]!, files: n[4]!, ffree: n[5]! };
}

/** `stat: cannot read file system information for '/x': Stale file handle` -> stale file handle. */
export function errorReason(stderr: string, fallback: string): string {
  const last = stderr.trim().split('\n').pop() ?? '';
  const m = /:\s*([^:]+)$/.exec(last);
  return (m?.[1] ?? (last || fallback)).trim().toLowerCase().replace(/[;`~$&|'"<>]/g, '');
}

export function isStale(reason: string): boolean {
  return /stale (nfs )?file handle/i.test(reason);
}

/** The marker of `path`: one file per mount point, named by a hash (paths may hold anything). */
export function markerPath(dir: string, path: string): string {
  return join(dir, `mountprobe-${createHash('sha256').update(path).digest('hex').slice(0, 16)}.json`);
}

interface Marker {
  readonly pid: number;
  readonly start: string;
  readonly since: number;
  readonly path: string;
}

/** State letter and start time (clock ticks since boot) of a live process, from /proc/PID/stat. */
export async function processStat(pid: number): Promise<{ state: string; start: string } | undefined> {
  try {
    const { text } = await readBoundedFile(`/proc/${pid}/stat`, { maxBytes: 4096 });
    // The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    const start = rest[19];
    if (state === undefined || start === undefined || state === 'Z' || state === 'X') return undefined;
    return { state, start };
  } catch {
    return undefined;
  }
}

async function readMarker(file: string): Promise<Marker | undefined> {
  try {
    const m = JSON.parse((await readBoundedFile(file, { maxBytes: 4096 })).text) as Partial<Marker>;
    if (typeof m.pid !== 'number' || typeof m.start !== 'string' || typeof m.since !== 'number') return undefined;
    return { pid: m.pid, start: m.start, since: m.since, path: String(m.path) };
  } catch {
    return undefined;
  }
}

/**
 * Runs one child of the probe. Resolves with its result, or 'hung' after its timeout (the
 * child killed, or at least sent SIGKILL), keeping the marker while the child still lives.
 */
async function runChild(
  run: CommandRunner,
  file: string,
  args: readonly string[],
  o: MountProbeOptions,
  timeoutMs: number,
  marker: { file?: string | undefined; path: string; written: Promise<boolean>[]; note?: string },
): Promise<{ stdout: string; stderr: string; exitCode: number | null } | 'hung'> {
  let pid: number | undefined;
  try {
    const r = await run(file, args, {
      timeoutMs,
      signal: o.signal,
      env: { LC_ALL: 'C' },
      maxBytes: 64 * 1024,
      onSpawn: (p) => {
        pid = p;
        if (marker.file === undefined) return;
        const f = marker.file;
        marker.written.push(
          processStat(p).then(async (st) => {
            if (!st) return false; // already gone: nothing to guard
            await writeFile(f, JSON.stringify({ pid: p, start: st.start, since: Date.now(), path: marker.path } satisfies Marker), { mode: 0o600 });
            return true;
          }).catch((e: unknown) => {
            marker.note = `one probe in flight is not enforced: cannot write ${f}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (give a writable --state-dir)`;
            return false;
          }),
        );
      },
    });
    return r;
  } catch (e) {
    if (e instanceof CommandError && (e.kind === 'timeout' || e.kind === 'aborted')) {
      // SIGKILL was sent (by our timeout, or because -t ran out). A child that is still there
      // (state D) keeps its marker, so the next run does not pile a second probe onto the same
      // dead mount.
      if (pid !== undefined && (await processStat(pid)) !== undefined) marker.file = undefined;
      if (e.kind === 'timeout') return 'hung';
    }
    throw e;
  }
}

/** Probes `path` (a mount point, or a path on the mount) as described at the top. Never waits past timeoutMs (plus the kill grace). */
export async function probeMountPath(run: CommandRunner, path: string, o: MountProbeOptions): Promise<MountProbe> {
  const file = o.markerDir === undefined ? undefined : markerPath(o.markerDir, path);
  const marker: { file?: string | undefined; path: string; written: Promise<boolean>[]; note?: string } = { file, path, written: [] };
  if (file !== undefined) {
    const old = await readMarker(file);
    if (old) {
      const st = await processStat(old.pid);
      if (st && st.start === old.start) return { kind: 'hung', afterMs: Math.max(0, Date.now() - old.since), stuck: { pid: old.pid, state: st.state } };
      // The old probe is gone (it ended after its run had given up on it): probe afresh.
    }
    try {
      await mkdir(o.markerDir!, { recursive: true, mode: 0o755 });
    } catch (e) {
      marker.note = `one probe in flight is not enforced: cannot create ${o.markerDir}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (give a writable --state-dir)`;
      marker.file = undefined;
    }
  }
  const started = Date.now();
  const cleanup = async (): Promise<void> => {
    await Promise.all(marker.written);
    if (marker.file !== undefined) await unlink(marker.file).catch(() => undefined);
  };
  try {
    const r = await runChild(run, 'stat', ['--file-system', '--format=%S %b %f %a %c %d', '--', path], o, o.timeoutMs, marker);
    if (r === 'hung') return { kind: 'hung', afterMs: o.timeoutMs, note: marker.note };
    if (r.exitCode !== 0) {
      const reason = errorReason(r.stderr, 'stat failed');
      return { kind: 'error', reason, stale: isStale(reason) };
    }
    const stats = parseStatF(r.stdout);
    if (!stats) return { kind: 'error', reason: 'unreadable stat output', stale: false };
    if (o.read) {
      const left = o.timeoutMs - (Date.now() - started);
      if (left <= 0) return { kind: 'hung', afterMs: o.timeoutMs, note: marker.note };
      const d = await runChild(run, 'find', [path, '-mindepth', '1', '-maxdepth', '1', '-print', '-quit'], o, left, marker);
      if (d === 'hung') return { kind: 'hung', afterMs: o.timeoutMs, note: marker.note };
      if (d.exitCode !== 0) {
        const reason = errorReason(d.stderr, 'reading the directory failed');
        return { kind: 'error', reason: `reading the directory: ${reason}`, stale: isStale(reason) };
      }
    }
    return { kind: 'ok', stats, ms: Date.now() - started, note: marker.note };
  } finally {
    await cleanup();
  }
}
