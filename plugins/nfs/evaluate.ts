/**
 * Pure: NFS facts -> CheckResult tree. Server side: expected exports present (with their
 * clients), the RPC programs registered with rpcbind per version, nfsd threads all busy since
 * the last run. Client side: each expected mount present, of an NFS type, read-write or
 * read-only as expected, and answering its probe (HUNG and STALE are CRITICAL).
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { checkThresholds, type Thresholds } from '../../nagios/range.ts';
import { group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, type StateCode } from '../../nagios/states.ts';
import type { MountProbe } from '../lib/mountprobe.ts';
import type { Export, NfsdThreads, Registration } from './parse.ts';

export interface ExpectedExport {
  readonly path: string;
  readonly clients: readonly string[];
}

export interface ExportsFacts {
  /** Where they were read: `exportfs -v`, /etc/exports, a ganesha configuration. */
  readonly source: string;
  readonly exports: readonly Export[];
  readonly note?: string | undefined;
}

/** A NULL call to one program version: does the server behind the registration answer. */
export interface RpcPing {
  readonly name: string;
  readonly version: number;
  readonly ok: boolean;
  readonly error?: string | undefined;
}

export interface RpcFacts {
  readonly pings?: readonly RpcPing[] | undefined;
  /** undefined with `error`: rpcbind did not answer. */
  readonly registrations?: readonly Registration[] | undefined;
  readonly error?: string | undefined;
  /** Program name -> the versions that must be registered. */
  readonly expected: ReadonlyMap<string, readonly number[]>;
}

export interface ThreadsFacts {
  /** undefined: no kernel nfsd here (/proc/net/rpc/nfsd absent). */
  readonly th?: NfsdThreads | undefined;
  /** Busy events (fullcnt, or sockets-enqueued of pool_stats) since the last run; undefined on a first run. */
  readonly busySinceLast?: number | undefined;
  /** What the busy count comes from. */
  readonly busySource?: 'fullcnt' | 'pool_stats' | undefined;
  readonly busyTotal?: number | undefined;
  readonly note?: string | undefined;
}

export interface MountFacts {
  readonly path: string;
  readonly expectRo: boolean | undefined;
  /** From mountinfo; undefined when not mounted. */
  readonly found?: { readonly fsType: string; readonly source: string; readonly ro: boolean } | undefined;
  readonly probe?: MountProbe | undefined;
  /** Why no probe ran (a saved input, a wrong type). */
  readonly notProbed?: string | undefined;
}

export interface NfsFacts {
  readonly exports?: ExportsFacts | undefined;
  readonly expectedExports: readonly ExpectedExport[];
  readonly rpc?: RpcFacts | undefined;
  readonly threads?: ThreadsFacts | undefined;
  readonly mounts: readonly MountFacts[];
  readonly mountTypes: readonly string[];
  readonly probeThresholds: Thresholds;
}

export function label(s: string): string {
  return s.replace(/^\/+/, '').replace(/[^A-Za-z0-9_.-]+/g, '_') || 'root';
}

function secs(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

function exportsResult(f: ExportsFacts, expected: readonly ExpectedExport[]): CheckResult {
  const children: CheckResult[] = [];
  const all = f.exports;
  for (const e of expected) {
    const found = all.find((x) => x.path === e.path || x.pseudo === e.path);
    if (!found) {
      children.push(leaf(e.path, State.CRITICAL, `missing from ${f.source}`));
      continue;
    }
    const lacking = e.clients.filter((c) => !found.clients.includes(c) && !found.clients.includes('*'));
    if (lacking.length) children.push(leaf(e.path, State.CRITICAL, `not exported to ${lacking.join(', ')} (exported to ${found.clients.join(', ')})`));
    else children.push(leaf(e.path, State.OK, `exported to ${found.clients.join(', ')}`));
  }
  const extra = all.filter((x) => !expected.some((e) => e.path === x.path || e.path === x.pseudo));
  let state: StateCode = State.OK;
  let summary = `${all.length} export${all.length === 1 ? '' : 's'} in ${f.source}`;
  if (all.length === 0 && expected.length === 0) {
    state = State.CRITICAL;
    summary = `nothing exported in ${f.source}`;
  }
  if (extra.length && expected.length) summary += `, not expected: ${extra.map((x) => x.path).join(', ')}`;
  if (f.note) summary += ` (${f.note})`;
  return { name: 'exports', state, summary, children };
}

function rpcResult(f: RpcFacts): CheckResult {
  if (!f.registrations) return leaf('rpcbind', State.CRITICAL, f.error ?? 'rpcinfo gave no answer');
  const children: CheckResult[] = [];
  for (const [name, versions] of f.expected) {
    const regs = f.registrations.filter((r) => r.name === name || String(r.program) === name);
    const have = [...new Set(regs.map((r) => r.version))].sort((a, b) => a - b);
    const missing = versions.filter((v) => !have.includes(v));
    const protos = [...new Set(regs.flatMap((r) => r.protos))].join(', ');
    if (have.length === 0) children.push(leaf(name, State.CRITICAL, `not registered with rpcbind (expected version ${versions.join(', ')})`));
    else if (missing.length) children.push(leaf(name, State.CRITICAL, `version ${missing.join(', ')} not registered (registered: ${have.join(', ')} over ${protos})`));
    else {
      const dead = (f.pings ?? []).filter((p) => p.name === name && !p.ok);
      if (dead.length) children.push(leaf(name, State.CRITICAL, `version ${dead.map((p) => p.version).join(', ')} registered but not answering (a crashed server leaves its registration): ${dead[0]!.error ?? ''}`));
      else children.push(leaf(name, State.OK, `version ${have.join(', ')} registered over ${protos}${f.pings ? ', answering' : ''}`));
    }
  }
  return group('rpc', `${f.expected.size} programs expected`, children);
}

function threadsResult(f: ThreadsFacts): CheckResult {
  const perfdata: Perfdata[] = [];
  if (!f.th) return leaf('nfsd threads', State.OK, f.note ?? 'no kernel nfsd here (no /proc/net/rpc/nfsd): nothing to count');
  perfdata.push({ label: 'nfsd_threads', value: f.th.threads, min: 0 });
  if (f.busyTotal !== undefined) perfdata.push({ label: f.busySource === 'pool_stats' ? 'nfsd_sockets_enqueued' : 'nfsd_all_busy', value: f.busyTotal, uom: 'c' });
  if (f.th.threads === 0) return leaf('nfsd threads', State.CRITICAL, 'the kernel NFS server has no threads (stopped: rpc.nfsd 0, or nfs-server not started)', perfdata);
  const what = f.busySource === 'pool_stats' ? 'a request found no idle thread' : 'all threads were busy';
  let state: StateCode = State.OK;
  let text = `${f.th.threads} threads`;
  if (f.busySinceLast !== undefined && f.busySinceLast > 0) {
    state = State.WARNING;
    text += `, ${what} ${f.busySinceLast} times since the last run (more threads: nfs.conf [nfsd] threads)`;
  } else if (f.busySinceLast !== undefined) text += `, never all busy since the last run`;
  else if (f.busySource) text += `, busy count ${f.busyTotal ?? 0} since the server started (judged between two live runs)`;
  if (f.note) text += ` (${f.note})`;
  return leaf('nfsd threads', state, text, perfdata);
}

function mountResult(m: MountFacts, types: readonly string[], t: Thresholds): CheckResult {
  const name = m.path;
  if (!m.found) return leaf(name, State.CRITICAL, 'not mounted');
  const where = `${m.found.fsType} from ${m.found.source}`;
  if (!types.includes(m.found.fsType)) return leaf(name, State.CRITICAL, `is ${m.found.fsType}, not ${types.join(' or ')} (the share is not mounted there)`);
  const problems: string[] = [];
  let state: StateCode = State.OK;
  if (m.expectRo === false && m.found.ro) {
    state = State.CRITICAL;
    problems.push('read-only, expected read-write');
  } else if (m.expectRo === true && !m.found.ro) {
    state = State.WARNING;
    problems.push('read-write, expected read-only');
  }
  const p = m.probe;
  const perfdata: Perfdata[] = [];
  if (!p) return leaf(name, state, [...problems, `${where}, ${m.found.ro ? 'ro' : 'rw'}, ${m.notProbed ?? 'not probed'}`].join(', '));
  if (p.kind === 'hung') {
    const text = p.stuck
      ? `HUNG: the probe of an earlier run (pid ${p.stuck.pid}, state ${p.stuck.state}) is still stuck after ${secs(p.afterMs)} s, no new probe started`
      : `HUNG: no answer within ${secs(p.afterMs)} s`;
    return leaf(name, State.CRITICAL, [text, ...problems, where].join(', ') + (p.note ? ` (${p.note})` : ''));
  }
  if (p.kind === 'error') {
    return leaf(name, State.CRITICAL, [p.stale ? 'STALE file handle (remount it)' : `not accessible: ${p.reason}`, ...problems, where].join(', '));
  }
  const seconds = p.ms / 1000;
  perfdata.push({ label: `${label(m.path)}_probe`, value: Math.round(seconds * 1000) / 1000, uom: 's', warning: t.warning, critical: t.critical, min: 0 });
  const ts = checkThresholds(seconds, t);
  if (ts === State.CRITICAL || (ts === State.WARNING && state === State.OK)) {
    state = ts;
    problems.push(`slow: probe took ${secs(p.ms)} s`);
  }
  const text = [...problems, `${where}, ${m.found.ro ? 'ro' : 'rw'}, answered in ${p.ms} ms`].join(', ') + (p.note ? ` (${p.note})` : '');
  return leaf(name, state, text, perfdata);
}

export function evaluate(f: NfsFacts): CheckResult {
  const children: CheckResult[] = [];
  if (f.exports) children.push(exportsResult(f.exports, f.expectedExports));
  if (f.rpc) children.push(rpcResult(f.rpc));
  if (f.threads) children.push(threadsResult(f.threads));
  if (f.mounts.length) children.push(group('mount', `${f.mounts.length} expected`, f.mounts.map((m) => mountResult(m, f.mountTypes, f.probeThresholds))));
  const parts: string[] = [];
  if (f.exports) parts.push(`${f.exports.exports.length} exports`);
  if (f.rpc?.registrations) parts.push(`${[...f.rpc.expected.keys()].join(', ')} registered`);
  if (f.threads?.th) parts.push(`${f.threads.th.threads} nfsd threads`);
  if (f.mounts.length) parts.push(`${f.mounts.length} mount${f.mounts.length === 1 ? '' : 's'} answering`);
  return { state: State.OK, summary: parts.join(', ') || 'nothing to check', children, items: 'checks' };
}
