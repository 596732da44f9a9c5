// Issue 10 item 5: host parents and UNREACHABLE (Nagios "Determining Status and Reachability
// of Network Hosts"), driven by the fake clock through the real Monitor, store and scheduler.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { Monitor } from '../../server/core/monitor.ts';
import { createRuntime } from '../../server/core/runtime.ts';
import { InventoryError, loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { findCycle, problemHostState } from '../../server/state/reachability.ts';
import { initialStatus } from '../../server/state/machine.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { FakeExecutors, settle , syncStore } from './helpers.ts';

const INV = `
notifications: { email: { smtp: { host: 127.0.0.1, port: 25, security: none } } }
contacts: { ops: { email: ops@test.invalid } }
defaults: { max_check_attempts: 1 }
hosts:
  router: { address: 192.0.2.1, check: check_ping, contacts: [ops] }
  sw: { address: 192.0.2.2, check: check_ping, contacts: [ops], parents: [router] }
  db1: { address: 192.0.2.11, check: check_ping, contacts: [ops], parents: [sw] }
  db2: { address: 192.0.2.12, check: check_ping, contacts: [ops], parents: [sw], notification_options: [d, u, r] }
services:
  - { name: mysql, hosts: [db1, db2], command: check_mysql }
`;

const MIN = 60_000;

function setup(text = INV) {
  const clock = new FakeClock();
  const store = openSqliteStore(':memory:', () => clock.now());
  const m = new Monitor(loadInventory(text), store, clock);
  const result = (key: string, state: 0 | 1 | 2 | 3, output = `state ${state}`) =>
    m.submitResult(key, { state, output, longOutput: '', perfdataText: '', executedAt: clock.now(), durationMs: 1 });
  const sent = () => store.pendingOutbox(1000).map((r) => `${r.notification.type} ${r.notification.key} ${r.notification.stateName}`);
  const history = (key: string) => store.history({ key, limit: 100 });
  return { clock, store, m, result, sent, history };
}

describe('reachability (pure)', () => {
  it('DOWN without parents or with one parent UP; UNREACHABLE when every parent is DOWN or UNREACHABLE', () => {
    const now = 0;
    const st = (key: string, state: number, checked = true) => ({ ...initialStatus(key, 'host', key, null, now), checked, state });
    const map = new Map([['a', st('a', 1)], ['b', st('b', 2)], ['c', st('c', 0)], ['p', st('p', 1, false)]]);
    const of = (k: string) => map.get(k);
    expect(problemHostState([], of)).toBe(1);
    expect(problemHostState(['a', 'b'], of)).toBe(2);
    expect(problemHostState(['a', 'c'], of)).toBe(1);
    // A parent not checked yet counts as UP (Nagios starts hosts UP).
    expect(problemHostState(['a', 'p'], of)).toBe(1);
  });

  it('finds loops', () => {
    expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', []]]))).toBeNull();
    expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a']);
  });
});

describe('UNREACHABLE through the monitor', () => {
  it('router DOWN: children UNREACHABLE, no notification for them nor their services; only the router notifies', () => {
    const t = setup();
    t.result('router', 2, 'PING CRITICAL - 100% loss');
    expect(t.m.status('router')).toMatchObject({ state: 1, stateType: 'HARD' });
    t.result('sw', 2, 'PING CRITICAL - 100% loss');
    t.result('db1', 2, 'PING CRITICAL - 100% loss');
    t.result('db1/mysql', 2, 'cannot connect');
    expect(t.m.status('sw')).toMatchObject({ state: 2, stateType: 'HARD' });
    expect(t.m.status('db1')).toMatchObject({ state: 2, stateType: 'HARD' });
    expect(t.sent()).toEqual(['PROBLEM router DOWN']);
    // Why, in history: the host's own options (default d,r,f,s: no u) and its services' host.
    expect(t.history('sw').find((h) => h.type === 'NOTIFICATION_SUPPRESSED')?.detail).toBe('notification_options exclude UNREACHABLE');
    expect(t.history('db1/mysql').find((h) => h.type === 'NOTIFICATION_SUPPRESSED')?.detail).toBe('host is unreachable');
  });

  it('notification_options with u: the UNREACHABLE host notifies, as Nagios does', () => {
    const t = setup();
    t.result('router', 2);
    t.result('sw', 2);
    t.result('db2', 2);
    expect(t.sent()).toEqual(['PROBLEM router DOWN', 'PROBLEM db2 UNREACHABLE']);
  });

  it('a child whose parent is UP is DOWN and notifies; a host without parents is DOWN', () => {
    const t = setup();
    t.result('router', 0);
    t.result('sw', 0);
    t.result('db1', 2);
    expect(t.m.status('db1')).toMatchObject({ state: 1 });
    expect(t.sent()).toEqual(['PROBLEM db1 DOWN']);
  });

  it('a host change asks for its children and parents to be checked at once (Nagios check propagation)', () => {
    const t = setup();
    t.result('sw', 0);
    t.result('db1', 0);
    t.result('db2', 0);
    t.result('router', 2);
    // the router went DOWN: its children that are not UNREACHABLE yet
    expect(t.m.takeRechecks().sort()).toEqual(['sw']);
    t.result('sw', 2);
    expect(t.m.takeRechecks().sort()).toEqual(['db1', 'db2']);
    t.result('db1', 2);
    expect(t.m.takeRechecks()).toEqual([]);
    // the router recovers: sw (not UP) is re-checked, through tick() as well
    t.result('router', 0);
    expect(t.m.tick()).toEqual(['sw']);
  });

  it('parent recovers: the scheduler re-checks the child at once; it is DOWN now (it notifies) or UP', async () => {
    const fx = new FakeExecutors();
    const clock = new FakeClock();
    const rt = await createRuntime({ inventory: loadInventory(INV), executorFactory: fx.factory, database: ':memory:', clock, autoStart: false, apiToken: () => 't' });
    const sent = () => syncStore(rt.store).pendingOutbox(1000).map((r) => `${r.notification.type} ${r.notification.key} ${r.notification.stateName}`);
    try {
      rt.scheduler.start();
      fx.set('router', 2, 'PING CRITICAL - 100% loss');
      fx.set('sw', 2, 'PING CRITICAL - 100% loss');
      fx.set('db1', 2, 'PING CRITICAL - 100% loss');
      await rt.scheduler.recheck('router');
      await settle();
      // propagation: sw then db1 were checked without waiting for their intervals
      expect(rt.monitor.status('sw')).toMatchObject({ state: 2 });
      expect(rt.monitor.status('db1')).toMatchObject({ state: 2 });
      expect(sent()).toEqual(['PROBLEM router DOWN']);
      const before = fx.requests.filter((r) => r.hostName === 'db1').length;
      // the router and sw come back; db1 is still dead: now it is DOWN and its own problem
      fx.set('router', 0, 'PING OK');
      fx.set('sw', 0, 'PING OK');
      await rt.scheduler.recheck('router');
      await settle();
      expect(rt.monitor.status('sw')).toMatchObject({ state: 0 });
      expect(fx.requests.filter((r) => r.hostName === 'db1').length).toBeGreaterThan(before);
      expect(rt.monitor.status('db1')).toMatchObject({ state: 1, stateType: 'HARD' });
      expect(sent()).toContain('PROBLEM db1 DOWN');
      // the API says UNREACHABLE / DOWN by name
      const st = (await rt.app.inject({ method: 'GET', url: '/api/v1/objects/db1' })).json() as { status: { stateName: string } };
      expect(st.status.stateName).toBe('DOWN');
      clock.advance(MIN);
    } finally {
      await rt.stop();
    }
  });

  it('the API names UNREACHABLE and why its services are quiet', async () => {
    const fx = new FakeExecutors();
    const clock = new FakeClock();
    const rt = await createRuntime({ inventory: loadInventory(INV), executorFactory: fx.factory, database: ':memory:', clock, autoStart: false, apiToken: () => 't' });
    try {
      const r = (key: string, state: 0 | 2) => rt.monitor.submitResult(key, { state, output: 'x', longOutput: '', perfdataText: '', executedAt: clock.now(), durationMs: 1 });
      r('router', 2);
      r('sw', 2);
      r('db1', 2);
      r('db1/mysql', 2);
      const get = async (key: string) => (await rt.app.inject({ method: 'GET', url: `/api/v1/objects/${encodeURIComponent(key)}` })).json() as { status: { stateName: string; suppressed: string | null } };
      expect((await get('db1')).status).toMatchObject({ stateName: 'UNREACHABLE' });
      expect((await get('db1/mysql')).status).toMatchObject({ stateName: 'CRITICAL', suppressed: 'host is unreachable' });
    } finally {
      await rt.stop();
    }
  });
});

describe('the status page', () => {
  it('shows UNREACHABLE and why a service and a dependent are quiet, in headless Chromium', async () => {
    const CHROMIUM = '/usr/bin/chromium';
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    const text = `${INV}dependencies:\n  - { dependent: db2/mysql, master: db1/mysql, notification_failure_criteria: c }\n`;
    const rt = await createRuntime({ inventory: loadInventory(text), executorFactory: new FakeExecutors().factory, database: ':memory:', autoStart: false, apiToken: () => 't' });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
    try {
      const r = (key: string, state: 0 | 2) => rt.monitor.submitResult(key, { state, output: `state ${state}`, longOutput: '', perfdataText: '', executedAt: Date.now(), durationMs: 1 });
      r('router', 2);
      r('sw', 2);
      r('db1', 2);
      r('db1/mysql', 2);
      r('db2/mysql', 2);
      const base = await rt.app.listen({ host: '127.0.0.1', port: 0 });
      const page = await browser.newPage();
      await page.goto(base + '/');
      await page.waitForSelector('tr[data-key="db1"] td.state', { timeout: 10_000 });
      expect(await page.locator('tr[data-key="db1"] td.state').innerText()).toContain('UNREACHABLE');
      expect(await page.locator('tr[data-key="db1/mysql"] td.state').innerText()).toContain('host is unreachable');
      expect(await page.locator('tr[data-key="db2/mysql"] td.state').innerText()).toContain('suppressed by dependency on db1/mysql (CRITICAL)');
      // The counts say what the table shows: UNREACHABLE and never-checked hosts have badges too.
      const badges = await page.locator('#summary .badge').allInnerTexts();
      const sum = rt.monitor.summary().hosts;
      expect(badges).toContain(`hosts UNREACHABLE ${sum.UNREACHABLE}`);
      expect(badges).toContain(`hosts PENDING ${sum.PENDING}`);
      expect(sum.UNREACHABLE).toBeGreaterThan(0);
      expect(sum.PENDING).toBeGreaterThan(0);
    } finally {
      await browser.close();
      await rt.stop();
    }
  }, 90_000);
});

describe('parents in the inventory', () => {
  it('refuses unknown parents and loops with one line each', () => {
    const bad = INV.replace('parents: [router] }', 'parents: [db1] }').replace("db2: { address: 192.0.2.12, check: check_ping, contacts: [ops], parents: [sw]", "db2: { address: 192.0.2.12, check: check_ping, contacts: [ops], parents: [nowhere]");
    let err: InventoryError | null = null;
    try {
      loadInventory(bad, 'inv.yaml');
    } catch (e) {
      err = e as InventoryError;
    }
    expect(err).toBeInstanceOf(InventoryError);
    expect(err!.problems).toEqual([
      expect.stringMatching(/^inv\.yaml:\d+:\d+: hosts\.db2\.parents\[0\]: unknown host 'nowhere': parents are hosts of this inventory/),
      expect.stringMatching(/^inv\.yaml:\d+:\d+: hosts\.db1\.parents: parents form a loop db1 -> sw -> db1: a host cannot be its own ancestor/),
    ]);
  });
});
