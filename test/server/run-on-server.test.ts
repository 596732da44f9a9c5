// `run_on: server`: a service of an NRPE (or SSH) host whose command runs on the admin node
// against the host's address, as every check does in Nagios: check_http through a VIP,
// check_ssh on the seed's port 322. Real executors: the NRPE port is a real closed port on
// loopback (nothing listens), the local command a real process.
import { describe, expect, it } from 'vitest';
import { cli } from '../../server/cli/cli.ts';
import { createRuntime } from '../../server/core/runtime.ts';
import { createExecutor } from '../../server/executors/index.ts';
import { InventoryError, loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { join } from 'node:path';
import { ROOT } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';
import { settle } from './helpers.ts';

const inventory = (port: number, extra = '') => `
contacts: { ops: { email: ops@test.invalid } }
notifications: { email: { smtp: { host: 127.0.0.1, port: 25, security: none } } }
hosts:
  web1: { address: 127.0.0.1, nrpe: { port: ${port}, tls: false }, contacts: [ops] }
services:
  - { name: ssh, host: web1, run_on: server, command: "/bin/echo SSH OK - probed $HOSTADDRESS$ port 322 from the admin node" }
  - { name: load, host: web1, command: check_load -r -w 4 -c 6 }
${extra}`;

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await cli(argv, { out: (s) => (out += s), err: (s) => (err += s), script: join(ROOT, 'dist/bin/hawatch-server.cjs'), executorFactory: async () => createExecutor });
  return { code, out, err };
}

describe('run_on: server', () => {
  it('runs on the admin node with the host macros while the host and its other services go over NRPE', async () => {
    const port = await freePort(); // nothing listens: the agent is "dead"
    const clock = new FakeClock();
    const rt = await createRuntime({ inventory: loadInventory(inventory(port)), executorFactory: createExecutor, database: ':memory:', clock, autoStart: false, apiToken: () => 't' });
    try {
      rt.scheduler.start();
      await Promise.all([rt.scheduler.recheck('web1/ssh'), rt.scheduler.recheck('web1/load'), rt.scheduler.recheck('web1')]);
      for (let i = 0; i < 200 && (rt.scheduler.stats.running > 0 || rt.scheduler.stats.queued > 0); i++) await new Promise((r) => setTimeout(r, 10));
      await settle();
      expect(rt.monitor.status('web1/ssh')).toMatchObject({ state: 0, output: 'SSH OK - probed 127.0.0.1 port 322 from the admin node' });
      // The same host's NRPE checks still go to the (dead) agent.
      expect(rt.monitor.status('web1/load')?.output).toMatch(/connect|refused/i);
      expect(rt.monitor.status('web1')?.state).toBe(1);
    } finally {
      await rt.stop();
    }
  });

  it('rejects another value with a line saying what to write', () => {
    expect(() => loadInventory(inventory(5666).replace('run_on: server', 'run_on: admin'))).toThrow(InventoryError);
    expect(() => loadInventory(inventory(5666).replace('run_on: server', 'run_on: admin'))).toThrow(/run_on: is admin: write host .* or server/);
  });

  it('exports: no agent line for it, a local command for Nagios and Icinga 2; check resolves its program here', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'hawatch-runon-'));
    try {
      const file = join(dir, 'inv.yaml');
      writeFileSync(file, inventory(5666));
      const agent = await run(['export', 'agent', '--config', file, '--host', 'web1', '--allowed-hosts', '192.0.2.5']);
      expect(agent.code, agent.err).toBe(0);
      expect(agent.out).toMatch(/^command\[check_load\]=/m);
      expect(agent.out).not.toMatch(/echo|ssh/i);
      const nagios = await run(['export', 'nagios', '--config', file]);
      expect(nagios.code, nagios.err).toBe(0);
      expect(nagios.out).toMatch(/check_command\s+hawatch-local!\/bin\/echo SSH OK - probed 127\.0\.0\.1 port 322 from the admin node$/m);
      const icinga = await run(['export', 'icinga2', '--config', file]);
      expect(icinga.code, icinga.err).toBe(0);
      expect(icinga.out).toContain('command = [ "/bin/echo", "SSH", "OK", "-", "probed", "127.0.0.1"');
      // A program that does not exist on the admin node is named by check.
      writeFileSync(file, inventory(5666).replace('/bin/echo', '/usr/lib/nagios/plugins/check_nothing_here'));
      const check = await run(['check', '--config', file]);
      expect(check.out + check.err).toMatch(/command \/usr\/lib\/nagios\/plugins\/check_nothing_here \(service web1\/ssh\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
