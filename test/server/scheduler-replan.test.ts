/**
 * A re-plan (every shard hand-over of several instances, every reload) must not touch the
 * checks that are running: it once closed every executor (its map is keyed by transport and
 * host, the inventory by host), which aborted the running checks, and their "check aborted:
 * the server is shutting down" was recorded as UNKNOWN and mailed (seen in CI in a rolling
 * restart of three instances). An aborted check is never a result.
 */
import { describe, expect, it } from 'vitest';
import { Monitor } from '../../server/core/monitor.ts';
import { LocalExecutor } from '../../server/executors/local.ts';
import type { Executor } from '../../server/executors/types.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { Scheduler } from '../../server/scheduler/scheduler.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';

function setup() {
  const inv = loadInventory(`
server: { timezone: UTC }
defaults: { freshness: false, flap_detection: false, max_check_attempts: 1, check_interval: 1m }
hosts: { h: { local: true } }
services:
  - { name: slow, host: h, command: "/bin/sh -c 'sleep 0.6; echo OK - slept'", timeout: 10s }
`);
  const clock = new FakeClock(Date.parse('2026-01-08T10:00:00Z'));
  const store = openSqliteStore(':memory:', () => clock.now());
  const monitor = new Monitor(inv, store, clock);
  const closed: string[] = [];
  const executors: LocalExecutor[] = [];
  const factory = (): Executor => {
    const ex = new LocalExecutor();
    executors.push(ex);
    const close = ex.close.bind(ex);
    ex.close = async () => {
      closed.push('local');
      await close();
    };
    return ex;
  };
  const sched = new Scheduler({ monitor, clock, executorFactory: factory, tickMs: 60_000 });
  return { clock, monitor, sched, closed, executors };
}

const until = async (what: string, cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('scheduler re-plan with a check running', () => {
  it('keeps the executor of a host still in the inventory and lets its running check finish', async () => {
    const t = setup();
    t.sched.start();
    try {
      const n0 = t.sched.stats.executed;
      t.clock.advance(10); // the first check is due at once; the guard (fake clock) must not fire
      await until('the check running', () => t.sched.stats.running === 1);
      // What a shard hand-over does on every surviving instance.
      t.sched.plan({ overdueNow: true });
      t.sched.plan();
      await until('a result', () => t.sched.stats.executed > n0 && t.sched.stats.running === 0, 5000);
      expect(t.closed).toEqual([]);
      expect(t.monitor.status('h/slow')).toMatchObject({ state: 0, output: 'OK - slept' });
      expect(t.executors.length).toBe(1);
    } finally {
      await t.sched.stop();
    }
  });

  it('records nothing for a check aborted under it; the object is checked again', async () => {
    const t = setup();
    t.sched.start();
    try {
      t.clock.advance(10);
      await until('the check running', () => t.sched.stats.running === 1);
      // An executor closed under a running check (as a re-plan once did): the abort is not a result.
      await t.executors[0]!.close();
      await until('the run ended', () => t.sched.stats.running === 0);
      expect(t.monitor.status('h/slow')?.output ?? '').not.toMatch(/aborted|shutting down/);
      expect(t.monitor.status('h/slow')?.state).not.toBe(3);
      const n0 = t.sched.stats.executed;
      // Tried again at the retry interval (max_check_attempts 1: the check interval), with a fresh executor.
      t.clock.advance(61_000);
      await until('a result', () => t.sched.stats.executed > n0 && t.sched.stats.running === 0, 5000);
      expect(t.monitor.status('h/slow')).toMatchObject({ state: 0, output: 'OK - slept' });
    } finally {
      await t.sched.stop();
    }
  });
});

describe('taking over overdue objects', () => {
  it('runs at once what fell due less than an interval ago, and spreads what is overdue by more (all instances were down)', () => {
    const services = Array.from({ length: 12 }, (_, i) => `  - { name: s${String(i).padStart(2, '0')}, host: h, command: "/bin/true" }`).join('\n');
    const inv = loadInventory(`
server: { timezone: UTC }
defaults: { freshness: false, flap_detection: false, max_check_attempts: 1, check_interval: 1m }
hosts: { h: { local: true, check: none } }
services:
${services}
`);
    const clock = new FakeClock(Date.parse('2026-01-08T10:00:00Z'));
    const monitor = new Monitor(inv, openSqliteStore(':memory:', () => clock.now()), clock);
    const now = clock.now();
    const keys = Array.from({ length: 12 }, (_, i) => `h/s${String(i).padStart(2, '0')}`);
    // the first six fell due 5 s ago (a lease ran out), the others 5 minutes ago
    monitor.adopt(keys.map((k, i) => ({ ...monitor.status(k)!, checked: true, lastCheck: now - 65_000, nextCheck: i < 6 ? now - 5_000 : now - 300_000 })), new Map());
    const sched = new Scheduler({ monitor, clock, executorFactory: () => new LocalExecutor(), tickMs: 60_000 });
    sched.plan({ overdueNow: true });
    const due = keys.map((k) => sched.nextRun(k)!);
    expect(due.slice(0, 6)).toEqual(Array(6).fill(now));
    const spread = due.slice(6);
    expect(new Set(spread).size).toBe(6);
    expect(Math.max(...spread) - Math.min(...spread)).toBeGreaterThan(20_000);
    expect(spread.every((t) => t >= now && t < now + 60_000)).toBe(true);
    void sched.stop();
  });
});
