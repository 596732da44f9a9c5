/**
 * check_procs' filters and its count judgement, with its status line: "5 processes with
 * STATE = Z, command name sshd". Pure.
 */
import { checkThresholds, type Thresholds } from '../../nagios/range.ts';
import { detail, type CheckResult } from '../../nagios/result.ts';
import { State } from '../../nagios/states.ts';
import type { ProcInfo } from './parse.ts';

export interface ProcFilter {
  readonly states?: string | undefined;
  readonly ppid?: number | undefined;
  readonly vszKiB?: number | undefined;
  readonly rssKiB?: number | undefined;
  readonly pcpu?: number | undefined;
  readonly uid?: number | undefined;
  readonly userName?: string | undefined;
  readonly argument?: string | undefined;
  readonly argumentRegex?: RegExp | undefined;
  readonly command?: string | undefined;
  readonly noKernelThreads?: boolean | undefined;
}

/** What the filter needs read beyond /proc/<pid>/stat. */
export function needs(f: ProcFilter): { cmdline: boolean; status: boolean } {
  return { cmdline: f.argument !== undefined || f.argumentRegex !== undefined, status: f.uid !== undefined || (f.states?.includes('L') ?? false) };
}

export function matches(p: ProcInfo, f: ProcFilter): boolean {
  // check_procs 2.3 matches the letters as one substring of ps's STAT (strstr): -s S counts
  // Ss and Sl, -s Ss only session leaders asleep, -s sS nothing (its help says any of them).
  if (f.states !== undefined && !p.stat.includes(f.states)) return false;
  if (f.ppid !== undefined && p.ppid !== f.ppid) return false;
  if (f.vszKiB !== undefined && !(p.vszKiB >= f.vszKiB)) return false;
  if (f.rssKiB !== undefined && !(p.rssKiB >= f.rssKiB)) return false;
  if (f.pcpu !== undefined && !(p.pcpu >= f.pcpu)) return false;
  if (f.uid !== undefined && p.uid !== f.uid) return false;
  if (f.argument !== undefined && !p.args.includes(f.argument)) return false;
  if (f.argumentRegex !== undefined && !f.argumentRegex.test(p.args)) return false;
  if (f.command !== undefined && p.comm !== f.command) return false;
  if (f.noKernelThreads && (p.ppid === 2 || p.pid === 2)) return false;
  return true;
}

/** check_procs' filter description, without its quotes. */
export function describeFilter(f: ProcFilter): string {
  const parts: string[] = [];
  if (f.states !== undefined) parts.push(`STATE = ${f.states}`);
  if (f.ppid !== undefined) parts.push(`PPID = ${f.ppid}`);
  if (f.vszKiB !== undefined) parts.push(`VSZ = ${f.vszKiB}`);
  if (f.rssKiB !== undefined) parts.push(`RSS = ${f.rssKiB}`);
  if (f.pcpu !== undefined) parts.push(`PCPU = ${f.pcpu.toFixed(2)}`);
  if (f.uid !== undefined) parts.push(`UID = ${f.uid}${f.userName !== undefined ? ` (${f.userName})` : ''}`);
  if (f.argument !== undefined) parts.push(`args ${f.argument}`);
  if (f.argumentRegex !== undefined) parts.push(`regex args ${f.argumentRegex.source}`);
  if (f.command !== undefined) parts.push(`command name ${f.command}`);
  if (f.noKernelThreads) parts.push('no kernel threads');
  return parts.join(', ');
}

export function evaluateProcs(procs: readonly ProcInfo[], f: ProcFilter, thresholds: Thresholds, listMatches: boolean): CheckResult {
  const matched = procs.filter((p) => matches(p, f));
  const n = matched.length;
  const state = checkThresholds(n, thresholds);
  const what = describeFilter(f);
  const children = listMatches ? matched.slice(0, 200).map((p) => detail(String(p.pid), State.OK, `${p.stat} uid ${p.uid ?? '?'} ppid ${p.ppid} vsz ${p.vszKiB} KiB rss ${p.rssKiB} KiB ${p.args}`)) : [];
  return {
    state,
    summary: `${n} process${n === 1 ? '' : 'es'}${what ? ` with ${what}` : ''}`,
    perfdata: [{ label: 'procs', value: n, warning: thresholds.warning, critical: thresholds.critical, min: 0 }],
    children,
  };
}
