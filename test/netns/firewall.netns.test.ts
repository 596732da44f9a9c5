/**
 * check_ha_iptables against REAL rulesets loaded into a network namespace with
 * iptables-restore and nft -f, run inside the namespace as root (and as nobody, for the
 * privilege message). The model's verdicts are cross-checked against the kernel with real
 * TCP connections from a second namespace.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binPath, runProgram } from '../support/bin.ts';
import { ROOT } from '../support/paths.ts';
import { requireProgram } from '../support/require.ts';
import { Lab, requireNamespaces } from './harness.ts';

const FIX = join(ROOT, 'plugins', 'iptables', 'fixtures');
const COMPLIANT = readFileSync(join(FIX, 'compliant.rules'), 'utf8');

let lab: Lab;
let ns: string;
let client: string;
let policy: string;

const check = (args: string[]) => lab.plugin(ns, 'check_ha_iptables', ['--policy', policy, ...args]);

function load(rules: string): void {
  lab.exec(ns, 'nft', ['flush', 'ruleset']);
  lab.exec(ns, 'iptables-restore', [], rules);
}

beforeAll(() => {
  requireNamespaces();
  requireProgram('iptables-restore', 'iptables');
  requireProgram('nft', 'nftables');
  requireProgram('setpriv', 'util-linux');
  binPath('check_ha_iptables');
  lab = new Lab('fw');
  ns = lab.netns('S');
  client = lab.netns('C');
  lab.link(ns, '192.0.2.1/24', client, '192.0.2.10/24');
  for (const extra of ['192.0.2.21/24', '192.0.2.50/24']) lab.exec(client, 'ip', ['addr', 'add', extra, 'dev', lab.exec(client, 'ip', ['-o', 'link', 'show', 'type', 'veth']).split(':')[1]!.trim().split('@')[0]!]);
  policy = join(lab.dir, 'policy.yaml');
  writeFileSync(policy, readFileSync(join(FIX, 'cluster-policy.yaml')));
});

afterAll(async () => {
  await lab?.cleanup();
});

/** Whether the kernel in `ns` accepts a TCP connection to port from the given source. */
async function connects(port: number, from: string): Promise<boolean> {
  const server = lab.spawn(ns, process.execPath, ['-e', `require('net').createServer((s)=>s.end()).listen(${port}, '0.0.0.0', () => console.log('up'))`]);
  await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
  const r = await runProgram('ip', ['netns', 'exec', client, process.execPath, '-e',
    `const s=require('net').connect({host:'192.0.2.1',port:${port},localAddress:'${from}'});s.setTimeout(700,()=>{console.log('timeout');process.exit(0)});s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',(e)=>{console.log(e.code);process.exit(0)})`]);
  await lab.stop(server);
  return r.stdout.trim() === 'connected';
}

describe('iptables rules in a namespace', () => {
  it('a compliant ruleset is OK', async () => {
    load(COMPLIANT);
    const r = await check([]);
    expect(r.stdout).toMatch(/^FIREWALL OK - compliant with .*policy\.yaml, 12 rules read from iptables-save/);
    expect(r.stdout).toContain('violations=0');
    expect(r.code).toBe(0);
  });

  it('the model agrees with the kernel: SSH (2222) only from the admin node, MySQL only from the web servers', async () => {
    load(COMPLIANT);
    expect(await connects(2222, '192.0.2.10')).toBe(true);
    expect(await connects(2222, '192.0.2.50')).toBe(false);
    expect(await connects(3306, '192.0.2.21')).toBe(true);
    expect(await connects(3306, '192.0.2.50')).toBe(false);
  });

  it('INPUT policy ACCEPT, the database port open to the world and SSH beyond the admin node: CRITICAL naming each rule', async () => {
    load(COMPLIANT);
    lab.exec(ns, 'iptables', ['-P', 'INPUT', 'ACCEPT']);
    lab.exec(ns, 'iptables', ['-I', 'INPUT', '4', '-p', 'tcp', '--dport', '3306', '-j', 'ACCEPT']);
    lab.exec(ns, 'iptables', ['-I', 'ADMIN', '1', '-s', '192.0.2.0/24', '-j', 'ACCEPT']);
    const r = await check([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^FIREWALL CRITICAL - /);
    expect(r.stdout).toContain("iptables ':INPUT ACCEPT' (line 3): default policy is ACCEPT, the policy file (line 3) wants DROP");
    expect(r.stdout).toContain("rule [-A INPUT -p tcp -m tcp --dport 3306 -j ACCEPT] accepts new tcp/3306 from 0.0.0.0-192.0.2.20, 192.0.2.23-255.255.255.255");
    expect(r.stdout).toContain("rule [-A ADMIN -s 192.0.2.0/24 -j ACCEPT] accepts new tcp/2222 from 192.0.2.0-192.0.2.9, 192.0.2.11-192.0.2.255");
    expect(r.stdout).toMatch(/policy :INPUT ACCEPT accepts new tcp\/1-79,81-442,444-3305,3307-65535 \(65532 ports\) from anywhere/);
    expect(r.stdout).toContain('violations=5');
    // ... and the kernel does let the outsider in now.
    expect(await connects(3306, '192.0.2.50')).toBe(true);
  });

  it('a required port that is blocked is CRITICAL and names what blocks it', async () => {
    load(COMPLIANT.replace('-A INPUT -s 192.0.2.2/32 -p udp -m udp --dport 5405 -j ACCEPT\n', ''));
    const r = await check([]);
    expect(r.stdout).toContain('corosync (policy line 19): new udp/5405 from 192.0.2.2 is not accepted: blocked by iptables: policy :INPUT DROP');
    expect(r.code).toBe(2);
  });

  it('drift: a recorded baseline, then an added rule shows as a unified diff (WARNING, or CRITICAL on request)', async () => {
    load(COMPLIANT);
    const baseline = join(lab.dir, 'firewall.baseline');
    const rec = await check(['--baseline', baseline, '--record']);
    expect(rec.stdout).toContain(`recorded the current ruleset in ${baseline}`);
    expect(rec.code).toBe(0);
    const same = await check(['--baseline', baseline]);
    expect(same.stdout).toContain(`ruleset matches baseline ${baseline}`);
    expect(same.code).toBe(0);
    lab.exec(ns, 'iptables', ['-A', 'INPUT', '-s', '192.0.2.21/32', '-p', 'tcp', '--dport', '443', '-j', 'ACCEPT']);
    const drift = await lab.plugin(ns, 'check_ha_iptables', ['--baseline', baseline]);
    expect(drift.stdout).toMatch(/^FIREWALL WARNING - drift: ruleset differs from baseline .*: 1 line added, 0 removed/);
    expect(drift.stdout).toContain(`--- ${baseline}`);
    expect(drift.stdout).toContain('+++ current ruleset');
    expect(drift.stdout).toContain('+-A INPUT -s 192.0.2.21/32 -p tcp -m tcp --dport 443 -j ACCEPT');
    expect(drift.stdout).toContain('drift_lines=1');
    expect(drift.code).toBe(1);
    const crit = await lab.plugin(ns, 'check_ha_iptables', ['--baseline', baseline, '--drift-state', 'CRITICAL']);
    expect(crit.code).toBe(2);
  });
});

describe('nftables rules in a namespace', () => {
  const NFT = `table inet filter {
  set admins { type ipv4_addr; elements = { 192.0.2.10 }; }
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iifname "lo" accept
    tcp dport { 80, 443 } accept
    ip saddr @admins tcp dport 2222 accept
    ip saddr { 192.0.2.21, 192.0.2.22 } tcp dport 3306 accept
    ip saddr 192.0.2.2 udp dport 5405 accept
    meta l4proto icmp accept
  }
  chain forward { type filter hook forward priority 0; policy drop; }
}
`;

  it('a compliant nft ruleset is OK', async () => {
    lab.exec(ns, 'nft', ['flush', 'ruleset']);
    lab.exec(ns, 'nft', ['-f', '-'], NFT);
    const r = await check([]);
    expect(r.stdout).toMatch(/^FIREWALL OK - compliant/);
    expect(r.code).toBe(0);
  });

  it('a violation names the nft rule by its handle', async () => {
    lab.exec(ns, 'nft', ['flush', 'ruleset']);
    lab.exec(ns, 'nft', ['-f', '-'], NFT.replace('ip saddr { 192.0.2.21, 192.0.2.22 } tcp dport 3306 accept', 'tcp dport 3306 accept'));
    const r = await check([]);
    expect(r.stdout).toMatch(/nft inet filter input handle \d+: tcp dport 3306 accept accepts new tcp\/3306 from 0\.0\.0\.0-192\.0\.2\.20, 192\.0\.2\.23-255\.255\.255\.255/);
    expect(r.code).toBe(2);
  });

  it('a rule with an unmodelled match gives UNKNOWN, not a guess', async () => {
    lab.exec(ns, 'nft', ['flush', 'ruleset']);
    lab.exec(ns, 'nft', ['-f', '-'], NFT.replace('meta l4proto icmp accept', 'tcp dport 8080 limit rate 3/second accept'));
    const r = await check([]);
    expect(r.stdout).toMatch(/cannot tell whether nft inet filter input handle \d+: tcp dport 8080 limit rate 3\/second accept accepts new tcp\/8080/);
    expect(r.code).toBe(3);
  });
});

describe('privileges, tools and bad input', () => {
  it('as an unprivileged user: UNKNOWN naming the sudoers rule', async () => {
    load(COMPLIANT);
    const r = await runProgram('ip', ['netns', 'exec', ns, 'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, binPath('check_ha_iptables'), '--policy', policy]);
    expect(r.stdout).toMatch(/^FIREWALL UNKNOWN - iptables-save needs more privileges \(.*Permission denied.*\): run as root, or pass --sudo and add the sudoers rule nagios ALL=\(root\) NOPASSWD: \/usr\/sbin\/iptables-save , \/usr\/sbin\/ip6tables-save , \/usr\/sbin\/nft -j list ruleset/);
    expect(r.code).toBe(3);
  });

  it('--sudo without a usable sudo: UNKNOWN naming sudo and the rule', async () => {
    const r = await runProgram('ip', ['netns', 'exec', ns, 'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, binPath('check_ha_iptables'), '--policy', policy, '--sudo']);
    expect(r.stdout).toMatch(/^FIREWALL UNKNOWN - .*sudo.*nagios ALL=\(root\) NOPASSWD: \/usr\/sbin\/iptables-save/);
    expect(r.code).toBe(3);
  });

  it('a missing tool: UNKNOWN naming the Debian package', async () => {
    const r = await check(['--source', 'iptables', '--iptables-save', '/nonexistent/iptables-save']);
    expect(r.stdout).toMatch(/^FIREWALL UNKNOWN - iptables-save was not found: install the Debian package iptables/);
    expect(r.code).toBe(3);
  });

  it('a bad policy file: UNKNOWN pointing at the line', async () => {
    const bad = join(lab.dir, 'bad.yaml');
    writeFileSync(bad, 'allow:\n  - port: 22\n    from: admin\n');
    const r = await lab.plugin(ns, 'check_ha_iptables', ['--policy', bad]);
    expect(r.stdout).toMatch(/^FIREWALL UNKNOWN - policy .*bad\.yaml line 3: allow: from admin is neither any, a name under hosts:, nor an address\/CIDR/);
    expect(r.code).toBe(3);
  });
});
