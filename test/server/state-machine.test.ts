// Every Nagios Core 4 rule of nagios-contract.md section 3, one test each, driven by a fake clock.
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../server/state/clock.ts';
import { percentStateChange } from '../../server/state/flapping.ts';
import {
  acknowledge,
  advanceDowntimes,
  applyResult,
  cancelDowntime,
  initialStatus,
  staleness,
  staleResult,
  type HostContext,
} from '../../server/state/machine.ts';
import type { CheckPolicy, CheckStatus, Downtime, NotificationIntent } from '../../server/state/types.ts';

const MIN = 60_000;

function policy(over: Partial<CheckPolicy> = {}): CheckPolicy {
  return {
    maxCheckAttempts: 3,
    checkIntervalMs: 5 * MIN,
    retryIntervalMs: 1 * MIN,
    notificationIntervalMs: 30 * MIN,
    firstNotificationDelayMs: 0,
    notificationOptions: ['w', 'u', 'c', 'r', 'f', 's'],
    notificationsEnabled: true,
    flap: { enabled: true, lowPercent: 20, highPercent: 30 },
    freshness: { enabled: true, staleState: 3 },
    ...over,
  };
}

/** A service under test: feeds results at the current fake time and collects notifications. */
class Subject {
  status: CheckStatus;
  downtimes: Downtime[] = [];
  sent: NotificationIntent[] = [];
  host: HostContext = { problem: false, inDowntime: false };
  readonly clock: FakeClock;
  readonly pol: CheckPolicy;
  constructor(clock: FakeClock, pol: CheckPolicy = policy()) {
    this.clock = clock;
    this.pol = pol;
    this.status = initialStatus('web1/http', 'service', 'web1', 'http', clock.now());
  }
  check(state: number, output = `state ${state}`): NotificationIntent[] {
    const t = applyResult({
      status: this.status,
      downtimes: this.downtimes,
      policy: this.pol,
      result: { state, output, longOutput: '', perfdata: '', executedAt: this.clock.now(), durationMs: 5 },
      now: this.clock.now(),
      host: this.host,
    });
    this.status = t.status;
    this.downtimes = [...t.downtimes];
    this.sent.push(...t.notifications);
    return [...t.notifications];
  }
  tick(): NotificationIntent[] {
    const t = advanceDowntimes(this.status, this.downtimes, this.pol, this.clock.now());
    this.status = t.status;
    this.downtimes = [...t.downtimes];
    this.sent.push(...t.notifications);
    return [...t.notifications];
  }
  types(): string[] {
    return this.sent.map((n) => n.type);
  }
}

const setup = (over: Partial<CheckPolicy> = {}) => {
  const clock = new FakeClock();
  const s = new Subject(clock, policy(over));
  s.check(0);
  return { clock, s };
};

describe('soft and hard states', () => {
  it('a problem below max_check_attempts is SOFT and counts attempts; reaching it is HARD', () => {
    const { clock, s } = setup();
    s.check(2);
    expect([s.status.stateType, s.status.attempt]).toEqual(['SOFT', 1]);
    clock.advance(MIN);
    s.check(2);
    expect([s.status.stateType, s.status.attempt]).toEqual(['SOFT', 2]);
    clock.advance(MIN);
    s.check(2);
    expect([s.status.stateType, s.status.attempt]).toEqual(['HARD', 3]);
    expect(s.types()).toEqual(['PROBLEM']);
  });

  it('a SOFT problem is retried every retry_interval, a HARD one and OK every check_interval', () => {
    const { clock, s } = setup();
    expect(s.status.nextCheck).toBe(clock.now() + 5 * MIN);
    s.check(1);
    expect(s.status.nextCheck).toBe(clock.now() + 1 * MIN);
    s.check(1);
    s.check(1);
    expect(s.status.stateType).toBe('HARD');
    expect(s.status.nextCheck).toBe(clock.now() + 5 * MIN);
  });

  it('HARD to another problem state is a hard state change and is notified', () => {
    const { clock, s } = setup({ maxCheckAttempts: 1, notificationIntervalMs: 0 });
    s.check(1);
    clock.advance(MIN);
    s.check(2);
    expect(s.status.stateType).toBe('HARD');
    expect(s.status.lastHardState).toBe(2);
    expect(s.status.lastHardStateChange).toBe(clock.now());
    expect(s.sent.map((n) => [n.type, n.stateName])).toEqual([['PROBLEM', 'WARNING'], ['PROBLEM', 'CRITICAL']]);
  });

  it('a recovery from HARD is notified; a recovery from SOFT is not', () => {
    const { s } = setup();
    s.check(2);
    s.check(0);
    expect(s.sent).toEqual([]);
    s.check(2);
    s.check(2);
    s.check(2);
    s.check(0);
    expect(s.types()).toEqual(['PROBLEM', 'RECOVERY']);
    expect(s.status.lastHardState).toBe(0);
  });

  it('a service problem while its host is down goes HARD at once and is not notified', () => {
    const { s } = setup();
    s.host = { problem: true, inDowntime: false };
    s.check(2);
    expect([s.status.stateType, s.status.attempt]).toEqual(['HARD', 1]);
    expect(s.sent).toEqual([]);
    // The host comes back and the service is still broken: now it is notified.
    s.host = { problem: false, inDowntime: false };
    s.check(2);
    expect(s.types()).toEqual(['PROBLEM']);
  });
});

describe('notifications', () => {
  it('notification_interval 0 notifies once per problem', () => {
    const { clock, s } = setup({ maxCheckAttempts: 1, notificationIntervalMs: 0 });
    for (let i = 0; i < 10; i++) {
      s.check(2);
      clock.advance(30 * MIN);
    }
    expect(s.types()).toEqual(['PROBLEM']);
  });

  it('notification_interval N re-notifies every N while the problem lasts', () => {
    const { clock, s } = setup({ maxCheckAttempts: 1, notificationIntervalMs: 30 * MIN });
    for (let i = 0; i <= 12; i++) {
      // checks every 5 minutes for 60 minutes
      s.check(2);
      clock.advance(5 * MIN);
    }
    expect(s.sent.map((n) => [n.type, n.number])).toEqual([['PROBLEM', 1], ['PROBLEM', 2], ['PROBLEM', 3]]);
  });

  it('first_notification_delay delays only the first notification', () => {
    const { clock, s } = setup({ maxCheckAttempts: 1, firstNotificationDelayMs: 10 * MIN, notificationIntervalMs: 30 * MIN });
    const start = clock.now();
    const at: number[] = [];
    for (let i = 0; i <= 16; i++) {
      if (s.check(2).length) at.push((clock.now() - start) / MIN);
      clock.advance(5 * MIN);
    }
    expect(at).toEqual([10, 40, 70]);
  });

  it('a recovery is notified only if the problem was notified', () => {
    const { clock, s } = setup({ maxCheckAttempts: 1, firstNotificationDelayMs: 30 * MIN });
    s.check(2);
    clock.advance(5 * MIN);
    s.check(0); // recovered before the delayed first notification
    expect(s.sent).toEqual([]);
    const excluded = setup({ maxCheckAttempts: 1, notificationOptions: ['c', 'r'] });
    excluded.s.check(1); // WARNING is not in the options: not notified
    excluded.s.check(0);
    expect(excluded.s.sent).toEqual([]);
  });

  it('notifications are only for HARD states', () => {
    const { s } = setup({ maxCheckAttempts: 5 });
    for (let i = 0; i < 4; i++) s.check(2);
    expect(s.status.stateType).toBe('SOFT');
    expect(s.sent).toEqual([]);
  });

  it('notification_options filter states and recoveries', () => {
    const { s } = setup({ maxCheckAttempts: 1, notificationOptions: ['c'] });
    s.check(1);
    expect(s.sent).toEqual([]);
    s.check(2);
    s.check(0);
    expect(s.types()).toEqual(['PROBLEM']);
  });
});

describe('acknowledgements', () => {
  const ack = (sticky: boolean, at: number) => ({ sticky, notify: true, author: 'alice', comment: 'on it', at });

  it('a normal acknowledgement stops notifications and clears on the next state change', () => {
    const { clock, s } = setup({ maxCheckAttempts: 1 });
    s.check(1);
    const t = acknowledge(s.status, ack(false, clock.now()), s.pol);
    s.status = t.status;
    expect(t.notifications.map((n) => n.type)).toEqual(['ACKNOWLEDGEMENT']);
    clock.advance(60 * MIN);
    s.check(1); // same state, past the re-notification time: still silent
    expect(s.types()).toEqual(['PROBLEM']);
    s.check(2); // WARNING -> CRITICAL: the ack ends and the change is notified
    expect(s.status.ack).toBeNull();
    expect(s.types()).toEqual(['PROBLEM', 'PROBLEM']);
  });

  it('a sticky acknowledgement survives problem state changes and clears only on OK', () => {
    const { clock, s } = setup({ maxCheckAttempts: 1 });
    s.check(1);
    s.status = acknowledge(s.status, ack(true, clock.now()), s.pol).status;
    s.check(2);
    s.check(1);
    expect(s.status.ack?.sticky).toBe(true);
    expect(s.types()).toEqual(['PROBLEM']);
    s.check(0);
    expect(s.status.ack).toBeNull();
    expect(s.types()).toEqual(['PROBLEM', 'RECOVERY']);
  });

  it('an OK object cannot be acknowledged', () => {
    const { clock, s } = setup();
    expect(() => acknowledge(s.status, ack(false, clock.now()), s.pol)).toThrow(/only a problem/);
  });
});

describe('scheduled downtime', () => {
  const dt = (over: Partial<Downtime>): Downtime => ({
    id: 'd1', key: 'web1/http', fixed: true, start: 0, end: 0, durationMs: 0, author: 'bob', comment: 'maintenance', startedAt: null, ...over,
  });

  it('fixed downtime covers exactly its window and suppresses problem notifications', () => {
    const { clock, s } = setup({ maxCheckAttempts: 1, notificationIntervalMs: 0 });
    const t0 = clock.now();
    s.downtimes = [dt({ start: t0 + 10 * MIN, end: t0 + 20 * MIN })];
    clock.advance(9 * MIN);
    s.tick();
    expect(s.status.downtimeDepth).toBe(0);
    clock.advance(1 * MIN);
    s.tick();
    expect(s.status.downtimeDepth).toBe(1);
    s.check(2);
    expect(s.types()).toEqual(['DOWNTIMESTART']);
    clock.advance(10 * MIN);
    s.tick();
    expect(s.status.downtimeDepth).toBe(0);
    s.check(2); // still broken after the window: now notified
    expect(s.types()).toEqual(['DOWNTIMESTART', 'DOWNTIMEEND', 'PROBLEM']);
  });

  it('flexible downtime starts with the first problem inside the window and lasts its duration', () => {
    const { clock, s } = setup({ maxCheckAttempts: 1, notificationIntervalMs: 0 });
    const t0 = clock.now();
    s.downtimes = [dt({ fixed: false, start: t0, end: t0 + 60 * MIN, durationMs: 15 * MIN })];
    s.tick();
    expect(s.status.downtimeDepth).toBe(0); // OK: nothing triggers it yet
    clock.advance(30 * MIN);
    s.check(2); // the problem triggers it and is not notified
    expect(s.status.downtimeDepth).toBe(1);
    expect(s.types()).toEqual(['DOWNTIMESTART']);
    clock.advance(14 * MIN);
    s.tick();
    expect(s.status.downtimeDepth).toBe(1);
    clock.advance(1 * MIN); // 15 minutes after the trigger, past nothing of the window end
    s.tick();
    expect(s.status.downtimeDepth).toBe(0);
    expect(s.types()).toEqual(['DOWNTIMESTART', 'DOWNTIMEEND']);
  });

  it('a flexible downtime with no problem in its window expires silently', () => {
    const { clock, s } = setup();
    const t0 = clock.now();
    s.downtimes = [dt({ fixed: false, start: t0, end: t0 + 10 * MIN, durationMs: 5 * MIN })];
    clock.advance(11 * MIN);
    s.tick();
    expect(s.downtimes).toEqual([]);
    expect(s.sent).toEqual([]);
  });

  it('nested downtimes count depth; the object leaves downtime when the last ends', () => {
    const { clock, s } = setup({ maxCheckAttempts: 1, notificationIntervalMs: 0 });
    const t0 = clock.now();
    s.downtimes = [dt({ id: 'a', start: t0, end: t0 + 10 * MIN }), dt({ id: 'b', start: t0 + 5 * MIN, end: t0 + 20 * MIN })];
    s.tick();
    clock.advance(5 * MIN);
    s.tick();
    expect(s.status.downtimeDepth).toBe(2);
    clock.advance(5 * MIN);
    s.tick();
    expect(s.status.downtimeDepth).toBe(1);
    s.check(2);
    expect(s.types()).toEqual(['DOWNTIMESTART']); // still in downtime: no PROBLEM
    const cancelled = cancelDowntime(s.status, s.downtimes, 'b', s.pol, clock.now());
    expect(cancelled.status.downtimeDepth).toBe(0);
    expect(cancelled.notifications.map((n) => n.type)).toEqual(['DOWNTIMECANCELLED']);
  });

  it('a host in downtime blocks its services\' notifications', () => {
    const { s } = setup({ maxCheckAttempts: 1 });
    s.host = { problem: false, inDowntime: true };
    s.check(2);
    expect(s.sent).toEqual([]);
  });
});

describe('flapping', () => {
  it('weighs 20 transitions from 0.75 (oldest) to 1.25 (newest)', () => {
    const all = Array.from({ length: 21 }, (_, i) => i % 2);
    expect(percentStateChange(all)).toBeCloseTo(100, 6);
    // only the newest transition changed: weight 1.25 -> 6.25 %
    expect(percentStateChange([...Array(20).fill(0), 2])).toBeCloseTo(6.25, 6);
    // only the oldest: 0.75 -> 3.75 %
    expect(percentStateChange([0, ...Array(20).fill(2)])).toBeCloseTo(3.75, 6);
    // transitions 11..20 changing: sum of weights i=11..20
    const w = (i: number) => 0.75 + ((i - 1) * 0.5) / 19;
    let expected = 0;
    for (let i = 11; i <= 20; i++) expected += w(i);
    expect(percentStateChange([...Array(11).fill(0), 2, 0, 2, 0, 2, 0, 2, 0, 2, 0])).toBeCloseTo((expected * 100) / 20, 6);
  });

  it('starts at >= 30 % with FLAPPINGSTART, suppresses problems, stops at <= 20 % with FLAPPINGSTOP', () => {
    const { s } = setup({ maxCheckAttempts: 1, notificationIntervalMs: 0 });
    s.status = { ...s.status, flap: { history: Array(21).fill(0), percent: 0, flapping: false } };
    const seq = [2, 0, 2, 0, 2, 0];
    const percents: number[] = [];
    for (const st of seq) {
      s.check(st);
      percents.push(s.status.flap.percent);
      if (s.status.flap.flapping) break;
    }
    // 1.25 + 1.2237 + 1.1974 + 1.1711 + 1.1447 = 5.99 -> 29.9 % after 5 changes: not yet
    expect(percents[4]).toBeLessThan(30);
    expect(s.status.flap.flapping).toBe(true);
    expect(percents.at(-1)).toBeGreaterThanOrEqual(30);
    const before = s.types();
    expect(before).toEqual(['PROBLEM', 'RECOVERY', 'PROBLEM', 'RECOVERY', 'PROBLEM', 'FLAPPINGSTART']);
    s.check(2); // a change while flapping: no PROBLEM notification
    expect(s.types().at(-1)).toBe('FLAPPINGSTART');
    let checks = 0;
    while (s.status.flap.flapping && checks < 30) {
      s.check(2);
      checks++;
    }
    expect(s.status.flap.flapping).toBe(false);
    expect(s.status.flap.percent).toBeLessThanOrEqual(20);
    // The recovery inside the flapping was not notified, so the still failing service is a
    // fresh problem once flapping is over: FLAPPINGSTOP, then PROBLEM, in the same check.
    expect(s.types().slice(before.length)).toEqual(['FLAPPINGSTOP', 'PROBLEM']);
  });

  it('between the thresholds the previous verdict stands (hysteresis)', () => {
    const { s } = setup({ maxCheckAttempts: 1, flap: { enabled: true, lowPercent: 20, highPercent: 30 } });
    // 25 %: below high, above low
    const hist = [...Array(16).fill(0), 2, 0, 2, 0, 2];
    const pct = percentStateChange(hist);
    expect(pct).toBeGreaterThan(20);
    expect(pct).toBeLessThan(30);
    s.status = { ...s.status, state: 2, flap: { history: hist.slice(1), percent: 0, flapping: true } };
    s.check(2); // hist now ends ... 2, 0, 2, 2 -> still between: stays flapping
    expect(s.status.flap.percent).toBeGreaterThan(20);
    expect(s.status.flap.flapping).toBe(true);
  });
});

describe('freshness', () => {
  it('a result is stale after check_interval + latency + 15 s, or retry_interval while SOFT', () => {
    const { clock, s } = setup();
    expect(staleness(s.status, s.pol, clock.now() + 5 * MIN + 15_000).stale).toBe(false);
    expect(staleness(s.status, s.pol, clock.now() + 5 * MIN + 15_001).stale).toBe(true);
    s.check(2); // SOFT: the retry interval applies
    expect(staleness(s.status, s.pol, clock.now() + 1 * MIN + 15_001).stale).toBe(true);
    expect(staleness(s.status, s.pol, clock.now() + 1 * MIN + 14_999).stale).toBe(false);
  });

  it('freshness_threshold overrides the automatic threshold, and a stale result becomes the stale state', () => {
    const { clock, s } = setup({ freshness: { enabled: true, thresholdMs: 20 * MIN, staleState: 3 } });
    clock.advance(19 * MIN);
    expect(staleness(s.status, s.pol, clock.now()).stale).toBe(false);
    clock.advance(2 * MIN);
    expect(staleness(s.status, s.pol, clock.now()).stale).toBe(true);
    const r = staleResult(s.status, s.pol, clock.now());
    expect(r.state).toBe(3);
    expect(r.output).toMatch(/stale: last result 1260 s ago, freshness threshold 1200 s/);
  });
});
