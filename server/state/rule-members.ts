/**
 * A cluster rule judges from its members' last results. When the admin node cannot reach a
 * member's host (UNREACHABLE: a router or switch between them is down), that member's result
 * says nothing about the cluster (a timeout, no role), and the rule's verdict is the network
 * problem again, already told by the parent's DOWN. So the rule's problem notification is
 * held, as Nagios holds the services of an unreachable host:
 *
 * - while a member host is UNREACHABLE (soft or hard; DOWN is not held: a dead node is a real
 *   member state the rule must judge, e.g. nobody left holding the VIP);
 * - after it came back, until the member's service has a result newer than the host's return
 *   (its last result was taken through the cut). The lab found this one: healed, the parent
 *   and hosts recovered first, and the rule notified from the stale members in between.
 */
import type { ClusterRuleConfig } from '../inventory/types.ts';
import type { CheckStatus } from './types.ts';

export function ruleMemberBlocker(rule: ClusterRuleConfig, lookup: (key: string) => CheckStatus | undefined): string | null {
  for (const m of rule.members) {
    const h = lookup(m.hostName);
    if (!h || !h.checked) continue;
    if (h.state === 2) return `member host ${m.hostName} is unreachable`;
    const s = lookup(m.key);
    // A host that was down or unreachable and came back: its member's problem result must be
    // from after the return to count.
    if (h.state === 0 && s && s.checked && s.state !== 0 && s.lastCheck !== null && s.lastCheck < h.lastStateChange) {
      return `member ${m.key} not checked since ${m.hostName} became reachable again`;
    }
  }
  return null;
}

