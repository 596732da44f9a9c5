/**
 * Reads `timeperiods:`, `server.timezone`, notification_period / check_period on contacts,
 * hosts, services and rules, and `escalations:` (on an object, or top-level with host and
 * service names). The logic lives in server/notify/timeperiods.ts and escalations.ts.
 */
import { CHANNELS, type Channel, type EscalationConfig } from '../notify/escalations.ts';
import { buildPeriods, isTimeZone, processTimeZone, type PeriodDefinition, type TimePeriod } from '../notify/timeperiods.ts';
import type { NotificationOption } from '../state/types.ts';
import { Section, type Checker, type Path } from './load.ts';
import type { ClusterRuleConfig, HostConfig, ObjectTiming, ServiceConfig } from './types.ts';

export const TIMING_KEYS = ['notification_period', 'check_period', 'escalations'] as const;
export const CONTACT_PERIOD_KEYS = ['notification_period', 'host_notification_period', 'service_notification_period'] as const;

export interface Timing {
  readonly periods: ReadonlyMap<string, TimePeriod>;
  readonly timezone: string;
}

const label = (path: Path): string => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

export function readTimePeriods(c: Checker, top: Section, srv: Section): Timing {
  const timezone = srv.str('timezone') ?? processTimeZone();
  if (!isTimeZone(timezone)) c.fail(['server', 'timezone'], `unknown time zone ${timezone}: use an IANA name such as Europe/Berlin or UTC`);
  const defs = new Map<string, PeriodDefinition>();
  const sec = top.sub('timeperiods');
  for (const [name, v] of Object.entries(sec?.value ?? {})) {
    const path: Path = ['timeperiods', name];
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) c.fail(path, 'time period names are letters, digits, _ . -', true);
    // A bare list is the ranges alone.
    const s = Array.isArray(v) ? new Section(c, path, { ranges: v }) : Section.of(c, path, v, true);
    if (!s) continue;
    s.keys(['alias', 'ranges', 'exclude']);
    const lines: { text: string; where: string }[] = [];
    const raw = s.raw('ranges');
    const at = (p: Path): string => `${c.where(p)}: ${label(p)}`;
    if (Array.isArray(raw)) {
      raw.forEach((l, i) => {
        if (typeof l === 'string') lines.push({ text: l, where: at([...path, 'ranges', i]) });
        else c.fail([...path, 'ranges', i], 'must be a Nagios time period line such as monday 09:00-17:00');
      });
    } else if (raw !== null && typeof raw === 'object') {
      for (const [day, ranges] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof ranges === 'string') lines.push({ text: `${day} ${ranges}`, where: at([...path, 'ranges', day]) });
        else c.fail([...path, 'ranges', day], 'must be time ranges such as 09:00-17:00,18:00-20:00');
      }
    } else if (raw !== undefined && raw !== null) c.fail([...path, 'ranges'], 'must be a list of Nagios lines (monday 09:00-17:00) or a mapping of day to ranges');
    const exclude = s.strList('exclude').map((x, i) => ({ name: x, where: at([...path, 'exclude', i]) }));
    defs.set(name, { alias: s.str('alias') ?? undefined, lines, exclude });
  }
  const built = buildPeriods(defs);
  for (const p of built.problems) if (!c.problems.includes(p)) c.problems.push(p);
  return { periods: built.periods, timezone };
}

function periodRef(s: Section, key: string, t: Timing): string | undefined {
  const name = s.str(key);
  if (name === null) return undefined;
  if (!t.periods.has(name)) s.c.fail([...s.path, key], `unknown time period ${name}; define it under timeperiods (known: ${[...t.periods.keys()].join(', ')})`);
  return name;
}

/** Nagios host_notification_period / service_notification_period; notification_period sets both. */
export function readContactPeriods(s: Section, t: Timing): { hostNotificationPeriod?: string; serviceNotificationPeriod?: string } {
  const both = periodRef(s, 'notification_period', t);
  const host = periodRef(s, 'host_notification_period', t) ?? both;
  const service = periodRef(s, 'service_notification_period', t) ?? both;
  return { ...(host !== undefined ? { hostNotificationPeriod: host } : {}), ...(service !== undefined ? { serviceNotificationPeriod: service } : {}) };
}

const HOST_ESC: readonly NotificationOption[] = ['d', 'u', 'r'];
const SERVICE_ESC: readonly NotificationOption[] = ['w', 'u', 'c', 'r'];

function readEscalation(s: Section, kind: 'host' | 'service', t: Timing, resolveContacts: (s: Section) => string[], extraKeys: readonly string[] = []): EscalationConfig {
  s.keys(['first_notification', 'last_notification', 'notification_interval', 'contacts', 'contact_groups', 'channels', 'escalation_period', 'escalation_options', 'after', ...extraKeys]);
  const first = s.int('first_notification', 1, 1, 1_000_000);
  const last = s.int('last_notification', 0, 0, 1_000_000);
  if (last !== 0 && last < first) s.c.fail([...s.path, 'last_notification'], `is below first_notification (${first}); 0 means no end`);
  const contacts = resolveContacts(s);
  if (contacts.length === 0) s.c.fail(s.path, 'an escalation needs contacts or contact_groups (they replace the normal contacts while it applies)');
  let channels: Channel[] | null = null;
  if (s.has('channels')) {
    channels = [];
    for (const [i, ch] of s.strList('channels').entries()) {
      if ((CHANNELS as readonly string[]).includes(ch)) channels.push(ch as Channel);
      else s.c.fail([...s.path, 'channels', i], `unknown channel ${ch}; use ${CHANNELS.join(' or ')}`);
    }
  }
  const allowed = kind === 'host' ? HOST_ESC : SERVICE_ESC;
  let options = [...allowed];
  if (s.has('escalation_options')) {
    const raw = s.raw('escalation_options');
    const list = typeof raw === 'string' ? raw.split(/[\s,]+/).filter(Boolean) : s.strList('escalation_options');
    options = [];
    for (const o of list) {
      if ((allowed as readonly string[]).includes(o)) options.push(o as NotificationOption);
      else s.c.fail([...s.path, 'escalation_options'], `unknown option ${o}; use ${allowed.join(', ')}`);
    }
  }
  return {
    firstNotification: first,
    lastNotification: last,
    afterMs: s.duration('after', 0),
    notificationIntervalMs: s.has('notification_interval') ? s.duration('notification_interval', 0) : null,
    contacts,
    channels,
    period: periodRef(s, 'escalation_period', t) ?? '24x7',
    options,
  };
}

function readEscalations(s: Section, kind: 'host' | 'service', t: Timing, resolveContacts: (s: Section) => string[]): EscalationConfig[] {
  const raw = s.raw('escalations');
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    s.c.fail([...s.path, 'escalations'], 'must be a list of escalations (- first_notification: 3 ...)');
    return [];
  }
  const out: EscalationConfig[] = [];
  raw.forEach((v, i) => {
    const e = Section.of(s.c, [...s.path, 'escalations', i], v, true);
    if (e) out.push(readEscalation(e, kind, t, resolveContacts));
  });
  return out;
}

/** notification_period, check_period (not on rules: they run no check) and escalations of one object. */
export function readObjectTiming(s: Section, kind: 'host' | 'service', t: Timing, resolveContacts: (s: Section) => string[], withCheckPeriod = true): ObjectTiming {
  const notificationPeriod = periodRef(s, 'notification_period', t);
  const checkPeriod = withCheckPeriod ? periodRef(s, 'check_period', t) : undefined;
  if (!withCheckPeriod && s.has('check_period')) s.c.fail([...s.path, 'check_period'], 'a cluster rule runs no check of its own: give check_period to its member services');
  const escalations = readEscalations(s, kind, t, resolveContacts);
  return {
    ...(notificationPeriod !== undefined ? { notificationPeriod } : {}),
    ...(checkPeriod !== undefined ? { checkPeriod } : {}),
    ...(escalations.length ? { escalations } : {}),
  };
}

/**
 * Top-level `escalations:` (Nagios hostescalation / serviceescalation): each names hosts and,
 * for a service escalation, service names (or cluster rule names on their virtual host).
 */
export function readTopLevelEscalations(c: Checker, top: Section, t: Timing, resolveContacts: (s: Section) => string[], objs: { hosts: Map<string, HostConfig>; services: Map<string, ServiceConfig>; clusterRules: Map<string, ClusterRuleConfig> }): void {
  const raw = top.raw('escalations');
  if (raw === undefined || raw === null) return;
  if (!Array.isArray(raw)) {
    c.fail(['escalations'], 'must be a list of escalations (- hosts: [...], services: [...], first_notification: 3 ...)');
    return;
  }
  raw.forEach((v, i) => {
    const s = Section.of(c, ['escalations', i], v, true);
    if (!s) return;
    const hostNames = [...s.strList('host'), ...s.strList('hosts')];
    const serviceNames = [...s.strList('service'), ...s.strList('services')];
    if (hostNames.length === 0) c.fail(s.path, 'names no host: give host or hosts (and service or services for a service escalation)');
    const e = readEscalation(s, serviceNames.length ? 'service' : 'host', t, resolveContacts, ['host', 'hosts', 'service', 'services']);
    for (const h of hostNames) {
      const host = objs.hosts.get(h);
      if (!host) {
        c.fail([...s.path, s.has('hosts') ? 'hosts' : 'host'], `unknown host ${h}`);
        continue;
      }
      if (serviceNames.length === 0) {
        objs.hosts.set(h, { ...host, escalations: [...(host.escalations ?? []), e] });
        continue;
      }
      for (const name of serviceNames) {
        const key = `${h}/${name}`;
        const svc = objs.services.get(key);
        const rule = objs.clusterRules.get(key);
        if (svc) objs.services.set(key, { ...svc, escalations: [...(svc.escalations ?? []), e] });
        else if (rule) objs.clusterRules.set(key, { ...rule, escalations: [...(rule.escalations ?? []), e] });
        else c.fail([...s.path, s.has('services') ? 'services' : 'service'], `no service ${name} on host ${h}`);
      }
    }
  });
}
