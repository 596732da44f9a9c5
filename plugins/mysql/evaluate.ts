/**
 * Pure: observations of one or more servers in a master-master (or ring) set, plus
 * settings, in; a CheckResult tree out.
 *
 * Judged: each replication direction (IO/SQL threads, quoted last errors, lag against
 * -w/-c, positions that do not advance), each server (reachable, identity), and the
 * master-master hazards across servers (a missing direction, equal server_id, colliding
 * auto_increment settings, writability against --mode).
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { checkThresholds, describeRange, type Thresholds } from '../../nagios/range.ts';
import { group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, worst, type StateCode } from '../../nagios/states.ts';
import type { Channel, LogPosition, Observations, ServerObservation, ServerUp } from './parse.ts';

export const MODES = ['any', 'active-passive', 'active-active'] as const;
export type Mode = (typeof MODES)[number];

export interface EvaluateSettings {
  readonly mode: Mode;
  readonly thresholds: Thresholds;
}

/** Perfdata label part: letters, digits, `.`, `-`; everything else becomes `_`. */
export function labelPart(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]+/g, '_').replace(/^_+|_+$/g, '') || 'server';
}

function fmtSeconds(n: number): string {
  return n < 10 ? `${Math.round(n * 10) / 10} s` : `${Math.round(n)} s`;
}

function fmtPos(p: LogPosition | undefined): string {
  return p ? `${p.file}:${p.pos}` : 'unknown';
}

/** a is further on than b in the same binlog coordinate space. */
function ahead(a: LogPosition, b: LogPosition): boolean {
  return a.file === b.file ? a.pos > b.pos : a.file > b.file;
}

function samePos(a: LogPosition | undefined, b: LogPosition | undefined): boolean {
  return a !== undefined && b !== undefined && a.file === b.file && a.pos === b.pos;
}

/** MySQL 8 wraps the worker's error in a coordinator message; keep the part that says what failed. */
export function essentialError(s: string): string {
  return s
    .replace(/^Coordinator stopped because there were error\(s\) in the worker\(s\)\. The most recent failure being: /, '')
    .replace(/\.? See error log and\/or performance_schema\.replication_applier_status_by_worker table for more details about this failure or others, if any\.$/, '');
}

/** A server's error message, bracketed (quotes would be stripped by Nagios notifications). */
function quote(s: string, max = 400): string {
  const t = essentialError(s).replace(/\s+/g, ' ').trim();
  return `[${t.length > max ? `${t.slice(0, max)}...` : t}]`;
}

function writable(s: ServerUp): boolean {
  return !s.readOnly && !s.superReadOnly;
}

function addressOf(ch: Channel): string {
  return ch.sourcePort === undefined ? ch.sourceHost : `${ch.sourceHost}:${ch.sourcePort}`;
}

/** The given server that a channel replicates from: by server_id, else by address. */
function findSource(ch: Channel, replica: ServerUp, servers: readonly ServerObservation[]): ServerObservation | undefined {
  const others = servers.filter((s) => s !== replica);
  if (ch.sourceServerId) {
    const byId = others.filter((s) => s.ok && s.serverId === ch.sourceServerId);
    if (byId.length === 1) return byId[0];
  }
  const addr = addressOf(ch);
  return others.find((s) => s.address === addr || s.label === addr);
}

interface Lag {
  readonly value: number | undefined;
  readonly how: string;
  readonly notes: string[];
}

function lagOf(replica: ServerUp, ch: Channel, source: ServerObservation | undefined, heartbeatTable: string | undefined): Lag {
  const notes: string[] = [];
  const last = replica.last;
  if (heartbeatTable) {
    const sourceUp = source?.ok ? source : undefined;
    const id = ch.sourceServerId || sourceUp?.serverId;
    if (last.heartbeatError) notes.push(`heartbeat table unreadable: ${last.heartbeatError}`);
    else if (sourceUp && !writable(sourceUp) && sourceUp.heartbeatWritten === undefined) notes.push('source is read-only, so no heartbeat is written there');
    else if (id === undefined) notes.push('source server_id unknown (IO thread never connected)');
    else {
      const hb = last.heartbeat?.get(id);
      if (hb === undefined) notes.push(`no heartbeat row for server_id ${id} in ${heartbeatTable}`);
      else {
        // Measure against the source's clock when it was sampled too: immune to clock skew.
        const ref = sourceUp ? sourceUp.last.serverTime + (last.clientTime - sourceUp.last.clientTime) : last.serverTime;
        let value = Math.max(0, ref - hb);
        let how = 'heartbeat';
        const written = sourceUp?.heartbeatWritten;
        if (written !== undefined && hb < written - 1e-6) {
          // This run's heartbeat has not arrived: the lag is at least its age.
          value = Math.max(0, ref - written, ch.secondsBehind ?? 0);
          how = 'heartbeat written this run, not applied yet';
        }
        if (value > 60 && ch.secondsBehind === 0 && ch.ioRunning && ch.sqlRunning && how === 'heartbeat') {
          notes.push(`Seconds_Behind_Master is 0: is the heartbeat writer (pt-heartbeat --update) running on ${source?.label ?? `server_id ${id}`}?`);
        }
        return { value, how, notes };
      }
    }
  }
  if (ch.secondsBehind !== null) return { value: ch.secondsBehind, how: 'Seconds_Behind_Master', notes };
  return { value: undefined, how: 'unknown', notes };
}

function evaluateChannel(replica: ServerUp, ch: Channel, obs: Observations, s: EvaluateSettings): { result: CheckResult; sourceLabel: string } {
  const source = findSource(ch, replica, obs.servers);
  const sourceLabel = source?.label ?? addressOf(ch);
  const name = `${sourceLabel} to ${replica.label}${ch.name ? ` (connection ${ch.name})` : ''}`;
  const pfx = `${labelPart(sourceLabel)}_to_${labelPart(replica.label)}${ch.name ? `_${labelPart(ch.name)}` : ''}`;
  const problems: { state: StateCode; text: string }[] = [];

  if (!ch.ioRunning || !ch.sqlRunning) {
    const parts: string[] = [];
    if (!ch.ioRunning) {
      const what = ch.ioState.toLowerCase() === 'connecting' || ch.ioState.toLowerCase() === 'preparing' ? `IO thread ${ch.ioState.toLowerCase()} to the source` : 'IO thread not running';
      parts.push(ch.lastIoError ? `${what}: Last_IO_Error ${ch.lastIoErrno} ${quote(ch.lastIoError)}` : what);
    }
    if (!ch.sqlRunning) parts.push(ch.lastSqlError ? `SQL thread not running: Last_SQL_Error ${ch.lastSqlErrno} ${quote(ch.lastSqlError)}` : 'SQL thread not running');
    if (!ch.ioRunning && !ch.sqlRunning && !ch.lastIoError && !ch.lastSqlError) parts.splice(0, parts.length, 'replication stopped (IO and SQL threads not running, no error: STOP SLAVE?)');
    problems.push({ state: State.CRITICAL, text: parts.join(', ') });
  }

  const lag = lagOf(replica, ch, source, obs.heartbeatTable);
  const lagState = lag.value === undefined ? State.OK : checkThresholds(lag.value, s.thresholds);
  if (lag.value !== undefined && lagState !== State.OK) {
    const range = lagState === State.CRITICAL ? s.thresholds.critical : s.thresholds.warning;
    problems.push({ state: lagState, text: `lag ${fmtSeconds(lag.value)} (${lag.how}${range ? `, ${describeRange(range)}` : ''})` });
  }
  if (lag.value === undefined && ch.ioRunning && ch.sqlRunning) problems.push({ state: State.UNKNOWN, text: 'lag unknown (Seconds_Behind_Master is NULL and no heartbeat)' });

  // Progress between two samples taken in this run.
  const first = replica.first.channels.find((c) => c.name === ch.name);
  const span = replica.last.clientTime - replica.first.clientTime;
  if (first && span >= 0.5) {
    if (ch.sqlRunning && ch.sqlDelay === 0 && samePos(first.exec, ch.exec) && ch.read && ch.exec && ahead(ch.read, ch.exec)) {
      problems.push({ state: State.WARNING, text: `SQL thread not advancing: executed position stuck at ${fmtPos(ch.exec)} for ${fmtSeconds(span)} while the IO thread has read up to ${fmtPos(ch.read)}${ch.sqlRunningState ? ` (${ch.sqlRunningState})` : ''}` });
    }
    const srcBinlog = source?.ok ? source.first.binlog : undefined;
    if (ch.ioRunning && srcBinlog && samePos(first.read, ch.read) && ch.read && ahead(srcBinlog, ch.read)) {
      problems.push({ state: State.CRITICAL, text: `IO thread not advancing: the source was at ${fmtPos(srcBinlog)} ${fmtSeconds(span)} ago, this replica has read only up to ${fmtPos(ch.read)}` });
    }
  }

  const state = worst(...problems.map((p) => p.state));
  const perfdata: Perfdata[] = [
    { label: `${pfx}_lag`, value: lag.value === undefined ? 'U' : Math.round(lag.value * 1000) / 1000, uom: 's', warning: s.thresholds.warning, critical: s.thresholds.critical, min: 0 },
    { label: `${pfx}_io_running`, value: ch.ioRunning ? 1 : 0, min: 0, max: 1 },
    { label: `${pfx}_sql_running`, value: ch.sqlRunning ? 1 : 0, min: 0, max: 1 },
  ];
  let summary: string;
  if (problems.length > 0) {
    summary = problems.map((p) => p.text).join(', ');
  } else {
    summary = `replicating, lag ${lag.value === undefined ? 'unknown' : fmtSeconds(lag.value)} (${lag.how})`;
  }
  const extra: string[] = [...lag.notes];
  if (ch.usingGtid && ch.usingGtid.toLowerCase() !== 'no') extra.push(`GTID ${ch.usingGtid}${ch.gtidIoPos ? ` at ${ch.gtidIoPos}` : ''}`);
  if (ch.sqlDelay > 0) extra.push(`intentional delay ${ch.sqlDelay} s`);
  if (problems.length === 0 && ch.lastIoError) extra.push(`earlier Last_IO_Error ${ch.lastIoErrno} ${quote(ch.lastIoError, 120)}`);
  if (extra.length) summary += ` [${extra.join(', ')}]`;
  return { result: leaf(name, state, summary, perfdata), sourceLabel };
}

function serverSummary(s: ServerUp): string {
  const kind = s.flavor === 'mariadb' ? 'MariaDB' : 'MySQL';
  const ro = s.superReadOnly ? 'super_read_only' : s.readOnly ? 'read-only' : 'writable';
  const parts = [`${kind} ${s.version}`, `server_id ${s.serverId ?? '?'}`, ro, `auto_increment ${s.autoIncrementIncrement}/${s.autoIncrementOffset}`];
  if (!s.logBin) parts.push('binary log off');
  if (s.gtidPosition) parts.push(`GTID ${s.gtidPosition.replace(/\s+/g, '')}`);
  if (s.heartbeatWriteNote) parts.push(s.heartbeatWriteNote);
  return parts.filter(Boolean).join(', ');
}

/** MySQL ignores auto_increment_offset when it is greater than the increment. */
function effectiveOffset(s: ServerUp): number {
  return s.autoIncrementOffset > s.autoIncrementIncrement ? 1 : s.autoIncrementOffset;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export function autoIncrementCollides(a: ServerUp, b: ServerUp): boolean {
  const g = gcd(Math.max(1, a.autoIncrementIncrement), Math.max(1, b.autoIncrementIncrement));
  return (effectiveOffset(a) - effectiveOffset(b)) % g === 0;
}

/**
 * `<server>_writable` per server (1: read_only and super_read_only both OFF), so that a cluster
 * rule can count writable servers ("exactly one" in active-passive) without reading text. A
 * server that cannot be read is left out: its writability is unknown. On the root, whose
 * perfdata the shared render keeps first when it shortens the output.
 */
export function rolePerfdata(obs: Observations): Perfdata[] {
  return obs.servers.filter((x): x is ServerUp => x.ok).map((x) => ({ label: `${labelPart(x.label)}_writable`, value: writable(x) ? 1 : 0, min: 0, max: 1 }));
}

export function evaluate(obs: Observations, s: EvaluateSettings): CheckResult {
  const children: CheckResult[] = [];
  const up = obs.servers.filter((x): x is ServerUp => x.ok);
  const directions: CheckResult[] = [];
  const incoming = new Map<ServerObservation, Set<string>>();

  for (const srv of obs.servers) {
    if (!srv.ok) {
      // Down or hung is an outage (CRITICAL); a refused login or missing privilege is the
      // check's own configuration (UNKNOWN).
      const state = srv.kind === 'auth' || srv.kind === 'privilege' || srv.kind === 'tls' ? State.UNKNOWN : State.CRITICAL;
      const hint = srv.kind === 'auth' ? ' (check the user and password in the option file)' : srv.kind === 'privilege' ? ' (see the GRANT in the README)' : '';
      children.push(leaf(`server ${srv.label}`, state, `${srv.kind === 'timeout' ? '' : 'cannot check: '}${srv.message}${hint}`));
      continue;
    }
    const perf: Perfdata[] = srv.threadsRunning === undefined ? [] : [{ label: `${labelPart(srv.label)}_threads_running`, value: srv.threadsRunning, min: 0 }];
    children.push(leaf(`server ${srv.label}`, State.OK, serverSummary(srv), perf));
    const from = new Set<string>();
    for (const ch of srv.last.channels) {
      const r = evaluateChannel(srv, ch, obs, s);
      directions.push(r.result);
      from.add(r.sourceLabel);
    }
    incoming.set(srv, from);
  }
  children.push(...directions);

  // Master-master hazards across the given servers.
  const labels = new Set(obs.servers.map((x) => x.label));
  if (obs.servers.length === 1 && up.length === 1 && up[0]!.last.channels.length === 0) {
    children.push(leaf('replication', State.CRITICAL, 'no replication configured on this server (not a replica: CHANGE MASTER TO was never run)'));
  }
  if (obs.servers.length >= 2) {
    for (const srv of up) {
      const from = incoming.get(srv) ?? new Set();
      if (![...from].some((l) => labels.has(l) && l !== srv.label)) {
        const others = obs.servers.filter((x) => x !== srv).map((x) => x.label).join(', ');
        children.push(leaf(`${others} to ${srv.label}`, State.CRITICAL, `no replication into ${srv.label} from ${others} configured: only one direction of the master-master pair replicates`));
      }
    }
  }
  for (let i = 0; i < up.length; i++) {
    for (let j = i + 1; j < up.length; j++) {
      const a = up[i]!;
      const b = up[j]!;
      if (a.serverId !== undefined && a.serverId === b.serverId) {
        children.push(leaf('server_id', State.CRITICAL, `${a.label} and ${b.label} have the same server_id ${a.serverId}: each ignores the events of the other as its own`));
      }
      if (autoIncrementCollides(a, b)) {
        const st = s.mode === 'active-active' ? State.CRITICAL : State.WARNING;
        children.push(leaf('auto_increment', st, `${a.label} (increment ${a.autoIncrementIncrement}, offset ${a.autoIncrementOffset}) and ${b.label} (increment ${b.autoIncrementIncrement}, offset ${b.autoIncrementOffset}) generate the same AUTO_INCREMENT values: set auto_increment_increment to the number of masters and a distinct auto_increment_offset on each`));
      }
    }
  }
  for (const srv of up) {
    for (const ch of srv.last.channels) {
      if (ch.sourceServerId && srv.serverId !== undefined && ch.sourceServerId === srv.serverId && !up.some((o) => o !== srv && o.serverId === srv.serverId)) {
        children.push(leaf('server_id', State.CRITICAL, `${srv.label} replicates from ${addressOf(ch)} which has the same server_id ${srv.serverId}`));
      }
    }
  }
  if (s.mode !== 'any' && up.length > 0) {
    const w = up.filter(writable);
    const ro = up.filter((x) => !writable(x));
    const describe = (x: ServerUp): string => `${x.label} (${x.superReadOnly ? 'super_read_only=ON' : x.readOnly ? 'read_only=ON' : 'read_only=OFF'})`;
    if (s.mode === 'active-passive') {
      if (w.length > 1) children.push(leaf('mode active-passive', State.CRITICAL, `${w.length} servers are writable: ${w.map(describe).join(', ')}, an active-passive pair must have exactly one (set read_only=ON on the passive)`));
      else if (w.length === 0 && up.length === obs.servers.length) children.push(leaf('mode active-passive', State.CRITICAL, `no server is writable: ${ro.map(describe).join(', ')}`));
      else if (w.length === 0) children.push(leaf('mode active-passive', State.CRITICAL, `no reachable server is writable: ${ro.map(describe).join(', ')}`));
      else children.push(leaf('mode active-passive', State.OK, `${w[0]!.label} is the only writable server`));
    } else if (ro.length > 0) {
      children.push(leaf('mode active-active', State.WARNING, `read-only in an active-active set: ${ro.map(describe).join(', ')}`));
    }
  }

  const ok = directions.length;
  const summary = `${up.length}/${obs.servers.length} server${obs.servers.length === 1 ? '' : 's'} reachable, ${ok} replication direction${ok === 1 ? '' : 's'}${maxLagText(directions)}`;
  return group('', summary, children, rolePerfdata(obs));
}

function maxLagText(directions: readonly CheckResult[]): string {
  let max: number | undefined;
  for (const d of directions) {
    for (const p of d.perfdata ?? []) if (p.label.endsWith('_lag') && typeof p.value === 'number') max = Math.max(max ?? 0, p.value);
  }
  return max === undefined ? '' : `, max lag ${fmtSeconds(max)}`;
}
