// Issue 10 items 1 and 3: the built-in rule kinds (judged on member statuses) and the
// hold-down (through the monitor and the state machine, on the fake clock).
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../server/core/runtime.ts';
import { InventoryError, loadInventory } from '../../server/inventory/load.ts';
import type { ClusterRuleConfig } from '../../server/inventory/types.ts';
import { evaluateClusterRule, globRegExp } from '../../server/state/cluster.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { initialStatus } from '../../server/state/machine.ts';
import type { CheckStatus } from '../../server/state/types.ts';
import { FakeExecutors , syncStore } from './helpers.ts';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { createExecutor } from '../../server/executors/index.ts';
import { binPath } from '../support/bin.ts';
import { fixturePath } from '../support/paths.ts';
import { removeDir, tempDir } from '../support/tmp.ts';

const HOSTS = ['n1', 'n2', 'n3'];

function inv(rule: string, extra = ''): ReturnType<typeof loadInventory> {
  return loadInventory(`
notifications: { email: { smtp: { host: 127.0.0.1, port: 25, security: none } } }
contacts: { ops: { email: ops@test.invalid } }
hosts:
${HOSTS.map((h) => `  ${h}: { local: true, contacts: [ops] }`).join('\n')}
services:
  - { name: svc, hosts: [n1, n2, n3], command: check_x }
cluster_rules:
  - { name: r, service: svc, hosts: [n1, n2, n3], ${rule} }
${extra}`);
}
function rule(yaml: string): ClusterRuleConfig {
  const r = inv(yaml).clusterRules.get('cluster/r');
  if (!r) throw new Error('no rule');
  return r;
}

type Said = { state?: number; perf?: string; out?: string; stale?: boolean; lastCheck?: number };
function judge(r: ClusterRuleConfig, said: Said[]) {
  const m = new Map<string, CheckStatus>();
  said.forEach((s, i) => {
    const h = HOSTS[i]!;
    m.set(`${h}/svc`, { ...initialStatus(`${h}/svc`, 'service', h, 'svc', 0), checked: true, state: s.state ?? 0, perfdata: s.perf ?? '', output: s.out ?? 'X OK', stale: s.stale ?? false, lastCheck: s.lastCheck ?? 1000 });
  });
  const res = evaluateClusterRule(r, (k) => m.get(k), 99_000);
  if (!res) throw new Error('not judged');
  return res;
}

describe('rule kinds', () => {
  it('exactly_one over a role: sums the gauges; undetermined members make it UNKNOWN unless it is surely broken', () => {
    const r = rule('kind: exactly_one, role: vip_owned');
    const v = (n: number) => ({ perf: `vip_owned=${n};;;0;1` });
    expect(judge(r, [v(1), v(0), v(0)]).state).toBe(0);
    expect(judge(r, [v(1), v(1), v(0)]).state).toBe(2);
    expect(judge(r, [v(0), v(0), v(0)]).state).toBe(2);
    expect(judge(r, [v(1), v(0), { state: 3 }]).state).toBe(3); // n3 might hold it too
    expect(judge(r, [v(1), v(1), { state: 3 }]).state).toBe(2); // two already: broken whatever n3 says
    expect(judge(r, [v(1), v(0), { perf: 'other=1' }]).output).toContain('n3 no vip_owned');
    expect(judge(r, [v(1), v(0), { ...v(0), stale: true }]).output).toContain('n3 stale');
  });

  it('a rule whose members are all stale or UNKNOWN is UNKNOWN, not OK (also for at_most and at_least 0)', () => {
    for (const y of ['kind: exactly_one, role: vip_owned', 'kind: at_most, role: vip_owned, count: 1', 'match: { state: [ok] }, expect: { at_least: 0 }', 'kind: quorum', 'kind: all_agree, value: { perfdata: uuid }']) {
      const res = judge(rule(y), [{ state: 3 }, { stale: true, perf: 'vip_owned=0' }, { state: 3 }]);
      expect(res.state, y).toBe(3);
      expect(res.output, y).toMatch(/^CLUSTER UNKNOWN - /);
    }
  });

  it('at_least / at_most with count; a role glob sums several labels per member but never a peer view (label with @)', () => {
    const least = rule('kind: at_least, role: "*_primary", count: 2');
    const p = (...v: number[]) => ({ perf: v.map((x, i) => `r${i}_primary=${x} r${i}@peer_peer_primary=1`).join(' ') });
    expect(judge(least, [p(1, 1), p(0, 0), p(0, 0)]).state).toBe(0); // two resources primary on n1
    expect(judge(least, [p(1, 0), p(0, 0), { state: 3 }]).state).toBe(3);
    expect(judge(least, [p(1, 0), p(1, 0), { state: 3 }]).state).toBe(0); // at least: an unknown member can only add
    expect(judge(least, [p(1, 0), p(0, 0), p(0, 0)]).state).toBe(2);
    const most = rule('kind: at_most, role: r0_primary, count: 1, state: warning');
    expect(judge(most, [p(0), p(0), p(0)]).state).toBe(0);
    expect(judge(most, [p(1), p(1), p(0)]).state).toBe(1);
    expect(globRegExp('*_primary').test('r0@nodeb_peer_primary')).toBe(false);
    expect(globRegExp('r0@*_peer_primary').test('r0@nodeb_peer_primary')).toBe(true);
  });

  it('all_agree: a Galera state UUID from the output, a perfdata value, corosync membership', () => {
    const uuid = rule('kind: all_agree, value: { output: "state uuid ([0-9a-f-]+)" }');
    const g = (u: string) => ({ out: `GALERA OK - Synced, primary, state uuid ${u}` });
    expect(judge(uuid, [g('6a1f-01'), g('6a1f-01'), g('6a1f-01')])).toMatchObject({ state: 0 });
    const split = judge(uuid, [g('6a1f-01'), g('6a1f-01'), g('77b2-99')]);
    expect(split.state).toBe(2);
    expect(split.output).toBe('CLUSTER CRITICAL - r: 2 different values - n1 6a1f-01, n2 6a1f-01, n3 77b2-99');
    expect(judge(uuid, [g('6a1f-01'), g('6a1f-01'), { state: 3 }]).state).toBe(3);
    const members = rule('kind: all_agree, value: { perfdata: members }');
    expect(judge(members, [{ perf: 'members=3' }, { perf: 'members=3' }, { perf: 'members=3' }]).state).toBe(0);
    expect(judge(members, [{ perf: 'members=3' }, { perf: 'members=2' }, { perf: 'members=2' }]).state).toBe(2);
    const ring = rule('kind: all_agree, value: { output: "members ([0-9 ]+)$" }');
    expect(judge(ring, [{ out: 'COROSYNC OK - members 1 2 3' }, { out: 'COROSYNC OK - members 1 2 3' }, { out: 'COROSYNC OK - members 1 2' }]).state).toBe(2);
  });

  it('quorum: more than half of the members OK', () => {
    const q = rule('kind: quorum');
    expect(judge(q, [{}, {}, { state: 2 }])).toMatchObject({ state: 0 });
    expect(judge(q, [{}, { state: 2 }, { state: 1 }]).output).toBe('CLUSTER CRITICAL - r: 1 of 3 OK, quorum needs 2 - n1 OK, n2 CRITICAL, n3 WARNING');
    expect(judge(q, [{}, { state: 2 }, { state: 3 }]).state).toBe(3);
  });

  it('the last check of a rule is the newest member result it judged', () => {
    const r = rule('kind: quorum');
    expect(judge(r, [{ lastCheck: 5000 }, { lastCheck: 7000 }, { lastCheck: 6000 }]).executedAt).toBe(7000);
  });

  it('refuses what cannot be meant, with the line', () => {
    const bad = (y: string): string => {
      try {
        inv(y);
      } catch (e) {
        return (e as InventoryError).problems.join('\n');
      }
      return '';
    };
    expect(bad('kind: exactly_two, role: x')).toMatch(/cluster_rules\[0\]\.kind: must be one of exactly_one, at_least, at_most, all_agree, quorum/);
    expect(bad('kind: exactly_one')).toMatch(/cluster_rules\[0\]\.role: is required/);
    expect(bad('kind: at_least, role: x')).toMatch(/kind at_least needs count: N/);
    expect(bad('kind: exactly_one, role: x, expect: { exactly: 1 }')).toMatch(/cluster_rules\[0\]\.expect: does not apply to kind exactly_one/);
    expect(bad('kind: all_agree, value: { output: "uuid [0-9a-f]+" }')).toMatch(/needs a group/);
    expect(bad('role: vip_owned, expect: { exactly: 1 }')).toMatch(/cluster_rules\[0\]\.role: needs a kind \(role and count go with exactly_one, at_least or at_most/);
    expect(bad('kind: quorum, hold_down: { results: 0 }')).toMatch(/hold_down\.results: must be an integer from 1 to 100/);
  });
});

describe('hold-down (fake clock)', () => {
  async function setup(hold: string) {
    const clock = new FakeClock();
    const rt = await createRuntime({
      inventory: inv(`kind: exactly_one, role: vip_owned${hold}`),
      executorFactory: new FakeExecutors().factory,
      database: ':memory:',
      clock,
      autoStart: false,
    });
    const say = (host: string, owned: number) => rt.monitor.submitResult(`${host}/svc`, { state: 0, output: 'VIP OK', longOutput: '', perfdataText: `vip_owned=${owned}`, executedAt: clock.now(), durationMs: 1 });
    const st = () => rt.monitor.status('cluster/r')!;
    return { clock, rt, say, st };
  }

  it('HARD only after N bad judgements AND S seconds; the members are re-checked meanwhile', async () => {
    const { clock, rt, say, st } = await setup(', hold_down: { results: 2, time: 20s }, retry_interval: 5s');
    say('n1', 1);
    say('n2', 0);
    say('n3', 0);
    expect(st()).toMatchObject({ state: 0 });
    say('n2', 1); // bad judgement 1
    expect(st()).toMatchObject({ state: 2, stateType: 'SOFT', attempt: 1 });
    clock.advance(1000);
    say('n3', 0); // judgement 2 after 1 s: the count is reached, the time is not
    expect(st()).toMatchObject({ state: 2, stateType: 'SOFT' });
    expect(rt.monitor.tick()).toEqual([]); // retry (5 s) not due yet
    clock.advance(5000);
    expect(rt.monitor.tick().sort()).toEqual(['n1/svc', 'n2/svc', 'n3/svc']); // held down: fresh results wanted
    expect(rt.monitor.tick()).toEqual([]); // asked once per retry interval
    clock.advance(15_000);
    expect(st()).toMatchObject({ state: 2, stateType: 'SOFT' }); // time alone never makes it HARD
    say('n1', 1);
    expect(st()).toMatchObject({ state: 2, stateType: 'HARD' });
    expect(syncStore(rt.store).outboxCounts().pending).toBe(1);
    await rt.stop();
  });

  it('a flip that ends within the hold-down is never HARD and queues nothing; hold_down: false is the old immediate HARD', async () => {
    const a = await setup('');
    a.say('n1', 1);
    a.say('n2', 0);
    a.say('n3', 0);
    a.say('n2', 1);
    a.clock.advance(3000);
    a.say('n2', 1);
    a.say('n1', 1);
    expect(a.st()).toMatchObject({ state: 2, stateType: 'SOFT' }); // 3 judgements, but only 3 s (default 30 s)
    a.clock.advance(2000);
    a.say('n1', 0); // VRRP settled
    expect(a.st()).toMatchObject({ state: 0, stateType: 'HARD' });
    expect(syncStore(a.rt.store).outboxCounts().pending).toBe(0);
    await a.rt.stop();

    const b = await setup(', hold_down: false');
    b.say('n1', 1);
    b.say('n2', 0);
    b.say('n3', 0);
    b.say('n2', 1);
    expect(b.st()).toMatchObject({ state: 2, stateType: 'HARD' });
    expect(syncStore(b.rt.store).outboxCounts().pending).toBe(1);
    await b.rt.stop();
  });

  it('a failover (the role moves from n1 to n2 while the rule holds) is a FAILOVER notice in the history and /metrics, never a notification', async () => {
    const { clock, rt, say, st } = await setup(', hold_down: { results: 2, time: 3s }, retry_interval: 1s');
    say('n1', 1);
    say('n2', 0);
    say('n3', 0);
    expect(st()).toMatchObject({ state: 0 });
    // n1 gives the VIP up, n2 takes it a moment later: one judgement with nobody holding it.
    clock.advance(1000);
    say('n1', 0);
    expect(st()).toMatchObject({ state: 2, stateType: 'SOFT' });
    clock.advance(500);
    say('n2', 1);
    expect(st()).toMatchObject({ state: 0 });
    // An OK judgement with the same holder again is no second failover.
    clock.advance(1000);
    say('n3', 0);
    const events = syncStore(rt.store).history({ key: 'cluster/r', limit: 50 });
    const notices = events.filter((e) => e.type === 'FAILOVER');
    expect(notices.map((e) => e.output)).toEqual(['FAILOVER - r: vip_owned moved from n1 to n2']);
    expect(rt.monitor.failovers.get('cluster/r')).toBe(1);
    expect(syncStore(rt.store).outboxCounts().pending).toBe(0);
    // Back to n1: the second one.
    clock.advance(1000);
    say('n2', 0);
    say('n1', 1);
    expect(syncStore(rt.store).history({ key: 'cluster/r', limit: 50 }).filter((e) => e.type === 'FAILOVER')).toHaveLength(2);
    const metrics = await (await rt.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/hawatch_cluster_failovers_total\{rule="cluster\/r"\} 2/);
    expect(syncStore(rt.store).outboxCounts().pending).toBe(0);
    await rt.stop();
  });
});

/** Two local members running a built plugin on a fixture each; an all_agree rule over a perfdata value. */
async function agreeOnFixtures(plugin: string, option: string, label: string, fixtures: [string, string][]): Promise<string[]> {
  const dir = tempDir('hawatch-agree-');
  const put = (host: string, fixture: string) => copyFileSync(fixturePath(plugin, fixture), join(dir, `${host}.txt`));
  const rt = await createRuntime({
    inventory: loadInventory(`
defaults: { check_interval: 1h }
hosts: { c1: { local: true }, c2: { local: true } }
services:
  - { name: m, hosts: [c1, c2], command: "${process.execPath} ${binPath(`check_ha_${plugin}`)} ${option} ${dir}/$HOSTNAME$.txt" }
cluster_rules:
  - { name: agree, kind: all_agree, value: { perfdata: ${label} }, service: m, hosts: [c1, c2], hold_down: false }
`),
    executorFactory: createExecutor,
    database: ':memory:',
    clock: new FakeClock(),
    autoStart: false,
  });
  const out: string[] = [];
  try {
    rt.scheduler.start();
    for (const [a, b] of fixtures) {
      put('c1', a);
      put('c2', b);
      await Promise.all(['c1/m', 'c2/m'].map((k) => rt.scheduler.recheck(k)));
      const st = rt.monitor.status('cluster/agree')!;
      out.push(`${st.state} ${st.output}`);
    }
  } finally {
    await rt.stop();
    removeDir(dir);
  }
  return out;
}

describe('all_agree with the built plugins on their fixtures', () => {
  it('corosync membership: both nodes see 2 members OK; a partition that sees only itself CRITICAL, naming what each said', async () => {
    expect(await agreeOnFixtures('corosync', '--quorum-file', 'members', [['3.1-quorate.quorum.txt', '3.1-quorate.quorum.txt'], ['3.1-quorate.quorum.txt', '3.1-inquorate.quorum.txt']])).toEqual([
      '0 CLUSTER OK - agree: all agree - c1 2, c2 2',
      '2 CLUSTER CRITICAL - agree: 2 different values - c1 2, c2 1',
    ]);
  });

  it('Galera cluster size as each node sees it: a node in a non-Primary partition disagrees', async () => {
    expect(await agreeOnFixtures('galera', '--input-file', 'cluster_size', [['galera-3-nodes-healthy.json', 'galera-3-nodes-healthy.json'], ['galera-3-nodes-healthy.json', 'galera-non-primary.json']])).toEqual([
      '0 CLUSTER OK - agree: all agree - c1 3, c2 3',
      '2 CLUSTER CRITICAL - agree: 2 different values - c1 3, c2 1',
    ]);
  });
});
