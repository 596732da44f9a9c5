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
 * One probe in flight per mount: the pid, start time and deadline (its timeout plus the kill
 * grace) of the running probe are kept in a marker file under the state directory. A later run
 * (another process, the agent answering two queries at once, check_ha_disk beside check_ha_nfs)
 * that finds the marker's process still alive (same pid, same start time in /proc/PID/stat, so a
 * reused pid does not count) does not start a second probe at once:
 *  - before the marker's deadline the probe is merely in flight (a slow but healthy mount): the
 *    run waits for it, polling, then probes itself; if its own time to wait runs out first, it
 *    probes beside it (a healthy mount is never called hung because another run was probing it);
 *  - past the deadline the earlier probe outlived its own timeout and SIGKILL: it is stuck, and
 *    the mount is reported HUNG still, for as long as it has been stuck, with no new probe.
 * A run removes the marker only when it still names one of its own probes (pid and start time):
 * another run may have replaced it meanwhile. Without a writable state directory the probe runs
 * anyway, without that guard (said in the result). A state directory that others could write
 * (not owned by this user or root, or group or world writable) is refused (UNKNOWN): whoever
 * writes there could name any pid, or plant a symlink the marker write would follow.
 *
 * ESTALE (the server no longer knows the file handle: an export removed or its filesystem
 * replaced under it) is told apart from other errors: the mount then needs a remount.
 */
import { createHash } from 'node:crypto';
import { lstat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandError, KILL_GRACE_MS, type CommandRunner } from '../../nagios/exec.ts';
import { readBoundedFile } from '../../nagios/input.ts';
import { PluginError } from '../../nagios/plugin.ts';
import { replaceFile, unsafeStateDir } from './files.ts';

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
  /**
   * How long to wait for another run's probe in flight on the same mount before probing
   * beside it (default timeoutMs plus the kill grace). The caller keeps waitMs + timeoutMs within -t.
   */
  readonly waitMs?: number | undefined;
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
  /** When the probe's run has given up on it and sent SIGKILL: alive after that, it is stuck. */
  readonly deadline: number;
  readonly path: string;
}

/** Slack over timeout + kill grace: the marker's clock starts a little after the child's timer. */
const DEADLINE_SLACK_MS = 100;
const POLL_MS = 50;

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

/** The marker of a probe in flight; a symlink or a file of another user (not root) is no marker. */
async function readMarker(file: string, timeoutMs: number): Promise<Marker | undefined> {
  try {
    const st = await lstat(file);
    if (!st.isFile() || (st.uid !== (process.getuid?.() ?? -1) && st.uid !== 0)) return undefined;
    const m = JSON.parse((await readBoundedFile(file, { maxBytes: 4096 })).text) as Partial<Marker>;
    if (typeof m.pid !== 'number' || !(m.pid > 0) || typeof m.start !== 'string' || typeof m.since !== 'number') return undefined;
    // A marker of an older version has no deadline: judged by this run's timeout.
    const deadline = typeof m.deadline === 'number' ? m.deadline : m.since + timeoutMs + KILL_GRACE_MS + DEADLINE_SLACK_MS;
    return { pid: m.pid, start: m.start, since: m.since, deadline, path: String(m.path) };
  } catch {
    return undefined;
  }
}

const markerKey = (m: { pid: number; start: string }): string => `${m.pid}:${m.start}`;

interface MarkerState {
  file?: string | undefined;
  path: string;
  written: Promise<boolean>[];
  /** pid:start of the probes this run wrote markers for: only those it may remove. */
  mine: Set<string>;
  note?: string;
}

/**
 * Another run's probe on the same mount, still alive: waits while it is in flight (before its
 * deadline, within o.waitMs). Returns HUNG when it outlived its deadline, undefined when it is
 * gone or this run may wait no longer (then this run probes itself).
 */
async function earlierProbe(file: string, o: MountProbeOptions): Promise<MountProbe | undefined> {
  const waitUntil = Date.now() + Math.max(0, o.waitMs ?? o.timeoutMs + KILL_GRACE_MS);
  for (;;) {
    const old = await readMarker(file, o.timeoutMs);
    if (!old) return undefined;
    const st = await processStat(old.pid);
    // Gone (it answered, or its run killed it): probe afresh.
    if (!st || st.start !== old.start) return undefined;
    const now = Date.now();
    if (now >= old.deadline) return { kind: 'hung', afterMs: Math.max(0, now - old.since), stuck: { pid: old.pid, state: st.state } };
    if (now >= waitUntil || o.signal?.aborted) return undefined;
    await sleep(Math.min(POLL_MS, waitUntil - now, old.deadline - now));
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
  marker: MarkerState,
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
        const since = Date.now();
        marker.written.push(
          processStat(p).then(async (st) => {
            if (!st) return false; // already gone: nothing to guard
            const m: Marker = { pid: p, start: st.start, since, deadline: since + timeoutMs + KILL_GRACE_MS + DEADLINE_SLACK_MS, path: marker.path };
            marker.mine.add(markerKey(m));
            // Exclusive temporary file renamed over the marker: a symlink planted there is replaced, not followed.
            await replaceFile(f, JSON.stringify(m), 0o600);
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
  const marker: MarkerState = { file, path, written: [], mine: new Set() };
  if (file !== undefined) {
    let unsafe: string | undefined;
    try {
      unsafe = await unsafeStateDir(o.markerDir!, { create: true });
    } catch (e) {
      marker.note = `one probe in flight is not enforced: cannot create ${o.markerDir}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (give a writable --state-dir)`;
      marker.file = undefined;
    }
    if (unsafe !== undefined) throw new PluginError(unsafe);
    if (marker.file !== undefined) {
      const seen = await earlierProbe(marker.file, o);
      if (seen) return seen;
    }
  }
  const started = Date.now();
  const cleanup = async (): Promise<void> => {
    await Promise.all(marker.written);
    if (marker.file === undefined) return;
    // Another run may have replaced the marker with its own probe meanwhile: that one stays.
    // One naming a process that is gone (an earlier stuck probe that ended) guards nothing: removed.
    const cur = await readMarker(marker.file, o.timeoutMs);
    if (!cur) return;
    const st = marker.mine.has(markerKey(cur)) ? undefined : await processStat(cur.pid);
    if (!st || st.start !== cur.start) await unlink(marker.file).catch(() => undefined);
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
