/**
 * Cluster rules judge several results together ("exactly one host owns the VIP", "at least
 * 2 of 3 backends OK", "all Galera nodes agree on the state UUID", "quorum"). Pure: member
 * statuses in, a result for the rule's virtual service out. A member whose answer is not
 * known (pending, UNKNOWN, stale, role perfdata missing) is "undetermined": the rule is OK or
 * violated only when it would be so whatever the undetermined members turn out to be,
 * otherwise UNKNOWN; a rule with no member determined is always UNKNOWN (never OK on no data).
 *
 * The status line names every member and what it said, so the notification alone tells who
 * holds the VIP twice; the rule's last check is the newest member result it judged.
 */
import { parsePerfdata } from '../../nagios/perfdata.ts';
import type { ClusterRuleConfig, MemberMatch } from '../inventory/types.ts';
import type { CheckStatus, ResultInput } from './types.ts';
import { plainText } from '../core/text.ts';

type Verdict = 'match' | 'nomatch' | 'undetermined';
const STATE = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const;

function stateName(n: number): string {
  return STATE[n] ?? 'UNKNOWN';
}

/** Why a member's answer is not known, or null when it is. */
function unknownWhy(s: CheckStatus | undefined): string | null {
  if (!s || !s.checked) return 'pending';
  if (s.stale) return 'stale';
  if (s.state === 3) return 'UNKNOWN';
  return null;
}

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

export interface GlobMatcher {
  test(text: string): boolean;
}

/**
 * `*` and `?` as in a shell glob, everything else literal, except that they never match `@`:
 * labels with `@` are a node's view of a peer (r0@nodeb_peer_primary), so `*_primary` counts
 * each node's own roles and not the same primary twice.
 *
 * Matched by the two-pointer wildcard walk (at most pattern x text steps), not a RegExp: a
 * glob of many stars (`**********X`, easy to send as a silence matcher) made the regular
 * expression backtrack for seconds per object, on every status request.
 */
export function globRegExp(glob: string): GlobMatcher {
  return { test: (text: string) => wildcardMatch(glob, text, '@') };
}

export function wildcardMatch(pattern: string, text: string, barrier?: string): boolean {
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < text.length) {
    const p = pattern[i];
    if (i < pattern.length && p !== '*' && (p === '?' ? text[j] !== barrier : p === text[j])) {
      i++;
      j++;
    } else if (p === '*') {
      star = i++;
      mark = j;
    } else if (star !== -1 && text[mark] !== barrier) {
      // The last star takes one more character; no earlier star needs to (it could not
      // cross a barrier either, and anything else the last star can take as well).
      i = star + 1;
      j = ++mark;
    } else return false;
  }
  while (pattern[i] === '*') i++;
  return i === pattern.length;
}

/**
 * The role count a member reports: the sum of its perfdata values whose label matches the
 * glob (0/1 gauges such as vip_owned or r0_primary). null when it is not known.
 */
export function roleValue(glob: string, s: CheckStatus | undefined): { sum: number; shown: string } | null {
  if (unknownWhy(s) !== null) return null;
  const re = globRegExp(glob);
  const items = parsePerfdata(s!.perfdata).items.filter((p) => re.test(p.label) && p.value !== 'U');
  if (items.length === 0) return null;
  const sum = items.reduce((a, p) => a + (p.value as number), 0);
  return { sum, shown: items.length === 1 ? `${items[0]!.label}=${sum}` : `${glob}=${sum}` };
}

function agreeValue(value: { readonly perfdata: string } | { readonly output: string }, s: CheckStatus | undefined): string | null {
  if (unknownWhy(s) !== null) return null;
  if ('perfdata' in value) {
    const re = globRegExp(value.perfdata);
    const items = parsePerfdata(s!.perfdata).items.filter((p) => re.test(p.label) && p.value !== 'U');
    return items.length ? items.map((p) => (items.length > 1 ? `${p.label}=${p.value}` : String(p.value))).join(' ') : null;
  }
  // Multiline: $ ends a line of the plugin output, as an admin reading it expects.
  const m = new RegExp(value.output, 'm').exec(`${s!.output}\n${s!.longOutput}`);
  return m ? (m[1] ?? m[0]) : null;
}

export function expectText(rule: Pick<ClusterRuleConfig, 'min' | 'max' | 'members'>): string {
  const n = rule.members.length;
  if (rule.min === rule.max) return `exactly ${rule.min}`;
  if (rule.max >= n) return `at least ${rule.min}`;
  if (rule.min === 0) return `at most ${rule.max}`;
  return `${rule.min} to ${rule.max}`;
}

interface Judged {
  readonly state: number;
  readonly detail: string;
  readonly perfdata: string;
  readonly holders?: readonly string[];
}

/**
 * The rule's result, or null while some member has never been checked (right after a
 * start): judging then would raise an UNKNOWN alert for nothing.
 */
export function evaluateClusterRule(rule: ClusterRuleConfig, lookup: (key: string) => CheckStatus | undefined, now: number): ResultInput | null {
  if (rule.members.some((m) => !lookup(m.key)?.checked)) return null;
  const sameService = rule.members.every((m) => m.serviceName === rule.members[0]?.serviceName);
  const who = (m: ClusterRuleConfig['members'][number]): string => (sameService ? m.hostName : m.key);
  const n = rule.members.length;
  const bad = rule.violationState;
  let judged: Judged;
  const said: string[] = [];
  let determined = 0;

  switch (rule.judge.kind) {
    case 'role': {
      const glob = rule.judge.role;
      let sum = 0;
      let u = 0;
      const holders: string[] = [];
      for (const m of rule.members) {
        const s = lookup(m.key);
        const v = roleValue(glob, s);
        if (v === null) {
          u++;
          said.push(`${who(m)} ${unknownWhy(s) ?? `no ${glob}`}`);
        } else {
          determined++;
          sum += v.sum;
          if (v.sum > 0) holders.push(who(m));
          said.push(`${who(m)} ${v.shown}`);
        }
      }
      // An undetermined member may hold the role (any number of times): only a sure answer counts.
      const surelyOk = sum >= rule.min && sum <= rule.max && (u === 0 || rule.max === Number.MAX_SAFE_INTEGER);
      const surelyBad = sum > rule.max || (u === 0 && sum < rule.min);
      const expected = rule.kindName === 'at_least' ? `at least ${rule.min}` : rule.kindName === 'at_most' ? `at most ${rule.max}` : `exactly ${rule.min}`;
      judged = {
        state: surelyOk ? 0 : surelyBad ? bad : 3,
        detail: `${glob} held ${sum} times${holders.length ? ` by ${holders.join(', ')}` : ''}, expected ${expected}`,
        perfdata: `role=${sum};;;0 undetermined=${u};;;0;${n}`,
        // Only a complete answer names the holders: a failover is told from two of them.
        ...(u === 0 ? { holders } : {}),
      };
      break;
    }
    case 'all_agree': {
      const values = new Map<string, string[]>();
      let u = 0;
      for (const m of rule.members) {
        const s = lookup(m.key);
        const v = agreeValue(rule.judge.value, s);
        if (v === null) {
          u++;
          said.push(`${who(m)} ${unknownWhy(s) ?? 'no value'}`);
        } else {
          determined++;
          values.set(v, [...(values.get(v) ?? []), who(m)]);
          said.push(`${who(m)} ${v}`);
        }
      }
      judged = {
        state: values.size > 1 ? bad : u === 0 ? 0 : 3,
        detail: values.size > 1 ? `${values.size} different values` : values.size === 1 ? 'all agree' : 'no value known',
        perfdata: `distinct_values=${values.size};;;0;${n} undetermined=${u};;;0;${n}`,
      };
      break;
    }
    case 'quorum':
    case 'count': {
      const match: MemberMatch = rule.judge.kind === 'quorum' ? { kind: 'state', states: [0] } : rule.match;
      let m = 0;
      let u = 0;
      for (const mem of rule.members) {
        const s = lookup(mem.key);
        const v = memberVerdict(match, s);
        if (v === 'undetermined') u++;
        else determined++;
        if (v === 'match') m++;
        const why = unknownWhy(s);
        const text = why ?? (match.kind === 'state' ? stateName(s!.state) : match.kind === 'perfdata' ? (v === 'undetermined' ? `no ${match.label}` : `${match.label} ${v === 'match' ? 'matches' : 'does not match'}`) : v === 'match' ? 'matches' : 'does not match');
        said.push(`${who(mem)} ${text}`);
      }
      const surelyOk = m >= rule.min && m + u <= rule.max;
      const surelyBad = m > rule.max || m + u < rule.min;
      judged = {
        state: surelyOk ? 0 : surelyBad ? bad : 3,
        detail: rule.judge.kind === 'quorum' ? `${m} of ${n} OK, quorum needs ${rule.min}` : `${m} of ${n} match, expected ${expectText(rule)}`,
        perfdata: `matching=${m};;;0;${n} undetermined=${u};;;0;${n}`,
      };
      break;
    }
  }
  // Nothing known about any member: UNKNOWN, whatever the arithmetic says (at_most, at_least 0).
  const state = determined === 0 ? 3 : judged.state;
  const what = rule.description || rule.name;
  // The newest member result judged: the rule is as old as its freshest evidence.
  const lastCheck = Math.max(...rule.members.map((m) => lookup(m.key)?.lastCheck ?? 0));
  return {
    state,
    // Names and member values come from the inventory and plugins: kept free of what Nagios-compatible tools mangle.
    output: plainText(`CLUSTER ${stateName(state)} - ${what}: ${judged.detail} - ${said.join(', ')}`),
    longOutput: rule.members.map((mem) => {
      const s = lookup(mem.key);
      return `${mem.key}: ${s?.checked ? s.output : 'pending'}`;
    }).join('\n'),
    perfdata: judged.perfdata,
    executedAt: lastCheck > 0 ? lastCheck : now,
    durationMs: 0,
    ...(judged.holders ? { holders: judged.holders } : {}),
  };
}

/**
 * A failover, told from two OK judgements of a role rule: the role moved to other members
 * (lb1 to lb2) while the rule held. It is a notice in the history and on the page, never a
 * notification: the cluster did what it is built for. A transient in between (no holder for
 * a second, a not-yet-HARD double holder) does not matter: OK judgements are compared.
 */
export function failoverText(rule: Pick<ClusterRuleConfig, 'name' | 'description' | 'judge'>, before: readonly string[], after: readonly string[]): string | null {
  if (rule.judge.kind !== 'role') return null;
  const a = [...before].sort();
  const b = [...after].sort();
  if (a.length === 0 || b.length === 0 || (a.length === b.length && a.every((x, i) => x === b[i]))) return null;
  return plainText(`FAILOVER - ${rule.description || rule.name}: ${rule.judge.role} moved from ${a.join(', ')} to ${b.join(', ')}`);
}
