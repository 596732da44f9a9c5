/**
 * A store that answers later (PostgreSQL) gets the results of groupCommitMs in one
 * transaction instead of one per check result (bench:ha: a transaction per result cost a round
 * trip per statement for every check). Nothing is lost or reordered: every status arrives,
 * the last result of an object wins, and flushed() does not wait for the timer.
 */
import { describe, expect, it } from 'vitest';
import { Monitor } from '../../server/core/monitor.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import type { AnyStore, StoreChange } from '../../server/store/types.ts';

function setup(groupCommitMs: number) {
  const inv = loadInventory(`
defaults: { freshness: false, flap_detection: false, max_check_attempts: 1 }
hosts: { h: { local: true } }
services:
${Array.from({ length: 20 }, (_, i) => `  - { name: s${i}, host: h, command: /bin/true }`).join('\n')}
`);
  const clock = new FakeClock(Date.parse('2026-01-08T10:00:00Z'));
  const base = openSqliteStore(':memory:', () => clock.now());
  const commits: StoreChange[] = [];
  // The SQLite store made to answer later, as PostgreSQL does (a round trip per commit).
  const store = Object.assign(Object.create(null), base, {
    commit: async (c: StoreChange) => {
      commits.push(c);
      await new Promise((r) => setTimeout(r, 2));
      base.commit(c);
    },
    groupCommitMs,
  }) as AnyStore;
  const monitor = new Monitor(inv, store, clock);
  const result = (i: number, state: 0 | 2) => monitor.submitResult(`h/s${i}`, { state, output: `state ${state}`, longOutput: '', perfdataText: '', executedAt: clock.now(), durationMs: 1 });
  return { base, commits, monitor, result };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 20 CRITICAL results 5 ms apart, then everything written. */
async function spacedResults(t: ReturnType<typeof setup>): Promise<void> {
  for (let i = 0; i < 20; i++) {
    t.result(i, 2);
    await sleep(5);
  }
  expect(await t.monitor.flushed()).toBe(true);
}

describe('group commit on a store that answers later', () => {
  it('results 5 ms apart go in a few transactions, not one each; every status is written', async () => {
    const t = setup(20);
    await spacedResults(t);
    const written = t.commits.reduce((n, c) => n + c.statuses.length, 0);
    expect(written).toBeGreaterThanOrEqual(20);
    // About 100 ms of results in 20 ms groups (the commit in flight gathers too): far fewer than 20.
    expect(t.commits.length).toBeLessThanOrEqual(10);
    for (let i = 0; i < 20; i++) expect(t.base.loadStatuses().find((s) => s.key === `h/s${i}`)?.state).toBe(2);
  });

  it('without grouping each result spaced out is a transaction of its own (the comparison)', async () => {
    const t = setup(0);
    await spacedResults(t);
    expect(t.commits.length).toBeGreaterThanOrEqual(15);
  });

  it('the last result of an object wins within a group, and flushed() writes without waiting for the timer', async () => {
    const t = setup(60_000);
    t.result(0, 2);
    t.result(0, 0);
    t.result(1, 2);
    const t0 = Date.now();
    expect(await t.monitor.flushed()).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(t.commits).toHaveLength(1);
    expect(t.base.loadStatuses().find((s) => s.key === 'h/s0')?.state).toBe(0);
    expect(t.base.loadStatuses().find((s) => s.key === 'h/s1')?.state).toBe(2);
    // The history keeps both changes of s0, in order.
    expect(t.base.history({ key: 'h/s0', limit: 10 }).map((e) => e.state).reverse()).toEqual([2, 0]);
  });
});
