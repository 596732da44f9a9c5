/**
 * The result analysis of bench:ha, pure (no I/O) so a unit test can feed it a synthetic
 * timeline (test/bench/ha-analysis.test.ts): check times and latencies per service from
 * polled service views, checks missed around a failover, the first check after a kill,
 * and the notifications lost or duplicated at the SMTP sink.
 */

interface Check {
  readonly at: number;
  /** lastCheck minus the nextCheck seen before it; null when no earlier view was seen. */
  readonly latencyMs: number | null;
}

/** Every check of every service seen while polling (GET /api/v1/services). */
export class Timeline {
  private readonly checks = new Map<string, Check[]>();
  private readonly planned = new Map<string, number | null>();

  /** One polled view: a new lastCheck is one check (several between two polls count as one). */
  record(key: string, lastCheck: number | null, nextCheck: number | null): void {
    const list = this.checks.get(key) ?? [];
    if (!this.checks.has(key)) this.checks.set(key, list);
    const before = this.planned.get(key);
    this.planned.set(key, nextCheck);
    if (lastCheck === null) return;
    const prev = list.at(-1);
    if (prev !== undefined && lastCheck <= prev.at) return;
    // Without a planned time seen before (the first view) the check counts for the gaps, not
    // for the latency.
    list.push({ at: lastCheck, latencyMs: before == null ? null : Math.max(0, lastCheck - before) });
  }

  keys(): string[] {
    return [...this.checks.keys()];
  }

  /**
   * Checks known from elsewhere (the server's history: a state change is written at a check's
   * result): the poll sees one lastCheck per cycle, so a retry 10 s after a check hides that
   * check. Added in time order, without latency, once each.
   */
  addChecks(key: string, times: readonly number[]): void {
    const list = this.checks.get(key) ?? [];
    if (!this.checks.has(key)) this.checks.set(key, list);
    for (const at of times) if (!list.some((c) => Math.abs(c.at - at) < 1000)) list.push({ at, latencyMs: null });
    list.sort((a, b) => a.at - b.at);
  }

  checkTimes(key: string): number[] {
    return (this.checks.get(key) ?? []).map((c) => c.at);
  }

  /** Latencies of the checks made in [from, to). */
  latencies(from: number, to: number): number[] {
    const out: number[] = [];
    for (const list of this.checks.values()) for (const c of list) if (c.at >= from && c.at < to && c.latencyMs !== null) out.push(c.latencyMs);
    return out;
  }
}

export interface Gap {
  readonly key: string;
  /** The check before the gap. */
  readonly after: number;
  /** The check that ended it, or null when none came until the end of the range. */
  readonly until: number | null;
  readonly gapMs: number;
}

/**
 * Checks missed in [from, to]: a service whose two consecutive checks are more than maxGapMs
 * apart with the later one in the range, or whose last check before `to` is older than
 * maxGapMs (still waiting). A service never seen checked before `from` is not judged.
 */
export function missedChecks(tl: Timeline, keys: Iterable<string>, from: number, to: number, maxGapMs: number): Gap[] {
  const out: Gap[] = [];
  for (const key of keys) {
    const times = tl.checkTimes(key).filter((t) => t <= to);
    const startAt = times.findLastIndex((t) => t < from);
    if (startAt < 0) continue;
    for (let i = startAt + 1; i < times.length; i++) {
      const gap = times[i]! - times[i - 1]!;
      if (gap > maxGapMs) out.push({ key, after: times[i - 1]!, until: times[i]!, gapMs: gap });
    }
    const last = times.at(-1)!;
    if (to - last > maxGapMs) out.push({ key, after: last, until: null, gapMs: to - last });
  }
  return out;
}

/** The first check after `t` of any of `keys`, with its service; null when none yet. */
export function firstCheckAfter(tl: Timeline, keys: Iterable<string>, t: number): { key: string; at: number } | null {
  let best: { key: string; at: number } | null = null;
  for (const key of keys) {
    const at = tl.checkTimes(key).find((x) => x > t);
    if (at !== undefined && (best === null || at < best.at)) best = { key, at };
  }
  return best;
}

export interface Mail {
  readonly subject: string;
  readonly messageId: string;
  /** The notification's time from the body (Date/Time, seconds), to order mails that arrive out of order. */
  readonly at?: number;
}

export interface MailReport {
  readonly expected: number;
  readonly received: number;
  /** Expected subjects that never arrived. */
  readonly lost: string[];
  /**
   * The same notification twice: a PROBLEM or RECOVERY of a service in the same state as the
   * one before it with nothing between (a second PROBLEM after a real change, e.g. CRITICAL to
   * UNKNOWN and back, is a new problem, not a duplicate); a possible duplicate copy included.
   */
  readonly duplicated: string[];
  /** Message-IDs seen on more than one mail. */
  readonly duplicateMessageIds: string[];
  /** Mails marked as a possible duplicate (a crash between sending and recording). */
  readonly markedPossibleDuplicate: number;
  /** Mails that were not expected at all (none should come). */
  readonly unexpected: string[];
}

const MARK = '[possible duplicate] ';
/** hawatch's email subject of a state notification: type, object, state. */
const ALERT = /^\*\* (PROBLEM|RECOVERY) (?:Service|Host) Alert: (\S+) is (\S+) \*\*$/;

/** Each expected subject exactly once: what is missing, what came twice, what came unasked. */
export function analyseMails(mails: readonly Mail[], expectedSubjects: readonly string[]): MailReport {
  const bySubject = new Map<string, number>();
  const byId = new Map<string, number>();
  const previous = new Map<string, string>();
  const duplicated = new Set<string>();
  let marked = 0;
  for (const m of mails) {
    const subject = m.subject.startsWith(MARK) ? m.subject.slice(MARK.length) : m.subject;
    if (subject !== m.subject) marked++;
    bySubject.set(subject, (bySubject.get(subject) ?? 0) + 1);
    if (m.messageId) byId.set(m.messageId, (byId.get(m.messageId) ?? 0) + 1);
  }
  // Any instance delivers, with retries: order by the notification's own time (stable sort,
  // arrival order within a second).
  const ordered = mails.map((m, i) => ({ m, i })).sort((a, b) => (a.m.at ?? 0) - (b.m.at ?? 0) || a.i - b.i);
  for (const { m } of ordered) {
    const subject = m.subject.startsWith(MARK) ? m.subject.slice(MARK.length) : m.subject;
    const alert = ALERT.exec(subject);
    if (!alert) continue;
    if (previous.get(alert[2]!) === subject) duplicated.add(subject);
    previous.set(alert[2]!, subject);
  }
  const expected = new Set(expectedSubjects);
  return {
    expected: expected.size,
    received: mails.length,
    lost: [...expected].filter((s) => !bySubject.has(s)),
    duplicated: [...duplicated],
    duplicateMessageIds: [...byId].filter(([, n]) => n > 1).map(([id]) => id),
    markedPossibleDuplicate: marked,
    unexpected: [...bySubject.keys()].filter((s) => !expected.has(s)),
  };
}

/** The subjects hawatch's email channel gives a service PROBLEM and RECOVERY. */
export function serviceSubjects(key: string): { problem: string; recovery: string } {
  return { problem: `** PROBLEM Service Alert: ${key} is CRITICAL **`, recovery: `** RECOVERY Service Alert: ${key} is OK **` };
}
