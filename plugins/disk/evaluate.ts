/**
 * check_disk's judgement (monitoring-plugins 2.3): free space in percent is
 * available / (used + available), so blocks reserved for root count neither way; a threshold
 * alerts when free space is strictly below it; inodes likewise on free inodes. The status line
 * lists every filesystem as check_disk does ("/ 80305MiB (77% inode=97%)"), or only the
 * problems with -e. Perfdata is used bytes with thresholds turned into used bytes. Pure.
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { detail, type CheckResult } from '../../nagios/result.ts';
import { State, worst, type StateCode } from '../../nagios/states.ts';
import type { FreeThreshold } from '../lib/host.ts';
import type { MountProbe } from '../lib/mountprobe.ts';
import type { FsStats, Mount } from './parse.ts';

/** What the probe of plugins/lib/mountprobe.ts (or the in-process statfs) found. */
export type Probe = MountProbe;

export interface DiskItem {
  readonly mount: Mount;
  /** How it is named: the mount point, or the device with -M. */
  readonly label: string;
  readonly probe: Probe;
}

export interface DiskInput {
  readonly items: readonly DiskItem[];
  readonly warning: readonly FreeThreshold[];
  readonly critical: readonly FreeThreshold[];
  readonly inodeWarning?: number | undefined;
  readonly inodeCritical?: number | undefined;
  /** Bytes per shown unit and its name: 1 MiB, MiB by default (-u). */
  readonly unit: { readonly bytes: number; readonly name: string };
  readonly errorsOnly: boolean;
}

interface Figures {
  total: number;
  used: number;
  avail: number;
  freePct: number;
  inodeFreePct?: number;
}

function figures(s: FsStats): Figures {
  const total = s.blocks * s.bsize;
  const used = (s.blocks - s.bfree) * s.bsize;
  const avail = s.bavail * s.bsize;
  // check_disk rounds the used percentage up: a filesystem with one inode used is 99% free.
  const freePct = used + avail > 0 ? 100 - Math.ceil((used / (used + avail)) * 100) : 100;
  const f: Figures = { total, used, avail, freePct };
  if (s.files > 0) f.inodeFreePct = 100 - Math.ceil(((s.files - s.ffree) / s.files) * 100);
  return f;
}

function below(f: Figures, list: readonly FreeThreshold[], unitBytes: number): boolean {
  // Free units are whole units, as check_disk's integer division gives them.
  return list.some((t) => (t.percent !== undefined ? f.freePct < t.percent : t.bytes !== undefined && Math.floor(f.avail / unitBytes) * unitBytes < t.bytes));
}

function usedThreshold(list: readonly FreeThreshold[], total: number): string | undefined {
  const t = list[list.length - 1];
  if (!t) return undefined;
  const free = t.percent !== undefined ? (t.percent * total) / 100 : (t.bytes ?? 0);
  return String(Math.max(0, Math.round(total - free)));
}

export function evaluateDisk(i: DiskInput): CheckResult {
  let state: StateCode = State.OK;
  const shown: string[] = [];
  const perfdata: Perfdata[] = [];
  const children: CheckResult[] = [];
  for (const it of i.items) {
    const { probe } = it;
    let s: StateCode = State.OK;
    let text: string;
    if (probe.kind === 'hung') {
      s = State.CRITICAL;
      text = probe.stuck
        ? `${it.label} hung (the statfs probe of an earlier run, pid ${probe.stuck.pid}, is still stuck after ${Math.round(probe.afterMs / 1000)} s)`
        : `${it.label} hung (statfs gave no answer within ${Math.round(probe.afterMs / 100) / 10} s)`;
    } else if (probe.kind === 'error') {
      s = State.CRITICAL;
      text = `${it.label} is not accessible: ${probe.reason}`;
    } else {
      const f = figures(probe.stats);
      if (below(f, i.critical, i.unit.bytes) || (i.inodeCritical !== undefined && f.inodeFreePct !== undefined && f.inodeFreePct < i.inodeCritical)) s = State.CRITICAL;
      else if (below(f, i.warning, i.unit.bytes) || (i.inodeWarning !== undefined && f.inodeFreePct !== undefined && f.inodeFreePct < i.inodeWarning)) s = State.WARNING;
      const inode = f.inodeFreePct === undefined ? '' : ` inode=${Math.round(f.inodeFreePct)}%`;
      text = `${it.label} ${Math.floor(f.avail / i.unit.bytes)}${i.unit.name} (${Math.round(f.freePct)}%${inode})`;
      perfdata.push({ label: it.label, value: f.used, uom: 'B', warning: usedThreshold(i.warning, f.total), critical: usedThreshold(i.critical, f.total), min: 0, max: f.total });
    }
    state = worst(state, s);
    if (!i.errorsOnly || s !== State.OK) shown.push(text);
    const where = `${it.mount.fsType} on ${it.mount.source || 'none'} at ${it.mount.mountPoint}${probe.kind === 'ok' ? `, statfs ${probe.ms} ms` : ''}`;
    children.push(detail(it.label, s, `${text.slice(it.label.length + 1)}, ${where}`));
  }
  let summary = '';
  // check_disk says UNKNOWN when nothing is left to check: a typo in -N must not read as OK.
  if (i.items.length === 0) {
    state = State.UNKNOWN;
    summary = 'no filesystem to check (all left out by type or device, or none matched)';
  }
  else if (shown.length === 0) summary = `free space: all ${i.items.length} filesystems within the thresholds`;
  else summary = `free space: ${shown.join(', ')}`;
  return { state, summary, perfdata, children };
}
