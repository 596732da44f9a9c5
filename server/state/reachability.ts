/**
 * Nagios Core 4 host reachability, pure: "Determining Status and Reachability of Network
 * Hosts". A host check that fails means DOWN when the host has no parents or at least one
 * parent is UP, and UNREACHABLE when every parent is DOWN or UNREACHABLE (the host cannot
 * be told apart from the network path to it). The states used are the parents' current
 * ones, soft or hard, as Nagios 4 does.
 */
import { HostState, type CheckStatus, type HostStateCode } from './types.ts';

export type StatusOf = (key: string) => CheckStatus | undefined;

/** The state a failed host check means, given the parents' current states. */
export function problemHostState(parents: readonly string[], statusOf: StatusOf): HostStateCode {
  if (parents.length === 0) return HostState.DOWN;
  // A parent never checked counts as UP (Nagios starts hosts UP): the child is DOWN until
  // a parent is known to be down.
  const someParentUp = parents.some((p) => {
    const s = statusOf(p);
    return !s || !s.checked || s.state === HostState.UP;
  });
  return someParentUp ? HostState.DOWN : HostState.UNREACHABLE;
}

/** Children of each host (the reverse of parents). */
export function childrenIndex(parentsOf: ReadonlyMap<string, readonly string[]>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [child, parents] of parentsOf) for (const p of parents) out.set(p, [...(out.get(p) ?? []), child]);
  return out;
}

/**
 * Hosts to check at once after `host` changed state, as Nagios 4 propagates checks: a host
 * that recovered re-checks its children that are not UP (they may have been UNREACHABLE
 * only because of it); a host that went bad re-checks its parents that are UP (is the path
 * down instead) and its children that are not UNREACHABLE yet (they are now).
 */
export function rechecksAfterHostChange(host: string, before: CheckStatus, after: CheckStatus, parentsOf: ReadonlyMap<string, readonly string[]>, children: ReadonlyMap<string, readonly string[]>, statusOf: StatusOf): string[] {
  const changed = !before.checked ? after.state !== HostState.UP : before.state !== after.state;
  if (!changed) return [];
  const out: string[] = [];
  if (after.state === HostState.UP) {
    for (const c of children.get(host) ?? []) {
      const s = statusOf(c);
      if (s && s.checked && s.state !== HostState.UP) out.push(c);
    }
  } else {
    for (const p of parentsOf.get(host) ?? []) {
      const s = statusOf(p);
      if (!s || !s.checked || s.state === HostState.UP) out.push(p);
    }
    for (const c of children.get(host) ?? []) {
      const s = statusOf(c);
      if (!s || s.state !== HostState.UNREACHABLE) out.push(c);
    }
  }
  return out;
}

/**
 * The first cycle in a graph given as node -> nodes it points to, as a path that starts
 * and ends with the same node (a -> b -> a), or null. Used for parents and dependencies.
 */
export function findCycle(edges: ReadonlyMap<string, readonly string[]>): string[] | null {
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const color = new Map<string, number>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    color.set(n, GREY);
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      const c = color.get(m) ?? WHITE;
      if (c === GREY) return [...stack.slice(stack.indexOf(m)), m];
      if (c === WHITE) {
        const found = visit(m);
        if (found) return found;
      }
    }
    stack.pop();
    color.set(n, BLACK);
    return null;
  };
  for (const n of [...edges.keys()].sort()) {
    if ((color.get(n) ?? WHITE) === WHITE) {
      const found = visit(n);
      if (found) return found;
    }
  }
  return null;
}
