/**
 * statfs of each mount without ever hanging the check or the agent on a dead server.
 *
 * fs.statfs runs on libuv's threadpool (4 threads by default, shared with every file read and
 * DNS lookup of the process): a statfs on a hard-mounted NFS share whose server is gone blocks
 * its thread in the kernel until the server returns, and four such calls stall every later
 * file read of the agent. So a filesystem that may wait on something else (network types,
 * FUSE, a host:path or //host source) is never statfs'ed in this process: it gets the NFS
 * probe of check_ha_nfs (plugins/lib/mountprobe.ts): a disposable child with its own timeout,
 * not waited for once killed, one in flight per mount across runs (a probe still stuck from an
 * earlier run is reported as hung, no second one is started). Local filesystems (ext4, xfs,
 * btrfs...) are statfs'ed in-process, raced against the same timeout.
 */
import { statfs } from 'node:fs/promises';
import type { PluginContext } from '../../nagios/plugin.ts';
import type { Probe } from './evaluate.ts';
import { probeMountPath } from '../lib/mountprobe.ts';
import { mayHang, type Mount } from './parse.ts';

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

/** statfs of `path` (a mount point, or a path under it given with -p) on mount `m`. */
export async function probeMount(ctx: PluginContext, m: Mount, path: string, timeoutMs: number, markerDir: string | undefined, inChild: boolean = mayHang(m)): Promise<Probe> {
  const started = Date.now();
  if (inChild) return probeMountPath(ctx.runCommand, path, { timeoutMs, markerDir, signal: ctx.signal });
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<Probe>((resolve) => (timer = setTimeout(() => resolve({ kind: 'hung', afterMs: timeoutMs }), timeoutMs)));
  try {
    return await Promise.race([
      statfs(path).then(
        (s): Probe => ({ kind: 'ok', stats: { bsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree }, ms: Date.now() - started }),
        (e: unknown): Probe => ({ kind: 'error', reason: reasonOf(e), stale: (e as NodeJS.ErrnoException).code === 'ESTALE' }),
      ),
      hung,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
