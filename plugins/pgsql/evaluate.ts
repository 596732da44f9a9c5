/**
 * Pure: host observations + policy -> CheckResult tree.
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { checkThresholds, describeRange, type Thresholds } from '../../nagios/range.ts';
import { group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, worst, type StateCode } from '../../nagios/states.ts';
import type { HostObservation, PrimaryObservation, StandbyObservation, StandbyView, UnreachableObservation } from './parse.ts';

export const LAG_UNITS = ['bytes', 'seconds'] as const;
export type LagUnit = (typeof LAG_UNITS)[number];
export const ROLES = ['auto', 'primary', 'standby'] as const;
export type Role = (typeof ROLES)[number];

/** Defaults when -w/-c are not given: one WAL segment / 128 MiB, or 30 s / 5 min. */
export const DEFAULT_LAG_THRESHOLDS: Record<LagUnit, { warning: string; critical: string }> = {
  bytes: { warning: '16777216', critical: '134217728' },
  seconds: { warning: '30', critical: '300' },
};

export interface PgsqlPolicy {
  readonly role: Role;
  /** application_name of standbys that must be connected and streaming (on the primary). */
  readonly expectedStandbys: readonly string[];
  /** Fewer streaming standbys than this on the primary is CRITICAL. */
  readonly minStandbys: number;
  readonly expectSync: boolean;
  readonly lagUnit: LagUnit;
  readonly thresholds: Thresholds;
  /** Several -H: check "exactly one primary" and prefix per-host labels. */
  readonly multiHost: boolean;
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return 'unknown';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatSeconds(s: number | undefined): string {
  if (s === undefined) return 'unknown';
  if (s < 10) return `${Number(s.toFixed(3))} s`;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** Perfdata label safe part: what users put in application_name or host names. */
export function labelPart(s: string): string {
  const t = s.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '');
  return t === '' ? 'unnamed' : t;
}

function lagState(value: number | undefined, p: PgsqlPolicy): StateCode {
  return value === undefined ? State.OK : checkThresholds(value, p.thresholds);
}

function lagPerf(label: string, bytes: number | undefined, seconds: number | undefined, p: PgsqlPolicy, bytesLabel: string, secondsLabel: string): Perfdata[] {
  const judged = (u: LagUnit) => (p.lagUnit === u ? { warning: p.thresholds.warning, critical: p.thresholds.critical } : {});
  return [
    { label: `${label}${bytesLabel}`, value: bytes ?? 'U', uom: 'B', ...judged('bytes'), min: 0 },
    { label: `${label}${secondsLabel}`, value: seconds === undefined ? 'U' : Number(seconds.toFixed(6)), uom: 's', ...judged('seconds'), min: 0 },
  ];
}

function thresholdNote(state: StateCode, p: PgsqlPolicy): string {
  const r = state === State.CRITICAL ? p.thresholds.critical : state === State.WARNING ? p.thresholds.warning : undefined;
  if (!r) return '';
  return ` (${state === State.CRITICAL ? 'critical' : 'warning'} ${describeRange(r)}${p.lagUnit === 'bytes' ? ' B' : ' s'})`;
}

function standbyLeaf(s: StandbyView, p: PgsqlPolicy, expected: boolean): CheckResult {
  const name = s.name || s.clientAddr || 'unnamed';
  const label = labelPart(name);
  const perf = lagPerf(label, s.replayLagBytes, s.replayLagSeconds, p, '_lag_bytes', '_lag_seconds');
  if (s.hidden) {
    return leaf(`standby ${name}`, State.UNKNOWN, 'replication details are hidden from this user: grant it the pg_monitor role', perf);
  }
  const parts = [`${s.state}${s.syncState ? ` ${s.syncState}` : ''}`];
  let state: StateCode = State.OK;
  if (s.state !== 'streaming') {
    // startup/catchup: connected but not yet streaming; its LSNs mean nothing yet.
    state = State.WARNING;
    parts.push(s.state === 'catchup' ? 'catching up' : 'not streaming yet');
  }
  const judged = p.lagUnit === 'bytes' ? s.replayLagBytes : s.replayLagSeconds;
  const ls = s.state === 'streaming' || s.state === 'catchup' ? lagState(judged, p) : State.OK;
  state = worst(state, ls);
  const lagText =
    s.replayLagBytes === undefined
      ? 'replay position not reported yet'
      : `replay lag ${formatBytes(s.replayLagBytes)}, ${s.replayLagSeconds === undefined ? 'time lag not measured yet' : formatSeconds(s.replayLagSeconds)}`;
  parts.push(lagText + thresholdNote(ls, p));
  if (!expected && p.expectedStandbys.length > 0) parts.push('not in --standby list');
  return leaf(`standby ${name}`, state, parts.join(', '), perf);
}

function evaluatePrimary(o: PrimaryObservation, p: PgsqlPolicy): CheckResult {
  const children: CheckResult[] = [];
  const byName = new Map<string, StandbyView[]>();
  for (const s of o.standbys) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  for (const s of o.standbys) children.push(standbyLeaf(s, p, p.expectedStandbys.includes(s.name)));
  for (const want of p.expectedStandbys) {
    const got = byName.get(want) ?? [];
    if (got.length === 0) children.push(leaf(`standby ${want}`, State.CRITICAL, 'not connected (expected with --standby)', lagPerf(labelPart(want), undefined, undefined, p, '_lag_bytes', '_lag_seconds')));
  }
  const streaming = o.standbys.filter((s) => s.state === 'streaming').length;
  const hidden = o.standbys.some((s) => s.hidden);
  let countState: StateCode = State.OK;
  let countText = `${streaming} standby${streaming === 1 ? '' : 's'} streaming`;
  if (streaming < p.minStandbys && !hidden) {
    countState = State.CRITICAL;
    countText += ` (expected at least ${p.minStandbys})`;
  }
  children.push(leaf('standbys', countState, countText, [{ label: 'standbys', value: streaming, min: 0 }]));
  if (p.expectSync) {
    const sync = o.standbys.filter((s) => s.state === 'streaming' && (s.syncState === 'sync' || s.syncState === 'quorum'));
    children.push(
      sync.length > 0
        ? leaf('synchronous', State.OK, `synchronous standby: ${sync.map((s) => s.name).join(', ')}`)
        : leaf('synchronous', State.CRITICAL, 'no synchronous standby streaming (commits wait or are not replicated synchronously)'),
    );
  }
  const maxLag = Math.max(-1, ...o.standbys.map((s) => (p.lagUnit === 'bytes' ? s.replayLagBytes : s.replayLagSeconds) ?? -1));
  const lagSummary = maxLag < 0 ? '' : `, max replay lag ${p.lagUnit === 'bytes' ? formatBytes(maxLag) : formatSeconds(maxLag)}`;
  return group(o.host, `primary, ${countText}${lagSummary}`, children);
}

function evaluateStandby(o: StandbyObservation, p: PgsqlPolicy): CheckResult {
  const prefix = p.multiHost ? `${labelPart(o.host)}_` : '';
  const children: CheckResult[] = [];
  const wr = o.walReceiver;
  let upstream = '';
  if (!wr) {
    children.push(leaf('wal receiver', State.CRITICAL, 'no WAL receiver: not connected to a primary (check primary_conninfo and the primary)'));
  } else if (wr.hidden) {
    children.push(leaf('wal receiver', State.UNKNOWN, 'WAL receiver details are hidden from this user: grant it the pg_monitor role'));
  } else {
    upstream = wr.senderHost ? ` from ${wr.senderHost}${wr.senderPort ? `:${wr.senderPort}` : ''}` : '';
    children.push(leaf('wal receiver', wr.status === 'streaming' ? State.OK : State.WARNING, `${wr.status}${upstream}`));
  }
  const judged = p.lagUnit === 'bytes' ? o.replayLagBytes : o.replayDelaySeconds;
  const ls = lagState(judged, p);
  const perf = lagPerf(prefix, o.replayLagBytes, o.replayDelaySeconds, p, 'replay_lag_bytes', 'replay_delay_seconds');
  let text: string;
  if (o.replayLagBytes === undefined) text = 'nothing received by streaming yet (no receive position), lag not judged';
  else text = `replay lag ${formatBytes(o.replayLagBytes)}, delay ${formatSeconds(o.replayDelaySeconds)}${thresholdNote(ls, p)}`;
  if (o.replayPaused) text += ', replay paused (pg_wal_replay_pause)';
  children.push(leaf('replay', ls, text, perf));
  const streaming = !wr ? 'not streaming' : wr.hidden ? 'WAL receiver hidden' : wr.status === 'streaming' ? `streaming${upstream}` : `WAL receiver ${wr.status}`;
  return group(o.host, `standby, ${streaming}, ${text}`, children);
}

function evaluateUnreachable(o: UnreachableObservation): CheckResult {
  // Cannot reach or no answer: the service is down for its users (CRITICAL). Refused
  // credentials, a missing database or privileges: our configuration (UNKNOWN).
  const state = o.kind === 'down' || o.kind === 'timeout' ? State.CRITICAL : State.UNKNOWN;
  return leaf(o.host, state, o.message);
}

function evaluateHost(o: HostObservation, p: PgsqlPolicy): CheckResult {
  if (o.role === 'unreachable') return evaluateUnreachable(o);
  let r = o.role === 'primary' ? evaluatePrimary(o, p) : evaluateStandby(o, p);
  if (p.role !== 'auto' && p.role !== o.role) {
    r = { ...r, state: State.CRITICAL, summary: `is a ${o.role}, expected ${p.role} (--role), ${r.summary}` };
  }
  return r;
}

/** Appends the host to labels used twice (two primaries report the same standby names). */
function dedupeLabels(results: CheckResult[]): CheckResult[] {
  const seen = new Set<string>();
  const fix = (r: CheckResult, host: string): CheckResult => ({
    ...r,
    perfdata: r.perfdata?.map((pd) => {
      if (!seen.has(pd.label)) {
        seen.add(pd.label);
        return pd;
      }
      const label = `${labelPart(host)}_${pd.label}`;
      seen.add(label);
      return { ...pd, label };
    }),
    children: r.children?.map((c) => fix(c, host)),
  });
  return results.map((r) => fix(r, r.name ?? ''));
}

/**
 * `<host>_primary` per host (1: pg_is_in_recovery() is false), with the host as given with -H,
 * also for a single host, so that a cluster rule summing it over the nodes' services counts
 * primaries. An unreachable host's role is unknown: left out, not guessed. On the root, whose
 * perfdata the shared render keeps first when it shortens the output.
 */
export function rolePerfdata(hosts: readonly HostObservation[]): Perfdata[] {
  return hosts.filter((h) => h.role !== 'unreachable').map((h) => ({ label: `${labelPart(h.host)}_primary`, value: h.role === 'primary' ? 1 : 0, min: 0, max: 1 }));
}

export function evaluate(hosts: readonly HostObservation[], p: PgsqlPolicy): CheckResult {
  const results = dedupeLabels(hosts.map((h) => evaluateHost(h, p)));
  const roles = rolePerfdata(hosts);
  if (!p.multiHost) {
    const only = results[0];
    if (!only) return leaf('', State.UNKNOWN, 'no host checked');
    // Lift the single host's tree to the root so the status line is about it.
    return { ...only, name: undefined, summary: `${only.name}: ${only.summary}`, perfdata: [...roles, ...(only.perfdata ?? [])] };
  }
  const primaries = hosts.filter((h): h is PrimaryObservation => h.role === 'primary');
  const standbys = hosts.filter((h) => h.role === 'standby');
  const unreachable = hosts.filter((h) => h.role === 'unreachable');
  let cluster: CheckResult;
  if (primaries.length === 1) {
    cluster = leaf('cluster', State.OK, `one primary (${primaries[0]!.host}), ${standbys.length} standby${standbys.length === 1 ? '' : 's'}`);
  } else if (primaries.length === 0) {
    cluster = leaf('cluster', State.CRITICAL, `no primary${unreachable.length ? ` among the ${hosts.length - unreachable.length} reachable hosts` : ''}: nobody accepts writes`);
  } else {
    cluster = leaf('cluster', State.CRITICAL, `split brain: ${primaries.length} primaries (${primaries.map((h) => h.host).join(', ')})`);
  }
  const down = unreachable.length ? `, ${unreachable.length} unreachable` : '';
  return group('', `${cluster.summary}${down}`, [cluster, ...results], roles);
}
