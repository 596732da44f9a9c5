/** CPU and memory of process trees, from /proc (Linux). */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime + cutime + cstime, seconds: own CPU plus that of reaped children. */
  readonly cpuSeconds: number;
  readonly rssBytes: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14) ... rss(21) pages
    const n = (i: number): number => Number(f[i] ?? 0);
    return { pid, ppid: n(1), cpuSeconds: (n(11) + n(12) + n(13) + n(14)) / TICKS, rssBytes: n(21) * 4096 };
  } catch {
    return undefined;
  }
}

/** The process and all its live descendants. */
export function tree(rootPid: number): ProcStat[] {
  const all: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) all.push(s);
  }
  const byParent = new Map<number, ProcStat[]>();
  for (const s of all) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const out: ProcStat[] = [];
  const root = all.find((s) => s.pid === rootPid);
  if (!root) return out;
  const walk = (s: ProcStat): void => {
    out.push(s);
    for (const c of byParent.get(s.pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

export interface TreeUsage {
  readonly cpuSeconds: number;
  /** RSS of the long-lived processes (those present at both samples). */
  readonly rssBytes: number;
}

/**
 * CPU used by a process tree between two samples: the processes alive at the end, their
 * CPU at the end minus at the start (0 for new ones), which counts reaped children too.
 */
export class TreeMeter {
  private readonly rootPid: number;
  private start = new Map<number, number>();
  private maxRss = 0;
  constructor(rootPid: number) {
    this.rootPid = rootPid;
  }
  begin(): void {
    this.start = new Map(tree(this.rootPid).map((s) => [s.pid, s.cpuSeconds]));
    this.maxRss = 0;
  }
  /** Call now and then during the window to catch the peak RSS. */
  sample(): void {
    const t = tree(this.rootPid).filter((s) => this.start.has(s.pid));
    this.maxRss = Math.max(this.maxRss, t.reduce((a, s) => a + s.rssBytes, 0));
  }
  end(): TreeUsage & { peakRssBytes: number } {
    const t = tree(this.rootPid);
    let cpu = 0;
    for (const s of t) cpu += s.cpuSeconds - (this.start.get(s.pid) ?? 0);
    const rss = t.filter((s) => this.start.has(s.pid)).reduce((a, s) => a + s.rssBytes, 0);
    this.maxRss = Math.max(this.maxRss, rss);
    return { cpuSeconds: cpu, rssBytes: rss, peakRssBytes: this.maxRss };
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Whole-machine CPU use between begin() and end(), from /proc/stat, in percent of all CPUs. */
export class MachineMeter {
  private startBusy = 0;
  private startTotal = 0;
  private static read(): { busy: number; total: number } {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  }
  begin(): void {
    const r = MachineMeter.read();
    this.startBusy = r.busy;
    this.startTotal = r.total;
  }
  end(): number {
    const r = MachineMeter.read();
    return ((r.busy - this.startBusy) / Math.max(1, r.total - this.startTotal)) * 100;
  }
}
