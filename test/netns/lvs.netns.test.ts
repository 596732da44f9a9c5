/**
 * check_ha_lvs against the real ipvsadm in a namespace. With IPVS in the kernel, virtual
 * services are created with ipvsadm and checked; without it (as on the machine these tests
 * were written on: CONFIG_IP_VS is not set), the check must say so plainly. Parsing of the
 * populated output is covered by the fixture tests either way.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binPath, runProgram } from '../support/bin.ts';
import { requireProgram } from '../support/require.ts';
import { Lab, requireNamespaces } from './harness.ts';

let lab: Lab;
let ns: string;

beforeAll(() => {
  requireNamespaces();
  requireProgram('ipvsadm', 'ipvsadm');
  binPath('check_ha_lvs');
  lab = new Lab('lv');
  ns = lab.netns('L');
});

afterAll(async () => {
  await lab?.cleanup();
});

describe('check_ha_lvs with the real ipvsadm', () => {
  const ipvs = existsSync('/proc/net/ip_vs');

  it.runIf(!ipvs)('a kernel without IPVS: CRITICAL that says how to load it', async () => {
    const r = await lab.plugin(ns, 'check_ha_lvs', []);
    expect(r.stdout).toBe('LVS CRITICAL - this kernel has no IPVS: load it with modprobe ip_vs (kernel option CONFIG_IP_VS), nothing is load-balanced here\n');
    expect(r.code).toBe(2);
  });

  it.runIf(ipvs)('real virtual services: one healthy, one with every real server quiesced', async () => {
    lab.exec(ns, 'ipvsadm', ['-A', '-t', '192.0.2.100:80', '-s', 'wlc']);
    lab.exec(ns, 'ipvsadm', ['-a', '-t', '192.0.2.100:80', '-r', '192.0.2.11:80', '-g', '-w', '1']);
    lab.exec(ns, 'ipvsadm', ['-a', '-t', '192.0.2.100:80', '-r', '192.0.2.12:80', '-g', '-w', '1']);
    lab.exec(ns, 'ipvsadm', ['-A', '-t', '192.0.2.101:3306', '-s', 'rr']);
    lab.exec(ns, 'ipvsadm', ['-a', '-t', '192.0.2.101:3306', '-r', '192.0.2.31:3306', '-m', '-w', '0']);
    const ok = await lab.plugin(ns, 'check_ha_lvs', ['-s', 'TCP 192.0.2.100:80', '--stats', '--rate']);
    expect(ok.stdout).toMatch(/^LVS OK - 1 virtual service, 2 usable real servers/);
    expect(ok.stdout).toContain('tcp_192.0.2.100:80_conns=0c');
    const bad = await lab.plugin(ns, 'check_ha_lvs', []);
    expect(bad.stdout).toMatch(/^LVS CRITICAL - TCP 192\.0\.2\.101:3306: 0 of 1 real servers usable/);
  });

  it('as an unprivileged user: UNKNOWN naming the sudoers rule (or the missing IPVS)', async () => {
    const r = await runProgram('ip', ['netns', 'exec', ns, 'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, binPath('check_ha_lvs')]);
    expect(r.stdout).toMatch(ipvs ? /^LVS UNKNOWN - ipvsadm needs more privileges .*nagios ALL=\(root\) NOPASSWD: \/usr\/sbin\/ipvsadm -Ln/ : /^LVS (UNKNOWN - ipvsadm needs more privileges|CRITICAL - this kernel has no IPVS)/);
  });
});
