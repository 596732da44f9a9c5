import type { Monitor } from '../core/monitor.ts';
import type { CheckStatus, Downtime, HistoryEvent } from '../state/types.ts';
import { stateLabel } from '../state/types.ts';
import type { OutboxRow } from '../store/types.ts';
import { downtimeEnd } from '../state/machine.ts';
import { readablePerfdata } from './perf-format.ts';
import { describeMatchers, isActive, type Silence } from '../notify/silences.ts';

export function silenceView(m: Monitor, x: Silence, now: number) {
  return { ...x, matchers: { ...x.matchers, states: x.matchers.states ? [...x.matchers.states] : null }, active: isActive(x, now), matches: m.silenceCoverage(x), description: describeMatchers(x.matchers) };
}

export function statusView(m: Monitor, s: CheckStatus, now: number) {
  const o = m.object(s.key);
  const policy = o ? m.policyOf(s.key) : null;
  return {
    key: s.key,
    kind: s.kind,
    cluster: o?.kind === 'cluster',
    active: (o?.kind === 'service' && !o.service.passive) || (o?.kind === 'host' && o.host.check !== null && !o.host.passive),
    hostCheck: o?.kind === 'host' ? o.host.checkSource : null,
    hostName: s.hostName,
    serviceName: s.serviceName,
    checked: s.checked,
    state: s.state,
    stateName: s.checked ? stateLabel(s.kind, s.state) : 'PENDING',
    stateType: s.stateType,
    attempt: s.attempt,
    maxAttempts: policy?.maxCheckAttempts ?? 1,
    lastCheck: s.lastCheck,
    lastStateChange: s.lastStateChange,
    durationMs: Math.max(0, now - s.lastStateChange),
    nextCheck: s.nextCheck,
    output: s.output,
    longOutput: s.longOutput,
    perfdata: s.perfdata,
    perfReadable: readablePerfdata(s.perfdata).map((x) => x.text),
    acknowledged: s.ack !== null,
    ack: s.ack,
    downtimeDepth: s.downtimeDepth,
    flapping: s.flap.flapping,
    percentStateChange: Math.round(s.flap.percent * 10) / 10,
    stale: s.stale,
    notificationNumber: s.notification.number,
    silencedBy: m.silencedBy(s.key).map((x) => ({ id: x.id, author: x.author, comment: x.comment, end: x.end })),
    inhibitedBy: m.inhibitedBy(s.key),
    /** Why this problem's notifications are held: its host is down or unreachable, or a dependency (null: not held by those). */
    suppressed: suppressedBy(m, s),
    /** The execution dependency that currently stops its active checks (the state shown is the last one). */
    checkSkipped: m.skippedBy(s.key),
  };
}

function suppressedBy(m: Monitor, s: CheckStatus): string | null {
  if (!s.checked || s.state === 0) return null;
  if (s.kind === 'service') {
    const h = m.status(s.hostName);
    if (h && h.checked && h.state !== 0) return h.state === 2 ? 'host is unreachable' : 'host is down';
  }
  const dep = m.notificationDependency(s.key);
  return dep === null ? null : `suppressed by ${dep}`;
}

/**
 * Problems first: hosts down, then CRITICAL, UNKNOWN, WARNING; the same again for problems
 * already handled (acknowledged or in downtime); then pending; then OK.
 */
export function problemRank(s: CheckStatus): number {
  if (!s.checked) return 8;
  if (s.state === 0) return 9;
  const handled = s.ack !== null || s.downtimeDepth > 0 ? 4 : 0;
  if (s.kind === 'host') return handled;
  return (({ 2: 1, 3: 2, 1: 3 } as Record<number, number>)[s.state] ?? 3) + handled;
}

export function sortProblemsFirst(list: CheckStatus[]): CheckStatus[] {
  const ranked = list.map((s) => ({ s, rank: problemRank(s), since: s.checked && s.state !== 0 ? s.lastStateChange : 0 }));
  ranked.sort((a, b) => a.rank - b.rank || a.since - b.since || (a.s.key < b.s.key ? -1 : a.s.key > b.s.key ? 1 : 0));
  return ranked.map((r) => r.s);
}

export function downtimeView(d: Downtime, now: number) {
  return { ...d, active: d.startedAt !== null && now < downtimeEnd(d) };
}

export function historyView(h: HistoryEvent) {
  return h.detail === undefined ? { ...h, detail: undefined } : h;
}

export function outboxView(r: OutboxRow) {
  const n = r.notification;
  return {
    id: r.id,
    createdAt: r.createdAt,
    contact: r.contact,
    channel: r.channel,
    type: n.type,
    object: n.serviceName === null ? n.hostName : `${n.hostName}/${n.serviceName}`,
    state: n.stateName,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.nextAttemptAt,
    sentAt: r.sentAt,
    lastError: r.lastError,
  };
}
