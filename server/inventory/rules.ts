/**
 * Reads the `cluster_rules` section, and warns about objects nobody would be told about.
 *
 * A rule is written as intent (`kind: exactly_one`, `role: vip_owned`) or in the original
 * form (`match` + `expect`). Its contacts are its own when it names some, otherwise the
 * union of its member hosts' contacts: a rule lives on a virtual host without contacts, and
 * a CRITICAL nobody hears about is worse than none.
 */
import { parseStateName } from '../../nagios/states.ts';
import { noCheckText } from './hostcheck.ts';
import { inhibitionCycle, resolveInhibitions, type InhibitTarget } from '../state/inhibition.ts';
import { POLICY_KEYS, readPolicy, Section, type Checker, type Path, type PolicyDefaults } from './load.ts';
import { serviceKey, type ClusterRuleConfig, type ContactConfig, type ObjectTiming, type HoldDown, type HostConfig, type MemberMatch, type RuleJudge, type ServiceConfig } from './types.ts';

/** Default hold-down: a bad judgement must repeat 3 times over at least 30 s before it is HARD. */
export const DEFAULT_HOLD_DOWN: HoldDown = { results: 3, timeMs: 30_000 };
/** While a rule is bad but held down, its members are re-checked this often (retry_interval). */
export const RULE_RETRY_MS = 15_000;

const KINDS = ['exactly_one', 'at_least', 'at_most', 'all_agree', 'quorum'] as const;

export interface RuleContext {
  readonly hosts: Map<string, HostConfig>;
  readonly services: ReadonlyMap<string, ServiceConfig>;
  readonly baseHost: PolicyDefaults;
  readonly baseService: PolicyDefaults;
  readonly resolveContacts: (s: Section) => string[];
  /** notification_period and escalations of a rule (server/inventory/timing.ts). */
  readonly timing?: ((r: Section) => ObjectTiming) | undefined;
}

export function readClusterRules(c: Checker, top: Section, ctx: RuleContext): Map<string, ClusterRuleConfig> {
  const { hosts, services } = ctx;
  const clusterRules = new Map<string, ClusterRuleConfig>();
  const rulesRaw = top.raw('cluster_rules');
  if (rulesRaw !== undefined && rulesRaw !== null && !Array.isArray(rulesRaw)) c.fail(['cluster_rules'], 'must be a list of rules (- name: ...)');
  (Array.isArray(rulesRaw) ? rulesRaw : []).forEach((v, i) => {
    const path = ['cluster_rules', i];
    const r = Section.of(c, path, v, true);
    if (!r) return;
    r.keys(['name', 'host', 'description', 'kind', 'role', 'count', 'value', 'hold_down', 'service', 'hosts', 'members', 'match', 'expect', 'state', 'contacts', 'contact_groups', 'notification_options', 'notification_period', 'check_period', 'escalations', 'inhibits', ...POLICY_KEYS]);
    const name = r.str('name', true);
    // Same names as services and hosts: they end up in mail subjects and SMS (no ' " < > & ...).
    if (name && !/^[A-Za-z0-9][A-Za-z0-9 _.:()-]*$/.test(name)) c.fail([...path, 'name'], 'rule names are letters, digits, space and _ . : ( ) - (they appear in mail subjects and SMS)');
    const hostName = r.str('host') ?? 'cluster';
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(hostName)) c.fail([...path, 'host'], 'the virtual host name is letters, digits, _ . - (it appears in URLs and mail subjects)');
    const members = readMembers(c, r, services);
    const kindName = r.str('kind') ?? 'count';
    if (r.has('kind') && !(KINDS as readonly string[]).includes(kindName)) c.fail([...path, 'kind'], `must be one of ${KINDS.join(', ')} (or leave it out and write match and expect)`);
    const { judge, match, min, max } = readJudge(c, r, kindName, members.length);
    if (hosts.has(hostName) && !hosts.get(hostName)?.virtual) c.fail([...path, 'host'], `'${hostName}' is a real host; cluster rules live on a virtual host of their own (default: cluster)`);
    if (!hosts.has(hostName)) {
      hosts.set(hostName, { name: hostName, address: hostName, transport: { kind: 'local' }, check: null, checkSource: 'none', noCheckNote: noCheckText('virtual'), policy: ctx.baseHost.policy, timeoutMs: ctx.baseHost.timeoutMs, contacts: [], virtual: true });
    }
    const key = serviceKey(hostName, name);
    if (clusterRules.has(key) || services.has(key)) c.fail([...path, 'name'], `'${key}' is defined twice`);
    const holdDown = readHoldDown(r);
    // The hold-down's count is the rule's max_check_attempts: SOFT until that many bad judgements.
    const base = { ...ctx.baseService, policy: { ...ctx.baseService.policy, maxCheckAttempts: holdDown.results, retryIntervalMs: RULE_RETRY_MS } };
    const pol = readPolicy(r, base, 'service');
    const own = ctx.resolveContacts(r);
    const inherited = [...new Set(members.flatMap((m) => hosts.get(m.hostName)?.contacts ?? []))];
    clusterRules.set(key, {
      ...ctx.timing?.(r),
      key,
      name,
      hostName,
      description: r.str('description') ?? '',
      kindName,
      judge,
      holdDown: { ...holdDown, results: pol.policy.maxCheckAttempts },
      inheritedContacts: own.length === 0,
      members,
      match,
      min,
      max,
      violationState: r.state('state', 2),
      policy: pol.policy,
      contacts: own.length ? own : inherited,
      ...(r.has('inhibits') ? { inhibits: readInhibits(c, r) } : {}),
    });
  });
  checkInhibitionCycles(c, clusterRules, hosts, services);
  return clusterRules;
}

/**
 * `inhibits: [members, HOSTGLOB, HOSTGLOB/SERVICEGLOB]`: what the rule holds back while it
 * is a HARD problem. Globs use * and ? on the names.
 */
function readInhibits(c: Checker, r: Section): InhibitTarget[] {
  return r.strList('inhibits').flatMap((x, j): InhibitTarget[] => {
    if (x === 'members') return [{ kind: 'members' }];
    const slash = x.indexOf('/');
    const host = slash < 0 ? x : x.slice(0, slash);
    const service = slash < 0 ? null : x.slice(slash + 1);
    const glob = /^[A-Za-z0-9_.:()* ?-]+$/;
    if (!glob.test(host) || (service !== null && !glob.test(service))) {
      c.fail([...r.path, 'inhibits', j], `'${x}' is not members, HOSTGLOB or HOSTGLOB/SERVICEGLOB (names with * and ?)`);
      return [];
    }
    return [{ kind: 'glob', host, service }];
  });
}

function checkInhibitionCycles(c: Checker, rules: ReadonlyMap<string, ClusterRuleConfig>, hosts: ReadonlyMap<string, HostConfig>, services: ReadonlyMap<string, ServiceConfig>): void {
  const objects = [
    ...[...hosts.keys()].map((h) => ({ key: h, hostName: h, serviceName: null })),
    ...[...services.values()].map((s) => ({ key: s.key, hostName: s.hostName, serviceName: s.name })),
    ...[...rules.values()].map((r) => ({ key: r.key, hostName: r.hostName, serviceName: r.name })),
  ];
  const resolved = resolveInhibitions(rules.values(), objects);
  [...rules.values()].forEach((r, i) => {
    if (r.inhibits?.length && resolved.get(r.key)?.size === 0) c.warn(['cluster_rules', i, 'inhibits'], `rule ${r.key} inhibits nothing: no host or service matches its inhibits globs`);
  });
  const cycle = inhibitionCycle(resolved);
  if (cycle) {
    const i = [...rules.keys()].indexOf(cycle[0] ?? '');
    c.fail(['cluster_rules', Math.max(0, i), 'inhibits'], `rules inhibit each other in a cycle (${cycle.join(' inhibits ')}): each would hold the other back while both fail, remove one of the inhibits`);
  }
}

function readMembers(c: Checker, r: Section, services: ReadonlyMap<string, ServiceConfig>): { hostName: string; serviceName: string; key: string }[] {
  const members: { hostName: string; serviceName: string; key: string }[] = [];
  if (r.has('members')) {
    r.strList('members').forEach((m, j) => {
      const slash = m.indexOf('/');
      if (slash < 1 || !services.has(m)) c.fail([...r.path, 'members', j], `'${m}' is not a known service; write host/service, e.g. db1/pgsql-role`);
      else members.push({ hostName: m.slice(0, slash), serviceName: m.slice(slash + 1), key: m });
    });
  } else {
    const svc = r.str('service', true);
    const hs = r.strList('hosts');
    if (hs.length === 0) c.fail(r.path, 'needs members: [host/service, ...] or service: NAME with hosts: [NAMES]');
    hs.forEach((h, j) => {
      const key = serviceKey(h, svc);
      if (!services.has(key)) c.fail([...r.path, 'hosts', j], `host ${h} has no service '${svc}'`);
      else members.push({ hostName: h, serviceName: svc, key });
    });
  }
  return members;
}

function readJudge(c: Checker, r: Section, kind: string, n: number): { judge: RuleJudge; match: MemberMatch; min: number; max: number } {
  const stateOk: MemberMatch = { kind: 'state', states: [0] };
  const only = (allowed: readonly string[]): void => {
    for (const k of ['role', 'count', 'value', 'match', 'expect']) {
      if (r.has(k) && !allowed.includes(k)) c.fail([...r.path, k], kind === 'count' ? `needs a kind (role and count go with exactly_one, at_least or at_most, value with all_agree)` : `does not apply to kind ${kind}`, true);
    }
  };
  switch (kind) {
    case 'exactly_one':
    case 'at_least':
    case 'at_most': {
      only(kind === 'exactly_one' ? ['role'] : ['role', 'count']);
      const role = r.str('role', true);
      if (role && !/^[^\s=']+$/.test(role)) c.fail([...r.path, 'role'], 'must be a perfdata label or a glob of labels (* and ?), e.g. vip_owned or r0_primary');
      const count = kind === 'exactly_one' ? 1 : r.int('count', 1, 0, 10_000);
      if (kind !== 'exactly_one' && !r.has('count')) c.fail(r.path, `kind ${kind} needs count: N`);
      // A role is a sum, not a member count: there is no upper bound from the number of members.
      const min = kind === 'at_most' ? 0 : count;
      const max = kind === 'at_least' ? Number.MAX_SAFE_INTEGER : count;
      return { judge: { kind: 'role', role }, match: stateOk, min, max };
    }
    case 'all_agree': {
      only(['value']);
      const v = r.sub('value', true);
      if (!v) return { judge: { kind: 'all_agree', value: { output: '(.*)' } }, match: stateOk, min: 0, max: n };
      v.keys(['perfdata', 'output']);
      if (v.has('perfdata') === v.has('output')) c.fail(v.path, 'needs perfdata: LABEL or output: REGEX (with one group), one of them');
      if (v.has('perfdata')) return { judge: { kind: 'all_agree', value: { perfdata: v.str('perfdata', true) } }, match: stateOk, min: 0, max: n };
      const pattern = v.str('output', true);
      try {
        if (new RegExp(`${pattern}|`).exec('')!.length < 2) c.fail([...v.path, 'output'], 'needs a group ( ... ) around the part that must agree');
      } catch (e) {
        c.fail([...v.path, 'output'], `is not a regular expression: ${(e as Error).message}`);
      }
      return { judge: { kind: 'all_agree', value: { output: pattern } }, match: stateOk, min: 0, max: n };
    }
    case 'quorum':
      only([]);
      return { judge: { kind: 'quorum' }, match: stateOk, min: Math.floor(n / 2) + 1, max: n };
    default: {
      only(['match', 'expect']);
      const { min, max } = readExpect(c, r, n);
      return { judge: { kind: 'count' }, match: readMatch(c, r), min, max };
    }
  }
}

function readHoldDown(r: Section): HoldDown {
  if (r.has('max_check_attempts') && r.has('hold_down')) r.c.fail([...r.path, 'hold_down'], 'give hold_down.results or max_check_attempts, not both');
  if (r.raw('hold_down') === false) return { results: 1, timeMs: 0 };
  const h = r.sub('hold_down');
  const results = r.int('max_check_attempts', DEFAULT_HOLD_DOWN.results, 1, 100);
  if (!h) return { results, timeMs: DEFAULT_HOLD_DOWN.timeMs };
  h.keys(['results', 'time']);
  return { results: h.int('results', results, 1, 100), timeMs: h.duration('time', DEFAULT_HOLD_DOWN.timeMs) };
}

function readMatch(c: Checker, rule: Section): MemberMatch {
  const m = rule.sub('match');
  if (!m) return { kind: 'state', states: [0] };
  m.keys(['state', 'perfdata', 'equals', 'min', 'max', 'output']);
  if (m.has('perfdata')) {
    const label = m.str('perfdata', true);
    const equals = m.has('equals') ? m.num('equals', 0, -Infinity, Infinity) : undefined;
    const min = m.has('min') ? m.num('min', 0, -Infinity, Infinity) : undefined;
    const max = m.has('max') ? m.num('max', 0, -Infinity, Infinity) : undefined;
    if (equals === undefined && min === undefined && max === undefined) c.fail(m.path, 'a perfdata match needs equals, min or max');
    return { kind: 'perfdata', label, equals, min, max };
  }
  if (m.has('output')) {
    const pattern = m.str('output', true);
    try {
      new RegExp(pattern);
    } catch (e) {
      c.fail([...m.path, 'output'], `is not a regular expression: ${(e as Error).message}`);
    }
    return { kind: 'output', pattern };
  }
  const states = m.strList('state').map((x, i) => {
    const st = parseStateName(x);
    if (st === undefined) c.fail([...m.path, 'state', i], `'${x}' is not ok, warning, critical or unknown`);
    return st ?? 0;
  });
  return { kind: 'state', states: states.length ? states : [0] };
}

function readExpect(c: Checker, rule: Section, n: number): { min: number; max: number } {
  const e = rule.sub('expect', true);
  if (!e) return { min: 0, max: n };
  e.keys(['exactly', 'at_least', 'at_most']);
  if (e.has('exactly')) {
    if (e.has('at_least') || e.has('at_most')) c.fail(e.path, 'exactly excludes at_least and at_most');
    const x = e.int('exactly', 1, 0, 10_000);
    if (x > n) c.fail([...e.path, 'exactly'], `expects ${x} but the rule has only ${n} members`);
    return { min: x, max: x };
  }
  if (!e.has('at_least') && !e.has('at_most')) c.fail(e.path, 'needs exactly: N, at_least: N and/or at_most: N');
  const min = e.int('at_least', 0, 0, 10_000);
  const max = e.int('at_most', n, 0, 10_000);
  if (min > n) c.fail([...e.path, 'at_least'], `expects ${min} but the rule has only ${n} members`);
  if (min > max) c.fail(e.path, `at_least ${min} is more than at_most ${max}`);
  return { min, max };
}

export interface NotifyScope {
  readonly hosts: ReadonlyMap<string, HostConfig>;
  readonly services: ReadonlyMap<string, ServiceConfig>;
  readonly clusterRules: ReadonlyMap<string, ClusterRuleConfig>;
  readonly contacts: ReadonlyMap<string, ContactConfig>;
  readonly servicePaths: ReadonlyMap<string, Path>;
}

/**
 * One warning per host (naming it and those of its services nobody hears about) and one per
 * rule, for every object that can go non-OK while no contact would get its problem: no
 * contacts, or contacts whose notification options exclude every problem state. Objects
 * with notifications_enabled: false were silenced on purpose and are not named.
 */
export function warnNobodyNotified(c: Checker, scope: NotifyScope): void {
  const deaf = (names: readonly string[], kind: 'host' | 'service'): boolean =>
    !names.some((n) => {
      const ct = scope.contacts.get(n);
      const opts = kind === 'host' ? ct?.hostOptions : ct?.serviceOptions;
      return !!opts && opts.some((o) => (kind === 'host' ? ['d', 'u'] : ['w', 'c', 'u']).includes(o));
    });
  const hint = 'give it contacts or contact_groups (or notifications_enabled: false)';
  // No contacts at all (the embedded demo, a first try): one warning, not one per object.
  if (scope.contacts.size === 0) {
    const n = [...scope.hosts.values()].filter((h) => !h.virtual && h.check !== null).length + scope.services.size + scope.clusterRules.size;
    if (n > 0) c.warn(['contacts'], `no contacts: none of the ${n} hosts, services and rules that can fail would notify anyone; add contacts and give hosts contacts or contact_groups`);
    return;
  }
  for (const h of scope.hosts.values()) {
    if (h.virtual) continue;
    const hostDeaf = h.check !== null && h.policy.notificationsEnabled && deaf(h.contacts, 'host');
    const svcs = [...scope.services.values()].filter((s) => s.hostName === h.name && s.policy.notificationsEnabled && deaf(s.contacts, 'service'));
    if (!hostDeaf && svcs.length === 0) continue;
    const what = [hostDeaf ? `host ${h.name} can go DOWN` : '', svcs.length ? `${svcs.length === 1 ? 'service' : 'services'} ${svcs.map((s) => s.name).join(', ')} on ${h.name} can go CRITICAL` : ''].filter(Boolean).join(' and ');
    const path = hostDeaf || !svcs[0] ? ['hosts', h.name] : (scope.servicePaths.get(svcs[0].key) ?? ['hosts', h.name]);
    c.warn(path, `${what} with nobody to notify: ${hint}`);
  }
  let i = 0;
  for (const r of scope.clusterRules.values()) {
    if (r.policy.notificationsEnabled && deaf(r.contacts, 'service')) {
      c.warn(['cluster_rules', i], `rule ${r.key} can go ${r.violationState === 1 ? 'WARNING' : 'CRITICAL'} with nobody to notify: its member hosts have no contacts either, ${hint}`);
    }
    i++;
  }
}
