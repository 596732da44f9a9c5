/**
 * Judges keepalived's VRRP instances: state against expectation, flapping, and signs of
 * two masters (adverts received while MASTER, or the VIP answered by another host).
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { checkThresholds, type Thresholds } from '../../nagios/range.ts';
import { detail, group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, type StateCode } from '../../nagios/states.ts';
import type { NotifyEvent, VrrpInstance, VrrpState } from './parse.ts';

export interface DadOutcome {
  readonly address: string;
  readonly iface?: string | undefined;
  /** Foreign MACs that answered; undefined when the probe failed (see error). */
  readonly foreign?: readonly string[] | undefined;
  readonly error?: string | undefined;
}

export interface KeepalivedObservation {
  /** "notify state file /var/lib/...", "JSON dump /tmp/keepalived.json". */
  readonly source: string;
  readonly instances: readonly VrrpInstance[];
  readonly expectations: ReadonlyMap<string, readonly VrrpState[]>;
  /** Undefined when the process was not checked. */
  readonly process?: { readonly running: boolean; readonly detail: string } | undefined;
  /** State changes per instance within the window; undefined when not tracked. */
  readonly transitions?: ReadonlyMap<string, number> | undefined;
  readonly windowSeconds: number;
  readonly trackingNote?: string | undefined;
  /** Adverts received while MASTER since the previous run, per instance. */
  readonly advertsWhileMaster?: ReadonlyMap<string, number> | undefined;
  /** Notify events that are not states (MASTER_RX_LOWER_PRI ...) within the window. */
  readonly otherEvents?: readonly NotifyEvent[] | undefined;
  readonly dad?: ReadonlyMap<string, readonly DadOutcome[]> | undefined;
  readonly badLines?: readonly { line: number; text: string }[] | undefined;
  readonly thresholds: Thresholds;
}

export function perfLabel(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}

function stateVerdict(inst: VrrpInstance, expected: readonly VrrpState[] | undefined): { state: StateCode; text: string } {
  const s = inst.state;
  const prio = inst.effectivePriority ?? inst.priority;
  const extra = [inst.vrid !== undefined ? `VRID ${inst.vrid}` : '', inst.interface ? `on ${inst.interface}` : '', prio !== undefined ? `priority ${prio}` : ''].filter(Boolean).join(', ');
  const base = `${s}${extra ? ` (${extra})` : ''}`;
  if (s === 'FAULT') return { state: State.CRITICAL, text: `${base}: FAULT (a tracked interface or script failed)` };
  if (s === 'STOP' || s === 'DELETED') return { state: State.CRITICAL, text: `${base}: the instance was stopped` };
  if (expected && !expected.includes(s as VrrpState)) return { state: State.CRITICAL, text: `${base}, expected ${expected.join(' or ')}` };
  if (s === 'INIT') return { state: State.WARNING, text: `${base}: still initialising` };
  if (s !== 'MASTER' && s !== 'BACKUP') return { state: State.UNKNOWN, text: `${base}: unknown state` };
  return { state: State.OK, text: expected ? `${base}, as expected` : base };
}

/**
 * A BAD tracked script while this node still holds MASTER: the service the script checks is
 * failing here, but the VIP stays (a negative weight did not lower the priority enough, or no
 * peer is left to take over): WARNING. Otherwise the instance state is judged as usual and the
 * script line only says what it is (FAULT is already CRITICAL, BACKUP holds nothing).
 */
function trackedScriptFindings(inst: VrrpInstance, isMaster: boolean): CheckResult[] {
  const out: CheckResult[] = [];
  const scripts = inst.trackedScripts ?? [];
  for (const t of scripts.filter((x) => x.status === 'BAD')) {
    const w = t.weight !== undefined && t.weight !== 0 ? ` (weight ${t.weight})` : '';
    if (isMaster) {
      const prio = inst.effectivePriority !== undefined && inst.priority !== undefined ? ` at priority ${inst.effectivePriority} of ${inst.priority}` : '';
      out.push(leaf(`script ${t.name}`, State.WARNING, `tracked script ${t.name} is BAD${w}, but this node still holds MASTER${prio}: the checked service is failing where the VIP is`));
    } else {
      out.push(detail(`script ${t.name}`, State.WARNING, `tracked script ${t.name} is BAD${w}${inst.state === 'FAULT' ? ': it keeps the instance in FAULT' : ''}`));
    }
  }
  // keepalived 2.2 JSON lists the scripts without their result: a priority below the configured
  // one while MASTER still says that something tracked with a negative weight has failed.
  const unknown = scripts.length > 0 && scripts.every((x) => x.status === undefined);
  if (isMaster && unknown && inst.effectivePriority !== undefined && inst.priority !== undefined && inst.effectivePriority < inst.priority) {
    out.push(leaf('tracking', State.WARNING, `MASTER at priority ${inst.effectivePriority}, below the configured ${inst.priority}: a tracked script or interface has failed (this dump does not give script results, the data dump does)`));
  }
  return out;
}

export function evaluateKeepalived(o: KeepalivedObservation): CheckResult {
  const children: CheckResult[] = [];
  const perf: Perfdata[] = [];
  if (o.process && !o.process.running) {
    children.push(leaf('keepalived', State.CRITICAL, `keepalived is not running: ${o.process.detail}${o.source.startsWith('notify') ? '; the state file shows the last states it reported' : ''}`));
  }
  for (const [name, states] of o.expectations) {
    if (!o.instances.some((i) => i.name === name)) {
      children.push(leaf(name, State.CRITICAL, `instance not found in ${o.source} (expected ${states.join(' or ')})`));
    }
  }
  if (o.instances.length === 0) {
    children.push(leaf('instances', o.expectations.size ? State.OK : State.UNKNOWN, `no VRRP instance found in ${o.source}`));
  }
  let masters = 0;
  for (const inst of o.instances) {
    const sub: CheckResult[] = [];
    const v = stateVerdict(inst, o.expectations.get(inst.name));
    const isMaster = inst.state === 'MASTER';
    if (isMaster) masters++;
    perf.push({ label: `${perfLabel(inst.name)}_master`, value: isMaster ? 1 : 0, min: 0, max: 1 });
    const n = o.transitions?.get(inst.name);
    if (n !== undefined) {
      const st = checkThresholds(n, o.thresholds);
      perf.push({ label: `${perfLabel(inst.name)}_transitions`, value: n, warning: o.thresholds.warning, critical: o.thresholds.critical, min: 0 });
      if (st !== State.OK) sub.push(leaf('transitions', st, `${n} state changes in the last ${Math.round(o.windowSeconds / 60)} min: the state keeps changing`));
    }
    const adverts = o.advertsWhileMaster?.get(inst.name);
    if (isMaster && adverts !== undefined && adverts > 0) {
      sub.push(leaf('adverts', State.CRITICAL, `split brain: received ${adverts} VRRP advert${adverts === 1 ? '' : 's'} from another router for VRID ${inst.vrid ?? '?'} while MASTER`));
    }
    sub.push(...trackedScriptFindings(inst, isMaster));
    for (const d of o.dad?.get(inst.name) ?? []) {
      const on = d.iface ? ` on ${d.iface}` : '';
      if (d.error) {
        sub.push(leaf(`vip ${d.address}`, State.UNKNOWN, `duplicate probe failed: ${d.error}`));
      } else if (isMaster && d.foreign && d.foreign.length > 0) {
        sub.push(leaf(`vip ${d.address}`, State.CRITICAL, `split brain: MASTER here and ${d.address} is also answered by ${d.foreign.join(', ')}${on}`));
      } else if (!isMaster && d.foreign && d.foreign.length > 1) {
        sub.push(leaf(`vip ${d.address}`, State.CRITICAL, `split brain: ${d.address} is answered by ${d.foreign.length} hosts (${d.foreign.join(', ')})${on}`));
      } else if (!isMaster && d.foreign && d.foreign.length === 0) {
        sub.push(leaf(`vip ${d.address}`, State.WARNING, `${inst.state} here and no host answers for ${d.address}${on}: no MASTER holds it`));
      } else {
        sub.push(leaf(`vip ${d.address}`, State.OK, isMaster ? `no other host answers for ${d.address}${on}` : `${d.address} is answered by ${d.foreign?.join(', ')}${on}`));
      }
    }
    children.push({ name: inst.name, state: v.state, summary: v.text, children: sub });
  }
  for (const e of o.otherEvents ?? []) {
    if (e.state === 'MASTER_RX_LOWER_PRI') {
      children.push(leaf(e.name, State.WARNING, `keepalived reported MASTER_RX_LOWER_PRI${e.time ? ` at ${new Date(e.time * 1000).toISOString()}` : ''}: another router advertised while this node was MASTER`));
    }
  }
  if (o.badLines && o.badLines.length > 0) {
    const b = o.badLines[0]!;
    children.push(leaf('state file', State.WARNING, `${o.badLines.length} unreadable line${o.badLines.length === 1 ? '' : 's'} in ${o.source}, first at line ${b.line}: [${b.text.slice(0, 80)}]`));
  }
  if (o.trackingNote) children.push(leaf('tracking', State.OK, o.trackingNote));
  perf.push({ label: 'vrrp_masters', value: masters, min: 0, max: o.instances.length });
  const states = o.instances.map((i) => `${i.name} ${i.state}`).join(', ');
  return group('', `${states || 'no instances'} (from ${o.source})`, children, perf);
}
