/**
 * The Nagios Core 4 state machine, pure: (status, downtimes, policy, input, now) in,
 * (status, downtimes, notifications, history) out. No I/O and no clock of its own, so
 * every rule of the contract (nagios-contract.md section 3) is a unit test.
 */
import { recordState } from './flapping.ts';
import {
  NotificationType,
  optionForState,
  stateLabel,
  type Acknowledgement,
  type CheckPolicy,
  type CheckStatus,
  type Downtime,
  type HistoryEvent,
  type NotificationGate,
  type NotificationIntent,
  type NotificationTypeName,
  type ObjectKind,
  type ResultInput,
  type Transition,
} from './types.ts';

/** What the service's host looks like when a service result arrives. */
export interface HostContext {
  /** The host is DOWN or UNREACHABLE (current state, soft or hard). */
  readonly problem: boolean;
  /** The host is in scheduled downtime (blocks its services' notifications too). */
  readonly inDowntime: boolean;
  /** The host is UNREACHABLE (its parents are down), not DOWN: said in the suppression reason. */
  readonly unreachable?: boolean | undefined;
  /** A notification dependency holds this object's notifications (server/state/dependencies.ts). */
  readonly dependency?: string | null | undefined;
}

const NO_HOST_PROBLEM: HostContext = { problem: false, inDowntime: false };

export function initialStatus(key: string, kind: ObjectKind, hostName: string, serviceName: string | null, now: number): CheckStatus {
  return {
    key,
    kind,
    hostName,
    serviceName,
    checked: false,
    state: 0,
    stateType: 'HARD',
    attempt: 1,
    lastState: 0,
    lastHardState: 0,
    lastCheck: null,
    lastStateChange: now,
    lastHardStateChange: now,
    nextCheck: null,
    output: '(Pending: not checked yet)',
    longOutput: '',
    perfdata: '',
    durationMs: 0,
    latencyMs: 0,
    notification: { number: 0, lastAt: null, nextAt: null, lastNotifiedState: null },
    ack: null,
    flap: { history: [], percent: 0, flapping: false },
    downtimeDepth: 0,
    stale: false,
  };
}

function intent(status: CheckStatus, type: NotificationTypeName, at: number, extra: Partial<NotificationIntent> = {}): NotificationIntent {
  return {
    type,
    key: status.key,
    kind: status.kind,
    hostName: status.hostName,
    serviceName: status.serviceName,
    state: status.state,
    stateName: stateLabel(status.kind, status.state),
    output: status.output,
    at,
    number: 0,
    ...extra,
  };
}

function event(status: CheckStatus, at: number, type: HistoryEvent['type'], detail?: string): HistoryEvent {
  return { key: status.key, at, type, state: status.state, stateType: status.stateType, attempt: status.attempt, output: status.output, detail };
}

/** Why a problem notification may not go out now; null when it may. */
export function problemNotificationBlocker(status: CheckStatus, policy: CheckPolicy, host: HostContext, now: number, gate?: NotificationGate): string | null {
  if (status.state === 0) return 'not a problem state';
  if (status.stateType !== 'HARD') return 'soft state';
  if (!policy.notificationsEnabled) return 'notifications disabled';
  if (status.kind === 'service' && host.problem) return host.unreachable ? 'host is unreachable' : 'host is down';
  if (host.dependency) return `suppressed by ${host.dependency}`;
  if (status.downtimeDepth > 0) return 'in scheduled downtime';
  if (status.kind === 'service' && host.inDowntime) return 'host in scheduled downtime';
  if (status.flap.flapping) return 'flapping';
  if (status.ack) return 'acknowledged';
  const option = optionForState(status.kind, status.state);
  if (option === null || !policy.notificationOptions.includes(option)) return `notification_options exclude ${stateLabel(status.kind, status.state)}`;
  // Outside notification_period the notification is held, not dropped: it goes out when the period opens.
  if (gate?.blocker) return gate.blocker;
  const n = status.notification;
  if (n.number === 0) {
    if (now < status.lastHardStateChange + policy.firstNotificationDelayMs) return 'first_notification_delay not reached';
    return null;
  }
  if (n.lastNotifiedState !== status.state) return null; // a hard change between problem states is news
  if (gate && n.nextAt === null) return 'already notified (notification_interval 0)';
  if (!gate && policy.notificationIntervalMs === 0) return 'already notified (notification_interval 0)';
  if (n.nextAt !== null && now < n.nextAt) return 'before next notification time';
  return null;
}

export function notifyProblem(status: CheckStatus, policy: CheckPolicy, now: number, gate?: NotificationGate): { status: CheckStatus; note: NotificationIntent } {
  const number = status.notification.number + 1;
  const next: CheckStatus = {
    ...status,
    notification: {
      number,
      lastAt: now,
      nextAt: gate ? gate.nextAt(number, now, status) : policy.notificationIntervalMs > 0 ? now + policy.notificationIntervalMs : null,
      lastNotifiedState: status.state,
    },
  };
  return { status: next, note: intent(next, NotificationType.PROBLEM, now, { number, problemSince: status.lastHardStateChange }) };
}

const RESET_COUNTERS = { number: 0, lastAt: null, nextAt: null, lastNotifiedState: null } as const;

export interface ApplyResultInput {
  readonly status: CheckStatus;
  readonly downtimes: readonly Downtime[];
  readonly policy: CheckPolicy;
  readonly result: ResultInput;
  readonly now: number;
  readonly host?: HostContext | undefined;
  /** notification_period and escalations (server/notify/escalations.ts); none: always, policy interval. */
  readonly gate?: NotificationGate | undefined;
}

export function applyResult(input: ApplyResultInput): Transition {
  const { policy, result, now } = input;
  const host = input.host ?? NO_HOST_PROBLEM;
  const prev = input.status;
  const notifications: NotificationIntent[] = [];
  const history: HistoryEvent[] = [];
  const newState = result.state;
  const oldState = prev.checked ? prev.state : 0;
  const oldType = prev.checked ? prev.stateType : 'HARD';
  const stateChanged = !prev.checked ? newState !== 0 : newState !== prev.state;

  let stateType: CheckStatus['stateType'];
  let attempt: number;
  if (newState === 0) {
    stateType = 'HARD';
    attempt = 1;
  } else if (oldState === 0) {
    attempt = 1;
    stateType = attempt >= policy.maxCheckAttempts || (prev.kind === 'service' && host.problem) ? 'HARD' : 'SOFT';
  } else if (oldType === 'SOFT') {
    attempt = Math.min(prev.attempt + 1, policy.maxCheckAttempts);
    stateType = attempt >= policy.maxCheckAttempts || (prev.kind === 'service' && host.problem) ? 'HARD' : 'SOFT';
  } else {
    attempt = prev.attempt;
    stateType = 'HARD';
  }

  const hardRecovery = newState === 0 && prev.checked && oldState !== 0 && oldType === 'HARD';
  const softRecovery = newState === 0 && prev.checked && oldState !== 0 && oldType === 'SOFT';
  const hardChange = stateType === 'HARD' && newState !== 0 && (oldType === 'SOFT' || oldState !== newState || !prev.checked);

  let status: CheckStatus = {
    ...prev,
    checked: true,
    state: newState,
    stateType,
    attempt,
    lastState: oldState,
    lastHardState: hardChange || hardRecovery ? newState : prev.lastHardState,
    lastCheck: result.executedAt,
    lastStateChange: stateChanged ? now : prev.lastStateChange,
    lastHardStateChange: hardChange || hardRecovery ? now : prev.lastHardStateChange,
    nextCheck: now + (stateType === 'SOFT' ? policy.retryIntervalMs : policy.checkIntervalMs),
    output: result.output,
    longOutput: result.longOutput,
    perfdata: result.perfdata,
    durationMs: result.durationMs,
    latencyMs: result.latencyMs ?? 0,
    stale: result.stale ?? false,
  };

  if (stateChanged || softRecovery || hardChange) {
    history.push(event(status, now, 'STATE', softRecovery ? 'soft recovery' : hardRecovery ? 'hard recovery' : hardChange ? 'hard state change' : 'soft state change'));
  }
  if (result.stale) history.push(event(status, now, 'STALE'));

  // Acknowledgements: a normal one ends with any state change, a sticky one only on recovery.
  if (status.ack && (newState === 0 || (!status.ack.sticky && newState !== status.ack.state))) {
    history.push(event(status, now, 'ACK_REMOVED', newState === 0 ? 'recovered' : 'state changed'));
    status = { ...status, ack: null };
  }

  const flapStep = recordState(status.flap, newState, policy.flap);
  status = { ...status, flap: flapStep.flap };
  if (flapStep.started || flapStep.stopped) {
    history.push(event(status, now, 'FLAPPING', `${flapStep.started ? 'started' : 'stopped'} at ${flapStep.flap.percent.toFixed(1)}% state change`));
    if (policy.notificationsEnabled && policy.notificationOptions.includes('f') && status.downtimeDepth === 0) {
      notifications.push(intent(status, flapStep.started ? NotificationType.FLAPPINGSTART : NotificationType.FLAPPINGSTOP, now, {
        comment: `${flapStep.flap.percent.toFixed(1)}% state change (thresholds ${policy.flap.lowPercent}%/${policy.flap.highPercent}%)`,
      }));
    }
  }

  // Flexible downtimes are triggered by the first problem inside their window, before
  // notifications are considered, so that problem is already covered.
  const dt = advanceDowntimes(status, input.downtimes, policy, now);
  status = dt.status;
  notifications.push(...dt.notifications);
  history.push(...dt.history);

  if (hardRecovery) {
    const notified = status.notification.number > 0;
    if (notified && policy.notificationsEnabled && policy.notificationOptions.includes('r') && status.downtimeDepth === 0 && !status.flap.flapping && !(status.kind === 'service' && (host.problem || host.inDowntime)) && !host.dependency) {
      notifications.push(intent(status, NotificationType.RECOVERY, now, { problemNumber: status.notification.number, problemSince: prev.lastHardStateChange }));
    } else if (notified) {
      history.push(event(status, now, 'NOTIFICATION_SUPPRESSED', host.dependency ? `recovery suppressed by ${host.dependency}` : 'recovery'));
    }
    status = { ...status, notification: RESET_COUNTERS };
  } else if (softRecovery) {
    status = { ...status, notification: RESET_COUNTERS };
  } else if (newState !== 0 && stateType === 'HARD') {
    const blocker = problemNotificationBlocker(status, policy, host, now, input.gate);
    if (blocker === null) {
      const n = notifyProblem(status, policy, now, input.gate);
      status = n.status;
      notifications.push(n.note);
    } else if (hardChange) {
      history.push(event(status, now, 'NOTIFICATION_SUPPRESSED', blocker));
    }
  }

  return { status, downtimes: dt.downtimes, notifications, history };
}

/**
 * A problem notification that falls due without a new result: held by notification_period
 * until the period opened, or an escalation that starts after a time. Nothing when not due.
 */
export function notifyIfDue(status: CheckStatus, policy: CheckPolicy, host: HostContext, now: number, gate: NotificationGate): Transition {
  const none: Transition = { status, downtimes: [], notifications: [], history: [] };
  if (!status.checked || status.state === 0 || status.stateType !== 'HARD') return none;
  if (problemNotificationBlocker(status, policy, host, now, gate) !== null) return none;
  const n = notifyProblem(status, policy, now, gate);
  return { status: n.status, downtimes: [], notifications: [n.note], history: [] };
}

/**
 * Starts and ends downtimes that fall due at `now`: fixed ones by their window, flexible
 * ones on a problem inside their window (lasting durationMs from then). Nested downtimes
 * count depth; DOWNTIMESTART/END are notified only when entering/leaving depth 0.
 */
export function advanceDowntimes(status0: CheckStatus, downtimes: readonly Downtime[], policy: CheckPolicy, now: number): Transition {
  let status = status0;
  const notifications: NotificationIntent[] = [];
  const history: HistoryEvent[] = [];
  const kept: Downtime[] = [];
  const canNotify = policy.notificationsEnabled && policy.notificationOptions.includes('s');
  for (const original of downtimes) {
    let d = original;
    if (d.key !== status.key) {
      kept.push(d);
      continue;
    }
    if (d.startedAt === null) {
      const inWindow = now >= d.start && now < d.end;
      const triggers = d.fixed ? inWindow : inWindow && status.checked && status.state !== 0;
      if (triggers) {
        if (status.downtimeDepth === 0 && canNotify) notifications.push(intent(status, NotificationType.DOWNTIMESTART, now, { author: d.author, comment: d.comment }));
        status = { ...status, downtimeDepth: status.downtimeDepth + 1 };
        history.push(event(status, now, 'DOWNTIME', `started (${d.fixed ? 'fixed' : 'flexible'}) ${d.id}: ${d.comment}`));
        const started: Downtime = { ...d, startedAt: now };
        if (downtimeEnd(started) > now) {
          kept.push(started);
          continue;
        }
        d = started; // zero length: ends at once below
      } else if (now >= d.end) {
        history.push(event(status, now, 'DOWNTIME', `expired without a problem ${d.id}`));
        continue;
      } else {
        kept.push(d);
        continue;
      }
    }
    if (now >= downtimeEnd(d)) {
      status = { ...status, downtimeDepth: Math.max(0, status.downtimeDepth - 1) };
      history.push(event(status, now, 'DOWNTIME', `ended ${d.id}`));
      if (status.downtimeDepth === 0 && canNotify) notifications.push(intent(status, NotificationType.DOWNTIMEEND, now, { author: d.author, comment: d.comment }));
    } else {
      kept.push(d);
    }
  }
  return { status, downtimes: kept, notifications, history };
}

export function downtimeEnd(d: Downtime): number {
  if (d.fixed) return d.end;
  return d.startedAt === null ? d.end : d.startedAt + d.durationMs;
}

/** The next time advanceDowntimes has work to do for these downtimes (for the scheduler's timer). */
export function nextDowntimeEvent(downtimes: readonly Downtime[], now: number): number | null {
  let next: number | null = null;
  for (const d of downtimes) {
    const t = d.startedAt === null ? (d.fixed && now < d.start ? d.start : d.end) : downtimeEnd(d);
    if (next === null || t < next) next = t;
  }
  return next;
}

export function cancelDowntime(status0: CheckStatus, downtimes: readonly Downtime[], id: string, policy: CheckPolicy, now: number): Transition {
  let status = status0;
  const notifications: NotificationIntent[] = [];
  const history: HistoryEvent[] = [];
  const kept: Downtime[] = [];
  for (const d of downtimes) {
    if (d.id !== id) {
      kept.push(d);
      continue;
    }
    history.push(event(status, now, 'DOWNTIME', `cancelled ${d.id}`));
    if (d.startedAt !== null) {
      status = { ...status, downtimeDepth: Math.max(0, status.downtimeDepth - 1) };
      if (status.downtimeDepth === 0 && policy.notificationsEnabled && policy.notificationOptions.includes('s')) {
        notifications.push(intent(status, NotificationType.DOWNTIMECANCELLED, now, { author: d.author, comment: d.comment }));
      }
    }
  }
  return { status, downtimes: kept, notifications, history };
}

export class AcknowledgeError extends Error {
  override name = 'AcknowledgeError';
}

export function acknowledge(status: CheckStatus, ack: Omit<Acknowledgement, 'state'>, policy: CheckPolicy): Transition {
  if (!status.checked || status.state === 0) {
    throw new AcknowledgeError(`${status.key} is ${status.checked ? stateLabel(status.kind, status.state) : 'PENDING'}: only a problem can be acknowledged`);
  }
  const next: CheckStatus = { ...status, ack: { ...ack, state: status.state } };
  const notifications: NotificationIntent[] = [];
  if (ack.notify && policy.notificationsEnabled) {
    notifications.push(intent(next, NotificationType.ACKNOWLEDGEMENT, ack.at, { author: ack.author, comment: ack.comment }));
  }
  return { status: next, downtimes: [], notifications, history: [event(next, ack.at, 'ACK', `${ack.sticky ? 'sticky' : 'normal'} by ${ack.author}: ${ack.comment}`)] };
}

export function removeAcknowledgement(status: CheckStatus, now: number): Transition {
  if (!status.ack) return { status, downtimes: [], notifications: [], history: [] };
  const next = { ...status, ack: null };
  return { status: next, downtimes: [], notifications: [], history: [event(next, now, 'ACK_REMOVED', 'removed by request')] };
}

/**
 * Freshness: a result is stale after check_interval (retry_interval while SOFT non-OK)
 * + latency + 15 s, unless a threshold is set. Returns the threshold when stale.
 */
export function staleness(status: CheckStatus, policy: CheckPolicy, now: number): { stale: boolean; thresholdMs: number; ageMs: number } {
  const interval = status.checked && status.stateType === 'SOFT' && status.state !== 0 ? policy.retryIntervalMs : policy.checkIntervalMs;
  const thresholdMs = policy.freshness.thresholdMs ?? interval + status.latencyMs + 15_000;
  const ageMs = status.lastCheck === null ? 0 : now - status.lastCheck;
  return { stale: policy.freshness.enabled && status.lastCheck !== null && ageMs > thresholdMs, thresholdMs, ageMs };
}

export function staleResult(status: CheckStatus, policy: CheckPolicy, now: number): ResultInput {
  const { thresholdMs, ageMs } = staleness(status, policy, now);
  return {
    state: policy.freshness.staleState,
    output: `Result is stale: last result ${Math.round(ageMs / 1000)} s ago, freshness threshold ${Math.round(thresholdMs / 1000)} s (executor or scheduler not keeping up)`,
    longOutput: '',
    perfdata: '',
    executedAt: now,
    durationMs: 0,
    stale: true,
  };
}
