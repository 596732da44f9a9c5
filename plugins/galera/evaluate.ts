/**
 * Pure: Galera node observations in, a CheckResult tree out.
 *
 * Per node: cluster status Primary, wsrep_connected and wsrep_ready ON, the local state
 * (Synced OK; Donor/Desynced, Joining, Joined WARNING; anything else CRITICAL), cluster size
 * against -w/-c, flow control paused fraction against optional ranges. Across nodes: every
 * Primary node must report the same cluster state UUID.
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { checkThresholds, describeRange, type Thresholds } from '../../nagios/range.ts';
import { group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, worst, type StateCode } from '../../nagios/states.ts';
import type { NodeObservation, NodeUp } from './parse.ts';

export interface GaleraSettings {
  /** Cluster size ranges (-w/-c). */
  readonly size: Thresholds;
  /** Flow control paused fraction (0..1) ranges. */
  readonly flowControl: Thresholds;
  /** Treat Donor/Desynced as OK (a node dedicated to backups). */
  readonly donorOk: boolean;
}

function localStateVerdict(n: NodeUp, donorOk: boolean): { state: StateCode; text: string } {
  const c = n.localStateComment;
  switch (n.localState) {
    case 4: return { state: State.OK, text: c || 'Synced' };
    case 2: return donorOk ? { state: State.OK, text: `${c || 'Donor/Desynced'} (allowed by --donor-ok)` } : { state: State.WARNING, text: `${c || 'Donor/Desynced'}: serving a state transfer or desynced (wsrep_desync), may lag the cluster` };
    case 1: return { state: State.WARNING, text: `${c || 'Joining'}: receiving a state transfer` };
    case 3: return { state: State.WARNING, text: `${c || 'Joined'}: catching up with the cluster` };
    default: return { state: State.CRITICAL, text: `${c || `state ${n.localState ?? 'unknown'}`}: not part of a working cluster` };
  }
}

function evaluateNode(n: NodeUp, s: GaleraSettings, prefix: string): CheckResult {
  const problems: { state: StateCode; text: string }[] = [];
  if (!n.providerLoaded) {
    const why = n.wsrepOn === false ? 'wsrep_on=OFF, no Galera provider loaded' : 'no Galera provider loaded (wsrep_provider_name is empty)';
    return leaf(`node ${n.label}`, State.CRITICAL, `Galera is not active: ${why}`);
  }
  if (n.clusterStatus !== 'Primary') problems.push({ state: State.CRITICAL, text: `cluster status ${n.clusterStatus || 'unknown'}: this node is in a partition without quorum and refuses writes` });
  if (!n.connected) problems.push({ state: State.CRITICAL, text: 'wsrep_connected=OFF: not connected to any cluster' });
  if (!n.ready) problems.push({ state: State.CRITICAL, text: 'wsrep_ready=OFF: the node does not accept queries' });
  const ls = localStateVerdict(n, s.donorOk);
  if (ls.state !== State.OK) problems.push(ls);
  if (n.clusterSize !== undefined) {
    const st = checkThresholds(n.clusterSize, s.size);
    if (st !== State.OK) {
      const r = st === State.CRITICAL ? s.size.critical : s.size.warning;
      problems.push({ state: st, text: `cluster size ${n.clusterSize}${r ? ` (${describeRange(r)})` : ''}` });
    }
  }
  if (n.flowControlPaused !== undefined) {
    const st = checkThresholds(n.flowControlPaused, s.flowControl);
    if (st !== State.OK) {
      const r = st === State.CRITICAL ? s.flowControl.critical : s.flowControl.warning;
      problems.push({ state: st, text: `flow control paused ${Math.round(n.flowControlPaused * 1000) / 10}% of the time${r ? ` (${describeRange(r)})` : ''}` });
    }
  }
  const perf: Perfdata[] = [
    { label: `${prefix}cluster_size`, value: n.clusterSize ?? 'U', warning: s.size.warning, critical: s.size.critical, min: 0 },
    { label: `${prefix}flow_control_paused`, value: n.flowControlPaused ?? 'U', warning: s.flowControl.warning, critical: s.flowControl.critical, min: 0, max: 1 },
  ];
  if (n.flowControlPausedNs !== undefined) perf.push({ label: `${prefix}flow_control_paused_ns`, value: n.flowControlPausedNs, uom: 'c', min: 0 });
  if (n.localRecvQueueAvg !== undefined) perf.push({ label: `${prefix}local_recv_queue_avg`, value: n.localRecvQueueAvg, min: 0 });
  if (n.localSendQueueAvg !== undefined) perf.push({ label: `${prefix}local_send_queue_avg`, value: n.localSendQueueAvg, min: 0 });
  const facts = `${n.clusterStatus || '?'}, ${ls.text.split(':')[0]}, cluster size ${n.clusterSize ?? '?'}, ready ${n.ready ? 'ON' : 'OFF'}, connected ${n.connected ? 'ON' : 'OFF'}${n.clusterName ? `, cluster ${n.clusterName}` : ''}`;
  const summary = problems.length ? `${problems.map((p) => p.text).join(', ')} [${facts}]` : facts;
  return leaf(`node ${n.label}`, worst(...problems.map((p) => p.state)), summary, perf);
}

/** The node's name as a perfdata label part (the per-node prefix of several -H uses the same). */
function nodeLabel(n: NodeObservation): string {
  return n.label.replace(/[^A-Za-z0-9.-]+/g, '_');
}

/**
 * Roles a cluster rule can count without reading text, per node that answered (also a single
 * one): `<node>_primary_component` (1: wsrep_cluster_status is Primary, the node is in the
 * quorate component that takes writes) and `<node>_synced` (1: wsrep_local_state 4, Synced).
 * A node without a Galera provider is in no component: 0 and 0. A node that cannot be read is
 * left out: its role is unknown. On the root, whose perfdata the shared render keeps first
 * when it shortens the output.
 */
export function rolePerfdata(nodes: readonly NodeObservation[]): Perfdata[] {
  return nodes.filter((n): n is NodeUp => n.ok).flatMap((n) => {
    const active = n.providerLoaded;
    return [
      { label: `${nodeLabel(n)}_primary_component`, value: active && n.clusterStatus === 'Primary' ? 1 : 0, min: 0, max: 1 },
      { label: `${nodeLabel(n)}_synced`, value: active && n.localState === 4 ? 1 : 0, min: 0, max: 1 },
    ];
  });
}

export function evaluate(nodes: readonly NodeObservation[], s: GaleraSettings): CheckResult {
  const many = nodes.length > 1;
  const children: CheckResult[] = [];
  for (const n of nodes) {
    if (!n.ok) {
      const state = n.kind === 'auth' || n.kind === 'privilege' || n.kind === 'tls' ? State.UNKNOWN : State.CRITICAL;
      const hint = n.kind === 'auth' ? ' (check the user and password in the option file)' : '';
      children.push(leaf(`node ${n.label}`, state, `${n.kind === 'timeout' ? '' : 'cannot check: '}${n.message}${hint}`));
      continue;
    }
    const prefix = many ? `${nodeLabel(n)}_` : '';
    children.push(evaluateNode(n, s, prefix));
  }
  const primary = nodes.filter((n): n is NodeUp => n.ok && n.providerLoaded && n.clusterStatus === 'Primary');
  const uuids = new Set(primary.map((n) => n.clusterStateUuid));
  if (uuids.size > 1) {
    children.push(leaf('cluster', State.CRITICAL, `Primary nodes report different cluster state UUIDs (${primary.map((n) => `${n.label}: ${n.clusterStateUuid}`).join(', ')}): split brain, or nodes of different clusters`));
  }
  const up = nodes.filter((n): n is NodeUp => n.ok);
  let summary: string;
  if (!many && up.length === 1) {
    const n = up[0]!;
    summary = n.providerLoaded ? `${n.clusterStatus}, ${n.localStateComment}, cluster size ${n.clusterSize ?? '?'}` : 'Galera not active';
  } else {
    const sizes = [...new Set(up.map((n) => n.clusterSize))].join('/');
    summary = `${primary.length}/${nodes.length} node${nodes.length === 1 ? '' : 's'} in a Primary component, cluster size ${sizes || '?'}`;
  }
  return group('', summary, children, rolePerfdata(nodes));
}
