/**
 * Time periods and escalations in the Nagios and Icinga 2 exports.
 *
 * Nagios: `define timeperiod` with the directive lines as written (one line per date part,
 * ranges of repeated parts joined), `exclude`; notification_period / check_period on hosts,
 * services and contacts; `hostescalation` / `serviceescalation`. An escalation by elapsed
 * time (`after`) has no Nagios directive: it becomes first_notification = the notification
 * that falls at that time with the object's notification_interval, or is left out when the
 * interval is 0 (Nagios would never reach it). `channels` has no Nagios equivalent either:
 * the escalation's contacts are notified by their own commands.
 *
 * Icinga 2: TimePeriod objects (legacy-timeperiod ranges, excludes), `period` on Users and
 * Notifications, `check_period`, and one Notification per escalation with `times.begin`
 * (after, or first_notification - 1 intervals) and `times.end` for last_notification.
 */
import type { NagiosObject } from '../../nagios/config.ts';
import type { EscalationConfig } from '../notify/escalations.ts';
import { TWENTY_FOUR_SEVEN, type TimePeriod, type TimeRange } from '../notify/timeperiods.ts';
import type { Inventory } from '../inventory/types.ts';

/** The name a period gets in the export: the built-in 24x7 is the export's own hawatch-24x7. */
export function exportedPeriod(inv: Inventory, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  return inv.timeperiods?.get(name) === TWENTY_FOUR_SEVEN || (name === '24x7' && !inv.timeperiods?.has(name)) ? 'hawatch-24x7' : name;
}

const hhmm = (s: number): string => `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}`;
const rangesText = (r: readonly TimeRange[]): string => (r.length ? r.map((x) => `${hhmm(x.start)}-${hhmm(x.end)}`).join(',') : '00:00-00:00');

/** The date part and ranges of each line, lines with the same date part joined (Nagios keeps one per directive). */
export function periodEntries(p: TimePeriod): [string, string][] {
  const by = new Map<string, TimeRange[]>();
  for (const l of p.lines) by.set(l.date, [...(by.get(l.date) ?? []), ...l.ranges]);
  return [...by].map(([date, r]) => [date, rangesText(r)]);
}

/** The user's periods (not the built-in 24x7) as Nagios timeperiod definitions. */
export function nagiosTimeperiods(inv: Inventory): string {
  const out: string[] = [];
  for (const p of inv.timeperiods?.values() ?? []) {
    if (p === TWENTY_FOUR_SEVEN) continue;
    // Directive names with blanks (december 25) do not fit the generic renderer: written here, after the same checks.
    const clean = (s: string): string => {
      if (/[\r\n\0;]/.test(s)) throw new Error(`time period ${p.name}: ${JSON.stringify(s)} contains a line break or ;`);
      return s;
    };
    const lines = [['timeperiod_name', p.name], ['alias', p.alias], ...periodEntries(p)];
    if (p.excludes.length) lines.push(['exclude', p.excludes.map((x) => exportedPeriod(inv, x.name)).join(',')]);
    const width = Math.max(...lines.map(([k]) => (k as string).length)) + 2;
    out.push(`define timeperiod {\n${lines.map(([k, v]) => `    ${clean(k as string).padEnd(width)}${clean(v as string)}`).join('\n')}\n}\n`);
  }
  return out.join('\n');
}

const minutes = (ms: number): number => Math.round((ms / 60_000) * 100) / 100;

/** first_notification of an escalation in Nagios terms; null when Nagios cannot express it. */
function firstNotification(e: EscalationConfig, intervalMs: number): number | null {
  if (e.afterMs === 0) return e.firstNotification;
  if (intervalMs === 0) return null;
  return Math.max(e.firstNotification, Math.ceil(e.afterMs / intervalMs) + 1);
}

export function nagiosEscalations(inv: Inventory): NagiosObject[] {
  const out: NagiosObject[] = [];
  const add = (type: 'hostescalation' | 'serviceescalation', target: Record<string, string>, list: readonly EscalationConfig[] | undefined, intervalMs: number): void => {
    for (const e of list ?? []) {
      const first = firstNotification(e, intervalMs);
      if (first === null) continue;
      out.push({
        type,
        directives: {
          ...target,
          first_notification: first,
          last_notification: e.lastNotification === 0 ? 0 : Math.max(first, e.lastNotification),
          notification_interval: minutes(e.notificationIntervalMs ?? intervalMs),
          contacts: [...e.contacts],
          escalation_period: exportedPeriod(inv, e.period),
          escalation_options: e.options.join(','),
        },
      });
    }
  };
  for (const h of inv.hosts.values()) add('hostescalation', { host_name: h.name }, h.escalations, h.policy.notificationIntervalMs);
  for (const s of inv.services.values()) add('serviceescalation', { host_name: s.hostName, service_description: s.name }, s.escalations, s.policy.notificationIntervalMs);
  for (const r of inv.clusterRules.values()) add('serviceescalation', { host_name: r.hostName, service_description: r.name }, r.escalations, r.policy.notificationIntervalMs);
  return out;
}

// --- Icinga 2 ---

export function icingaTimeperiods(inv: Inventory, str: (s: string) => string): string[] {
  const out: string[] = [];
  for (const p of inv.timeperiods?.values() ?? []) {
    if (p === TWENTY_FOUR_SEVEN) continue;
    const l = ['import "legacy-timeperiod"', `display_name = ${str(p.alias)}`, 'ranges = {', ...periodEntries(p).map(([d, r]) => `  ${str(d)} = ${str(r)}`), '}'];
    if (p.excludes.length) l.push(`excludes = [ ${p.excludes.map((x) => str(exportedPeriod(inv, x.name) as string)).join(', ')} ]`);
    out.push(`object TimePeriod ${str(p.name)} {\n${l.map((x) => `  ${x}`).join('\n')}\n}\n`);
  }
  // The built-in 24x7 under the export's own name, for references to it.
  out.push(`object TimePeriod "hawatch-24x7" {\n  import "legacy-timeperiod"\n  display_name = "always"\n  ranges = {\n${TWENTY_FOUR_SEVEN.lines.map((x) => `    ${str(x.date)} = "00:00-24:00"`).join('\n')}\n  }\n}\n`);
  return out;
}

const seconds = (ms: number): string => `${Math.max(0, Math.round(ms / 1000))}s`;

/** One Notification object per escalation, on the object it escalates. */
export function icingaEscalations(inv: Inventory, str: (s: string) => string): string[] {
  const out: string[] = [];
  const add = (hostName: string, serviceName: string | null, list: readonly EscalationConfig[] | undefined, intervalMs: number): void => {
    (list ?? []).forEach((e, i) => {
      // Icinga 2 escalates by time only: notification n falls at (n - 1) intervals.
      const begin = Math.max(e.afterMs, intervalMs > 0 ? (e.firstNotification - 1) * intervalMs : 0);
      const l = [`host_name = ${str(hostName)}`];
      if (serviceName !== null) l.push(`service_name = ${str(serviceName)}`);
      l.push('command = "hawatch-mail"', `users = [ ${e.contacts.map(str).join(', ')} ]`, `interval = ${seconds(e.notificationIntervalMs ?? intervalMs)}`);
      const times = [`begin = ${seconds(begin)}`];
      if (e.lastNotification !== 0 && intervalMs > 0) times.push(`end = ${seconds(e.lastNotification * intervalMs)}`);
      l.push(`times = { ${times.join(', ')} }`);
      l.push(`period = ${str(exportedPeriod(inv, e.period) as string)}`);
      out.push(`object Notification ${str(`hawatch-escalation-${i + 1}`)} {\n${l.map((x) => `  ${x}`).join('\n')}\n}\n`);
    });
  };
  for (const h of inv.hosts.values()) add(h.name, null, h.escalations, h.policy.notificationIntervalMs);
  for (const s of inv.services.values()) add(s.hostName, s.name, s.escalations, s.policy.notificationIntervalMs);
  for (const r of inv.clusterRules.values()) add(r.hostName, r.name, r.escalations, r.policy.notificationIntervalMs);
  return out;
}
