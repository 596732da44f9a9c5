/**
 * Inhibition (Alertmanager's inhibit rules, on cluster rules): while a rule that declares
 * `inhibits:` is in a non-OK HARD state, problem notifications of the objects it inhibits
 * are held back and counted into the rule's own notification; when the rule recovers, those
 * still in a problem state notify then. One page for "quorum lost" instead of one per
 * member resource. Pure: the monitor asks and keeps what is held.
 */
import { globRegExp } from './cluster.ts';
import type { CheckStatus } from './types.ts';

/** One `inhibits:` entry: the rule's own members, or objects by host (and service) glob. */
export type InhibitTarget =
  | { readonly kind: 'members' }
  | { readonly kind: 'glob'; readonly host: string; readonly service: string | null };

export interface InhibitingRule {
  readonly key: string;
  readonly members: readonly { readonly hostName: string; readonly key: string }[];
  readonly inhibits?: readonly InhibitTarget[] | undefined;
}

export interface InhibitObject {
  readonly key: string;
  readonly hostName: string;
  /** null for a host. */
  readonly serviceName: string | null;
}

/**
 * Which objects each rule inhibits. `members` is the member services and their hosts (a
 * dead node is part of a lost quorum); a glob without a service covers the host and its
 * services. A rule never inhibits itself.
 */
export function resolveInhibitions(rules: Iterable<InhibitingRule>, objects: readonly InhibitObject[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const r of rules) {
    if (!r.inhibits?.length) continue;
    const keys = new Set<string>();
    for (const t of r.inhibits) {
      if (t.kind === 'members') {
        for (const m of r.members) {
          keys.add(m.key);
          keys.add(m.hostName);
        }
        continue;
      }
      const h = globRegExp(t.host);
      const s = t.service === null ? null : globRegExp(t.service);
      for (const o of objects) {
        if (!h.test(o.hostName)) continue;
        if (s !== null && (o.serviceName === null || !s.test(o.serviceName))) continue;
        keys.add(o.key);
      }
    }
    keys.delete(r.key);
    out.set(r.key, keys);
  }
  return out;
}

/** Per object, the rules that inhibit it. */
export function inhibitorsByObject(resolved: ReadonlyMap<string, ReadonlySet<string>>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [rule, keys] of resolved) for (const k of keys) out.set(k, [...(out.get(k) ?? []), rule]);
  return out;
}

/** A rule inhibits while it is a HARD problem (a SOFT one may still be a transient). */
export function inhibiting(s: CheckStatus | undefined): boolean {
  return !!s && s.checked && s.state !== 0 && s.stateType === 'HARD';
}

/** The first rule that inhibits this object now, or null. */
export function activeInhibitor(key: string, byObject: ReadonlyMap<string, readonly string[]>, statusOf: (k: string) => CheckStatus | undefined): string | null {
  for (const r of byObject.get(key) ?? []) if (inhibiting(statusOf(r))) return r;
  return null;
}

/**
 * A cycle of rules inhibiting each other (A holds B's alerts while B holds A's) would let
 * both stay silent: the loader refuses it. Returns one cycle as rule keys, or null.
 */
export function inhibitionCycle(resolved: ReadonlyMap<string, ReadonlySet<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (r: string): string[] | null => {
    state.set(r, 'open');
    stack.push(r);
    for (const k of resolved.get(r) ?? []) {
      if (!resolved.has(k)) continue; // not an inhibiting rule: no edge further
      if (state.get(k) === 'open') return [...stack.slice(stack.indexOf(k)), k];
      if (state.get(k) === undefined) {
        const c = visit(k);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(r, 'done');
    return null;
  };
  for (const r of resolved.keys()) {
    if (state.get(r) !== undefined) continue;
    const c = visit(r);
    if (c) return c;
  }
  return null;
}

/** What the rule's notification adds about the alerts it holds. */
export function foldNote(held: number): string {
  return held === 1 ? 'plus 1 member alert held' : `plus ${held} member alerts held`;
}
