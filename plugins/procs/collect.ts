/**
 * The process table read from /proc directly, no ps spawned: /proc/<pid>/stat for every
 * process, cmdline and status only when a filter needs them. A process that ends while it is
 * read is skipped, as ps skips it.
 */
import { readdir } from 'node:fs/promises';
import { readBoundedFile } from '../../nagios/input.ts';
import { argsText, parseStat, psStat, statusLockedKiB, statusUid, type ProcInfo } from './parse.ts';

/** USER_HZ: 100 on every Linux architecture Node runs on (the kernel exports clock ticks at 100). */
const TICKS = 100;
const PAGE_KIB = 4;

// No signal per read (hundreds of abort listeners): -t is looked at between batches instead.
const read = (path: string): Promise<string | undefined> => readBoundedFile(path, { maxBytes: 1024 * 1024 }).then((r) => r.text, () => undefined);

export async function readProcesses(want: { cmdline: boolean; status: boolean }, signal: AbortSignal, root = '/proc'): Promise<ProcInfo[]> {
  const uptime = Number((await read(`${root}/uptime`))?.split(' ')[0] ?? 0);
  const pids = (await readdir(root)).filter((d) => /^\d+$/.test(d));
  const out: ProcInfo[] = [];
  // A few at a time: all at once would queue thousands of reads on the threadpool.
  const BATCH = 64;
  for (let i = 0; i < pids.length; i += BATCH) {
    if (signal.aborted) throw new Error('aborted');
    const got = await Promise.all(
      pids.slice(i, i + BATCH).map(async (pid): Promise<ProcInfo | undefined> => {
        const [statText, cmdline, status] = await Promise.all([
          read(`${root}/${pid}/stat`),
          want.cmdline ? read(`${root}/${pid}/cmdline`) : undefined,
          want.status ? read(`${root}/${pid}/status`) : undefined,
        ]);
        const s = statText === undefined ? undefined : parseStat(statText);
        if (!s) return undefined;
        const elapsedS = Math.max(0, uptime - s.starttime / TICKS);
        const cpuS = (s.utime + s.stime) / TICKS;
        return {
          pid: s.pid,
          ppid: s.ppid,
          stat: psStat(s, status === undefined ? 0 : statusLockedKiB(status)),
          comm: s.comm,
          args: cmdline === undefined ? `[${s.comm}]` : argsText(cmdline, s.comm),
          uid: status === undefined ? undefined : statusUid(status),
          vszKiB: Math.floor(s.vsize / 1024),
          rssKiB: s.rssPages * PAGE_KIB,
          pcpu: elapsedS > 0 ? Math.round((cpuS / elapsedS) * 1000) / 10 : 0,
          elapsedS,
        };
      }),
    );
    for (const p of got) if (p) out.push(p);
  }
  return out;
}
