/** check_ha_iptables without a kernel: saved iptables-save and nft JSON rulesets, the policy file. */
import { describe, expect, it } from 'vitest';
import { runPlugin } from '../../../nagios/plugin.ts';
import iptables from '../../../plugins/iptables/index.ts';
import { analyseFamily } from '../../../plugins/iptables/evaluate.ts';
import { decide, type Layer } from '../../../plugins/iptables/model.ts';
import { filterLayer, parseSave, ruleFromTokens, tokenize } from '../../../plugins/iptables/parse-iptables.ts';
import { nftLayers, parseNftJson } from '../../../plugins/iptables/parse-nft.ts';
import { parsePolicy } from '../../../plugins/iptables/policy.ts';
import { parseAddr } from '../../../plugins/lib/addr.ts';
import { fixturePath, readFixture } from '../../support/paths.ts';

const ip = (s: string): bigint => parseAddr(s)!.value;

describe('iptables-save parsing and the INPUT walk', () => {
  const layer = filterLayer(parseSave(readFixture('iptables', 'compliant.rules')), 4, 'iptables')!;
  const pkt = (dport: number, src: string, proto: 'tcp' | 'udp' = 'tcp') => decide([layer], { family: 4, proto, dport, src: ip(src), dst: ip('192.0.2.1'), iface: '*' });

  it('tokenizes quoted comments', () => {
    expect(tokenize('-A INPUT -m comment --comment "admin \\"node\\"" -j ACCEPT')).toEqual(['-A', 'INPUT', '-m', 'comment', '--comment', 'admin "node"', '-j', 'ACCEPT']);
  });
  it('follows jumps, RETURN, CIDRs, multiport and the chain policy', () => {
    expect(pkt(80, '203.0.113.5')).toMatchObject({ accepted: true, by: '-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT' });
    expect(pkt(2222, '192.0.2.10')).toMatchObject({ accepted: true, by: '-A ADMIN -s 192.0.2.10/32 -m comment --comment "admin node" -j ACCEPT' });
    expect(pkt(2222, '192.0.2.11')).toMatchObject({ accepted: false, by: 'iptables: policy :INPUT DROP', byPolicy: true });
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
    const policy = parsePolicy(readFixture('iptables', 'cluster-policy.yaml'), 'p.yaml');
    expect(analyseFamily(4, [layer], policy)).toEqual({ children: [], violations: 0 });
  });
});

describe('nft JSON', () => {
  const rs = parseNftJson(readFixture('iptables', 'compliant.nft.json'));
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
    const policy = parsePolicy(readFixture('iptables', 'cluster-policy.yaml').replace('families: [ipv4]', 'families: [ipv4, ipv6]').replace('admin: 192.0.2.10', 'admin: [192.0.2.10, 192.0.2.11, 2001:db8::10]'), 'p.yaml');
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
    const r = await runPlugin(iptables, ['--policy', fixturePath('iptables', 'cluster-policy.yaml'), '--iptables-file', fixturePath('iptables', 'compliant.rules')]);
    expect(r.text).toMatch(/^FIREWALL OK - compliant with /);
  });
  it('check_ha_iptables without --policy or --baseline says what to give', async () => {
    const r = await runPlugin(iptables, []);
    expect(r).toEqual({ exitCode: 3, text: 'FIREWALL UNKNOWN - nothing to check: give --policy FILE and/or --baseline FILE, see check_ha_iptables --help\n' });
  });
});
