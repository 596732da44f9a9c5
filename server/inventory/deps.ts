/**
 * Reads host `parents` and the `dependencies` lists (top level and per service), Nagios
 * style: every name must exist, no host may be its own ancestor, no object may depend on
 * itself through a chain. dependency_period is not supported (a dependency holds at all
 * times); the loader says so instead of ignoring it.
 */
import { findCycle } from '../state/reachability.ts';
import { dependencyEdges, HOST_CRITERIA, SERVICE_CRITERIA, type DependencyConfig, type DependencyCriterion } from '../state/dependencies.ts';
import { Section, type Checker, type Path } from './load.ts';
import type { ClusterRuleConfig, HostConfig, ServiceConfig } from './types.ts';

export interface DepsContext {
  readonly hosts: Map<string, HostConfig>;
  readonly services: ReadonlyMap<string, ServiceConfig>;
  readonly clusterRules: ReadonlyMap<string, ClusterRuleConfig>;
  /** Where each service key was written (services[i]). */
  readonly servicePaths: ReadonlyMap<string, Path>;
}

/** Sets `parents` on the hosts that name some; reports unknown parents and cycles. */
export function readParents(c: Checker, top: Section, hosts: Map<string, HostConfig>): void {
  const hostsRaw = top.raw('hosts');
  if (typeof hostsRaw !== 'object' || hostsRaw === null || Array.isArray(hostsRaw)) return;
  const edges = new Map<string, string[]>();
  for (const [name, v] of Object.entries(hostsRaw as Record<string, unknown>)) {
    const h = hosts.get(name);
    const s = Section.of(c, ['hosts', name], v ?? {});
    if (!h || !s || !s.has('parents')) continue;
    const parents: string[] = [];
    s.strList('parents').forEach((p, i) => {
      const where = Array.isArray(s.raw('parents')) ? ['hosts', name, 'parents', i] : ['hosts', name, 'parents'];
      if (p === name) c.fail(where, `host ${name} cannot be its own parent`);
      else if (!hosts.has(p) || hosts.get(p)?.virtual) c.fail(where, `unknown host '${p}': parents are hosts of this inventory (the router or switch in front of ${name})`);
      else if (!parents.includes(p)) parents.push(p);
    });
    edges.set(name, parents);
    hosts.set(name, { ...h, parents });
  }
  const cycle = findCycle(edges);
  if (cycle) c.fail(['hosts', cycle[0] as string, 'parents'], `parents form a loop ${cycle.join(' -> ')}: a host cannot be its own ancestor, remove one of these parents`);
}

/** Reads `dependencies:` at the top level and in service entries; reports bad names and loops. */
export function readDependencies(c: Checker, top: Section, ctx: DepsContext): DependencyConfig[] {
  const out: DependencyConfig[] = [];
  const kindOf = (key: string): 'host' | 'service' | null => (ctx.hosts.has(key) ? 'host' : ctx.services.has(key) || ctx.clusterRules.has(key) ? 'service' : null);
  const unknown = (key: string): string =>
    `unknown object '${key}': write a host name, host/service, or a cluster rule as host/name (e.g. cluster/VIP owner)`;

  const readOne = (path: Path, v: unknown, dependents: readonly string[] | null): void => {
    const s = Section.of(c, path, v, true);
    if (!s) return;
    const common = ['master', 'execution_failure_criteria', 'notification_failure_criteria', 'inherits_parent', 'dependency_period'];
    s.keys(dependents === null ? ['dependent', ...common] : common);
    if (s.has('dependency_period')) c.fail([...path, 'dependency_period'], 'is not supported: a dependency holds at all times, remove it');
    const master = s.str('master', true);
    const masterKind = master ? kindOf(master) : null;
    if (master && masterKind === null) c.fail([...path, 'master'], unknown(master));
    const targets = dependents ?? s.strList('dependent');
    if (dependents === null && targets.length === 0) c.fail(path, 'needs dependent: NAME or [NAMES] (hosts, host/service or cluster rule keys)');
    const allowed: readonly string[] = masterKind === 'host' ? HOST_CRITERIA : SERVICE_CRITERIA;
    const criteria = (key: string): DependencyCriterion[] => {
      if (!s.has(key)) return [];
      const raw = s.raw(key);
      const list = typeof raw === 'string' ? raw.split(/[\s,]+/).filter(Boolean) : s.strList(key);
      if (list.length === 1 && list[0] === 'n') return [];
      const got: DependencyCriterion[] = [];
      for (const o of list) {
        if (allowed.includes(o)) got.push(o as DependencyCriterion);
        else c.fail([...path, key], `unknown state letter '${o}' for a ${masterKind ?? 'service'} master; use ${allowed.join(', ')} (or n for none)`);
      }
      return got;
    };
    const executionFailureCriteria = criteria('execution_failure_criteria');
    const notificationFailureCriteria = criteria('notification_failure_criteria');
    if (!s.has('execution_failure_criteria') && !s.has('notification_failure_criteria')) {
      c.fail(path, `does nothing: give notification_failure_criteria and/or execution_failure_criteria (e.g. ${masterKind === 'host' ? 'd,u' : 'c,u'})`);
    }
    const inheritsParent = s.bool('inherits_parent', false);
    targets.forEach((dep, j) => {
      const kind = kindOf(dep);
      const where = dependents !== null ? [...path, 'master'] : Array.isArray(s.raw('dependent')) ? [...path, 'dependent', j] : [...path, 'dependent'];
      if (kind === null) {
        c.fail(where, unknown(dep));
        return;
      }
      if (!master || masterKind === null) return;
      if (dep === master) {
        c.fail(where, `${dep} cannot depend on itself`);
        return;
      }
      out.push({ dependent: dep, dependentKind: kind, master, masterKind, executionFailureCriteria, notificationFailureCriteria, inheritsParent });
    });
  };

  const raw = top.raw('dependencies');
  if (raw !== undefined && raw !== null && !Array.isArray(raw)) c.fail(['dependencies'], 'must be a list of dependencies (- dependent: ... master: ...)');
  (Array.isArray(raw) ? raw : []).forEach((v, i) => readOne(['dependencies', i], v, null));

  // Per service: every host/service key that entry made depends on the master.
  const svcRaw = top.raw('services');
  (Array.isArray(svcRaw) ? svcRaw : []).forEach((v, i) => {
    if (typeof v !== 'object' || v === null || !('dependencies' in v)) return;
    const list = (v as Record<string, unknown>)['dependencies'];
    const keys = [...ctx.servicePaths].filter(([, p]) => p[0] === 'services' && p[1] === i).map(([k]) => k);
    if (!Array.isArray(list)) {
      c.fail(['services', i, 'dependencies'], 'must be a list (- master: ... notification_failure_criteria: ...)');
      return;
    }
    list.forEach((d, j) => readOne(['services', i, 'dependencies', j], d, keys));
  });

  for (const type of ['execution', 'notification'] as const) {
    const cycle = findCycle(dependencyEdges(out, type));
    if (cycle) c.fail(['dependencies'], `${type} dependencies form a loop ${cycle.join(' -> ')}: remove one of them`);
  }
  return out;
}
