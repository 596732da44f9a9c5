/**
 * Judges a parsed crm_mon status. Pure: observations and options in, CheckResult tree out.
 *
 * CRITICAL: partition without quorum, a node offline or unclean, a resource that should run
 * but is stopped or failed, a resource active on several nodes, a promotable clone with no
 * promoted instance, an expected resource that runs nowhere.
 * WARNING: no DC, maintenance-mode, a node in standby/maintenance/pending/shutting down,
 * unmanaged or blocked resources, a clone with some instances stopped, failed actions still
 * recorded, a resource banned from a node by its fail-count, fail-count over -w, an expected
 * resource on other nodes than expected, STONITH disabled with --require-stonith.
 * Disabled resources (target-role=Stopped) are OK and listed as such.
 */
import { PluginError } from '../../nagios/plugin.ts';
import type { Perfdata } from '../../nagios/perfdata.ts';
import { checkThresholds, describeRange, type Thresholds } from '../../nagios/range.ts';
import { group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, worst, type StateCode } from '../../nagios/states.ts';
import { globToRegExp } from '../lib/glob.ts';
import { PCMK_INFINITY, type Bundle, type ClusterStatus, type Clone, type CrmNode, type FailCount, type FailedAction, type Group, type Primitive, type Resource } from './parse.ts';

export const ROLE = { STARTED: 'started', PROMOTED: 'promoted', UNPROMOTED: 'unpromoted' } as const;
export type ExpectedRole = (typeof ROLE)[keyof typeof ROLE];

export interface Expectation {
  readonly resource: string;
  readonly role?: ExpectedRole | undefined;
  /** Empty: running anywhere is enough. */
  readonly nodes: readonly string[];
  readonly text: string;
}

export interface EvalOptions {
  /** Resource names or globs (`*`, `?`, `[...]`) to leave out entirely. */
  readonly ignoreResources: readonly string[];
  /** Node names or globs whose state is not judged. */
  readonly ignoreNodes: readonly string[];
  readonly expectations: readonly Expectation[];
  /** Ranges on the highest fail-count. */
  readonly failCount: Thresholds;
  readonly requireStonith: boolean;
  /** State for each failed action still recorded in the status (default WARNING). */
  readonly failedActionState: StateCode;
}

/** `RSC[:ROLE][@NODE[,NODE...]]`; ROLE is started, promoted or unpromoted (master/slave accepted). */
export function parseExpectation(text: string): Expectation {
  const m = /^([^@:\s]+)(?::([A-Za-z]+))?(?:@(.*))?$/.exec(text.trim());
  const fail = (why: string): never => {
    throw new PluginError(`invalid --expect-resource ${text}: ${why} (expected RSC[:ROLE][@NODE[,NODE...]], ROLE started, promoted or unpromoted)`);
  };
  if (!m) return fail('bad syntax');
  const [, resource = '', roleText, nodeText] = m;
  let role: ExpectedRole | undefined;
  if (roleText !== undefined) {
    const r = normaliseRole(roleText);
    if (r !== ROLE.STARTED && r !== ROLE.PROMOTED && r !== ROLE.UNPROMOTED) fail(`unknown role ${roleText}`);
    role = r as ExpectedRole;
  }
  const nodes = nodeText === undefined ? [] : nodeText.split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (nodeText !== undefined && nodes.length === 0) fail('no node after @');
  return { resource, role, nodes, text: text.trim() };
}

export function normaliseRole(role: string): string {
  const r = role.trim().toLowerCase();
  if (r === 'master' || r === 'promoted') return ROLE.PROMOTED;
  if (r === 'slave' || r === 'unpromoted') return ROLE.UNPROMOTED;
  return r;
}

function matcher(globs: readonly string[]): (name: string) => boolean {
  const res = globs.map(globToRegExp);
  return (name) => res.some((r) => r.test(name));
}

/** Instance ids of unique clones carry a `:N` suffix (`db:0`). */
function baseId(id: string): string {
  return id.replace(/:\d+$/, '');
}

function isStoppedRole(role: string | undefined): boolean {
  return role !== undefined && role.trim().toLowerCase() === 'stopped';
}

function list(items: readonly string[]): string {
  return items.length === 0 ? '-' : [...new Set(items)].join(', ');
}

function formatInterval(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}min`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function failCountText(n: number): string {
  return n >= PCMK_INFINITY ? 'INFINITY' : String(n);
}

interface Issue {
  readonly state: StateCode;
  readonly text: string;
}

/** The facts about one running or stopped copy of a resource (a primitive, or a cloned group). */
interface Instance {
  readonly active: boolean;
  readonly role: string;
  readonly nodes: readonly string[];
  readonly failed: boolean;
  readonly failureIgnored: boolean;
  readonly blocked: boolean;
  readonly managed: boolean;
  readonly orphaned: boolean;
  readonly disabled: boolean;
}

interface Counts {
  started: number;
  stopped: number;
  disabled: number;
  failed: number;
  ignored: string[];
}

class Evaluator {
  readonly status: ClusterStatus;
  readonly opts: EvalOptions;
  readonly ignoredResource: (name: string) => boolean;
  readonly ignoredNode: (name: string) => boolean;
  readonly maintenanceNodes: ReadonlySet<string>;
  /** Base resource id -> nodes where its fail-count reached migration-threshold. */
  readonly bannedOn = new Map<string, string[]>();
  readonly counts: Counts = { started: 0, stopped: 0, disabled: 0, failed: 0, ignored: [] };

  constructor(status: ClusterStatus, opts: EvalOptions) {
    this.status = status;
    this.opts = opts;
    this.ignoredResource = matcher(opts.ignoreResources);
    this.ignoredNode = matcher(opts.ignoreNodes);
    this.maintenanceNodes = new Set(status.nodes.filter((n) => n.maintenance).map((n) => n.name));
    for (const fc of status.failCounts) {
      if (this.reachedThreshold(fc)) {
        const id = baseId(fc.resource);
        this.bannedOn.set(id, [...(this.bannedOn.get(id) ?? []), fc.node]);
      }
    }
  }

  reachedThreshold(fc: FailCount): boolean {
    return fc.failCount >= (fc.migrationThreshold ?? PCMK_INFINITY);
  }

  isIgnored(...ids: (string | undefined)[]): boolean {
    return ids.some((id) => id !== undefined && (this.ignoredResource(id) || this.ignoredResource(baseId(id))));
  }

  get noQuorum(): boolean {
    return this.status.dc.withQuorum === false;
  }

  /** Why a resource that should run does not: the likely causes visible in the status. */
  stoppedReason(ids: readonly string[]): string {
    const reasons: string[] = [];
    if (this.noQuorum) reasons.push('no quorum');
    if (this.status.options.maintenanceMode) reasons.push('maintenance mode');
    const banned = ids.flatMap((id) => this.bannedOn.get(baseId(id)) ?? []);
    if (banned.length > 0) reasons.push(`fail-count reached migration-threshold on ${list(banned)}`);
    const bans = this.status.bans.filter((b) => !b.promotedOnly && ids.includes(b.resource));
    if (bans.length > 0) reasons.push(`banned from ${list(bans.map((b) => b.node).sort())} by ${list(bans.map((b) => b.id).sort())}`);
    const hosts = this.status.nodes.filter((n) => n.guestOf === undefined);
    const unavailable = hosts.flatMap((n) => {
      if (n.unclean) return [`${n.name} unclean`];
      if (!n.online) return [`${n.name} offline`];
      if (n.standby) return [`${n.name} standby`];
      if (n.maintenance) return [`${n.name} maintenance`];
      return [];
    });
    if (unavailable.length > 0) reasons.push(unavailable.length === hosts.length ? 'no node can host resources' : unavailable.join(', '));
    return reasons.length > 0 ? ` (${reasons.join(', ')})` : '';
  }

  unmanagedIssue(nodes: readonly string[]): Issue | undefined {
    if (this.status.options.maintenanceMode) return undefined;
    if (nodes.length > 0 && nodes.every((n) => this.maintenanceNodes.has(n))) return undefined;
    return { state: State.WARNING, text: `unmanaged${nodes.length ? ` on ${list(nodes)}` : ''}: the cluster will not start, stop or recover it (is-managed=false)` };
  }

  unmanagedNote(managed: boolean, nodes: readonly string[]): string {
    // Cluster-wide maintenance-mode is said once, on the cluster line: not on every resource.
    if (managed || this.status.options.maintenanceMode) return '';
    if (nodes.length > 0 && nodes.every((n) => this.maintenanceNodes.has(n))) return ', unmanaged (node in maintenance)';
    return ', unmanaged';
  }

  // ---- nodes ---------------------------------------------------------------------------

  node(n: CrmNode): CheckResult {
    const facts: string[] = [];
    if (n.isDc) facts.push('DC');
    if (n.guestOf !== undefined) facts.push(`guest node in ${n.guestOf}`);
    else if (n.type !== 'member') facts.push(`${n.type} node`);
    facts.push(`${n.resourcesRunning} resource${n.resourcesRunning === 1 ? '' : 's'} running`);
    const issues: Issue[] = [];
    if (n.unclean) issues.push({ state: State.CRITICAL, text: `UNCLEAN${n.online ? '' : ' (offline)'}: the node must be fenced before its resources can be recovered` });
    else if (!n.online) issues.push({ state: State.CRITICAL, text: 'OFFLINE' });
    if (n.pending) issues.push({ state: State.WARNING, text: 'pending: joining the cluster' });
    if (n.shutdown && n.online) issues.push({ state: State.WARNING, text: 'shutting down' });
    if (n.standby) issues.push({ state: State.WARNING, text: n.standbyOnFail ? 'standby after a resource failure (on-fail=standby)' : 'standby: it will not run resources' });
    // Cluster-wide maintenance-mode marks every node (guest nodes included) as in maintenance:
    // the cluster line says it once, not again per node.
    if (n.maintenance && !this.status.options.maintenanceMode) issues.push({ state: State.WARNING, text: 'maintenance: its resources are not managed' });
    if (n.health === 'red') issues.push({ state: State.CRITICAL, text: 'node health red' });
    else if (n.health === 'yellow') issues.push({ state: State.WARNING, text: 'node health yellow' });
    const name = `node ${n.name}`;
    if (n.guestOf !== undefined && !n.online && !n.unclean) {
      // A guest node is up exactly when its container/VM resource runs: judged there.
      return leaf(name, State.OK, `guest node offline (judged through resource ${n.guestOf})`);
    }
    if (this.ignoredNode(n.name)) {
      const what = issues.map((i) => i.text.split(':')[0]).join(', ');
      return leaf(name, State.OK, `ignored${what ? ` (${what})` : ''}`);
    }
    if (issues.length === 0) return leaf(name, State.OK, `online, ${facts.join(', ')}`);
    return leaf(name, worst(...issues.map((i) => i.state)), issues.map((i) => i.text).join(', '));
  }

  nodes(): CheckResult {
    const judged = this.status.nodes.filter((n) => !this.ignoredNode(n.name) && !(n.guestOf !== undefined && !n.online && !n.unclean));
    const online = judged.filter((n) => n.online && !n.unclean).length;
    const offline = judged.filter((n) => !n.online || n.unclean).length;
    const standby = judged.filter((n) => n.standby).length;
    const maintenance = judged.filter((n) => n.maintenance).length;
    const perfdata: Perfdata[] = [
      { label: 'nodes_online', value: online, min: 0, max: judged.length },
      { label: 'nodes_offline', value: offline, min: 0, max: judged.length },
      { label: 'nodes_standby', value: standby, min: 0, max: judged.length },
      { label: 'nodes_maintenance', value: maintenance, min: 0, max: judged.length },
    ];
    if (this.status.nodes.length === 0) {
      return { state: State.UNKNOWN, summary: 'crm_mon lists no nodes: the cluster has no configured nodes', perfdata, children: [] };
    }
    const nodeMaintenance = this.status.options.maintenanceMode ? 0 : maintenance;
    const extra = [offline ? `${offline} offline` : '', standby ? `${standby} standby` : '', nodeMaintenance ? `${nodeMaintenance} in maintenance` : ''].filter(Boolean);
    return group('', `nodes: ${online} of ${judged.length} online${extra.length ? ` (${extra.join(', ')})` : ''}`, this.status.nodes.map((n) => this.node(n)), perfdata);
  }

  // ---- resources -----------------------------------------------------------------------

  count(inst: Instance): void {
    if (inst.active) this.counts.started++;
    else if (inst.disabled) this.counts.disabled++;
    else if (!inst.orphaned) this.counts.stopped++;
    if (inst.failed) this.counts.failed++;
  }

  primitiveInstance(p: Primitive, parentDisabled: boolean): Instance {
    return {
      active: p.active,
      role: normaliseRole(p.role),
      nodes: p.nodes,
      failed: p.failed,
      failureIgnored: p.failureIgnored,
      blocked: p.blocked,
      managed: p.managed,
      orphaned: p.orphaned,
      disabled: parentDisabled || isStoppedRole(p.targetRole) || this.status.options.stopAllResources,
    };
  }

  /** A single-copy resource (a primitive, alone or in a group). */
  /**
   * `afterDisabled`: an earlier member of this primitive's group is disabled; a group starts its
   * members in order, so this one is stopped because of that, on purpose, not by a fault.
   */
  primitive(p: Primitive, parentDisabled: boolean, containerIds: readonly string[], afterDisabled?: string): CheckResult | undefined {
    if (this.isIgnored(p.id, ...containerIds)) {
      this.counts.ignored.push(p.id);
      return undefined;
    }
    const own = this.primitiveInstance(p, parentDisabled);
    const inst = afterDisabled !== undefined && !own.active ? { ...own, disabled: true } : own;
    if (inst.orphaned && !inst.active) return undefined;
    this.count(inst);
    const issues: Issue[] = [];
    if (inst.failed) {
      issues.push(inst.failureIgnored
        ? { state: State.WARNING, text: `failed on ${list(inst.nodes)} (failure ignored: on-fail=ignore)` }
        : { state: State.CRITICAL, text: `FAILED${inst.nodes.length ? ` on ${list(inst.nodes)}` : ''}` });
    }
    if (!inst.active && !inst.disabled) issues.push({ state: State.CRITICAL, text: `stopped but should be running${this.stoppedReason([p.id, ...containerIds])}` });
    if (inst.active && inst.nodes.length > 1) issues.push({ state: State.CRITICAL, text: `active on ${inst.nodes.length} nodes at once (${list(inst.nodes)}): multiple-active` });
    if (inst.orphaned) issues.push({ state: State.WARNING, text: `orphaned: active on ${list(inst.nodes)} although removed from the configuration` });
    // A blocked resource is also unmanaged: say it once.
    if (inst.blocked) issues.push({ state: State.WARNING, text: `blocked${inst.nodes.length ? ` on ${list(inst.nodes)}` : ''}: the cluster will not act on it until it is cleaned up` });
    else if (!inst.managed) {
      const u = this.unmanagedIssue(inst.nodes);
      if (u) issues.push(u);
    }
    let where: string;
    if (inst.active) where = `${p.role} on ${list(inst.nodes)}`;
    else if (inst.disabled && !own.disabled) where = `Stopped because the earlier group member ${afterDisabled} is disabled`;
    else if (inst.disabled) where = `Stopped (disabled${isStoppedRole(p.targetRole) ? ': target-role=Stopped' : this.status.options.stopAllResources ? ': stop-all-resources' : ''})`;
    else where = 'Stopped';
    const summary = `${where} (${p.agent})${this.unmanagedNote(inst.managed, inst.nodes)}${p.pending ? `, pending ${p.pending}` : ''}`;
    const name = `resource ${p.id}`;
    if (issues.length === 0) return leaf(name, State.OK, summary);
    return leaf(name, worst(...issues.map((i) => i.state)), issues.map((i) => i.text).join(', '));
  }

  group(g: Group, parentDisabled: boolean, containerIds: readonly string[]): CheckResult | undefined {
    const disabled = parentDisabled || g.disabled === true;
    // The first disabled member (target-role=Stopped) stops every member after it.
    const firstDisabled = g.members.find((m) => isStoppedRole(m.targetRole));
    const members = g.members.map((m, i) => {
      const after = firstDisabled !== undefined && i > g.members.indexOf(firstDisabled) ? firstDisabled.id : undefined;
      return this.primitive(m, disabled, [...containerIds, g.id], after);
    }).filter((c): c is CheckResult => c !== undefined);
    if (members.length === 0) return undefined;
    const active = g.members.filter((m) => m.active);
    const nodes = [...new Set(active.flatMap((m) => m.nodes))];
    let state: string;
    if (active.length === g.members.length) state = `started on ${list(nodes)}`;
    else if (active.length === 0) state = disabled ? 'stopped (disabled)' : firstDisabled ? `stopped (member ${firstDisabled.id} is disabled)` : 'stopped';
    else state = `${active.length} of ${g.members.length} members started on ${list(nodes)}`;
    return group('', `group ${g.id}: ${state}`, members);
  }

  /** One copy of a clone or bundle: a primitive, or several resources that must all run. */
  compoundInstance(members: readonly Primitive[], parentDisabled: boolean): Instance {
    const insts = members.map((m) => this.primitiveInstance(m, parentDisabled));
    const promoted = insts.some((i) => i.role === ROLE.PROMOTED);
    const unpromoted = insts.some((i) => i.role === ROLE.UNPROMOTED);
    return {
      active: insts.length > 0 && insts.every((i) => i.active || (i.orphaned && !i.active)) && insts.some((i) => i.active),
      role: promoted ? ROLE.PROMOTED : unpromoted ? ROLE.UNPROMOTED : insts.some((i) => i.active) ? ROLE.STARTED : 'stopped',
      nodes: this.hostNodes(insts.flatMap((i) => i.nodes)),
      failed: insts.some((i) => i.failed && !i.failureIgnored),
      failureIgnored: insts.some((i) => i.failed && i.failureIgnored),
      blocked: insts.some((i) => i.blocked),
      managed: insts.every((i) => i.managed),
      orphaned: insts.length > 0 && insts.every((i) => i.orphaned),
      disabled: insts.length > 0 && insts.every((i) => i.disabled),
    };
  }

  /** Cluster nodes among `names`, without the guest nodes that run inside them (bundle replicas). */
  hostNodes(names: readonly string[]): string[] {
    const guests = new Set(this.status.nodes.filter((n) => n.guestOf !== undefined).map((n) => n.name));
    const unique = [...new Set(names)];
    const hosts = unique.filter((n) => !guests.has(n));
    return hosts.length > 0 ? hosts : unique;
  }

  /**
   * How many stopped clone instances are really missing. crm_mon lists clone-max instances,
   * and clone-max defaults to the number of nodes, guest nodes included, so a clone banned
   * from a node or kept off bundle guest nodes shows stopped instances that can never run.
   * An instance is missing only when an eligible node (not a guest, not banned for this
   * clone) runs none; in an opt-in cluster (symmetric-cluster=false) eligibility is unknown.
   */
  missingInstances(kind: 'clone' | 'bundle', ids: readonly string[], running: readonly Instance[], stopped: number): number {
    if (kind === 'bundle') return stopped;
    if (stopped === 0 || this.status.options.symmetricCluster === false) return 0;
    const hosting = new Set(running.flatMap((i) => i.nodes));
    const banned = new Set(this.status.bans.filter((b) => !b.promotedOnly && ids.includes(b.resource)).map((b) => b.node));
    const eligible = this.status.nodes.filter((n) => n.guestOf === undefined && n.type !== 'ping' && !banned.has(n.name) && !hosting.has(n.name));
    return Math.min(stopped, eligible.length);
  }

  /** Clones and bundles: several copies, judged together. */
  multi(kind: 'clone' | 'bundle', id: string, agentText: string, insts: readonly Instance[], opts: { promotable: boolean; disabled: boolean; unpromotedOnly: boolean; memberIds: readonly string[] }): CheckResult | undefined {
    const wanted = insts.filter((i) => !i.orphaned);
    const running = insts.filter((i) => i.active);
    const stoppedAll = wanted.filter((i) => !i.active && !i.disabled);
    const missing = this.missingInstances(kind, [id, ...opts.memberIds], running, stoppedAll.length);
    // Stopped instances that could never run (see missingInstances) are not counted as stopped.
    for (const i of insts) if (i.active || i.disabled || i.orphaned) this.count(i);
    this.counts.stopped += missing;
    this.counts.failed += insts.filter((i) => !i.active && !i.disabled && !i.orphaned && i.failed).length;
    const promoted = running.filter((i) => i.role === ROLE.PROMOTED);
    const unpromoted = running.filter((i) => i.role === ROLE.UNPROMOTED);
    const issues: Issue[] = [];
    const failed = insts.filter((i) => i.failed);
    if (failed.length > 0) issues.push({ state: State.CRITICAL, text: `FAILED on ${list(failed.flatMap((i) => i.nodes))}` });
    const ignoredFailures = insts.filter((i) => i.failureIgnored);
    if (ignoredFailures.length > 0) issues.push({ state: State.WARNING, text: `failed on ${list(ignoredFailures.flatMap((i) => i.nodes))} (failure ignored)` });
    if (running.length === 0 && !opts.disabled) {
      issues.push({ state: State.CRITICAL, text: `no instance running${this.stoppedReason([id, ...opts.memberIds])}` });
    } else if (running.length > 0 && missing > 0) {
      const what = kind === 'bundle' ? 'replicas' : 'instances';
      issues.push({ state: State.WARNING, text: `${running.length} of ${running.length + missing} ${what} running${this.stoppedReason([id, ...opts.memberIds])}` });
    }
    if (opts.promotable && running.length > 0 && promoted.length === 0 && !opts.unpromotedOnly && !opts.disabled) {
      issues.push({ state: State.CRITICAL, text: 'no promoted instance' });
    }
    const orphans = insts.filter((i) => i.orphaned && i.active);
    if (orphans.length > 0) issues.push({ state: State.WARNING, text: `orphaned instance active on ${list(orphans.flatMap((i) => i.nodes))}` });
    const blocked = insts.filter((i) => i.blocked);
    if (blocked.length > 0) issues.push({ state: State.WARNING, text: `blocked on ${list(blocked.flatMap((i) => i.nodes))}: the cluster will not act on it until it is cleaned up` });
    const unmanaged = insts.filter((i) => !i.managed);
    if (unmanaged.length > 0 && blocked.length === 0) {
      const u = this.unmanagedIssue(unmanaged.flatMap((i) => i.nodes));
      if (u) issues.push(u);
    }
    let where: string;
    if (running.length === 0) where = opts.disabled ? 'stopped (disabled)' : 'stopped';
    else if (opts.promotable) {
      const other = running.filter((i) => i.role !== ROLE.PROMOTED && i.role !== ROLE.UNPROMOTED);
      where = [
        promoted.length ? `promoted on ${list(promoted.flatMap((i) => i.nodes))}` : '',
        unpromoted.length ? `unpromoted on ${list(unpromoted.flatMap((i) => i.nodes))}` : '',
        other.length ? `started on ${list(other.flatMap((i) => i.nodes))}` : '',
      ].filter(Boolean).join(', ');
    } else where = `started on ${list(running.flatMap((i) => i.nodes))}`;
    const stoppedNote = missing > 0 ? `, ${missing} stopped` : '';
    const what = kind === 'clone' ? (opts.promotable ? 'promotable clone' : 'clone') : 'bundle';
    const summary = `${where}${stoppedNote} (${what} of ${agentText})${this.unmanagedNote(unmanaged.length === 0, unmanaged.flatMap((i) => i.nodes))}`;
    const name = `${kind} ${id}`;
    if (issues.length === 0) return leaf(name, State.OK, summary);
    return leaf(name, worst(...issues.map((i) => i.state)), `${issues.map((i) => i.text).join(', ')}, ${where}`);
  }

  clone(c: Clone): CheckResult | undefined {
    const memberIds = [...new Set(c.instances.flatMap((i) => (i.kind === 'group' ? [i.id, ...i.members.map((m) => m.id)] : [i.id])))];
    if (this.isIgnored(c.id, ...memberIds)) {
      this.counts.ignored.push(c.id);
      return undefined;
    }
    const disabled = c.disabled === true || isStoppedRole(c.targetRole) || this.status.options.stopAllResources;
    const insts = c.instances.map((i) => (i.kind === 'group' ? this.compoundInstance(i.members, disabled || i.disabled === true) : this.primitiveInstance(i, disabled)));
    const unpromotedOnly = [c.targetRole, ...c.instances.flatMap((i) => (i.kind === 'group' ? i.members.map((m) => m.targetRole) : [i.targetRole]))]
      .some((r) => r !== undefined && normaliseRole(r) === ROLE.UNPROMOTED);
    const agents = [...new Set(c.instances.flatMap((i) => (i.kind === 'group' ? [`group ${baseId(i.id)}`] : [i.agent])))];
    return this.multi('clone', c.id, agents.join(', ') || 'nothing', insts, {
      promotable: c.promotable,
      disabled: disabled || (insts.length > 0 && insts.every((i) => i.disabled)),
      unpromotedOnly,
      memberIds,
    });
  }

  bundle(b: Bundle): CheckResult | undefined {
    const memberIds = [...new Set(b.replicas.flatMap((r) => r.members.map((m) => m.id)))];
    if (this.isIgnored(b.id, ...memberIds)) {
      this.counts.ignored.push(b.id);
      return undefined;
    }
    const disabled = this.status.options.stopAllResources;
    const insts = b.replicas.map((r) => this.compoundInstance(r.members, disabled));
    return this.multi('bundle', b.id, b.image ?? 'a container', insts, {
      promotable: false,
      disabled: disabled || (insts.length > 0 && insts.every((i) => i.disabled)),
      unpromotedOnly: false,
      memberIds,
    });
  }

  resource(r: Resource): CheckResult | undefined {
    switch (r.kind) {
      case 'primitive': return this.primitive(r, false, []);
      case 'group': return this.group(r, false, []);
      case 'clone': return this.clone(r);
      case 'bundle': return this.bundle(r);
    }
  }

  resources(): CheckResult {
    const children = this.status.resources.map((r) => this.resource(r)).filter((c): c is CheckResult => c !== undefined);
    const c = this.counts;
    const perfdata: Perfdata[] = [
      { label: 'resources_started', value: c.started, min: 0 },
      { label: 'resources_stopped', value: c.stopped, min: 0 },
      { label: 'resources_disabled', value: c.disabled, min: 0 },
      { label: 'resources_failed', value: c.failed, min: 0 },
    ];
    const parts = [`${c.started} started`];
    if (c.stopped) parts.push(`${c.stopped} stopped`);
    if (c.failed) parts.push(`${c.failed} failed`);
    if (c.disabled) parts.push(`${c.disabled} disabled`);
    if (c.ignored.length) parts.push(`ignored: ${list(c.ignored)}`);
    return group('', `resources: ${children.length === 0 && c.ignored.length === 0 ? 'none configured' : parts.join(', ')}`, children, perfdata);
  }

  // ---- cluster-wide --------------------------------------------------------------------

  allPrimitives(): Primitive[] {
    return this.status.resources.flatMap((r): Primitive[] => {
      switch (r.kind) {
        case 'primitive': return [r];
        case 'group': return [...r.members];
        case 'clone': return r.instances.flatMap((i) => (i.kind === 'group' ? [...i.members] : [i]));
        case 'bundle': return r.replicas.flatMap((x) => [...x.members]);
      }
    });
  }

  cluster(): CheckResult {
    const s = this.status;
    const kids: CheckResult[] = [];
    if (!s.dc.present) {
      kids.push(leaf('quorum', State.WARNING, 'no DC elected: quorum unknown (the cluster is still forming, or this node sees no peers)'));
    } else if (s.dc.withQuorum === false) {
      kids.push(leaf('quorum', State.CRITICAL, `partition WITHOUT quorum (no-quorum-policy=${s.options.noQuorumPolicy ?? 'stop'}, DC ${s.dc.name ?? '?'})`));
    } else {
      kids.push(leaf('quorum', State.OK, `partition with quorum, DC ${s.dc.name ?? '?'}`));
    }
    if (s.options.maintenanceMode) kids.push(leaf('maintenance-mode', State.WARNING, 'on: the cluster does not start, stop or recover any resource'));
    if (s.options.stopAllResources) kids.push(leaf('stop-all-resources', State.WARNING, 'stop-all-resources is set: every resource is stopped on purpose'));
    const fencing = this.allPrimitives().filter((p) => p.agent.startsWith('stonith:'));
    if (s.options.stonithEnabled === false) {
      kids.push(leaf('STONITH', this.opts.requireStonith ? State.WARNING : State.OK, 'disabled (stonith-enabled=false): a node that hangs cannot be fenced, so its resources cannot be recovered safely'));
    } else if (s.options.stonithEnabled === undefined && fencing.length === 0) {
      kids.push(leaf('STONITH', this.opts.requireStonith ? State.WARNING : State.OK, 'not reported by this crm_mon, and no fencing device is configured'));
    } else if (fencing.length === 0) {
      kids.push(leaf('STONITH', State.WARNING, 'stonith-enabled=true but no fencing device is configured: Pacemaker will not start resources'));
    } else if (this.opts.requireStonith && !fencing.some((p) => p.active)) {
      kids.push(leaf('STONITH', State.WARNING, `enabled, but no fencing device is running (${list(fencing.map((p) => p.id))})`));
    } else {
      kids.push(leaf('STONITH', State.OK, `enabled, ${fencing.filter((p) => p.active).length} of ${fencing.length} fencing device${fencing.length === 1 ? '' : 's'} running`));
    }
    const facts = [s.dc.present ? (s.dc.withQuorum === false ? 'no quorum' : 'quorate') : 'no DC'];
    if (s.stack && s.stack !== 'unknown') facts.push(`stack ${s.stack}`);
    facts.push(s.schema === 'crm_mon' ? `crm_mon ${s.version || '?'} legacy XML` : `crm_mon XML API ${s.version || '?'}`);
    return group('', `cluster: ${facts.join(', ')}`, kids);
  }

  failedActions(): CheckResult {
    const shown = this.status.failures.filter((f) => !this.isIgnored(f.resource));
    const kids = shown.map((f) => leaf('failed action', this.opts.failedActionState, describeFailure(f)));
    const perfdata: Perfdata[] = [{ label: 'failed_actions', value: shown.length, min: 0 }];
    const hidden = this.status.failures.length - shown.length;
    const summary = `failed actions: ${shown.length === 0 ? 'none' : `${shown.length} recorded (clear with crm_resource --cleanup once understood)`}${hidden ? `, ${hidden} left out (ignored resources)` : ''}`;
    return group('', summary, kids, perfdata);
  }

  failCounts(): CheckResult {
    const counted = this.status.failCounts.filter((f) => !this.isIgnored(f.resource));
    let highest: FailCount | undefined;
    for (const f of counted) if (!highest || f.failCount > highest.failCount) highest = f;
    const value = highest?.failCount ?? 0;
    const t = this.opts.failCount;
    const perfdata: Perfdata[] = [{ label: 'fail_count_max', value, warning: t.warning, critical: t.critical, min: 0 }];
    const state = checkThresholds(value, t);
    let summary = highest ? `highest ${failCountText(value)} (${baseId(highest.resource)} on ${highest.node})` : 'no fail-counts';
    if (state !== State.OK) {
      const r = state === State.CRITICAL ? t.critical : t.warning;
      if (r) summary += `, alert when ${describeRange(r)}`;
    }
    const kids: CheckResult[] = [];
    for (const f of counted) {
      if (!this.reachedThreshold(f)) continue;
      const id = baseId(f.resource);
      const threshold = f.migrationThreshold === undefined ? 'INFINITY' : String(f.migrationThreshold);
      kids.push(leaf(`resource ${id}`, State.WARNING,
        `banned from ${f.node}: fail-count ${failCountText(f.failCount)} reached migration-threshold ${threshold} (crm_resource --cleanup --resource ${id} --node ${f.node} once fixed)`));
    }
    return { name: 'fail-count', state, summary, perfdata, children: kids };
  }

  /** Listed, not judged: a ban can be intended; a forgotten `crm_resource --move/--ban` shows up here. */
  bans(): CheckResult {
    const kids = this.status.bans.map((b) => leaf(`ban ${b.id}`, State.OK,
      `${b.resource}${b.promotedOnly ? ' (promoted role)' : ''} kept off ${b.node} (score ${b.weight <= -PCMK_INFINITY ? '-INFINITY' : b.weight})${b.id.startsWith('cli-') ? ', left by crm_resource --ban/--move, remove with crm_resource --clear' : ''}`));
    return group('', `location bans: ${this.status.bans.length}`, kids);
  }

  // ---- expectations --------------------------------------------------------------------

  /** Running copies of a resource, looked up by its id or the id of its group/clone/bundle. */
  findRunning(id: string): { found: boolean; running: { node: string; role: string }[] } {
    const out: { node: string; role: string }[] = [];
    let found = false;
    const add = (p: Primitive): void => {
      if (p.active) for (const n of p.nodes) out.push({ node: n, role: normaliseRole(p.role) });
    };
    const addCompound = (members: readonly Primitive[]): void => {
      const inst = this.compoundInstance(members, false);
      if (inst.active) for (const n of inst.nodes) out.push({ node: n, role: inst.role });
    };
    for (const r of this.status.resources) {
      switch (r.kind) {
        case 'primitive':
          if (baseId(r.id) === id) { found = true; add(r); }
          break;
        case 'group':
          if (r.id === id) { found = true; addCompound(r.members); }
          for (const m of r.members) if (m.id === id) { found = true; add(m); }
          break;
        case 'clone':
          for (const i of r.instances) {
            if (r.id === id || baseId(i.id) === id) {
              found = true;
              if (i.kind === 'group') addCompound(i.members);
              else add(i);
            } else if (i.kind === 'group') {
              for (const m of i.members) if (baseId(m.id) === id) { found = true; add(m); }
            }
          }
          break;
        case 'bundle':
          for (const rep of r.replicas) {
            if (r.id === id) { found = true; addCompound(rep.members); }
            for (const m of rep.members) if (baseId(m.id) === id) { found = true; add(m); }
          }
          break;
      }
    }
    return { found, running: out };
  }

  expectation(e: Expectation): CheckResult {
    const name = `expected ${e.text}`;
    const { found, running } = this.findRunning(e.resource);
    if (!found) return leaf(name, State.CRITICAL, `resource ${e.resource} is not in the cluster status (not configured?)`);
    const matchesRole = (r: string): boolean => e.role === undefined || (e.role === ROLE.STARTED ? true : r === e.role);
    const good = running.filter((r) => matchesRole(r.role));
    const roleText = e.role && e.role !== ROLE.STARTED ? e.role : 'running';
    const where = (xs: { node: string }[]): string => list(xs.map((x) => x.node));
    if (good.length === 0) {
      return leaf(name, State.CRITICAL, `not ${roleText} anywhere${running.length ? ` (running on ${where(running)})` : ''}`);
    }
    if (e.nodes.length === 0) return leaf(name, State.OK, `${roleText} on ${where(good)}`);
    const onExpected = good.filter((r) => e.nodes.includes(r.node));
    const multiCopy = running.length > 1 || this.isMultiCopy(e.resource);
    if (multiCopy) {
      const missing = e.nodes.filter((n) => !good.some((r) => r.node === n));
      if (missing.length > 0) return leaf(name, State.WARNING, `not ${roleText} on ${list(missing)} (${roleText} on ${where(good)})`);
      return leaf(name, State.OK, `${roleText} on ${where(good)}`);
    }
    if (onExpected.length === 0) return leaf(name, State.WARNING, `${roleText} on ${where(good)}, expected on ${list(e.nodes)}`);
    return leaf(name, State.OK, `${roleText} on ${where(onExpected)}`);
  }

  isMultiCopy(id: string): boolean {
    return this.status.resources.some((r) =>
      (r.kind === 'clone' && (r.id === id || r.instances.some((i) => baseId(i.id) === id || (i.kind === 'group' && i.members.some((m) => baseId(m.id) === id)))))
      || (r.kind === 'bundle' && (r.id === id || r.replicas.some((x) => x.members.some((m) => baseId(m.id) === id)))));
  }

  // ---- roles ---------------------------------------------------------------------------

  /**
   * Promotion as gauges a cluster rule can count without reading text: `<clone>@<node>_promoted`
   * for every running instance of a promotable clone (the number of promoted instances of that
   * clone on that node: 1 or 0, more only with promoted-node-max above 1), and, when there is
   * a promotable clone, `<node>_promoted` per cluster node (all its promoted instances). Stopped
   * instances have no item. Ignored resources and nodes are left out, as everywhere.
   */
  rolePerfdata(): Perfdata[] {
    const perClone = new Map<string, number>();
    const perNode = new Map<string, number>();
    let promotable = false;
    for (const c of this.status.resources) {
      if (c.kind !== 'clone' || !c.promotable) continue;
      const memberIds = c.instances.flatMap((i) => (i.kind === 'group' ? [i.id, ...i.members.map((m) => m.id)] : [i.id]));
      if (this.isIgnored(c.id, ...memberIds)) continue;
      promotable = true;
      for (const i of c.instances) {
        const inst = i.kind === 'group' ? this.compoundInstance(i.members, false) : this.primitiveInstance(i, false);
        if (!inst.active) continue;
        for (const node of inst.nodes) {
          if (this.ignoredNode(node)) continue;
          const key = `${c.id}@${node}`;
          const promoted = inst.role === ROLE.PROMOTED ? 1 : 0;
          perClone.set(key, (perClone.get(key) ?? 0) + promoted);
          perNode.set(node, (perNode.get(node) ?? 0) + promoted);
        }
      }
    }
    if (!promotable) return [];
    const out: Perfdata[] = [...perClone].map(([key, n]) => ({ label: `${key}_promoted`, value: n, min: 0 }));
    const nodes = this.status.nodes.filter((n) => !this.ignoredNode(n.name) && n.guestOf === undefined && n.type !== 'ping');
    for (const n of nodes) out.push({ label: `${n.name}_promoted`, value: perNode.get(n.name) ?? 0, min: 0 });
    return out;
  }

  // ---- root ----------------------------------------------------------------------------

  evaluate(): CheckResult {
    const cluster = this.cluster();
    const nodes = this.nodes();
    const resources = this.resources();
    const children: CheckResult[] = [cluster, nodes, resources];
    if (this.opts.expectations.length > 0) {
      children.push(group('', `expected resources: ${this.opts.expectations.length}`, this.opts.expectations.map((e) => this.expectation(e))));
    }
    children.push(this.failedActions(), this.failCounts());
    if (this.status.bans.length > 0) children.push(this.bans());
    const judgedNodes = this.status.nodes.filter((n) => !this.ignoredNode(n.name));
    const online = judgedNodes.filter((n) => n.online && !n.unclean).length;
    const c = this.counts;
    const parts = [`${online} of ${judgedNodes.length} nodes online`, `${c.started} resource instance${c.started === 1 ? '' : 's'} started`];
    if (c.disabled) parts.push(`${c.disabled} disabled`);
    const s = this.status;
    parts.push(s.dc.present ? (s.dc.withQuorum === false ? 'NO quorum' : `quorate, DC ${s.dc.name ?? '?'}`) : 'no DC');
    // On the root: the shared render keeps the root's perfdata first when it shortens the output.
    return { state: State.OK, summary: parts.join(', '), children, perfdata: this.rolePerfdata() };
  }
}

export function describeFailure(f: FailedAction): string {
  const op = `${f.task ?? 'operation'}${f.intervalMs ? ` (every ${formatInterval(f.intervalMs)})` : ''}`;
  const rc = f.exitCode !== undefined ? ` (rc=${f.exitCode})` : '';
  const status = f.status && f.status.toLowerCase() !== 'complete' ? `, ${f.status}` : '';
  const reason = f.exitReason ? `: ${f.exitReason}` : '';
  const when = f.lastRcChange ? ` at ${f.lastRcChange}` : '';
  return `${f.resource} ${op} on ${f.node || '?'} returned ${f.exitStatus}${rc}${status}${reason}${when}`;
}

export function evaluate(status: ClusterStatus, opts: EvalOptions): CheckResult {
  return new Evaluator(status, opts).evaluate();
}
