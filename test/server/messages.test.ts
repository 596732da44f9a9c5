// Issue 9 item 9, the server's own words: what it writes itself (executor failures, cluster
// rule lines, API errors, the degraded state) has none of ; ` ~ $ & | ' " < >, which Nagios 4
// turns into : or strips from notifications.
import { describe, expect, it } from 'vitest';
import { FORBIDDEN, plainText } from '../../server/core/text.ts';
import { StoreHealth } from '../../server/core/health.ts';
import { createRuntime } from '../../server/core/runtime.ts';
import { createLocalExecutor } from '../../server/executors/local.ts';
import { failureOutcome } from '../../server/executors/outcome.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { evaluateClusterRule } from '../../server/state/cluster.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { initialStatus } from '../../server/state/machine.ts';
import { FakeExecutors } from './helpers.ts';

describe('server messages', () => {
  it('executor failures, cluster rule lines, API errors and the degraded message are plain text', async () => {
    const lines: string[] = [];
    const local = createLocalExecutor();
    const req = (argv: [string, ...string[]], timeoutMs = 3000) => ({ hostName: 'a', address: '127.0.0.1', transport: { kind: 'local' as const }, command: { kind: 'argv' as const, argv }, timeoutMs, timeoutState: 2 as const });
    lines.push((await local.run(req(["/nonexistent/it's"]))).output);
    lines.push((await local.run(req(['/bin/sleep', '5'], 200))).output);
    lines.push((await local.run(req(['/bin/sh', '-c', 'echo "bad option; use <x> & \\`y\\`" >&2; exit 3']))).output);
    lines.push(failureOutcome('connect', 2, "connect ECONNREFUSED '127.0.0.1'; try <again> | later & $HOME ~", 0, 0).output);

    const inv = loadInventory(`
hosts:
  db1: { address: 192.0.2.1 }
  db2: { address: 192.0.2.2 }
services:
  - { name: pgsql, hosts: [db1, db2], command: check_pgsql }
cluster_rules:
  - { name: one primary, service: pgsql, hosts: [db1, db2], match: { perfdata: is_primary, equals: 1 }, expect: { exactly: 1 }, description: "the primary's <only> one; really" }
`);
    const rule = inv.clusterRules.get('cluster/one primary');
    if (!rule) throw new Error('rule');
    const statuses = new Map([
      ['db1/pgsql', { ...initialStatus('db1/pgsql', 'service', 'db1', 'pgsql', 0), checked: true, perfdata: 'is_primary=1' }],
      ['db2/pgsql', { ...initialStatus('db2/pgsql', 'service', 'db2', 'pgsql', 0), checked: true, state: 3 }], // UNKNOWN: undetermined
    ]);
    const r = evaluateClusterRule(rule, (k) => statuses.get(k) as never, 0);
    lines.push(r?.output ?? '');
    expect(r?.output).toMatch(/^CLUSTER UNKNOWN - the primarys .*one, really: 1 of 2 match, expected exactly 1 - db1 is_primary matches, db2 UNKNOWN$/);

    const rt = await createRuntime({ inventory: inv, executorFactory: new FakeExecutors().factory, database: ':memory:', clock: new FakeClock(), apiToken: () => 't', autoStart: false });
    lines.push((await rt.app.inject({ url: "/api/v1/objects/it's<x>" })).json().message);
    lines.push((await rt.app.inject({ method: 'POST', url: '/api/v1/recheck', headers: { authorization: 'Bearer t' }, payload: { key: 'cluster/one primary' } })).json().message);
    await rt.stop();

    const h = new StoreHealth(new FakeClock());
    h.fail('writing state changes', Object.assign(new Error("disk I/O error; can't write <db>"), { code: 'SQLITE_IOERR' }));
    lines.push(h.degraded?.message ?? '');

    expect(lines.filter((l) => FORBIDDEN.test(l))).toEqual([]);
    expect(lines.every((l) => l.length > 10)).toBe(true);
  });

  it('plainText keeps the meaning', () => {
    expect(plainText("'/x' above 5 MiB; use <a> & b | c")).toBe('/x above 5 MiB, use below a above and b / c');
  });
});
