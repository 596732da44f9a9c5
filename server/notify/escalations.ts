/**
 * Notification periods and escalations, pure: who gets a notification and when the next one
 * is due, given the object's escalations and the time periods (server/notify/timeperiods.ts).
 *
 * Nagios semantics, with one addition (`after`):
 * - An escalation applies to problem notification number n when first_notification <= n <=
 *   last_notification (0 = no end), the notification time is inside its escalation_period,
 *   its escalation_options include the state, and (hawatch) at least `after` has passed
 *   since the problem became HARD. An acknowledged problem sends no problem notification
 *   at all, so acknowledging stops every escalation.
 * - While one or more escalations apply, their contacts (united) are notified INSTEAD of the
 *   object's own contacts, as in Nagios: list the normal contacts in the escalation to keep
 *   them informed. `channels` narrows how an escalation's contacts are reached (email, sms);
 *   without it every channel the contact has is used.
 * - The interval to the next notification is the smallest notification_interval of the
 *   escalations that applied (0: no more, as Nagios), else the object's. An escalation by
 *   time also brings the next notification forward to the moment it starts, so "SMS after
 *   15 minutes" is sent at 15 minutes, not at the next interval.
 * - A RECOVERY goes to the escalations that applied to the last problem notification and
 *   have `r` in escalation_options (default: all options), else to the normal contacts.
 */
import type { CheckPolicy, CheckStatus, NotificationGate, NotificationIntent, NotificationOption, ObjectKind } from '../state/types.ts';
import { optionForState } from '../state/types.ts';
import { isInPeriod, nextValidTime, TWENTY_FOUR_SEVEN, type TimePeriod } from './timeperiods.ts';

export type Channel = 'email' | 'sms';
export const CHANNELS: readonly Channel[] = ['email', 'sms'];

export interface EscalationConfig {
  /** First problem notification number it applies to (1 = the first). */
  readonly firstNotification: number;
  /** Last notification number it applies to; 0 = every later one. */
  readonly lastNotification: number;
  /** Only once the problem has been HARD this long (0 = at once). */
  readonly afterMs: number;
  /** Interval while it applies; null = the object's notification_interval. */
  readonly notificationIntervalMs: number | null;
  readonly contacts: readonly string[];
  /** null = every channel the contact has. */
  readonly channels: readonly Channel[] | null;
  /** escalation_period; '24x7' by default. */
  readonly period: string;
  /** escalation_options: w u c r (service) or d u r (host); all by default. */
  readonly options: readonly NotificationOption[];
}

export interface TimingContext {
  readonly periods: ReadonlyMap<string, TimePeriod>;
  readonly tz: string;
}

const periodOf = (ctx: TimingContext, name: string | undefined): TimePeriod => (name === undefined ? TWENTY_FOUR_SEVEN : (ctx.periods.get(name) ?? TWENTY_FOUR_SEVEN));

/** Does escalation e apply to problem notification `number` in state `state`, sent at `at`, of a problem HARD since `since`? */
export function escalationApplies(e: EscalationConfig, kind: ObjectKind, number: number, state: number, at: number, since: number, ctx: TimingContext): boolean {
  if (number < e.firstNotification) return false;
  if (e.lastNotification !== 0 && number > e.lastNotification) return false;
  if (at - since < e.afterMs) return false;
  const o = optionForState(kind, state);
  if (o !== null && !e.options.includes(o)) return false;
  return isInPeriod(periodOf(ctx, e.period), at, ctx.tz);
}

export interface Recipient {
  readonly contact: string;
  /** null = every channel the contact has. */
  readonly channels: readonly Channel[] | null;
  /** Set when an escalation chose this recipient (for the log). */
  readonly escalated: boolean;
}

/** Who gets this notification: escalated contacts while escalations apply, else the object's own. */
export function recipientsOf(n: NotificationIntent, normal: readonly string[], escalations: readonly EscalationConfig[], ctx: TimingContext): Recipient[] {
  let applying: EscalationConfig[] = [];
  if (n.type === 'PROBLEM') {
    applying = escalations.filter((e) => escalationApplies(e, n.kind, n.number, n.state, n.at, n.problemSince ?? n.at, ctx));
  } else if (n.type === 'RECOVERY' && n.problemNumber) {
    applying = escalations.filter((e) => e.options.includes('r') && escalationApplies({ ...e, options: [...e.options, 'w', 'c', 'u', 'd'] }, n.kind, n.problemNumber as number, 1, n.at, n.problemSince ?? n.at, ctx));
  }
  if (applying.length === 0) return normal.map((contact) => ({ contact, channels: null, escalated: false }));
  const by = new Map<string, Set<Channel> | null>();
  for (const e of applying) {
    for (const c of e.contacts) {
      const had = by.get(c);
      if (had === null || e.channels === null) by.set(c, null);
      else by.set(c, new Set([...(had ?? []), ...e.channels]));
    }
  }
  return [...by].map(([contact, ch]) => ({ contact, channels: ch === null ? null : [...ch], escalated: true }));
}

/** The gate the state machine asks: held outside notification_period; next time by interval and escalations. */
export function notificationGate(o: { readonly notificationPeriod?: string | undefined; readonly escalations?: readonly EscalationConfig[] | undefined; readonly kind: ObjectKind }, policy: CheckPolicy, now: number, ctx: TimingContext): NotificationGate {
  const period = periodOf(ctx, o.notificationPeriod);
  const escalations = o.escalations ?? [];
  return {
    blocker: isInPeriod(period, now, ctx.tz) ? null : `outside notification_period ${period.name}: held until the period opens`,
    nextAt(sent: number, at: number, status: CheckStatus): number | null {
      const since = status.lastHardStateChange;
      const applied = escalations.filter((e) => escalationApplies(e, o.kind, sent, status.state, at, since, ctx));
      let interval: number | null = applied.length ? Math.min(...applied.map((e) => e.notificationIntervalMs ?? policy.notificationIntervalMs)) : policy.notificationIntervalMs;
      if (interval === 0) interval = null;
      let next = interval === null ? null : at + interval;
      // An escalation by time that has not started yet brings the next notification to its start.
      for (const e of escalations) {
        const starts = since + e.afterMs;
        if (e.afterMs > 0 && starts > at && e.firstNotification <= sent + 1 && (e.lastNotification === 0 || sent + 1 <= e.lastNotification) && (next === null || starts < next)) next = starts;
      }
      return next;
    },
  };
}

/** Is a contact inside its (host or service) notification period at `at`? null when yes, else the reason. */
export function contactPeriodBlocker(contact: { readonly name: string; readonly hostNotificationPeriod?: string | undefined; readonly serviceNotificationPeriod?: string | undefined }, kind: ObjectKind, at: number, ctx: TimingContext): string | null {
  const name = kind === 'host' ? contact.hostNotificationPeriod : contact.serviceNotificationPeriod;
  if (name === undefined) return null;
  const p = periodOf(ctx, name);
  if (isInPeriod(p, at, ctx.tz)) return null;
  return `contact ${contact.name} not notified: outside its ${kind}_notification_period ${p.name}`;
}

/** When a regular check may run next: null when now is inside check_period, else the next valid time (or a day later when none is known). */
export function checkPeriodWait(checkPeriod: string | undefined, now: number, ctx: TimingContext): number | null {
  if (checkPeriod === undefined) return null;
  const p = periodOf(ctx, checkPeriod);
  if (isInPeriod(p, now, ctx.tz)) return null;
  return nextValidTime(p, now, ctx.tz) ?? now + 86_400_000;
}
