/**
 * statfs of each mount without ever hanging the check or the agent on a dead server.
 *
 * fs.statfs runs on libuv's threadpool (4 threads by default, shared with every file read and
 * DNS lookup of the process): a statfs on a hard-mounted NFS share whose server is gone blocks
 * its thread in the kernel until the server returns, and four such calls stall every later
 * file read of the agent. So a filesystem that may wait on something else (network types,
 * FUSE, a host:path or //host source) is never statfs'ed in this process: a disposable child,
 * coreutils `stat --file-system`, does it in its own process group under ctx.runCommand with
 * a timeout; when it does not answer in time it is killed (SIGTERM, SIGKILL: NFS waits are
 * killable since Linux 2.6.25) and the mount is reported as hung. One child per such mount,
 * one at a time per mount. Local filesystems (ext4, xfs, btrfs...) are statfs'ed in-process,
 * raced against the same timeout.
 */
import { statfs } from 'node:fs/promises';
import { CommandError } from '../../nagios/exec.ts';
import type { PluginContext } from '../../nagios/plugin.ts';
import type { Probe } from './evaluate.ts';
import { mayHang, parseStatF, type Mount } from './parse.ts';

const ERRNO: Record<string, string> = {
  ESTALE: 'stale file handle',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOENT: 'no such file or directory',
  EIO: 'input/output error',
  ENOTCONN: 'transport endpoint is not connected',
  EHOSTDOWN: 'host is down',
};

function reasonOf(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return ERRNO[code] ?? (e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e));
}

/** `stat: cannot read file system information for '/x': Stale file handle` -> stale file handle. */
function statError(stderr: string): string {
  const m = /:\s*([^:]+)$/.exec(stderr.trim().split('\n').pop() ?? '');
  return (m?.[1] ?? (stderr.trim() || 'stat failed')).trim().toLowerCase();
}

/** statfs of `path` (a mount point, or a path under it given with -p) on mount `m`. */
export async function probeMount(ctx: PluginContext, m: Mount, path: string, timeoutMs: number, inChild: boolean = mayHang(m)): Promise<Probe> {
  const started = Date.now();
  if (inChild) {
    try {
      const r = await ctx.runCommand('stat', ['--file-system', '--format=%S %b %f %a %c %d', '--', path], { timeoutMs, signal: ctx.signal, env: { LC_ALL: 'C' } });
      if (r.exitCode !== 0) return { kind: 'error', reason: statError(r.stderr) };
      const stats = parseStatF(r.stdout);
      return stats ? { kind: 'ok', stats, ms: Date.now() - started } : { kind: 'error', reason: 'unreadable stat output' };
    } catch (e) {
      if (e instanceof CommandError && e.kind === 'timeout') return { kind: 'hung', afterMs: timeoutMs };
      throw e;
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<Probe>((resolve) => (timer = setTimeout(() => resolve({ kind: 'hung', afterMs: timeoutMs }), timeoutMs)));
  try {
    return await Promise.race([
      statfs(path).then(
        (s): Probe => ({ kind: 'ok', stats: { bsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree }, ms: Date.now() - started }),
        (e: unknown): Probe => ({ kind: 'error', reason: reasonOf(e) }),
      ),
      hung,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
