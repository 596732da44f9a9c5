// A cluster rule over members the admin node cannot reach (server/state/rule-members.ts), found
// by the lab's admin-cut fault: the tier's switch DOWN is the one notification; the rule over
// its UNREACHABLE hosts is held, also in the seconds after the heal when the hosts are back but
// their services not re-checked yet. A member host that is DOWN (a dead node) is not held.
import { describe, expect, it } from 'vitest';
import { Monitor } from '../../server/core/monitor.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';

const INV = `
notifications: { email: { smtp: { host: 127.0.0.1, port: 25, security: none } } }
contacts: { ops: { email: ops@test.invalid } }
defaults: { max_check_attempts: 1, flap_detection: false }
hosts:
  sw: { address: 192.0.2.2, check: check_ping, contacts: [ops] }
  db1: { address: 192.0.2.11, check: check_ping, contacts: [ops], parents: [sw] }
  db2: { address: 192.0.2.12, check: check_ping, contacts: [ops], parents: [sw] }
services:
  - { name: vip, hosts: [db1, db2], command: check_vip }
cluster_rules:
  - { name: one db owner, kind: exactly_one, role: vip_owned, service: vip, hosts: [db1, db2], hold_down: false }
`;
const RULE = 'cluster/one db owner';

function setup() {
  const clock = new FakeClock();
  const store = openSqliteStore(':memory:', () => clock.now());
  const m = new Monitor(loadInventory(INV), store, clock);
  const result = (key: string, state: 0 | 1 | 2 | 3, output: string, perfdataText = '') => {
    clock.advance(1000);
    m.submitResult(key, { state, output, longOutput: '', perfdataText, executedAt: clock.now(), durationMs: 1 });
  };
  const sent = () => store.pendingOutbox(1000).map((r) => `${r.notification.type} ${r.notification.key}`);
  const held = () => store.history({ key: RULE, limit: 100 }).filter((h) => h.type === 'NOTIFICATION_SUPPRESSED').map((h) => h.detail);
  const healthy = () => {
    for (const h of ['sw', 'db1', 'db2']) result(h, 0, 'PING OK');
    result('db1/vip', 0, 'VIP OK - held here', 'vip_owned=1');
    result('db2/vip', 0, 'VIP OK - not held here', 'vip_owned=0');
  };
  return { m, result, sent, held, healthy };
}

describe('cluster rule over unreachable members', () => {
  it('the switch DOWN notifies; the rule over its UNREACHABLE hosts is held, during the cut and after the heal until the members are re-checked', () => {
    const t = setup();
    t.healthy();
    expect(t.m.status(RULE)).toMatchObject({ state: 0 });
    // The cut: the switch, then the hosts behind it, then a member's check times out.
    t.result('sw', 2, 'PING CRITICAL - 100% loss');
    t.result('db1', 2, 'CHECK_NRPE: Socket timeout');
    t.result('db1/vip', 2, 'CHECK_NRPE: Socket timeout');
    expect(t.m.status('db1')).toMatchObject({ state: 2, stateType: 'HARD' });
    expect(t.m.status(RULE)?.state).not.toBe(0);
    expect(t.held()).toContain('suppressed by member host db1 is unreachable');
    // The heal: switch and hosts first, the rule judged again (db2's result) before db1/vip ran.
    t.result('sw', 0, 'PING OK');
    t.result('db1', 0, 'NRPE v4');
    t.result('db2/vip', 0, 'VIP OK - not held here', 'vip_owned=0');
    expect(t.m.status(RULE)?.state).not.toBe(0);
    expect(t.sent()).toEqual(['PROBLEM sw', 'RECOVERY sw']);
    t.result('db1/vip', 0, 'VIP OK - held here', 'vip_owned=1');
    expect(t.m.status(RULE)).toMatchObject({ state: 0 });
    expect(t.sent()).toEqual(['PROBLEM sw', 'RECOVERY sw']);
  });

  it('a member host DOWN (its parent UP) is judged: nobody holding the VIP pages', () => {
    const t = setup();
    t.healthy();
    t.result('db1', 2, 'CHECK_NRPE: connection refused');
    t.result('db1/vip', 2, 'CHECK_NRPE: connection refused');
    expect(t.m.status('db1')).toMatchObject({ state: 1, stateType: 'HARD' });
    expect(t.sent()).toEqual(['PROBLEM db1', `PROBLEM ${RULE}`]);
  });
});
