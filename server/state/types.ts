/**
 * The monitored objects' state as Nagios Core 4 keeps it, as plain data (stored as JSON),
 * and the policy that drives it. Hosts and services share one shape: a host's state is
 * 0 UP, 1 DOWN, 2 UNREACHABLE; a service's the plugin states 0..3.
 */
import type { StateCode } from '../../nagios/states.ts';

export type ObjectKind = 'host' | 'service';
export type StateType = 'SOFT' | 'HARD';

export const HostState = { UP: 0, DOWN: 1, UNREACHABLE: 2 } as const;
export type HostStateCode = (typeof HostState)[keyof typeof HostState];

/** Nagios notification_options letters. Host: d u r f s. Service: w u c r f s. */
export type NotificationOption = 'w' | 'u' | 'c' | 'd' | 'r' | 'f' | 's';

export const NotificationType = {
  PROBLEM: 'PROBLEM',
  RECOVERY: 'RECOVERY',
  ACKNOWLEDGEMENT: 'ACKNOWLEDGEMENT',
  FLAPPINGSTART: 'FLAPPINGSTART',
  FLAPPINGSTOP: 'FLAPPINGSTOP',
  DOWNTIMESTART: 'DOWNTIMESTART',
  DOWNTIMEEND: 'DOWNTIMEEND',
  DOWNTIMECANCELLED: 'DOWNTIMECANCELLED',
  CUSTOM: 'CUSTOM',
} as const;
export type NotificationTypeName = (typeof NotificationType)[keyof typeof NotificationType];

export interface FlapPolicy {
  readonly enabled: boolean;
  /** Stop flapping at or below this percent state change (Nagios low_flap_threshold, 20). */
  readonly lowPercent: number;
  /** Start flapping at or above this percent (Nagios high_flap_threshold, 30). */
  readonly highPercent: number;
}

export interface FreshnessPolicy {
  readonly enabled: boolean;
  /** Fixed threshold; when absent: interval + latency + 15 s (Nagios' automatic threshold). */
  readonly thresholdMs?: number | undefined;
  /** State given to a stale result. */
  readonly staleState: number;
}

export interface CheckPolicy {
  readonly maxCheckAttempts: number;
  readonly checkIntervalMs: number;
  readonly retryIntervalMs: number;
  /** 0 = notify once per problem; otherwise re-notify this often while the problem lasts. */
  readonly notificationIntervalMs: number;
  /** Delay of the first problem notification after the hard state change. */
  readonly firstNotificationDelayMs: number;
  readonly notificationOptions: readonly NotificationOption[];
  readonly notificationsEnabled: boolean;
  readonly flap: FlapPolicy;
  readonly freshness: FreshnessPolicy;
}

export interface Acknowledgement {
  readonly sticky: boolean;
  readonly notify: boolean;
  readonly author: string;
  readonly comment: string;
  readonly at: number;
  /** The state that was acknowledged (a normal ack ends when the state changes). */
  readonly state: number;
}

export interface NotificationCounters {
  /** Nagios' current_notification_number: problem notifications sent for this problem. */
  readonly number: number;
  readonly lastAt: number | null;
  readonly nextAt: number | null;
  readonly lastNotifiedState: number | null;
}

export interface FlapStatus {
  /** Last states recorded, oldest first, at most 21. */
  readonly history: readonly number[];
  readonly percent: number;
  readonly flapping: boolean;
}

export interface CheckStatus {
  readonly key: string;
  readonly kind: ObjectKind;
  readonly hostName: string;
  readonly serviceName: string | null;
  readonly checked: boolean;
  readonly state: number;
  readonly stateType: StateType;
  readonly attempt: number;
  readonly lastState: number;
  readonly lastHardState: number;
  readonly lastCheck: number | null;
  readonly lastStateChange: number;
  readonly lastHardStateChange: number;
  readonly nextCheck: number | null;
  readonly output: string;
  readonly longOutput: string;
  readonly perfdata: string;
  readonly durationMs: number;
  readonly latencyMs: number;
  readonly notification: NotificationCounters;
  readonly ack: Acknowledgement | null;
  readonly flap: FlapStatus;
  readonly downtimeDepth: number;
  /** True while the last result came from the freshness check, not from a real run. */
  readonly stale: boolean;
}

export interface Downtime {
  readonly id: string;
  /** Key of the host or service it covers. */
  readonly key: string;
  readonly fixed: boolean;
  /** Window, epoch ms. Fixed: the downtime itself. Flexible: when it may be triggered. */
  readonly start: number;
  readonly end: number;
  /** Flexible only: how long it lasts once triggered. */
  readonly durationMs: number;
  readonly author: string;
  readonly comment: string;
  /** When it became active (counted in the depth); null while pending. */
  readonly startedAt: number | null;
}

/** A check result as the state machine sees it (host results already mapped to UP/DOWN). */
export interface ResultInput {
  readonly state: number;
  readonly output: string;
  readonly longOutput: string;
  readonly perfdata: string;
  readonly executedAt: number;
  readonly durationMs: number;
  readonly latencyMs?: number | undefined;
  readonly stale?: boolean | undefined;
  /** A role rule's judgement: the members holding the role (who holds the VIP, who is primary). */
  readonly holders?: readonly string[] | undefined;
}

export interface NotificationIntent {
  readonly type: NotificationTypeName;
  readonly key: string;
  readonly kind: ObjectKind;
  readonly hostName: string;
  readonly serviceName: string | null;
  readonly state: number;
  readonly stateName: string;
  readonly output: string;
  readonly at: number;
  /** Problem notification number (1 = first); 0 for other types. */
  readonly number: number;
  readonly author?: string | undefined;
  readonly comment?: string | undefined;
  /** RECOVERY: the number of the last problem notification (escalations pick the recipients from it). */
  readonly problemNumber?: number | undefined;
  /** PROBLEM and RECOVERY: when the problem became HARD (escalations by elapsed time). */
  readonly problemSince?: number | undefined;
}

/**
 * Time rules of the problem notification logic, evaluated by the caller at `now`
 * (server/notify/escalations.ts): the object's notification_period, and when the next
 * problem notification is due (escalations may shorten the interval or start by time).
 */
export interface NotificationGate {
  /** Why no problem notification may go out now (outside notification_period), or null. */
  readonly blocker: string | null;
  /** When the notification after number `sent` (sent at `now`) is due; null = never again for this problem. */
  nextAt(sent: number, now: number, status: CheckStatus): number | null;
}

export type HistoryEventType = 'STATE' | 'NOTIFICATION_SUPPRESSED' | 'ACK' | 'ACK_REMOVED' | 'DOWNTIME' | 'FLAPPING' | 'STALE' | 'CHECK_SKIPPED' | 'FAILOVER';

export interface HistoryEvent {
  readonly key: string;
  readonly at: number;
  readonly type: HistoryEventType;
  readonly state: number;
  readonly stateType: StateType;
  readonly attempt: number;
  readonly output: string;
  readonly detail?: string | undefined;
}

export interface ObjectState {
  readonly status: CheckStatus;
  readonly downtimes: readonly Downtime[];
}

/** Everything one step of the state machine decided. */
export interface Transition extends ObjectState {
  readonly notifications: readonly NotificationIntent[];
  readonly history: readonly HistoryEvent[];
}

export function stateLabel(kind: ObjectKind, state: number): string {
  if (kind === 'host') return ['UP', 'DOWN', 'UNREACHABLE'][state] ?? 'UNKNOWN';
  return ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'][state] ?? 'UNKNOWN';
}

/** Nagios host checks: OK and WARNING mean UP; CRITICAL and UNKNOWN mean DOWN. */
export function hostStateFromPlugin(state: StateCode): HostStateCode {
  return state === 0 || state === 1 ? HostState.UP : HostState.DOWN;
}

export function optionForState(kind: ObjectKind, state: number): NotificationOption | null {
  if (kind === 'host') return state === 1 ? 'd' : state === 2 ? 'u' : null;
  return state === 1 ? 'w' : state === 2 ? 'c' : state === 3 ? 'u' : null;
}
