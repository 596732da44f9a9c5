/**
 * Pure: upstream groups with the probe outcome of each server, the error log events since
 * the last run, stub_status and the master process -> CheckResult tree.
 *
 * Thresholds work as in check_ha_haproxy: on the usable active servers of each upstream, by
 * default relative to its size (WARNING when one is not usable, `N:`; CRITICAL when none is,
 * `1:`). A server is usable when its probe succeeds and nginx has not taken it out: a
 * `temporarily disabled` line for it less than its fail_timeout ago means nginx sends it
 * nothing until then. `down` servers are out of the pool by configuration and not counted.
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { checkThresholds, describeRange, parseRange, type Thresholds } from '../../nagios/range.ts';
import { detail, group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, worst, type StateCode } from '../../nagios/states.ts';
import { globToRegExp } from '../lib/glob.ts';
import type { LogEvent, StubStatus, Upstream, UpstreamServer } from './parse.ts';

export interface PeerView {
  readonly server: UpstreamServer;
  /** As nginx names it in the log: `127.0.0.1:8081`. */
  readonly peer: string;
  /** undefined for `down` servers (not probed). */
  readonly ok?: boolean | undefined;
  readonly detail?: string | undefined;
  readonly ms?: number | undefined;
}

export interface UpstreamView {
  readonly upstream: Upstream;
  readonly probe: string;
  readonly peers: readonly PeerView[];
}

export interface LogNote {
  readonly state: StateCode;
  readonly text: string;
}

export interface Observations {
  readonly upstreams: readonly UpstreamView[];
  /** Events since the last run; undefined when the log is not read (--no-error-log, --input-file). */
  readonly events?: readonly LogEvent[] | undefined;
  /** About reading the log: first run, rotation, a position that could not be kept. */
  readonly logNotes: readonly LogNote[];
  readonly stub?: StubStatus | undefined;
  /** Undefined when not checked; '' when the master runs; else why not. */
  readonly master?: string | undefined;
  /** Epoch seconds. */
  readonly now: number;
}

export interface NginxPolicy {
  readonly serverThresholds: Thresholds;
  /** On connect errors plus disabled events per upstream since the last run. */
  readonly logThresholds: Thresholds;
  readonly upstreams: readonly string[];
  readonly excludeUpstreams: readonly string[];
}

export const DEFAULT_LOG_WARNING = '0';

function judgeNote(state: StateCode, t: Thresholds): string {
  const r = state === State.CRITICAL ? t.critical : state === State.WARNING ? t.warning : undefined;
  return r ? ` (${state === State.CRITICAL ? 'critical' : 'warning'} ${describeRange(r)})` : '';
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function clock(epoch: number): string {
  const d = new Date(epoch * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':');
}

interface Judged {
  readonly view: PeerView;
  readonly usable: boolean;
  /** Until when nginx keeps it out (epoch seconds), from its last temporarily disabled line. */
  readonly disabledUntil?: number | undefined;
  readonly text: string;
}

function judgePeer(p: PeerView, events: readonly LogEvent[] | undefined, now: number): Judged {
  const lastDisabled = events?.filter((e) => e.kind === 'disabled' && e.upstream === p.peer).reduce<number | undefined>((m, e) => (m === undefined || e.time > m ? e.time : m), undefined);
  const until = lastDisabled !== undefined && lastDisabled + p.server.failTimeout > now ? lastDisabled + p.server.failTimeout : undefined;
  const parts = [p.ok ? `up, ${p.detail ?? 'ok'}` : `down, ${p.detail ?? 'no answer'}`];
  if (until !== undefined) parts.push(`taken out by nginx at ${clock(lastDisabled!)} until ${clock(until)} (fail_timeout ${p.server.failTimeout} s)`);
  if (!p.ok && p.server.maxFails === 0) parts.push('max_fails=0: nginx never takes it out and keeps sending it requests');
  return { view: p, usable: p.ok === true && until === undefined, disabledUntil: until, text: parts.join(', ') };
}

function evaluateUpstream(u: UpstreamView, o: Observations, p: NginxPolicy): CheckResult {
  const name = u.upstream.name;
  const inPool = u.peers.filter((x) => !x.server.down);
  const configuredDown = u.peers.filter((x) => x.server.down);
  const judged = inPool.map((x) => judgePeer(x, o.events, o.now));
  let active = judged.filter((j) => !j.view.server.backup);
  let backups = judged.filter((j) => j.view.server.backup);
  let word = 'active';
  if (active.length === 0) {
    active = backups;
    backups = [];
    word = 'backup';
  }
  const total = active.length;
  const usable = active.filter((j) => j.usable).length;
  const t: Thresholds = {
    warning: p.serverThresholds.warning ?? parseRange(`${total}:`),
    critical: p.serverThresholds.critical ?? parseRange('1:'),
  };
  let state = total === 0 ? State.CRITICAL : checkThresholds(usable, t);
  const usableBackups = backups.filter((j) => j.usable).length;
  const parts = [total === 0 ? `no server in the pool: all ${configuredDown.length} marked down in the configuration` : `${usable}/${total} ${word} servers usable${judgeNote(state, t)}`];
  if (state === State.CRITICAL && usable === 0 && usableBackups > 0) {
    // nginx sends requests to the backup servers when no primary one is left.
    state = State.WARNING;
    parts[0] = `0/${total} ${word} servers usable, served by ${plural(usableBackups, 'backup server')}`;
  }
  const bad = active.filter((j) => !j.usable);
  if (bad.length) parts.push(bad.map((j) => `${j.view.peer} ${j.view.ok ? 'taken out by nginx' : 'down'}`).join(', '));
  const perf: Perfdata[] = [{ label: `${name}_servers_up`, value: usable, warning: t.warning, critical: t.critical, min: 0, max: total }];
  const children: CheckResult[] = [];
  if (backups.length) {
    const dead = backups.filter((j) => !j.usable);
    children.push(leaf('backup', dead.length ? State.WARNING : State.OK, `${usableBackups}/${backups.length} backup servers usable${dead.length ? ` (${dead.map((j) => `${j.view.peer} ${j.view.ok ? 'taken out by nginx' : 'down'}`).join(', ')})` : ''}`));
    perf.push({ label: `${name}_backup_up`, value: usableBackups, min: 0, max: backups.length });
    parts.push(`${usableBackups}/${backups.length} backup`);
  }
  if (o.events) {
    const peers = new Set(u.peers.map((x) => x.peer));
    const mine = o.events.filter((e) => (e.kind === 'no-live' ? e.upstream === name : peers.has(e.upstream)));
    const count = (k: LogEvent['kind']) => mine.filter((e) => e.kind === k).length;
    const noLive = count('no-live');
    const connect = count('connect');
    const disabled = count('disabled');
    const other = count('other');
    let ls: StateCode = checkThresholds(connect + disabled, p.logThresholds);
    if (noLive > 0) ls = State.CRITICAL;
    if (mine.length > 0 || ls !== State.OK) {
      const what = [
        noLive ? `${noLive} no live upstreams (requests failed)` : undefined,
        connect ? plural(connect, 'connect error') : undefined,
        disabled ? `${disabled} temporarily disabled` : undefined,
        other ? plural(other, 'other upstream error') : undefined,
      ].filter(Boolean);
      children.push(leaf('error log', ls, `since the last run: ${what.join(', ')}${ls === State.WARNING ? judgeNote(ls, p.logThresholds) : ''}`));
    }
    perf.push(
      { label: `${name}_log_connect_errors`, value: connect, warning: p.logThresholds.warning, critical: p.logThresholds.critical, min: 0 },
      { label: `${name}_log_disabled`, value: disabled, min: 0 },
      { label: `${name}_log_no_live`, value: noLive, min: 0 },
    );
  }
  for (const j of active.concat(backups)) {
    const tag = j.usable ? State.OK : j.view.server.backup && word === 'active' ? State.WARNING : State.CRITICAL;
    if (!j.usable) children.push(detail(`server ${j.view.peer}`, tag, `${j.text}${j.view.server.backup ? ' (backup)' : ''}`));
    if (j.view.ms !== undefined) perf.push({ label: `${name}_${j.view.peer}_probe`, value: j.view.ms / 1000, uom: 's', min: 0 });
  }
  for (const x of configuredDown) children.push(detail(`server ${x.peer}`, State.OK, 'marked down in the configuration, not counted'));
  return { name: `upstream ${name}`, state, summary: `${parts.join(', ')} (${u.probe})`, perfdata: perf, children };
}

function evaluateStub(s: StubStatus): CheckResult {
  const dropped = s.accepts - s.handled;
  const perf: Perfdata[] = [
    { label: 'active', value: s.active, min: 0 },
    { label: 'reading', value: s.reading, min: 0 },
    { label: 'writing', value: s.writing, min: 0 },
    { label: 'waiting', value: s.waiting, min: 0 },
    { label: 'accepts', value: s.accepts, uom: 'c' },
    { label: 'handled', value: s.handled, uom: 'c' },
    { label: 'requests', value: s.requests, uom: 'c' },
    { label: 'dropped', value: dropped, uom: 'c' },
  ];
  const text = `${s.active} active connections (${s.reading} reading, ${s.writing} writing, ${s.waiting} waiting), ${s.requests} requests${dropped > 0 ? `, ${dropped} connections dropped since start (worker_connections reached)` : ''}`;
  return leaf('stub_status', State.OK, text, perf);
}

export function evaluate(o: Observations, p: NginxPolicy): CheckResult {
  const include = p.upstreams.map(globToRegExp);
  const exclude = p.excludeUpstreams.map(globToRegExp);
  const chosen = o.upstreams.filter((u) => (include.length === 0 || include.some((r) => r.test(u.upstream.name))) && !exclude.some((r) => r.test(u.upstream.name)));
  if (p.upstreams.length > 0 && chosen.length === 0) {
    return leaf('', State.UNKNOWN, `no upstream matches --upstream ${p.upstreams.join(', ')} (have: ${o.upstreams.map((u) => u.upstream.name).join(', ') || 'none'})`);
  }
  const children: CheckResult[] = [];
  if (o.master !== undefined) children.push(leaf('master', o.master === '' ? State.OK : State.CRITICAL, o.master === '' ? 'nginx is running' : o.master));
  if (o.stub) children.push(evaluateStub(o.stub));
  for (const n of o.logNotes) children.push(leaf('error log', n.state, n.text));
  const judged = chosen.map((u) => evaluateUpstream(u, o, p));
  children.push(...judged);
  if (judged.length === 0) {
    const s = children.reduce<StateCode>((m, c) => worst(m, c.state), State.OK);
    return group('', s === State.OK ? 'no upstream groups in the configuration' : 'nginx has problems', children.length ? children : [leaf('', State.OK, 'no upstream groups in the configuration')]);
  }
  const healthy = judged.filter((r) => r.state === State.OK && (r.children ?? []).every((c) => c.informational === true || c.state === State.OK)).length;
  return { ...group('', `${healthy}/${judged.length} upstreams fully usable`, children), items: 'checks' };
}
