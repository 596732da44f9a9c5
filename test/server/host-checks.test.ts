// Issue 10 item 4: hosts are checked by default (NRPE: _NRPE_CHECK, SSH: a login); a host
// without a check is never silently "assumed UP": its status and the API say so. The real
// NRPE and SSH runs are in e2e-remote.test.ts (stock nrpe, hawatch-agent, sshd).
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { FakeExecutors, settle } from './helpers.ts';

const INV = `
notifications: { email: { smtp: { host: 127.0.0.1, port: 25, security: none } } }
contacts: { ops: { email: ops@test.invalid } }
hosts:
  n1: { address: 192.0.2.1, nrpe: { tls: false }, contacts: [ops] }
  n2: { address: 192.0.2.2, ssh: { user: nagios, private_key_file: /k, host_key: "SHA256:${'A'.repeat(43)}" }, contacts: [ops] }
  n3: { address: 192.0.2.3, nrpe: { tls: false }, check: none, contacts: [ops] }
  n4: { address: 192.0.2.4, nrpe: { tls: false }, check: check_ping_alive, contacts: [ops] }
  admin: { local: true }
  web1: { address: 192.0.2.5, contacts: [ops] }
`;

describe('host checks by default', () => {
  it('NRPE gets _NRPE_CHECK, SSH a login, local and check: none get none; each says where it comes from', () => {
    const inv = loadInventory(INV);
    expect(inv.hosts.get('n1')).toMatchObject({ checkSource: 'default', check: { argv: ['_NRPE_CHECK'] } });
    expect(inv.hosts.get('n2')).toMatchObject({ checkSource: 'default', check: { argv: ['echo', 'SSH OK - login worked'] } });
    expect(inv.hosts.get('n3')).toMatchObject({ checkSource: 'none', check: null });
    expect(inv.hosts.get('n4')).toMatchObject({ checkSource: 'configured', check: { argv: ['check_ping_alive'] } });
    expect(inv.hosts.get('admin')).toMatchObject({ checkSource: 'none', check: null });
    // n3 has no check: it cannot go DOWN, so nobody needs telling; admin neither.
    expect(inv.warnings.filter((w) => w.includes('nobody'))).toEqual([]);
  });

  it('an inventory without any contact gets one warning, not one per object', () => {
    const inv = loadInventory(INV.replace(/, contacts: \[ops\]/g, '').replace('contacts: { ops: { email: ops@test.invalid } }', ''));
    expect(inv.warnings.filter((w) => /nobody|notify anyone/.test(w))).toEqual([
      expect.stringMatching(/: contacts: no contacts: none of the 3 hosts, services and rules that can fail would notify anyone/),
    ]);
  });

  it('the agent answers _NRPE_CHECK: the host goes DOWN when it does not; hosts without a check say so in the API', async () => {
    const fx = new FakeExecutors();
    const clock = new FakeClock();
    const rt = await createRuntime({ inventory: loadInventory(INV), executorFactory: fx.factory, database: ':memory:', clock, autoStart: false, apiToken: () => 't' });
    try {
      rt.scheduler.start();
      fx.set('n1 _NRPE_CHECK', 2, 'CHECK_NRPE: Error - Could not connect to 192.0.2.1: Connection refused');
      await rt.scheduler.recheck('n1');
      await settle();
      expect(fx.requests.find((r) => r.hostName === 'n1')?.command).toEqual({ kind: 'nrpe', command: '_NRPE_CHECK', args: [] });
      expect(rt.monitor.status('n1')).toMatchObject({ state: 1, output: expect.stringContaining('Connection refused') });
      const get = async (key: string) => (await rt.app.inject({ method: 'GET', url: `/api/v1/objects/${key}` })).json() as { status: { hostCheck: string | null; active: boolean; stateName: string; output: string } };
      expect((await get('n3')).status).toMatchObject({ hostCheck: 'none', active: false, stateName: 'UP', output: 'No host check (check: none): shown UP, a dead host would not be noticed' });
      expect((await get('admin')).status).toMatchObject({ hostCheck: 'none', output: 'Local host: the admin node itself, UP while the server runs, no host check' });
      expect((await get('n1')).status).toMatchObject({ hostCheck: 'default', active: true, stateName: 'DOWN' });
      expect((await get('n4')).status.hostCheck).toBe('configured');
      // No transport: its checks run on the admin node against its address; the host is not the admin node.
      expect((await get('web1')).status).toMatchObject({ hostCheck: 'none', output: 'No host check: its checks run on the admin node, shown UP; give it a check (e.g. check_ping) to see it DOWN' });
      // check: none on a host that was DOWN: UP again and saying why, not DOWN forever.
      rt.monitor.reload(loadInventory(INV.replace('n1: { address: 192.0.2.1, nrpe: { tls: false }, contacts: [ops] }', 'n1: { address: 192.0.2.1, nrpe: { tls: false }, check: none, contacts: [ops] }')));
      expect((await get('n1')).status).toMatchObject({ hostCheck: 'none', stateName: 'UP', output: expect.stringMatching(/^No host check \(check: none\)/) });
    } finally {
      await rt.stop();
    }
  });
});
