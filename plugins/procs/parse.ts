/**
 * /proc/<pid>/stat, cmdline and status, decoded into what `ps axwwo stat,uid,ppid,vsz,rss,pcpu,comm,args`
 * shows (what monitoring-plugins' check_procs reads). Pure.
 */

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  /** ps STAT: the state letter, then < N L s l + as ps prints them. */
  readonly stat: string;
  /** /proc comm: the name ps -o comm shows (at most 15 characters). */
  readonly comm: string;
  /** ps -o args: the command line, or [comm] when it is empty (kernel threads, zombies). */
  readonly args: string;
  readonly uid?: number | undefined;
  readonly vszKiB: number;
  readonly rssKiB: number;
  /** ps %CPU: CPU time over the process's life time, in percent. */
  readonly pcpu: number;
  readonly elapsedS: number;
}

export interface StatFields {
  readonly pid: number;
  readonly comm: string;
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly session: number;
  readonly tpgid: number;
  readonly utime: number;
  readonly stime: number;
  readonly nice: number;
  readonly threads: number;
  readonly starttime: number;
  readonly vsize: number;
  readonly rssPages: number;
}

/** `1234 (a (weird) name) S 1 ...`: the name runs to the last `)`. */
export function parseStat(text: string): StatFields | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open === -1 || close < open) return undefined;
  const f = text.slice(close + 2).trim().split(' ');
  // f[0] is field 3 (state); field n is f[n - 3].
  const n = (k: number): number => Number(f[k - 3]);
  if (f.length < 22) return undefined;
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: f[0]!,
    ppid: n(4),
    pgrp: n(5),
    session: n(6),
    tpgid: n(8),
    utime: n(14),
    stime: n(15),
    nice: n(19),
    threads: n(20),
    starttime: n(22),
    vsize: n(23),
    rssPages: n(24),
  };
}

/** ps's STAT column (procps: state, then <, N, L, s, l, +). */
export function psStat(s: StatFields, lockedKiB: number): string {
  let out = s.state;
  if (s.nice < 0) out += '<';
  else if (s.nice > 0) out += 'N';
  if (lockedKiB > 0) out += 'L';
  if (s.session === s.pid) out += 's';
  if (s.threads > 1) out += 'l';
  if (s.tpgid !== -1 && s.tpgid === s.pgrp) out += '+';
  return out;
}

/** NUL-separated argv as ps -o args prints it. */
export function argsText(cmdline: string, comm: string): string {
  const a = cmdline.replace(/\0+$/, '').replace(/\0/g, ' ').trim();
  return a === '' ? `[${comm}]` : a;
}

/** Real and effective uid from `Uid:\t0\t0\t0\t0`. ps -o uid shows the effective one. */
export function statusUid(status: string): number | undefined {
  const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
  return m ? Number(m[2]) : undefined;
}

export function statusLockedKiB(status: string): number {
  const m = /^VmLck:\s+(\d+)/m.exec(status);
  return m ? Number(m[1]) : 0;
}

/** name -> uid from /etc/passwd text. */
export function passwdUids(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && /^\d+$/.test(f[2]!)) out.set(f[0]!, Number(f[2]));
  }
  return out;
}

/**
 * `ps axwwo stat,uid,pid,ppid,vsz,rss,pcpu,etimes,comm,args` for --input-file: what check_procs
 * itself reads, the command name taken as one word as check_procs takes it.
 */
export function parsePsOutput(text: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\S+)\s?(.*)$/.exec(line);
    if (!m) continue;
    out.push({ stat: m[1]!, uid: Number(m[2]), pid: Number(m[3]), ppid: Number(m[4]), vszKiB: Number(m[5]), rssKiB: Number(m[6]), pcpu: Number(m[7]), elapsedS: Number(m[8]), comm: m[9]!, args: m[10]!.trim() || `[${m[9]}]` });
  }
  return out;
}
