/**
 * Issue 9 item 7: Nagios, NRPE and init systems run checks with PATH=/usr/bin:/bin, which
 * hides the cluster tools in /usr/sbin. Each built check that runs such a tool is run here with
 * that PATH (the tools are installed only in /usr/sbin on this machine; CI installs them) and
 * must find it: its answer is whatever the tool said, never "not found" or "not installed".
 */
import { chmodSync, cpSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FALLBACK_DIRS, findProgram, runCommand } from '../../nagios/exec.ts';
import { binPath, runBin } from '../support/bin.ts';
import { requireFile } from '../support/require.ts';
import { removeDir, tempDir } from '../support/tmp.ts';

const RESTRICTED = { PATH: '/usr/bin:/bin', HOME: '/root', LANG: 'C' };
let dir: string;

beforeAll(() => {
  dir = tempDir('hawatch-lookup-');
  for (const [tool, pkg] of [['iptables-save', 'iptables'], ['corosync-quorumtool', 'corosync'], ['corosync-cfgtool', 'corosync'], ['ipvsadm', 'ipvsadm'], ['keepalived', 'keepalived'], ['arping', 'arping'], ['crm_mon', 'pacemaker-cli-utils']] as const) {
    requireFile(`/usr/sbin/${tool}`, pkg);
  }
});

afterAll(() => removeDir(dir));

function expectFound(stdout: string): void {
  expect(stdout).not.toMatch(/not found|not installed|install the Debian package/i);
}

describe('a bare program name is found in sbin with PATH=/usr/bin:/bin', () => {
  it('findProgram: PATH first, then the sbin and bin directories; a name with a slash as given', () => {
    expect(FALLBACK_DIRS).toEqual(['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']);
    expect(findProgram('iptables-save', '/usr/bin:/bin')).toMatch(/^\/(usr\/)?sbin\/iptables-save$/);
    const own = join(dir, 'iptables-save');
    writeFileSync(own, '#!/bin/sh\n', { mode: 0o755 });
    expect(findProgram('iptables-save', `${dir}:/usr/bin`)).toBe(own);
    // Not executable, or a directory: skipped.
    const plain = join(dir, 'ipvsadm');
    writeFileSync(plain, '');
    chmodSync(plain, 0o644);
    expect(findProgram('ipvsadm', dir)).toMatch(/\/sbin\/ipvsadm$/);
    expect(findProgram('no-such-program-hawatch', '/usr/bin')).toBeUndefined();
    expect(findProgram('./x', '')).toBe('./x');
  });

  it('runCommand runs an sbin tool with the restricted PATH, and names where it looked when it is missing', async () => {
    const r = await runCommand('iptables-save', ['--version'], { timeoutMs: 5000, env: { PATH: '/usr/bin:/bin' } });
    expect(`${r.stdout}${r.stderr}`).toMatch(/iptables-save v\d/);
    await expect(runCommand('no-such-program-hawatch', [], { timeoutMs: 5000, env: { PATH: '/usr/bin:/bin' } })).rejects.toThrow(
      "'no-such-program-hawatch' was not found in PATH or /usr/local/sbin, /usr/sbin, /sbin, /usr/bin, /bin",
    );
  });

  it('check_ha_iptables finds iptables-save', async () => {
    binPath('check_ha_iptables');
    const r = await runBin('check_ha_iptables', ['--baseline', join(dir, 'baseline'), '--record', '--source', 'iptables'], { baseEnv: RESTRICTED });
    expectFound(r.stdout);
    expect(r.stdout).toMatch(/read from iptables-save/);
    expect(r.code).toBe(0);
  });

  it('check_ha_corosync finds corosync-quorumtool', async () => {
    const r = await runBin('check_ha_corosync', [], { baseEnv: RESTRICTED });
    expectFound(r.stdout);
    expect(r.stdout).toMatch(/corosync/i);
  });

  it('check_ha_lvs finds ipvsadm', async () => {
    const r = await runBin('check_ha_lvs', [], { baseEnv: RESTRICTED });
    expectFound(r.stdout);
    expect(r.stdout).toMatch(/^LVS /);
  });

  it('check_ha_crm finds crm_mon', async () => {
    const r = await runBin('check_ha_crm', ['-t', '5'], { baseEnv: RESTRICTED });
    expectFound(r.stdout);
    expect(r.stdout).toMatch(/^CRM /);
  });

  it('check_ha_keepalived finds keepalived (asked for its signal numbers)', async () => {
    // A process named keepalived for the pid file: a copy of sleep under that name.
    const fake = join(dir, 'keepalived');
    cpSync('/bin/sleep', fake);
    chmodSync(fake, 0o755);
    const child = spawn(fake, ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, 'k.pid'), `${child.pid}\n`);
      const r = await runBin('check_ha_keepalived', ['--source', 'json', '--trigger', '--pid-file', join(dir, 'k.pid'), '--dump-dir', dir, '--state-dir', dir, '-t', '6'], { baseEnv: RESTRICTED });
      expectFound(r.stdout);
      // keepalived --signum=JSON answered and pkill sent the signal: what is missing is the dump.
      expect(r.stdout).toMatch(/keepalived did not write .*keepalived\.json/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('check_ha_vip finds arping (the duplicate-address probe)', async () => {
    // An address on no host of a subnet this machine is on: arping runs and nobody answers.
    const route = await runCommand('ip', ['-4', '-o', 'addr', 'show', 'scope', 'global'], { timeoutMs: 5000 });
    const m = /inet (\d+\.\d+\.\d+)\.(\d+)\/24 /.exec(route.stdout);
    if (!m) throw new Error(`no IPv4 /24 on this machine to probe: ${route.stdout}`);
    const vip = `${m[1]}.${Number(m[2]) === 250 ? 251 : 250}`;
    const r = await runBin('check_ha_vip', ['--vip', vip, '--dad-count', '1', '-t', '6'], { baseEnv: RESTRICTED });
    expectFound(r.stdout);
    expect(r.stdout).toMatch(/no host answers for/);
  });
});
