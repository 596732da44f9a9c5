/**
 * Pure: HAProxy stats + policy -> CheckResult tree.
 *
 * The server thresholds cannot be one fixed number for backends of every size, so the
 * defaults are relative to each backend: WARNING unless every active server is usable
 * (`N:` for a backend of N), CRITICAL when none is (`1:`). -w/-c replace them for all
 * selected backends; with --percent they are percentages of the backend's servers.
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { checkThresholds, describeRange, parseRange, type Thresholds } from '../../nagios/range.ts';
import { detail, group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, worst, type StateCode } from '../../nagios/states.ts';
import { globToRegExp } from '../lib/glob.ts';
import type { BackendView, FrontendView, HaproxyStats, ProcessView, ServerView } from './parse.ts';

export interface HaproxyPolicy {
  /** -w/-c as given; undefined = the per-backend default. */
  readonly serverThresholds: Thresholds;
  readonly percent: boolean;
  /** Servers an admin put in MAINT or DRAIN are left out of the count (planned work). */
  readonly ignoreMaint: boolean;
  /** Percent of the session limit (frontends, process). */
  readonly sessionThresholds: Thresholds;
  /** Requests queued per backend. */
  readonly queueThresholds: Thresholds;
  readonly backends: readonly string[];
  readonly excludeBackends: readonly string[];
  readonly frontends: readonly string[];
  readonly excludeFrontends: readonly string[];
}

export const DEFAULT_SESSION_WARNING = '80';
export const DEFAULT_SESSION_CRITICAL = '95';

/** Whether a proxy name passes --backend/--frontend (globs, all when none) and the --exclude-* globs. */
function selected(name: string, include: readonly string[], exclude: readonly string[]): boolean {
  if (include.length > 0 && !include.some((g) => globToRegExp(g).test(name))) return false;
  return !exclude.some((g) => globToRegExp(g).test(name));
}

function pct(part: number, whole: number): number {
  return whole > 0 ? Math.round((part * 10000) / whole) / 100 : 0;
}

/**
 * The tag of a server's own long-output line: what that server is, whatever its backend was
 * judged (a DOWN server reads CRITICAL under a WARNING backend; MAINT or DRAIN reads WARNING
 * even when --ignore-maint leaves it out of the count). The backend line carries the verdict.
 */
function serverTag(s: ServerView): StateCode {
  switch (s.state) {
    case 'up': case 'no-check': return State.OK;
    case 'down': case 'going-up': return State.CRITICAL;
    case 'unknown': return State.UNKNOWN;
    default: return State.WARNING;
  }
}

function describeServer(s: ServerView): string {
  return `${s.name} ${s.status}`;
}

function judgeNote(state: StateCode, t: Thresholds, unit: string): string {
  const r = state === State.CRITICAL ? t.critical : state === State.WARNING ? t.warning : undefined;
  return r ? ` (${state === State.CRITICAL ? 'critical' : 'warning'} ${describeRange(r)}${unit})` : '';
}

function evaluateBackend(b: BackendView, p: HaproxyPolicy): CheckResult | undefined {
  const label = b.name;
  if (b.servers.length === 0) {
    // A backend without servers (a stats or redirect-only backend) is only as good as its status.
    if (b.status.toUpperCase() === 'DOWN') return leaf(`backend ${b.name}`, State.CRITICAL, 'DOWN and has no servers');
    return undefined;
  }
  let active = b.servers.filter((s) => !s.backup);
  let backups = b.servers.filter((s) => s.backup);
  let activeWord = 'active';
  if (active.length === 0) {
    // Only backups configured: they are the servers.
    active = backups;
    backups = [];
    activeWord = 'backup';
  }
  const planned = (s: ServerView) => s.state === 'maint' || s.state === 'drain';
  const counted = p.ignoreMaint ? active.filter((s) => !planned(s)) : active;
  const total = counted.length;
  const usable = counted.filter((s) => s.usable).length;
  const value = p.percent ? pct(usable, total) : usable;
  const t: Thresholds = {
    warning: p.serverThresholds.warning ?? parseRange(p.percent ? '100:' : `${total}:`),
    critical: p.serverThresholds.critical ?? parseRange(p.percent ? '@~:0' : '1:'),
  };
  // All in MAINT/DRAIN with --ignore-maint: planned or not, nothing serves (0 usable).
  let state = checkThresholds(value, t);
  const usableBackups = backups.filter((s) => s.usable);
  const parts = [`${usable}/${total} ${activeWord} servers usable${p.percent ? ` (${value}%)` : ''}${judgeNote(state, t, p.percent ? ' %' : '')}`];
  if (total === 0) parts[0] = `no usable ${activeWord} server: all ${active.length} in MAINT/DRAIN${judgeNote(state, t, p.percent ? ' %' : '')}`;
  if (state === State.CRITICAL && usable === 0 && usableBackups.length > 0) {
    // HAProxy falls back to the backup servers: the service still answers.
    state = State.WARNING;
    parts[0] = `0/${total} ${activeWord} servers usable, served by ${usableBackups.length} backup server${usableBackups.length === 1 ? '' : 's'}`;
  }
  const notUp = active.filter((s) => s.state !== 'up');
  if (notUp.length) parts.push(notUp.map(describeServer).join(', '));
  const children: CheckResult[] = [];
  const perf: Perfdata[] = [
    p.percent
      ? { label: `${label}_servers_up_pct`, value, uom: '%', warning: t.warning, critical: t.critical, min: 0, max: 100 }
      : { label: `${label}_servers_up`, value: usable, warning: t.warning, critical: t.critical, min: 0, max: total },
  ];
  if (backups.length) {
    // Backups are counted apart: a dead backup is lost redundancy, not an outage.
    const deadBackups = backups.filter((s) => s.state === 'down' || s.state === 'going-up' || s.state === 'unknown');
    const bs = deadBackups.length ? State.WARNING : State.OK;
    const text = `${usableBackups.length}/${backups.length} backup servers usable${deadBackups.length ? ` (${deadBackups.map(describeServer).join(', ')})` : ''}`;
    children.push(leaf('backup', bs, text));
    perf.push({ label: `${label}_backup_up`, value: usableBackups.length, min: 0, max: backups.length });
    parts.push(`${usableBackups.length}/${backups.length} backup`);
  }
  const q = b.queue;
  if (q !== undefined) {
    const qs = checkThresholds(q, p.queueThresholds);
    if (qs !== State.OK || q > 0) children.push(leaf('queue', qs, `${q} request${q === 1 ? '' : 's'} queued${judgeNote(qs, p.queueThresholds, '')}`));
  }
  perf.push({ label: `${label}_sessions`, value: b.sessions ?? 'U', min: 0 });
  perf.push({ label: `${label}_queue`, value: q ?? 'U', warning: p.queueThresholds.warning, critical: p.queueThresholds.critical, min: 0 });
  for (const s of active.concat(backups)) {
    if (s.state !== 'up') children.push(detail(`server ${s.name}`, serverTag(s), `${s.status}${s.backup ? ' (backup)' : ''}${s.check ? `, ${s.check}` : ''}`));
  }
  return { name: `backend ${b.name}`, state, summary: parts.join(', '), perfdata: perf, children };
}

function evaluateFrontend(f: FrontendView, p: HaproxyPolicy): CheckResult {
  const perf: Perfdata[] = [{ label: `${f.name}_fe_sessions`, value: f.sessions ?? 'U', min: 0, max: f.limit }];
  let state: StateCode = State.OK;
  const parts = [f.status || 'unknown status'];
  if (f.status !== 'OPEN') state = State.CRITICAL; // STOP, PAUSED, FULL: new connections are not accepted
  if (f.sessions !== undefined && f.limit !== undefined && f.limit > 0) {
    const used = pct(f.sessions, f.limit);
    const ss = checkThresholds(used, p.sessionThresholds);
    state = worst(state, ss);
    parts.push(`${f.sessions}/${f.limit} sessions (${used}%)${judgeNote(ss, p.sessionThresholds, ' %')}`);
    perf.push({ label: `${f.name}_fe_sessions_pct`, value: used, uom: '%', warning: p.sessionThresholds.warning, critical: p.sessionThresholds.critical, min: 0, max: 100 });
  } else if (f.sessions !== undefined) parts.push(`${f.sessions} sessions`);
  return leaf(`frontend ${f.name}`, state, parts.join(', '), perf);
}

function evaluateProcess(pr: ProcessView, p: HaproxyPolicy): CheckResult {
  const perf: Perfdata[] = [];
  let state: StateCode = State.OK;
  const parts = [`HAProxy ${pr.version ?? '?'}`];
  if (pr.uptimeSeconds !== undefined) parts.push(`up ${Math.floor(pr.uptimeSeconds / 86400)}d ${Math.floor((pr.uptimeSeconds % 86400) / 3600)}h`);
  if (pr.connections !== undefined && pr.maxConnections) {
    const used = pct(pr.connections, pr.maxConnections);
    const ss = checkThresholds(used, p.sessionThresholds);
    state = ss;
    parts.push(`${pr.connections}/${pr.maxConnections} connections (${used}%)${judgeNote(ss, p.sessionThresholds, ' %')}`);
    perf.push({ label: 'process_connections', value: pr.connections, min: 0, max: pr.maxConnections });
  }
  if (pr.stopping) parts.push('stopping (old process after a reload)');
  return leaf('process', state, parts.join(', '), perf);
}

export function evaluate(stats: HaproxyStats, p: HaproxyPolicy): CheckResult {
  const backendFilter = p.backends.length > 0 || p.excludeBackends.length > 0;
  // Naming backends (or frontends) narrows the check to them; the other kind is then
  // checked only when named too.
  const checkBackends = p.backends.length > 0 || p.frontends.length === 0;
  const checkFrontends = p.frontends.length > 0 || p.backends.length === 0;
  const backends = checkBackends ? stats.backends.filter((b) => selected(b.name, p.backends, p.excludeBackends)) : [];
  const frontends = checkFrontends ? stats.frontends.filter((f) => selected(f.name, p.frontends, p.excludeFrontends)) : [];
  if (backendFilter && p.backends.length > 0 && backends.length === 0) {
    return leaf('', State.UNKNOWN, `no backend matches --backend ${p.backends.join(', ')} (have: ${stats.backends.map((b) => b.name).join(', ') || 'none'})`);
  }
  if (p.frontends.length > 0 && frontends.length === 0) {
    return leaf('', State.UNKNOWN, `no frontend matches --frontend ${p.frontends.join(', ')} (have: ${stats.frontends.map((f) => f.name).join(', ') || 'none'})`);
  }
  const children: CheckResult[] = [];
  if (stats.process && !backendFilter && p.frontends.length === 0) children.push(evaluateProcess(stats.process, p));
  for (const f of frontends) children.push(evaluateFrontend(f, p));
  const judged: CheckResult[] = [];
  for (const b of backends) {
    const r = evaluateBackend(b, p);
    if (r) judged.push(r);
  }
  children.push(...judged);
  if (stats.note && children.length > 0) children.push(detail('input', State.OK, stats.note));
  if (children.length === 0) return leaf('', State.UNKNOWN, 'no frontend or backend with servers to check');
  const healthy = judged.filter((r) => r.state === State.OK && (r.children ?? []).every((c) => c.informational === true || c.state === State.OK)).length;
  const summary = [
    judged.length ? `${healthy}/${judged.length} backends fully usable` : undefined,
    frontends.length ? `${frontends.filter((f) => f.status === 'OPEN').length}/${frontends.length} frontends open` : undefined,
  ].filter(Boolean).join(', ');
  // HAProxy calls frontends and backends proxies: with problems, the status line counts the OK ones.
  return { ...group('', summary || 'nothing to report', children), items: 'proxies' };
}
