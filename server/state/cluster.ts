/**
 * Cluster rules judge several results together ("exactly one host owns the VIP", "at least
 * 2 of 3 backends OK", "exactly one primary database"). Pure: member statuses in, a result
 * for the rule's virtual service out. A member whose answer is not known (pending, UNKNOWN,
 * stale, perfdata missing) is "undetermined": the rule is OK or violated only when it would
 * be so whatever the undetermined members turn out to be, otherwise UNKNOWN.
 */
import { parsePerfdata } from '../../nagios/perfdata.ts';
import type { ClusterRuleConfig, MemberMatch } from '../inventory/types.ts';
import type { CheckStatus, ResultInput } from './types.ts';
import { plainText } from '../core/text.ts';

type Verdict = 'match' | 'nomatch' | 'undetermined';

export function memberVerdict(match: MemberMatch, s: CheckStatus | undefined): Verdict {
  if (!s || !s.checked || s.stale) return 'undetermined';
  switch (match.kind) {
    case 'state':
      if (match.states.includes(s.state as 0 | 1 | 2 | 3)) return 'match';
      return s.state === 3 ? 'undetermined' : 'nomatch';
    case 'perfdata': {
      const item = parsePerfdata(s.perfdata).items.find((p) => p.label === match.label);
      if (!item || item.value === 'U') return 'undetermined';
      const v = item.value;
      if (match.equals !== undefined && v !== match.equals) return 'nomatch';
      if (match.min !== undefined && v < match.min) return 'nomatch';
      if (match.max !== undefined && v > match.max) return 'nomatch';
      return 'match';
    }
    case 'output':
      if (s.state === 3) return 'undetermined';
      return new RegExp(match.pattern).test(`${s.output}\n${s.longOutput}`) ? 'match' : 'nomatch';
  }
}

export function expectText(rule: Pick<ClusterRuleConfig, 'min' | 'max' | 'members'>): string {
  const n = rule.members.length;
  if (rule.min === rule.max) return `exactly ${rule.min}`;
  if (rule.max >= n) return `at least ${rule.min}`;
  if (rule.min === 0) return `at most ${rule.max}`;
  return `${rule.min} to ${rule.max}`;
}

/**
 * The rule's result, or null while some member has never been checked (right after a
 * start): judging then would raise an UNKNOWN alert for nothing.
 */
export function evaluateClusterRule(rule: ClusterRuleConfig, lookup: (key: string) => CheckStatus | undefined, now: number): ResultInput | null {
  if (rule.members.some((m) => !lookup(m.key)?.checked)) return null;
  const matching: string[] = [];
  const undetermined: string[] = [];
  for (const m of rule.members) {
    const v = memberVerdict(rule.match, lookup(m.key));
    if (v === 'match') matching.push(m.key);
    else if (v === 'undetermined') undetermined.push(m.key);
  }
  const n = rule.members.length;
  const m = matching.length;
  const u = undetermined.length;
  const surelyOk = m >= rule.min && m + u <= rule.max;
  const surelyBad = m > rule.max || m + u < rule.min;
  const state = surelyOk ? 0 : surelyBad ? rule.violationState : 3;
  const label = state === 0 ? 'OK' : state === 3 ? 'UNKNOWN' : ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'][state];
  const what = rule.description || rule.name;
  const detail = `${m} of ${n} match, expected ${expectText(rule)}${m ? ` (${matching.join(', ')})` : ''}${u ? `, undetermined: ${undetermined.join(', ')}` : ''}`;
  return {
    state,
    // Names come from the inventory: kept free of what Nagios-compatible tools mangle.
    output: plainText(`CLUSTER ${label} - ${what}: ${detail}`),
    longOutput: rule.members.map((mem) => {
      const s = lookup(mem.key);
      return `${mem.key}: ${s?.checked ? s.output : 'pending'}`;
    }).join('\n'),
    perfdata: `matching=${m};;;0;${n} undetermined=${u};;;0;${n}`,
    executedAt: now,
    durationMs: 0,
  };
}
