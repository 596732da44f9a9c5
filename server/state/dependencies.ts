/**
 * Nagios Core 4 host and service dependencies, pure ("Host and Service Dependencies"). A
 * dependent object's notifications are suppressed while one of its masters is in a state
 * named by notification_failure_criteria; its active checks are skipped while a master is
 * in a state named by execution_failure_criteria. With inherits_parent the master's own
 * dependencies (of the same type) are walked too. As with Nagios' default
 * soft_state_dependencies=0, a master in a SOFT state is judged by its last HARD state.
 */
import { stateLabel, type CheckStatus, type ObjectKind } from './types.ts';

/** o w c u p n for a service (or cluster rule) master; o d u p n for a host master. */
export type DependencyCriterion = 'o' | 'w' | 'c' | 'u' | 'd' | 'p';

export const SERVICE_CRITERIA = ['o', 'w', 'c', 'u', 'p'] as const;
export const HOST_CRITERIA = ['o', 'd', 'u', 'p'] as const;

export interface DependencyConfig {
  /** Key of the dependent host, service or cluster rule. */
  readonly dependent: string;
  readonly dependentKind: ObjectKind;
  /** Key of the master host, service or cluster rule (host/rule name). */
  readonly master: string;
  readonly masterKind: ObjectKind;
  /** Empty: never fails (Nagios n). */
  readonly executionFailureCriteria: readonly DependencyCriterion[];
  readonly notificationFailureCriteria: readonly DependencyCriterion[];
  readonly inheritsParent: boolean;
}

export type DependencyType = 'execution' | 'notification';

export type StatusOf = (key: string) => CheckStatus | undefined;

/** Dependencies by dependent key. */
export function dependencyIndex(deps: readonly DependencyConfig[]): Map<string, DependencyConfig[]> {
  const out = new Map<string, DependencyConfig[]>();
  for (const d of deps) out.set(d.dependent, [...(out.get(d.dependent) ?? []), d]);
  return out;
}

function criterionFor(kind: ObjectKind, s: CheckStatus | undefined): { letter: DependencyCriterion; state: string } {
  if (!s || !s.checked) return { letter: 'p', state: 'PENDING' };
  // soft_state_dependencies=0: a SOFT problem does not fail a dependency yet.
  const state = s.stateType === 'SOFT' ? s.lastHardState : s.state;
  const letter = (kind === 'host' ? ['o', 'd', 'u'] : ['o', 'w', 'c', 'u'])[state] ?? 'u';
  return { letter: letter as DependencyCriterion, state: stateLabel(kind, state) };
}

/** Does this master's state fail the dependency? Returns the state name when it does. */
export function failingState(d: DependencyConfig, type: DependencyType, statusOf: StatusOf): string | null {
  const criteria = type === 'execution' ? d.executionFailureCriteria : d.notificationFailureCriteria;
  if (criteria.length === 0) return null;
  const c = criterionFor(d.masterKind, statusOf(d.master));
  return criteria.includes(c.letter) ? c.state : null;
}

/**
 * Why `key` is held back by a dependency of this type, or null: "dependency on MASTER
 * (CRITICAL)", or through an inherited chain "dependency on B (DOWN) via A". The loader
 * refuses cycles; the visited set only keeps a hand-made one from looping.
 */
export function dependencyBlocker(key: string, type: DependencyType, byDependent: ReadonlyMap<string, readonly DependencyConfig[]>, statusOf: StatusOf): string | null {
  const walk = (k: string, via: readonly string[], seen: Set<string>): string | null => {
    for (const d of byDependent.get(k) ?? []) {
      if (type === 'execution' ? d.executionFailureCriteria.length === 0 : d.notificationFailureCriteria.length === 0) continue;
      const failing = failingState(d, type, statusOf);
      const path = [...via, d.master];
      if (failing !== null) return `dependency on ${d.master} (${failing})${via.length ? ` via ${via.join(', ')}` : ''}`;
      if (d.inheritsParent && !seen.has(d.master)) {
        seen.add(d.master);
        const inherited = walk(d.master, path, seen);
        if (inherited !== null) return inherited;
      }
    }
    return null;
  };
  return walk(key, [], new Set([key]));
}

/** Edges dependent -> master for the dependencies that can fail with this type (for cycle checks). */
export function dependencyEdges(deps: readonly DependencyConfig[], type: DependencyType): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const d of deps) {
    const criteria = type === 'execution' ? d.executionFailureCriteria : d.notificationFailureCriteria;
    if (criteria.length === 0) continue;
    out.set(d.dependent, [...(out.get(d.dependent) ?? []), d.master]);
  }
  return out;
}
