/**
 * bench:ha's result analysis (bench/ha/analysis.ts) on synthetic timelines and mail lists:
 * the figures the benchmark reports as pass or fail (checks missed around a failover,
 * notifications lost and duplicated, the first check after the kill) must count right.
 */
import { describe, expect, it } from 'vitest';
import { analyseMails, firstCheckAfter, missedChecks, serviceSubjects, Timeline } from '../../bench/ha/analysis.ts';

const S = 1000;

/** Polls a service that is checked at `checks`, every `pollMs`, as the bench's poller does. */
function polled(tl: Timeline, key: string, checks: readonly number[], interval: number, pollMs: number, until: number): void {
  for (let t = 0; t <= until; t += pollMs) {
    const done = checks.filter((c) => c <= t);
    const last = done.at(-1) ?? null;
    tl.record(key, last, last === null ? checks[0] ?? null : last + interval);
  }
}

describe('bench:ha analysis', () => {
  it('counts each new lastCheck once, with its latency against the nextCheck seen before', () => {
    const tl = new Timeline();
    tl.record('h/a', 1000, 61_000);
    tl.record('h/a', 1000, 61_000);
    tl.record('h/a', 61_250, 121_250);
    tl.record('h/a', 121_250, 181_250);
    tl.record('h/a', 61_250, 121_250); // an older value (another instance's lagging read view): not a check
    expect(tl.checkTimes('h/a')).toEqual([1000, 61_250, 121_250]);
    // The first view has no planned time before it: no latency for it.
    expect(tl.latencies(0, 200_000)).toEqual([250, 0]);
    expect(tl.latencies(0, 61_000)).toEqual([]);
  });

  it('finds the service whose checks stopped and the one with a gap above the limit, not the ones moved in time', () => {
    const tl = new Timeline();
    const interval = 60 * S;
    const kill = 100 * S;
    // Regular: every 60 s throughout.
    polled(tl, 'h/regular', [10, 70, 130, 190, 250].map((x) => x * S), interval, 30 * S, 300 * S);
    // Moved: its 130 s check came 12 s late on another instance (within interval + lease + slack).
    polled(tl, 'h/moved', [10, 70, 142, 202, 262].map((x) => x * S), interval, 30 * S, 300 * S);
    // Missed: after 70 s nothing until 200 s (one check lost).
    polled(tl, 'h/missed', [10, 70, 200, 260].map((x) => x * S), interval, 30 * S, 300 * S);
    // Stopped: never checked again after the kill.
    polled(tl, 'h/stopped', [10, 70].map((x) => x * S), interval, 30 * S, 300 * S);
    // Before the range: a gap that ended before the kill is not this failover's.
    polled(tl, 'h/old', [10, 95, 155, 215, 275].map((x) => x * S), interval, 5 * S, 300 * S);
    const gaps = missedChecks(tl, tl.keys(), kill, 290 * S, (60 + 10 + 5) * S);
    expect(gaps.map((g) => g.key).sort()).toEqual(['h/missed', 'h/stopped']);
    expect(gaps.find((g) => g.key === 'h/missed')).toMatchObject({ after: 70 * S, until: 200 * S, gapMs: 130 * S });
    expect(gaps.find((g) => g.key === 'h/stopped')).toMatchObject({ after: 70 * S, until: null });
    expect(firstCheckAfter(tl, ['h/moved', 'h/missed'], kill)).toEqual({ key: 'h/moved', at: 142 * S });
    expect(firstCheckAfter(tl, ['h/stopped'], kill)).toBeNull();
  });

  it('a SOFT result hidden by its retry between two polls is not a missed check once the history adds it', () => {
    const tl = new Timeline();
    const kill = 100 * S;
    // Checked at 56 s; the next check (a SOFT CRITICAL) at 125 s and its retry at 135 s: the
    // 30 s poll sees 56 and 135 only, a gap of 79 s above the 75 s limit.
    polled(tl, 'h/flip', [56, 135, 195, 255].map((x) => x * S), 60 * S, 30 * S, 300 * S);
    const limit = (60 + 10 + 5) * S;
    expect(missedChecks(tl, tl.keys(), kill, 290 * S, limit).map((g) => g.gapMs)).toEqual([79 * S]);
    // The server's history: STATE events at 125 s (soft change) and 135 s (hard change; the poll saw it already).
    tl.addChecks('h/flip', [125 * S, 135 * S + 200]);
    expect(tl.checkTimes('h/flip')).toEqual([56, 125, 135, 195, 255].map((x) => x * S));
    expect(missedChecks(tl, tl.keys(), kill, 290 * S, limit)).toEqual([]);
    // A real gap stays one: history with nothing in it changes nothing.
    polled(tl, 'h/lost', [56, 200, 260].map((x) => x * S), 60 * S, 30 * S, 300 * S);
    tl.addChecks('h/lost', [30 * S]);
    expect(missedChecks(tl, ['h/lost'], kill, 290 * S, limit)).toMatchObject([{ key: 'h/lost', after: 56 * S, until: 200 * S }]);
  });

  it('reports lost, duplicated (same subject or same Message-ID) and unexpected mails', () => {
    const a = serviceSubjects('n1/a');
    const b = serviceSubjects('n2/b');
    const expected = [a.problem, a.recovery, b.problem, b.recovery];
    const clean = analyseMails(
      [
        { subject: a.problem, messageId: '<1@x>' },
        { subject: b.problem, messageId: '<2@x>' },
        { subject: a.recovery, messageId: '<3@x>' },
        { subject: b.recovery, messageId: '<4@x>' },
      ],
      expected,
    );
    expect(clean).toMatchObject({ expected: 4, received: 4, lost: [], duplicated: [], duplicateMessageIds: [], markedPossibleDuplicate: 0, unexpected: [] });
    const bad = analyseMails(
      [
        { subject: a.problem, messageId: '<1@x>' },
        { subject: `[possible duplicate] ${a.problem}`, messageId: '<1@x>' },
        { subject: b.problem, messageId: '<2@x>' },
        { subject: b.problem, messageId: '<5@x>' },
        { subject: a.recovery, messageId: '<3@x>' },
        { subject: '** PROBLEM Service Alert: n3/c is CRITICAL **', messageId: '<6@x>' },
        // A real change between two PROBLEMs of n3/c: a new problem, not a duplicate.
        { subject: '** PROBLEM Service Alert: n3/c is UNKNOWN **', messageId: '<7@x>' },
        { subject: '** PROBLEM Service Alert: n3/c is CRITICAL **', messageId: '<8@x>' },
      ],
      expected,
    );
    expect(bad.lost).toEqual([b.recovery]);
    expect(bad.duplicated.sort()).toEqual([a.problem, b.problem].sort());
    expect(bad.duplicateMessageIds).toEqual(['<1@x>']);
    expect(bad.markedPossibleDuplicate).toBe(1);
    expect(bad.unexpected).toEqual(['** PROBLEM Service Alert: n3/c is CRITICAL **', '** PROBLEM Service Alert: n3/c is UNKNOWN **']);
    // Delivered out of order (another instance, a retry): ordered by the notification's time,
    // PROBLEM, RECOVERY, PROBLEM is two problems, not a duplicate.
    const reordered = analyseMails(
      [
        { subject: a.problem, messageId: '<1@x>', at: 1000 },
        { subject: '** PROBLEM Service Alert: n1/a is CRITICAL **', messageId: '<9@x>', at: 9000 },
        { subject: a.recovery, messageId: '<3@x>', at: 5000 },
      ],
      [a.problem, a.recovery],
    );
    expect(reordered.duplicated).toEqual([]);
  });
});
