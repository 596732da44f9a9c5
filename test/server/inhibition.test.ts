// Issue 10 item 7, inhibition: while a quorum rule is a HARD problem, the problems of the
// objects it inhibits are held and counted into its notification; its recovery releases
// those still failing. The loader refuses rules that inhibit each other.
import { describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { InventoryError, loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { foldNote, inhibitionCycle, resolveInhibitions } from '../../server/state/inhibition.ts';
import { FakeExecutors , syncStore } from './helpers.ts';

const MIN = 60_000;

function inventory(rule: string, extraRules = '') {
  return loadInventory(`
defaults: { max_check_attempts: 1, notification_interval: 0, check_interval: 1d }
notifications: { email: { smtp: { host: 127.0.0.1, port: 25, security: none } }, group_window: 0s }
contacts: { ops: { email: ops@test.invalid } }
hosts:
  n1: { local: true, contacts: [ops] }
  n2: { local: true, contacts: [ops] }
  n3: { local: true, contacts: [ops] }
  web: { local: true, contacts: [ops] }
services:
  - { name: corosync, hosts: [n1, n2, n3], command: check_corosync }
  - { name: pgsql, hosts: [n1, n2, n3], command: check_pgsql }
  - { name: http, host: web, command: check_http }
cluster_rules:
  - { name: quorum, kind: quorum, service: corosync, hosts: [n1, n2, n3], ${rule} }
${extraRules}`);
}

async function boot(rule: string): Promise<{ rt: Runtime; clock: FakeClock; say: (k: string, s: number) => void; sent: () => string[]; outputOf: (k: string) => string[]; suppressed: (k: string) => (string | undefined)[] }> {
  const clock = new FakeClock();
  const rt = await createRuntime({ inventory: inventory(rule), executorFactory: new FakeExecutors().factory, database: ':memory:', clock, autoStart: false });
  const say = (key: string, state: number) => {
    rt.monitor.submitResult(key, { state: state as 0 | 1 | 2 | 3, output: `${['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'][state]} - ${key}`, longOutput: '', perfdataText: '', executedAt: clock.now(), durationMs: 1 });
  };
  const rows = () => syncStore(rt.store).recentOutbox(1000).reverse();
  return {
    rt,
    clock,
    say,
    sent: () => rows().map((r) => `${r.notification.key}:${r.notification.type}`),
    outputOf: (k) => rows().filter((r) => r.notification.key === k).map((r) => r.notification.output),
    suppressed: (k) => syncStore(rt.store).history({ key: k, limit: 100 }).filter((e) => e.type === 'NOTIFICATION_SUPPRESSED').map((e) => e.detail),
  };
}

describe('inhibition (pure)', () => {
  const objects = ['n1', 'n2', 'web'].flatMap((h) => [{ key: h, hostName: h, serviceName: null }, { key: `${h}/pgsql`, hostName: h, serviceName: 'pgsql' }]);
  const q = { key: 'cluster/quorum', members: [{ hostName: 'n1', key: 'n1/corosync' }, { hostName: 'n2', key: 'n2/corosync' }] };

  it('members are the member services and their hosts; globs match hosts and services; never the rule itself', () => {
    expect([...resolveInhibitions([{ ...q, inhibits: [{ kind: 'members' }] }], objects).get('cluster/quorum')!].sort()).toEqual(['n1', 'n1/corosync', 'n2', 'n2/corosync']);
    expect([...resolveInhibitions([{ ...q, inhibits: [{ kind: 'glob', host: 'n*', service: 'pg*' }] }], objects).get('cluster/quorum')!].sort()).toEqual(['n1/pgsql', 'n2/pgsql']);
    expect([...resolveInhibitions([{ ...q, inhibits: [{ kind: 'glob', host: 'web', service: null }] }], objects).get('cluster/quorum')!].sort()).toEqual(['web', 'web/pgsql']);
    const self = [...objects, { key: 'cluster/quorum', hostName: 'cluster', serviceName: 'quorum' }];
    expect(resolveInhibitions([{ ...q, inhibits: [{ kind: 'glob', host: '*', service: null }] }], self).get('cluster/quorum')!.has('cluster/quorum')).toBe(false);
    expect(resolveInhibitions([q], objects).has('cluster/quorum')).toBe(false); // no inhibits: nothing
  });

  it('finds cycles between rules', () => {
    const a = new Map([['a', new Set(['b', 'x'])], ['b', new Set(['c'])], ['c', new Set(['a'])]]);
    expect(inhibitionCycle(a)).toEqual(['a', 'b', 'c', 'a']);
    expect(inhibitionCycle(new Map([['a', new Set(['b'])], ['b', new Set(['x'])]]))).toBeNull();
    expect(foldNote(1)).toBe('plus 1 member alert held');
    expect(foldNote(4)).toBe('plus 4 member alerts held');
  });

  it('the loader reads inhibits, refuses a bad entry and rules that inhibit each other', () => {
    expect(inventory('inhibits: [members, "n*/pgsql"]').clusterRules.get('cluster/quorum')!.inhibits).toEqual([{ kind: 'members' }, { kind: 'glob', host: 'n*', service: 'pgsql' }]);
    expect(() => inventory('inhibits: ["n1;x"]')).toThrow(/is not members, HOSTGLOB or HOSTGLOB\/SERVICEGLOB/);
    const cycle = () => inventory('inhibits: ["cluster/web up"]', '  - { name: web up, kind: quorum, members: [web/http], inhibits: ["cluster/quorum"] }');
    expect(cycle).toThrow(InventoryError);
    expect(cycle).toThrow(/rules inhibit each other in a cycle \(cluster\/quorum inhibits cluster\/web up inhibits cluster\/quorum\)/);
    // One direction only is fine.
    expect(() => inventory('inhibits: ["cluster/web up"]', '  - { name: web up, kind: quorum, members: [web/http] }')).not.toThrow();
    // Globs that match nothing are probably a typo: a warning, not a refusal.
    expect(inventory('inhibits: ["db*"]').warnings.join('\n')).toMatch(/rule cluster\/quorum inhibits nothing: no host or service matches its inhibits globs/);
    expect(inventory('inhibits: [members]').warnings.join('\n')).not.toMatch(/inhibits nothing/);
  });
});

describe('inhibition in the monitor (fake clock)', () => {
  it('quorum lost holds the member alerts, counts them into its notification, and its recovery releases those still failing', async () => {
    const { rt, clock, say, sent, outputOf, suppressed } = await boot('hold_down: false, inhibits: [members, "n*/pgsql"], notification_interval: 10m');
    for (const h of ['n1', 'n2', 'n3']) {
      say(`${h}/corosync`, 0);
      say(`${h}/pgsql`, 0);
    }
    say('n1/corosync', 2); // 2 of 3 still OK: quorum holds, this one notifies
    say('n1/pgsql', 2);
    expect(sent()).toEqual(['n1/corosync:PROBLEM', 'n1/pgsql:PROBLEM']);
    say('n2/corosync', 2); // quorum lost (HARD at once: hold_down false); this member alert is folded into it
    expect(rt.monitor.status('cluster/quorum')).toMatchObject({ state: 2, stateType: 'HARD' });
    expect(sent()).toEqual(['n1/corosync:PROBLEM', 'n1/pgsql:PROBLEM', 'cluster/quorum:PROBLEM']);
    expect(outputOf('cluster/quorum')[0]).toMatch(/, plus 1 member alert held$/);
    expect(suppressed('n2/corosync')).toEqual(['inhibited by rule cluster/quorum']);
    say('n2/pgsql', 2);
    say('n3/pgsql', 2);
    say('web/http', 2); // not inhibited by this rule
    expect(sent().slice(3)).toEqual(['web/http:PROBLEM']);
    expect(suppressed('n3/pgsql')).toEqual(['inhibited by rule cluster/quorum']);
    expect(rt.monitor.inhibitedBy('n3/pgsql')).toBe('cluster/quorum');
    expect(rt.monitor.inhibitedBy('web/http')).toBeNull();
    const view = (await rt.app.inject({ method: 'GET', url: '/api/v1/objects/n3/pgsql' })).json().status;
    expect(view.inhibitedBy).toBe('cluster/quorum');
    // The rule's reminder counts everything it holds now.
    clock.advance(10 * MIN);
    say('n3/corosync', 0);
    expect(sent().slice(4)).toEqual(['cluster/quorum:PROBLEM']);
    expect(outputOf('cluster/quorum')[1]).toMatch(/, plus 3 member alerts held$/);
    // n2/pgsql recovers while held: it never notified, so no RECOVERY either.
    say('n2/pgsql', 0);
    expect(sent()).toHaveLength(5);
    // Quorum back: the rule recovers; the members still failing notify now, the recovered member does not.
    say('n2/corosync', 0);
    expect(rt.monitor.status('cluster/quorum')).toMatchObject({ state: 0 });
    expect(sent().slice(5).sort()).toEqual(['cluster/quorum:RECOVERY', 'n3/pgsql:PROBLEM']);
    expect(rt.monitor.status('n3/pgsql')!.notification.number).toBe(1);
    // Nothing is sent twice.
    rt.monitor.tick();
    say('n3/pgsql', 2);
    expect(sent()).toHaveLength(7);
    await rt.stop();
  });

  it('a SOFT rule problem inhibits nothing (a transient is not a lost quorum), and a rule without inhibits holds nothing', async () => {
    const soft = await boot('inhibits: [members], hold_down: { results: 3, time: 0s }');
    for (const h of ['n1', 'n2', 'n3']) soft.say(`${h}/corosync`, 0);
    soft.say('n1/corosync', 2);
    soft.say('n2/corosync', 2);
    expect(soft.rt.monitor.status('cluster/quorum')).toMatchObject({ state: 2, stateType: 'SOFT' });
    expect(soft.sent()).toEqual(['n1/corosync:PROBLEM', 'n2/corosync:PROBLEM']);
    await soft.rt.stop();

    const plain = await boot('hold_down: false');
    for (const h of ['n1', 'n2', 'n3']) plain.say(`${h}/corosync`, 0);
    plain.say('n1/corosync', 2);
    plain.say('n2/corosync', 2);
    expect(plain.sent()).toEqual(['n1/corosync:PROBLEM', 'n2/corosync:PROBLEM', 'cluster/quorum:PROBLEM']);
    expect(plain.outputOf('cluster/quorum')[0]).not.toContain('held');
    await plain.rt.stop();
  });
});
