import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPlugin } from '../../nagios/plugin.ts';
import { render } from '../../nagios/result.ts';
import { State } from '../../nagios/states.ts';
import corosync from '../../plugins/corosync/index.ts';
import { evaluateCorosync } from '../../plugins/corosync/evaluate.ts';
import { parseLinksStatus, parseQuorumStatus } from '../../plugins/corosync/parse.ts';
import iptables from '../../plugins/iptables/index.ts';
import { analyseFamily } from '../../plugins/iptables/evaluate.ts';
import { decide, type Layer } from '../../plugins/iptables/model.ts';
import { filterLayer, parseSave, ruleFromTokens, tokenize } from '../../plugins/iptables/parse-iptables.ts';
import { nftLayers, parseNftJson } from '../../plugins/iptables/parse-nft.ts';
import { parsePolicy } from '../../plugins/iptables/policy.ts';
import lvs from '../../plugins/lvs/index.ts';
import { parseIpvsCounters, parseIpvsList, parseLargeNum } from '../../plugins/lvs/parse.ts';
import { parseAddr } from '../../plugins/netlib/addr.ts';
import { ROOT } from './harness.ts';

const path = (plugin: string, file: string): string => join(ROOT, 'plugins', plugin, 'fixtures', file);
const fx = (plugin: string, file: string): string => readFileSync(path(plugin, file), 'utf8');
const ip = (s: string): bigint => parseAddr(s)!.value;

describe('iptables-save parsing and the INPUT walk', () => {
  const layer = filterLayer(parseSave(fx('iptables', 'compliant.rules')), 4, 'iptables')!;
  const pkt = (dport: number, src: string, proto: 'tcp' | 'udp' = 'tcp') => decide([layer], { family: 4, proto, dport, src: ip(src), dst: ip('192.0.2.1'), iface: '*' });

  it('tokenizes quoted comments', () => {
    expect(tokenize('-A INPUT -m comment --comment "admin \\"node\\"" -j ACCEPT')).toEqual(['-A', 'INPUT', '-m', 'comment', '--comment', 'admin "node"', '-j', 'ACCEPT']);
  });
  it('follows jumps, RETURN, CIDRs, multiport and the chain policy', () => {
    expect(pkt(80, '203.0.113.5')).toMatchObject({ accepted: true, by: '-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT' });
    expect(pkt(2222, '192.0.2.10')).toMatchObject({ accepted: true, by: '-A ADMIN -s 192.0.2.10/32 -m comment --comment "admin node" -j ACCEPT' });
    expect(pkt(2222, '192.0.2.11')).toMatchObject({ accepted: false, by: "iptables: policy ':INPUT DROP'", byPolicy: true });
    expect(pkt(5405, '192.0.2.2', 'udp').accepted).toBe(true);
    expect(pkt(5405, '192.0.2.2', 'tcp').accepted).toBe(false);
  });
  it('ESTABLISHED-only and -i lo rules do not open anything to new connections from the network', () => {
    expect(pkt(9999, '192.0.2.10').accepted).toBe(false);
  });
  it('unmodelled matches make a rule "maybe", remembered as uncertain', () => {
    const r = ruleFromTokens(['-p', 'tcp', '--dport', '22', '-m', 'recent', '--rcheck', '--seconds', '60', '-j', 'DROP'], 4, new Set(), 'x');
    expect(r.conditions.unmodelled).toEqual(['-m recent']);
    const l: Layer = { name: 't', families: [4], priority: 0, entry: 'INPUT', chains: new Map([['INPUT', { name: 'INPUT', policy: 'accept', policyText: 'p', rules: [r] }]]) };
    const d = decide([l], { family: 4, proto: 'tcp', dport: 22, src: 1n, dst: 1n, iface: '*' });
    expect(d.accepted).toBe(true);
    expect(d.uncertain).toEqual([r]);
  });
  it('negations, ranges and --syn', () => {
    const r = ruleFromTokens(['!', '-s', '10.0.0.0/8', '-p', 'tcp', '-m', 'tcp', '--dport', '1000:2000', '--syn', '-j', 'ACCEPT'], 4, new Set(), 'x');
    const l: Layer = { name: 't', families: [4], priority: 0, entry: 'INPUT', chains: new Map([['INPUT', { name: 'INPUT', policy: 'drop', rules: [r] }]]) };
    const at = (port: number, src: string) => decide([l], { family: 4, proto: 'tcp', dport: port, src: ip(src), dst: 1n, iface: '*' }).accepted;
    expect(at(1500, '192.0.2.1')).toBe(true);
    expect(at(1500, '10.1.2.3')).toBe(false);
    expect(at(2001, '192.0.2.1')).toBe(false);
  });
  it('the compliant fixture satisfies the cluster policy', () => {
    const policy = parsePolicy(fx('iptables', 'cluster-policy.yaml'), 'p.yaml');
    expect(analyseFamily(4, [layer], policy)).toEqual({ children: [], violations: 0 });
  });
});

describe('nft JSON', () => {
  const rs = parseNftJson(fx('iptables', 'compliant.nft.json'));
  const layers = nftLayers(rs, () => false);
  it('one layer for the input hook, both families (inet)', () => {
    expect(layers.map((l) => [l.name, l.families])).toEqual([['nft inet filter input', [4, 6]]]);
  });
  it('named and anonymous sets, user chains and IPv6 rules', () => {
    const at = (family: 4 | 6, port: number, src: string) => decide(layers, { family, proto: 'tcp', dport: port, src: ip(src), dst: 1n, iface: '*' });
    expect(at(4, 2222, '192.0.2.11').accepted).toBe(true);
    expect(at(4, 2222, '192.0.2.12').accepted).toBe(false);
    expect(at(4, 3306, '192.0.2.22').accepted).toBe(true);
    expect(at(6, 2222, '2001:db8::10')).toMatchObject({ accepted: true, by: expect.stringMatching(/^nft inet filter admin6 handle \d+: ip6 saddr 2001:db8::10 accept$/) });
    expect(at(6, 2222, '2001:db8::11').accepted).toBe(false);
  });
  it('complies with the policy for IPv4 and IPv6', () => {
    const policy = parsePolicy(fx('iptables', 'cluster-policy.yaml').replace('families: [ipv4]', 'families: [ipv4, ipv6]').replace('admin: 192.0.2.10', 'admin: [192.0.2.10, 192.0.2.11, 2001:db8::10]'), 'p.yaml');
    expect(analyseFamily(4, layers, policy).violations).toBe(0);
    expect(analyseFamily(6, layers, policy).violations).toBe(0);
  });
});

describe('policy file errors name the line', () => {
  const bad: [string, RegExp][] = [
    ['allow:\n  - port: 70000\n    from: any\n', /line 2: allow: '70000' is not a port/],
    ['default_policy:\n  INPUT: REJECT\n', /line 2: default_policy: INPUT must be ACCEPT or DROP/],
    ['allow:\n  - port: 22\n    form: any\n', /line 3: allow: unknown key 'form'/],
    ['families: [ipv5]\n', /line 1: families: 'ipv5' is not ipv4 or ipv6/],
    ['allow: [\n', /line \d+: /],
  ];
  for (const [text, re] of bad) it(JSON.stringify(text.split('\n')[1] ?? text), () => expect(() => parsePolicy(text, 'p.yaml')).toThrow(re));
});

describe('black box from saved files', () => {
  it('check_ha_iptables --iptables-file with the compliant ruleset', async () => {
    const r = await runPlugin(iptables, ['--policy', path('iptables', 'cluster-policy.yaml'), '--iptables-file', path('iptables', 'compliant.rules')]);
    expect(r.text).toMatch(/^FIREWALL OK - compliant with /);
  });
  it('check_ha_iptables without --policy or --baseline says what to give', async () => {
    const r = await runPlugin(iptables, []);
    expect(r).toEqual({ exitCode: 3, text: "FIREWALL UNKNOWN - nothing to check: give --policy FILE and/or --baseline FILE; see 'check_ha_iptables --help'\n" });
  });
});

describe('corosync', () => {
  it('3.1 quorate with two links', () => {
    const q = parseQuorumStatus(fx('corosync', '3.1-quorate.quorum.txt'));
    expect(q).toMatchObject({ quorate: true, expectedVotes: 2, totalVotes: 2, quorum: 2, ringId: '1.9', activityBlocked: false, flags: ['Quorate'] });
    expect(q.members.map((m) => [m.nodeId, m.name, m.local])).toEqual([[1, 'node1', true], [2, 'node2', false]]);
    const l = parseLinksStatus(fx('corosync', '3.1-connected.links.txt'));
    expect(l).toMatchObject({ localNodeId: 1, transport: 'knet' });
    expect(l.links.map((x) => x.nodes.map((n) => n.connected))).toEqual([[true, true], [true, true]]);
    expect(render(evaluateCorosync(q, l, {}), { prefix: 'COROSYNC' }).exitCode).toBe(State.OK);
  });
  it('3.1 one link down: WARNING; peer down and inquorate: CRITICAL', () => {
    const q = parseQuorumStatus(fx('corosync', '3.1-quorate.quorum.txt'));
    expect(render(evaluateCorosync(q, parseLinksStatus(fx('corosync', '3.1-link1-down.links.txt')), {}), { prefix: 'C' }).exitCode).toBe(State.WARNING);
    const bad = render(evaluateCorosync(parseQuorumStatus(fx('corosync', '3.1-inquorate.quorum.txt')), parseLinksStatus(fx('corosync', '3.1-peer-down.links.txt')), {}), { prefix: 'C' });
    expect(bad.exitCode).toBe(State.CRITICAL);
    expect(bad.text).toContain('node 2 unreachable on every link');
  });
  it('2.x formats: slash ring id, RING blocks, FAULTY', () => {
    const q = parseQuorumStatus(fx('corosync', '2.x-inquorate.quorum.txt'));
    expect(q).toMatchObject({ quorate: false, ringId: '1/247225', expectedVotes: 3, totalVotes: 1, activityBlocked: true });
    const ok = parseLinksStatus(fx('corosync', '2.x-rings-ok.links.txt'));
    expect(ok.links.map((x) => [x.kind, x.id, x.address, x.faulty])).toEqual([['ring', 0, '10.0.1.1', false], ['ring', 1, '192.168.42.1', false]]);
    const faulty = render(evaluateCorosync(parseQuorumStatus(fx('corosync', '2.x-quorate.quorum.txt')), parseLinksStatus(fx('corosync', '2.x-ring1-faulty.links.txt')), {}), { prefix: 'C' });
    expect(faulty.exitCode).toBe(State.WARNING);
    expect(faulty.text).toContain('ring 1 (192.168.42.1): Marking ringid 1 interface 192.168.42.1 FAULTY');
  });
  it('3.0 man page layout (nodeid without colon)', () => {
    const l = parseLinksStatus(fx('corosync', '3.0-manpage.links.txt'));
    expect(l.links[0]!.nodes.map((n) => [n.nodeId, n.connected])).toEqual([[1, true], [2, true], [3, true]]);
  });
  it('black box with --quorum-file and --links-file', async () => {
    const r = await runPlugin(corosync, ['--quorum-file', path('corosync', '3.1-inquorate.quorum.txt'), '--links-file', path('corosync', '3.1-peer-down.links.txt')]);
    expect(r.exitCode).toBe(2);
    expect(r.text).toMatch(/^COROSYNC CRITICAL - quorum: partition is not quorate: 1 of 2 votes, quorum 2, activity blocked/);
  });
  it('garbage in: UNKNOWN with what it said', async () => {
    const r = await runPlugin(corosync, ['--quorum-file', path('lvs', 'README.md')]);
    expect(r.exitCode).toBe(3);
    expect(r.text).toMatch(/^COROSYNC UNKNOWN - no 'Quorate:' line in corosync-quorumtool output/);
  });
});

describe('lvs', () => {
  it('parses services, flags, FWM and IPv6', () => {
    const l = parseIpvsList(fx('lvs', 'ipvsadm-Ln.txt'));
    expect(l.version).toBe('1.2.1');
    expect(l.services.map((s) => [s.key, s.scheduler, s.flags, s.realServers.length])).toEqual([
      ['TCP 192.0.2.100:80', 'wlc', '', 3], ['TCP 192.0.2.100:443', 'wlc', 'persistent 300', 2], ['UDP 192.0.2.100:53', 'rr', '', 1],
      ['TCP 192.0.2.101:3306', 'rr', '', 2], ['FWM 7', 'sh', '', 1], ['TCP [2001:db8::100]:80', 'rr', '', 1],
    ]);
    expect(l.services[0]!.realServers[0]).toEqual({ address: '192.0.2.11:80', forward: 'Route', weight: 1, activeConns: 12, inactiveConns: 140 });
  });
  it('parses --stats with K suffixes and --rate', () => {
    expect(parseLargeNum('153499K')).toBe(153499000);
    const s = parseIpvsCounters(fx('lvs', 'ipvsadm-Ln-stats.txt'));
    expect(s.columns).toEqual(['Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes']);
    expect(s.services[0]).toMatchObject({ key: 'TCP 192.0.2.100:80', values: [48211, 1934221, 0, 153499000, 0] });
    expect(parseIpvsCounters(fx('lvs', 'ipvsadm-Ln-rate.txt')).columns[0]).toBe('CPS');
  });
  it('no usable real server is CRITICAL, weight 0 on some is WARNING, -w/-c judge the usable count', async () => {
    const r = await runPlugin(lvs, ['--input-file', path('lvs', 'ipvsadm-Ln.txt'), '--stats-file', path('lvs', 'ipvsadm-Ln-stats.txt')]);
    expect(r.exitCode).toBe(2);
    expect(r.text).toMatch(/^LVS CRITICAL - TCP 192\.0\.2\.101:3306: 0 of 2 real servers usable \(critical when < 1\)/);
    expect(r.text).toContain('[WARNING] TCP 192.0.2.100:80: 2 of 3 real servers usable; weight 0: 192.0.2.13:80 (wlc)');
    expect(r.text).toContain('tcp_192.0.2.100:80_usable=2;;1:;0;3');
    expect(r.text).toContain('tcp_192.0.2.100:80_conns=48211c');
    const one = await runPlugin(lvs, ['--input-file', path('lvs', 'ipvsadm-Ln.txt'), '-s', 'TCP 192.0.2.100:443', '-w', '3:', '-c', '1:']);
    expect(one.exitCode).toBe(1);
    expect(one.text).toMatch(/^LVS WARNING - TCP 192\.0\.2\.100:443: 2 of 2 real servers usable \(warning when < 3\)/);
    const missing = await runPlugin(lvs, ['--input-file', path('lvs', 'ipvsadm-Ln.txt'), '-s', '192.0.2.200:80']);
    expect(missing.text).toMatch(/^LVS CRITICAL - 192\.0\.2\.200:80: virtual service not configured/);
  });
});
