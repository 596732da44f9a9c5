// Issue 10 item 5: host and service dependencies (Nagios "Host and Service Dependencies"):
// notification and execution dependency, inherits_parent, a cluster rule as master, loops
// and bad names refused by the loader and by `hawatch-server check`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Monitor } from '../../server/core/monitor.ts';
import { createRuntime } from '../../server/core/runtime.ts';
import { InventoryError, loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { FakeExecutors, settle , syncStore } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'hawatch-deps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MIN = 60_000;

// Two load balancers share a VIP; the web services are reached through it. Replication on
// db2 depends on db1 being UP; a backup job depends on replication with inherits_parent.
const INV = `
notifications: { email: { smtp: { host: 127.0.0.1, port: 25, security: none } } }
contacts: { ops: { email: ops@test.invalid } }
defaults: { max_check_attempts: 1, flap_detection: false }
hosts:
  lb1: { address: 192.0.2.1, check: check_ping, contacts: [ops] }
  lb2: { address: 192.0.2.2, check: check_ping, contacts: [ops] }
  web1: { address: 192.0.2.5, check: check_ping, contacts: [ops] }
  db1: { address: 192.0.2.11, check: check_ping, contacts: [ops] }
  db2: { address: 192.0.2.12, check: check_ping, contacts: [ops] }
services:
  - { name: vip, hosts: [lb1, lb2], command: check_vip }
  - name: http via vip
    host: web1
    command: check_http_vip
    dependencies:
      - { master: cluster/VIP owner, notification_failure_criteria: [c, u], execution_failure_criteria: c }
  - { name: replication, host: db2, command: check_repl }
  - { name: backup, host: db2, command: check_backup }
cluster_rules:
  - { name: VIP owner, kind: exactly_one, role: vip_owned, service: vip, hosts: [lb1, lb2], hold_down: { results: 1, time: 0 } }
dependencies:
  - { dependent: db2/replication, master: db1, notification_failure_criteria: d, execution_failure_criteria: "d,u" }
  - { dependent: db2/backup, master: db2/replication, notification_failure_criteria: c, inherits_parent: true }
`;

function setup(text = INV) {
  const clock = new FakeClock();
  const store = openSqliteStore(':memory:', () => clock.now());
  const m = new Monitor(loadInventory(text), store, clock);
  const result = (key: string, state: 0 | 1 | 2 | 3, output = `state ${state}`, perfdataText = '') =>
    m.submitResult(key, { state, output, longOutput: '', perfdataText, executedAt: clock.now(), durationMs: 1 });
  const sent = () => store.pendingOutbox(1000).map((r) => `${r.notification.type} ${r.notification.key} ${r.notification.stateName}`);
  const suppressed = (key: string) => store.history({ key, limit: 100 }).filter((h) => h.type === 'NOTIFICATION_SUPPRESSED').map((h) => h.detail);
  return { clock, store, m, result, sent, suppressed };
}

describe('notification dependency', () => {
  it('replication on db2 stays quiet while db1 is DOWN, says why, and notifies once db1 is UP and it is still bad', () => {
    const t = setup();
    t.result('db1', 2, 'PING CRITICAL');
    t.clock.advance(MIN);
    t.result('db2/replication', 2, 'Slave IO not running');
    expect(t.m.status('db2/replication')).toMatchObject({ state: 2, stateType: 'HARD' });
    expect(t.sent()).toEqual(['PROBLEM db1 DOWN']);
    expect(t.suppressed('db2/replication')).toEqual(['suppressed by dependency on db1 (DOWN)']);
    // db1 back; replication still broken: its own problem now
    t.result('db1', 0);
    t.clock.advance(MIN);
    t.result('db2/replication', 2, 'Slave IO not running');
    expect(t.sent()).toContain('PROBLEM db2/replication CRITICAL');
  });

  it('a SOFT master does not fail the dependency yet (soft_state_dependencies=0)', () => {
    const t = setup(INV.replace('db1: { address: 192.0.2.11, check: check_ping, contacts: [ops] }', 'db1: { address: 192.0.2.11, check: check_ping, contacts: [ops], max_check_attempts: 3 }'));
    t.result('db1', 2);
    expect(t.m.status('db1')).toMatchObject({ state: 1, stateType: 'SOFT' });
    t.result('db2/replication', 2);
    expect(t.sent()).toEqual(['PROBLEM db2/replication CRITICAL']);
  });

  it('inherits_parent: backup depends on replication, which depends on db1: db1 DOWN holds backup too', () => {
    const t = setup();
    t.result('db1', 2);
    t.result('db2/replication', 0);
    t.result('db2/backup', 2, 'no backup since 26 h');
    expect(t.suppressed('db2/backup')).toEqual(['suppressed by dependency on db1 (DOWN) via db2/replication']);
    expect(t.sent()).toEqual(['PROBLEM db1 DOWN']);
  });

  it('without inherits_parent the chain stops at the direct master', () => {
    const t = setup(INV.replace('inherits_parent: true', 'inherits_parent: false'));
    t.result('db1', 2);
    t.result('db2/replication', 0);
    t.result('db2/backup', 2);
    expect(t.sent()).toEqual(['PROBLEM db1 DOWN', 'PROBLEM db2/backup CRITICAL']);
  });

  it('a service reached through the VIP depends on the VIP cluster rule: no owner, no HTTP alert', () => {
    const t = setup();
    // nobody owns the VIP: the rule is CRITICAL (hold-down of 1 result)
    t.result('lb1/vip', 2, 'VIP 198.51.100.10 not here', 'vip_owned=0');
    t.result('lb2/vip', 2, 'VIP 198.51.100.10 not here', 'vip_owned=0');
    expect(t.m.status('cluster/VIP owner')).toMatchObject({ state: 2, stateType: 'HARD' });
    t.result('web1/http via vip', 2, 'connection refused');
    expect(t.sent().filter((s) => s.includes('http via vip'))).toEqual([]);
    expect(t.suppressed('web1/http via vip')).toEqual(['suppressed by dependency on cluster/VIP owner (CRITICAL)']);
  });
});

describe('execution dependency', () => {
  it('the scheduler skips replication while db1 is DOWN, keeps its last state, records it once, resumes after', async () => {
    const fx = new FakeExecutors();
    const clock = new FakeClock();
    const rt = await createRuntime({ inventory: loadInventory(INV), executorFactory: fx.factory, database: ':memory:', clock, autoStart: false, apiToken: () => 't' });
    const runs = () => fx.requests.filter((r) => r.hostName === 'db2' && r.command.kind === 'argv' && r.command.argv[0] === 'check_repl').length;
    try {
      rt.scheduler.start();
      fx.set('db2 check_repl', 1, 'WARNING - lag 40 s');
      await rt.scheduler.recheck('db2/replication');
      await settle();
      expect(runs()).toBe(1);
      expect(rt.monitor.status('db2/replication')).toMatchObject({ state: 1 });
      fx.set('db1', 2, 'PING CRITICAL');
      await rt.scheduler.recheck('db1');
      await settle();
      expect(rt.monitor.status('db1')).toMatchObject({ state: 1, stateType: 'HARD' });
      // two intervals pass (and a forced re-check): nothing runs, the state stays, no stale result
      fx.set('db2 check_repl', 2, 'CRITICAL - no replication');
      await rt.scheduler.recheck('db2/replication');
      for (let i = 0; i < 12; i++) {
        clock.advance(MIN);
        await settle(5);
      }
      expect(runs()).toBe(1);
      expect(rt.monitor.status('db2/replication')).toMatchObject({ state: 1, stale: false });
      const hist = syncStore(rt.store).history({ key: 'db2/replication', limit: 100 }).filter((h) => h.type === 'CHECK_SKIPPED');
      expect(hist.map((h) => h.detail)).toEqual(['check skipped: dependency on db1 (DOWN)']);
      const api = (await rt.app.inject({ method: 'GET', url: '/api/v1/objects/db2/replication' })).json() as { status: { checkSkipped: string | null } };
      expect(api.status.checkSkipped).toBe('dependency on db1 (DOWN)');
      // db1 recovers: replication runs again at its next turn
      fx.set('db1', 0, 'PING OK');
      await rt.scheduler.recheck('db1');
      for (let i = 0; i < 6; i++) {
        clock.advance(MIN);
        await settle(5);
      }
      expect(runs()).toBeGreaterThan(1);
      expect(rt.monitor.status('db2/replication')).toMatchObject({ state: 2 });
      expect(syncStore(rt.store).history({ key: 'db2/replication', limit: 100 }).filter((h) => h.type === 'CHECK_SKIPPED').map((h) => h.detail)[0]).toBe('checks resume, dependency on db1 (DOWN) cleared');
    } finally {
      await rt.stop();
    }
  });
});

describe('dependencies in the inventory', () => {
  const problems = (text: string): readonly string[] => {
    try {
      loadInventory(text, 'inv.yaml');
    } catch (e) {
      if (e instanceof InventoryError) return e.problems;
      throw e;
    }
    return [];
  };

  it('refuses a loop (through a per-service entry too), with one line', () => {
    const loop = INV.replace('master: db2/replication, notification_failure_criteria: c', 'master: db2/replication, notification_failure_criteria: c }\n  - { dependent: db2/replication, master: db2/backup, notification_failure_criteria: c');
    expect(problems(loop)).toEqual([expect.stringMatching(/^inv\.yaml:\d+:\d+: dependencies: notification dependencies form a loop db2\/backup -> db2\/replication -> db2\/backup: remove one of them$/)]);
  });

  it('names unknown objects, wrong state letters, a dependency that does nothing, and dependency_period', () => {
    const bad = INV.replace('dependent: db2/replication, master: db1, notification_failure_criteria: d, execution_failure_criteria: "d,u"', 'dependent: db2/replicaton, master: db1, notification_failure_criteria: c, dependency_period: 24x7')
      .replace('master: cluster/VIP owner, notification_failure_criteria: [c, u], execution_failure_criteria: c', 'master: cluster/VIP ownr');
    expect(problems(bad)).toEqual([
      expect.stringMatching(/^inv\.yaml:\d+:\d+: dependencies\[0\]\.dependency_period: is not supported: a dependency holds at all times, remove it$/),
      expect.stringMatching(/^inv\.yaml:\d+:\d+: dependencies\[0\]\.notification_failure_criteria: unknown state letter 'c' for a host master; use o, d, u, p \(or n for none\)$/),
      expect.stringMatching(/^inv\.yaml:\d+:\d+: dependencies\[0\]\.dependent: unknown object 'db2\/replicaton': write a host name, host\/service, or a cluster rule as host\/name/),
      expect.stringMatching(/^inv\.yaml:\d+:\d+: services\[1\]\.dependencies\[0\]\.master: unknown object 'cluster\/VIP ownr'/),
      expect.stringMatching(/^inv\.yaml:\d+:\d+: services\[1\]\.dependencies\[0\]: does nothing: give notification_failure_criteria and\/or execution_failure_criteria \(e\.g\. c,u\)$/),
    ]);
  });

  it('the example of server/README.md loads, with its parents and dependencies', () => {
    const readme = readFileSync(join(process.cwd(), 'server/README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Parents, UNREACHABLE and dependencies'));
    const yaml = /```yaml\n([^`]*)```/.exec(section)?.[1] ?? '';
    const inv = loadInventory(yaml, 'README.md');
    expect(inv.hosts.get('db1')?.parents).toEqual(['sw1']);
    expect(inv.dependencies?.map((d) => `${d.dependent} -> ${d.master}`)).toEqual(['db2/replication -> db1', 'db2/backup -> db2/replication', 'web1/http via vip -> cluster/one vip owner']);
    // (the only warnings: NRPE without a CA file, which the example leaves out for brevity)
    expect(inv.warnings.filter((w) => !/NRPE TLS without certificate verification/.test(w))).toEqual([]);
  });

  it('hawatch-server check reports bad references and exits non-zero', () => {
    const bin = join(process.cwd(), 'dist/bin/hawatch-server.cjs');
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build first (npm test does)`);
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, INV.replace('master: db1,', 'master: db9,').replace('web1: { address: 192.0.2.5,', 'web1: { parents: [lb3], address: 192.0.2.5,'));
    const r = spawnSync(process.execPath, [bin, 'check', '--config', file], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/bad\.yaml:\d+:\d+: dependencies\[0\]\.master: unknown object 'db9'/);
    expect(r.stderr).toMatch(/bad\.yaml:\d+:\d+: hosts\.web1\.parents\[0\]: unknown host 'lb3'/);
  });
});
