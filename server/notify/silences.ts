/**
 * Silences, as in Alertmanager but on Nagios objects: a silence names which objects it mutes
 * (host glob, service glob, optional states, optional cluster rule), who set it and why, and
 * a window. Pure: the monitor asks which silences apply to an object at a time and keeps the
 * notifications they hold back (server/core/monitor.ts). Nagios has no silences; the nearest
 * thing, a downtime, changes the object's state (depth, DOWNTIMESTART) where a silence only
 * mutes notifications, and covers objects by pattern, also objects added later.
 */
import { plainText } from '../core/text.ts';
import { globRegExp, type GlobMatcher } from '../state/cluster.ts';
import { stateLabel, type ObjectKind } from '../state/types.ts';

export interface SilenceMatchers {
  /** Glob (* and ?) on the host name. */
  readonly host: string;
  /** Glob on the service name; null: the host itself and every service on it. */
  readonly service: string | null;
  /** State names (CRITICAL, DOWN, ...); null: any state. */
  readonly states: readonly string[] | null;
  /** A cluster rule key (cluster/name): only that rule and its member services. */
  readonly rule: string | null;
}

export interface Silence {
  readonly id: string;
  readonly matchers: SilenceMatchers;
  readonly author: string;
  readonly comment: string;
  /** Window, epoch ms: active while start <= now < end. */
  readonly start: number;
  readonly end: number;
  readonly createdAt: number;
}

/** What a silence is matched against: one object, in one state. */
export interface SilenceTarget {
  readonly key: string;
  readonly kind: ObjectKind;
  readonly hostName: string;
  readonly serviceName: string | null;
  readonly state: number;
  /** Keys of the rules this object is, or is a member of. */
  readonly rules: readonly string[];
}

export const STATE_NAMES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN', 'UP', 'DOWN', 'UNREACHABLE'] as const;

/** Same characters as host and service names, plus the glob characters. */
const GLOB = /^[A-Za-z0-9_.:()* ?-]+$/;

/** The status page asks for every object: compile each glob once, not once per object. */
const compiled = new Map<string, GlobMatcher>();
function glob(pattern: string): GlobMatcher {
  let re = compiled.get(pattern);
  if (!re) {
    if (compiled.size > 1000) compiled.clear();
    re = globRegExp(pattern);
    compiled.set(pattern, re);
  }
  return re;
}

export function isActive(s: Silence, now: number): boolean {
  return now >= s.start && now < s.end;
}

export function silenceMatches(s: Silence, t: SilenceTarget, now: number): boolean {
  if (!isActive(s, now)) return false;
  const m = s.matchers;
  if (!glob(m.host).test(t.hostName)) return false;
  if (m.service !== null && (t.serviceName === null || !glob(m.service).test(t.serviceName))) return false;
  if (m.states !== null && !m.states.includes(stateLabel(t.kind, t.state))) return false;
  if (m.rule !== null && !t.rules.includes(m.rule)) return false;
  return true;
}

/** The active silences that cover this object in this state, oldest first. */
export function silencesFor(list: Iterable<Silence>, t: SilenceTarget, now: number): Silence[] {
  return [...list].filter((s) => silenceMatches(s, t, now)).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
}

/** The reason written in history for a notification a silence held back (Nagios-safe text). */
export function silenceReason(s: Silence): string {
  return plainText(`silenced by ${s.id} ${s.author}`);
}

/** Checks matchers from the API; the problem in one line, or null. */
export function matcherProblem(m: SilenceMatchers, ruleKnown: (key: string) => boolean): string | null {
  if (!GLOB.test(m.host)) return `host glob ${m.host === '' ? '(empty)' : m.host} is not a name glob: letters, digits, _ . : ( ) - space, * and ?`;
  if (m.service !== null && !GLOB.test(m.service)) return `service glob ${m.service === '' ? '(empty)' : m.service} is not a name glob: letters, digits, _ . : ( ) - space, * and ?`;
  if (m.states !== null) {
    if (m.states.length === 0) return 'states is empty: leave it out to match any state';
    const bad = m.states.find((x) => !(STATE_NAMES as readonly string[]).includes(x));
    if (bad !== undefined) return `state ${bad} is not one of ${STATE_NAMES.join(', ')}`;
  }
  if (m.rule !== null && !ruleKnown(m.rule)) return `no cluster rule ${m.rule} in the inventory: give its key, e.g. cluster/quorum`;
  return null;
}

/** The matchers in one line, for the page and history (no quotes or shell characters). */
export function describeMatchers(m: SilenceMatchers): string {
  const parts = [`host ${m.host}`];
  if (m.service !== null) parts.push(`service ${m.service}`);
  if (m.states !== null) parts.push(`state ${m.states.join(',')}`);
  if (m.rule !== null) parts.push(`rule ${m.rule}`);
  return parts.join(' ');
}
