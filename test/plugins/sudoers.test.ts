/**
 * The sudoers rules the plugins' READMEs document against the commands the checks really run
 * with --sudo: every check is run in-process with a runner that records its commands, and the
 * real sudo (`sudo -l -U nagios CMD...`) is asked whether the documented rules allow each one,
 * and that they refuse what they must not allow. sudo reads the rules from a private mount
 * namespace (unshare -m, a bind mount over /etc/sudoers), so the machine's own sudoers is
 * never touched.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandResult, CommandRunner } from '../../nagios/exec.ts';
import { runPlugin, type PluginDescriptor } from '../../nagios/plugin.ts';
import corosync from '../../plugins/corosync/index.ts';
import crm from '../../plugins/crm/index.ts';
import drbd from '../../plugins/drbd/index.ts';
import iptables from '../../plugins/iptables/index.ts';
import keepalived from '../../plugins/keepalived/index.ts';
import lvs from '../../plugins/lvs/index.ts';
import nfs from '../../plugins/nfs/index.ts';
import nginx from '../../plugins/nginx/index.ts';
import vip from '../../plugins/vip/index.ts';
import { runProgram } from '../support/bin.ts';
import { fixturePath, readFixture, ROOT } from '../support/paths.ts';
import { requireFile, requireRoot, requireUser } from '../support/require.ts';
import { removeDir, tempDir } from '../support/tmp.ts';

const PLUGINS_WITH_SUDO = ['corosync', 'crm', 'drbd', 'iptables', 'keepalived', 'lvs', 'nfs', 'nginx', 'vip'];

/** What the stand-in for the system answers, per command run through sudo (file and args joined). */
const OUTPUTS: Record<string, string> = {
  '/usr/sbin/corosync-quorumtool -s': readFixture('corosync', '3.1-quorate.quorum.txt'),
  '/usr/sbin/corosync-cfgtool -s': readFixture('corosync', '3.1-connected.links.txt'),
  '/usr/sbin/ipvsadm -Ln': readFixture('lvs', 'ipvsadm-Ln.txt'),
  '/usr/sbin/ipvsadm -Ln --stats': readFixture('lvs', 'ipvsadm-Ln-stats.txt'),
  '/usr/sbin/ipvsadm -Ln --rate': readFixture('lvs', 'ipvsadm-Ln-rate.txt'),
  '/usr/sbin/iptables-save': readFixture('iptables', 'compliant.rules'),
  '/usr/sbin/ip6tables-save': '',
  '/usr/sbin/nft -j list ruleset': readFixture('iptables', 'compliant.nft.json'),
  '/usr/sbin/drbdsetup status --json': readFixture('drbd', 'status-9-healthy.json'),
  '/usr/sbin/drbdsetup events2 --now --statistics': readFixture('drbd', 'events2-9-healthy.txt'),
  '/usr/sbin/crm_mon --output-as=xml --inactive': readFixture('crm', 'healthy.xml'),
  '/usr/sbin/nginx -T': readFixture('nginx', 'lb-http-stream.nginx-T.txt'),
  '/usr/sbin/exportfs -v': '/srv/web      \t192.0.2.0/24(sync,wdelay,hide,no_subtree_check,sec=sys,rw,secure,root_squash,no_all_squash)\n',
};

const ok = (stdout: string): CommandResult => ({ stdout, stderr: '', exitCode: 0, signal: null });

/** Runs a check in-process and returns the argv of every command it ran through sudo. */
async function sudoCommands(d: PluginDescriptor, args: readonly string[], answer: (cmd: string) => CommandResult | undefined = () => undefined): Promise<string[][]> {
  const seen: string[][] = [];
  const runCommand: CommandRunner = async (file, argv) => {
    const cmd = [file, ...argv].join(' ');
    if (file !== 'sudo') {
      // Commands a check runs without sudo: arping -V (Habets' answers with its usage), keepalived --signum.
      if (cmd.endsWith('arping -V')) return { stdout: '', stderr: 'ARPing 2.23, by Thomas Habets <thomas@habets.se>\nusage: arping [ -0aAbBdDeFhpqrRuUv ] [ -w <sec> ] ...', exitCode: 1, signal: null };
      if (/keepalived --signum=JSON$/.test(cmd)) return ok('36\n');
      throw new Error(`unexpected command without sudo: ${cmd}`);
    }
    expect(argv[0], `${cmd}: sudo must never prompt`).toBe('-n');
    seen.push(argv.slice(1));
    const inner = argv.slice(1).join(' ');
    return answer(inner) ?? (OUTPUTS[inner] !== undefined ? ok(OUTPUTS[inner]) : { stdout: '', stderr: '', exitCode: 0, signal: null });
  };
  await runPlugin(d, ['--sudo', ...args], { runCommand, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  return seen;
}

/** The `nagios ALL=...` lines of every plugin README. */
async function documentedRules(): Promise<string[]> {
  const rules: string[] = [];
  for (const p of PLUGINS_WITH_SUDO) {
    const text = await readFile(join(ROOT, 'plugins', p, 'README.md'), 'utf8');
    for (const line of text.split('\n')) if (/^\s*nagios ALL=\(root\) NOPASSWD: \//.test(line)) rules.push(line.trim());
  }
  return rules;
}

let dir: string;
let sudoers: string;
const commands = new Map<string, string[]>();

/** `sudo -l -U nagios` for each command line, inside a private mount namespace with our sudoers. */
async function allowed(lines: readonly string[][]): Promise<boolean[]> {
  // sudo only lists commands that exist: programs this machine lacks (drbdsetup: drbd-utils is
  // not needed by the other tests) get an empty stand-in in an overlay on /usr/sbin, in the
  // namespace only.
  const missing = [...new Set(lines.map((l) => l[0]!))].filter((p) => p.startsWith('/usr/sbin/') && !existsSync(p));
  mkdirSync(join(dir, 'up'), { recursive: true });
  mkdirSync(join(dir, 'work'), { recursive: true });
  for (const p of missing) writeFileSync(join(dir, 'up', basename(p)), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  const script = [
    'set -ef',
    'mount --bind "$1" /etc/sudoers',
    'mount -t tmpfs -o size=64k tmpfs /etc/sudoers.d',
    ...(missing.length ? ['mount -t overlay overlay -o "lowerdir=/usr/sbin,upperdir=$2/up,workdir=$2/work" /usr/sbin'] : []),
    'while IFS= read -r line; do',
    '  if sudo -l -U nagios $line >/dev/null 2>&1; then echo yes; else echo no; fi',
    'done',
  ].join('\n');
  const r = await runProgram('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', sudoers, dir], { input: lines.map((l) => l.join(' ')).join('\n') + '\n', timeoutMs: 30_000 });
  expect(r.stderr).toBe('');
  return r.stdout.trim().split('\n').map((l) => l === 'yes');
}

beforeAll(async () => {
  requireRoot('the sudoers test bind-mounts its own /etc/sudoers in a private mount namespace');
  requireFile('/usr/bin/sudo', 'sudo');
  requireFile('/usr/sbin/visudo', 'sudo');
  requireFile('/usr/bin/unshare', 'util-linux');
  requireUser('nagios', 'nagios-nrpe-server');
  dir = tempDir('hawatch-sudoers-');
  sudoers = join(dir, 'sudoers');
  writeFileSync(sudoers, ['root ALL=(ALL:ALL) ALL', 'Defaults:nagios !requiretty, !lecture', ...(await documentedRules()), ''].join('\n'), { mode: 0o440 });

  const record = (name: string, runs: string[][]): void => runs.forEach((argv, i) => commands.set(runs.length > 1 ? `${name} ${i}` : name, argv));
  record('corosync quorum', await sudoCommands(corosync, ['--no-links']));
  record('corosync links', await sudoCommands(corosync, ['--no-quorum']));
  record('lvs', await sudoCommands(lvs, ['--stats', '--rate']));
  const policy = fixturePath('iptables', 'cluster-policy.yaml');
  record('iptables', await sudoCommands(iptables, ['--policy', policy, '--baseline', join(dir, 'baseline'), '--record']));
  record('drbd status', await sudoCommands(drbd, ['--source', 'status-json']));
  record('drbd events2', await sudoCommands(drbd, ['--source', 'events2']));
  record('crm', await sudoCommands(crm, []));
  record('nfs', await sudoCommands(nfs, ['--sudo', '--server', '--no-rpc', '--no-threads', '--export', '/srv/web']));
  record('nginx', await sudoCommands(nginx, ['--no-error-log', '--no-process-check', '--probe-timeout', '0.5']));
  // Pacemaker 1.1 / 2.0.0-2.0.2 refuse --output-as and are asked again with --as-xml.
  const legacy = await sudoCommands(crm, [], (cmd) => (cmd.includes('--output-as') ? { stdout: '', stderr: "crm_mon: unrecognized option '--output-as=xml'", exitCode: 64, signal: null } : ok(readFixture('crm', 'legacy-as-xml-2.1.xml'))));
  record('crm legacy', legacy.slice(1));
  // The defaults (--dad-count 2 --dad-wait 1): the rule pins exactly that probe.
  record('vip arping', await sudoCommands(vip, ['--vip', '192.0.2.100', '--input-file', fixturePath('vip', 'ip-addr-owner.json')]));
  record('keepalived pkill', await sudoCommands(keepalived, ['--source', 'json', '--trigger', '--dump-dir', dir, '--no-process-check', '-t', '1']));
}, 60_000);

afterAll(() => {
  if (dir) removeDir(dir);
});

describe('documented sudoers rules', () => {
  it('are valid sudoers syntax (visudo -c)', async () => {
    const r = await runProgram('/usr/sbin/visudo', ['-c', '-f', sudoers]);
    expect(r.stdout + r.stderr).toMatch(/parsed OK/);
    expect(r.code).toBe(0);
  });

  it('every check names the program by absolute path, as the rules do', () => {
    expect([...commands.keys()].sort()).toEqual([
      'corosync links', 'corosync quorum', 'crm', 'crm legacy', 'drbd events2', 'drbd status',
      'iptables 0', 'iptables 1', 'iptables 2', 'keepalived pkill', 'lvs 0', 'lvs 1', 'lvs 2', 'nfs', 'nginx', 'vip arping',
    ]);
    for (const [name, argv] of commands) expect(argv[0], name).toMatch(/^\//);
  });

  it('allow exactly the commands the checks run with --sudo', async () => {
    const list = [...commands.entries()];
    const verdicts = await allowed(list.map(([, argv]) => argv));
    expect(Object.fromEntries(list.map(([name, argv], i) => [name, `${verdicts[i] ? 'allowed' : 'REFUSED'}: ${argv.join(' ')}`])))
      .toEqual(Object.fromEntries(list.map(([name, argv]) => [name, `allowed: ${argv.join(' ')}`])));
  });

  it('refuse other arguments: no file written as root, no ARP packet but the probe', async () => {
    const forbidden = [
      ['/usr/sbin/iptables-save', '-f', '/etc/passwd'],
      ['/usr/sbin/ip6tables-save', '--file=/etc/shadow'],
      ['/usr/sbin/nft', '-f', '/tmp/rules'],
      ['/usr/sbin/ipvsadm', '-C'],
      ['/usr/sbin/arping', '-U', '-i', 'eth0', '-c', '1', '192.0.2.100'],
      ['/usr/sbin/arping', '-0', '-i', 'eth0', '-c', '2', '-W', '0.5', '-w', '1', '-U', '192.0.2.100'],
      ['/usr/sbin/arping', '-0', '-i', 'eth0', '-c', '2', '-W', '0.5', '-w', '1', '192.0.2.100', '-P'],
      // a flood as root: 442,233 ARP packets in 3 s with the old rule ([0-9]+ and [0-9.]+)
      ['/usr/sbin/arping', '-0', '-i', 'eth0', '-c', '999999999', '-W', '0.000001', '-w', '1', '192.0.2.100'],
      ['/usr/sbin/arping', '-0', '-i', 'eth0', '-c', '2', '-W', '0.000001', '-w', '1', '192.0.2.100'],
      ['/usr/sbin/arping', '-0', '-i', 'eth0', '-c', '999999999', '-W', '0.5', '-w', '1', '192.0.2.100'],
      ['/usr/sbin/arping', '-0', '-i', 'eth0', '-c', '2', '-W', '0.5', '-w', '99999', '192.0.2.100'],
      ['/usr/bin/arping', '-D', '-I', 'eth0', '-c', '999999999', '-w', '1', '192.0.2.100'],
      ['/usr/sbin/corosync-cfgtool', '-R'],
      ['/usr/sbin/crm_mon', '--output-as=xml', '--output-to=/etc/passwd'],
      ['/usr/bin/pkill', 'keepalived'],
      ['/usr/sbin/nginx', '-T', '-c', '/tmp/other.conf'],
      ['/usr/sbin/nginx', '-s', 'stop'],
      ['/usr/sbin/exportfs', '-ua'],
      ['/usr/sbin/exportfs', '-v', '-o', 'rw', '*:/'],
    ];
    expect(await allowed(forbidden)).toEqual(forbidden.map(() => false));
  });
});
