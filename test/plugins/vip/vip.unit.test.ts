/** check_ha_vip without a network: ip -j addr, arping output, options, Pacemaker placement, and the verdicts. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { render } from '../../../nagios/result.ts';
import { State } from '../../../nagios/states.ts';
import { evaluateVip, type VipObservation } from '../../../plugins/vip/evaluate.ts';
import { detectArpingFlavor, parseArpingOutput, parseIpAddrJson, parseVipOption, pacemakerResourceNodes } from '../../../plugins/vip/parse.ts';
import { readFixture } from '../../support/paths.ts';

describe('check_ha_vip parsing', () => {
  it('reads ip -j addr with the kernel DAD flags', () => {
    const owner = parseIpAddrJson(readFixture('vip', 'ip-addr-owner.json'));
    const veth = owner.find((i) => i.name.endsWith('-a'))!;
    expect(veth.addresses.map((a) => a.address)).toEqual(expect.arrayContaining(['192.0.2.1', '192.0.2.100', '192.0.2.101', '2001:db8::100']));
    expect(veth.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    const other = parseIpAddrJson(readFixture('vip', 'ip-addr-dadfailed.json'));
    const dup = other.flatMap((i) => i.addresses).find((a) => a.address === '2001:db8::100')!;
    expect(dup.dadFailed).toBe(true);
    expect(dup.tentative).toBe(true);
  });
  it('refuses output that is not JSON with a hint', () => {
    expect(() => parseIpAddrJson('1: lo: <LOOPBACK>')).toThrow(/not JSON.*-j/);
  });
  it('tells the two arping programs apart and reads both', () => {
    expect(detectArpingFlavor('arping from iputils 20221126')).toBe('iputils');
    expect(detectArpingFlavor('arping: option requires an argument -- \'V\'\nARPing 2.23, by Thomas Habets <thomas@habets.se>')).toBe('habets');
    const h = parseArpingOutput('habets', readFixture('vip', 'arping-habets-answered.txt'));
    expect(h).toEqual({ ran: true, sent: 2, replies: [{ mac: '7a:3d:21:77:a5:5b', ip: '192.0.2.100' }, { mac: '7a:3d:21:77:a5:5b', ip: '192.0.2.100' }] });
    expect(parseArpingOutput('habets', readFixture('vip', 'arping-habets-silent.txt'))).toEqual({ ran: true, sent: 2, replies: [] });
    expect(parseArpingOutput('iputils', readFixture('vip', 'arping-iputils-answered.txt')).replies).toEqual([{ ip: '192.0.2.100', mac: '7a:3d:21:77:a5:5b' }]);
    expect(parseArpingOutput('iputils', readFixture('vip', 'arping-iputils-silent.txt'))).toEqual({ ran: true, sent: 2, replies: [] });
    expect(parseArpingOutput('habets', 'arping: libnet_init(LIBNET_LINK, lo): UID/EUID 0 or capability CAP_NET_RAW required').ran).toBe(false);
  });
  it('validates --vip', () => {
    expect(parseVipOption('192.0.2.100/24')).toEqual({ family: 4, address: '192.0.2.100' });
    expect(parseVipOption('2001:DB8::0100')).toEqual({ family: 6, address: '2001:db8::100' });
    expect(parseVipOption('vip.example')).toBeUndefined();
  });
  it('finds where Pacemaker runs a resource', () => {
    const doc = { pacemaker_result: [{ resources: [{ group: [{ resource: [{ '@_id': 'vip', '@_active': 'true', '@_role': 'Started', node: [{ '@_name': 'node1' }] }] }] }] }] };
    expect(pacemakerResourceNodes(doc, 'vip')).toEqual({ found: true, nodes: ['node1'], role: 'Started' });
    expect(pacemakerResourceNodes(doc, 'other').found).toBe(false);
  });
});

describe('check_ha_vip evaluation', () => {
  const iface = { name: 'eth0', mac: '02:00:00:00:00:01', operState: 'UP', up: true, addresses: [] };
  const addr = { family: 4 as const, address: '192.0.2.100', prefixLen: 24, dadFailed: false, tentative: false, deprecated: false };
  const base: VipObservation = { vip: { family: 4, address: '192.0.2.100' }, expectation: { role: 'any', because: '' }, orphanState: State.CRITICAL };
  const dad = (macs: string[]) => ({ iface: 'eth0', flavor: 'habets' as const, sent: 2, foreign: macs.map((mac) => ({ mac, ip: '192.0.2.100' })) });
  const out = (o: VipObservation) => render(evaluateVip(o), { prefix: 'VIP' });

  it('owner, nobody else answers: OK with vip_owned=1', () => {
    const r = out({ ...base, held: { iface, addr }, dad: dad([]), expectation: { role: 'owner', because: '--expect owner' } });
    expect(r.exitCode).toBe(State.OK);
    expect(r.text).toContain('vip_owned=1;;;0;1 vip_other_hosts=0;;;0');
  });
  it('held here and answered elsewhere: split brain', () => {
    const r = out({ ...base, held: { iface, addr }, dad: dad(['02:00:00:00:00:02']) });
    expect(r.exitCode).toBe(State.CRITICAL);
    expect(r.text).toContain('split brain: 192.0.2.100 is held here and also answered by 02:00:00:00:00:02 on eth0');
    // The role stays what this node sees: it owns the VIP; the other owner says 1 too.
    expect(r.text).toContain('| vip_owned=1;;;0;1 ');
  });
  it('standby that sees two hosts answer: split brain elsewhere', () => {
    const r = out({ ...base, dad: dad(['02:00:00:00:00:02', '02:00:00:00:00:03']), expectation: { role: 'standby', because: 'x' } });
    expect(r.exitCode).toBe(State.CRITICAL);
    expect(r.text).toContain('answered by 2 hosts');
  });
  it('nobody holds it: the orphan state, and CRITICAL on the expected owner', () => {
    expect(out({ ...base, dad: dad([]), orphanState: State.WARNING }).exitCode).toBe(State.WARNING);
    const r = out({ ...base, dad: dad([]), expectation: { role: 'owner', because: '--expect owner' } });
    expect(r.exitCode).toBe(State.CRITICAL);
    // Not held is a known role (0), whatever was expected: the role item leads the perfdata.
    expect(r.text).toContain('| vip_owned=0;;;0;1 ');
    expect(r.text).toContain('not held here but this node should own it');
  });
  it('held but should be standby: CRITICAL', () => {
    expect(out({ ...base, held: { iface, addr }, expectation: { role: 'standby', because: 'keepalived VI_1 is BACKUP' } }).exitCode).toBe(State.CRITICAL);
  });
  it('IPv6 dadfailed is split brain; tentative is a warning', () => {
    const v6 = { ...addr, family: 6 as const, address: '2001:db8::100', dadFailed: true, tentative: true };
    const r = out({ ...base, vip: { family: 6, address: '2001:db8::100' }, held: { iface, addr: v6 } });
    expect(r.exitCode).toBe(State.CRITICAL);
    expect(r.text).toContain('duplicate address detection of the kernel failed');
    expect(out({ ...base, vip: { family: 6, address: '2001:db8::100' }, held: { iface, addr: { ...v6, dadFailed: false } } }).exitCode).toBe(State.WARNING);
  });
});

describe('the arping sudoers rule (issue 9 item 18)', () => {
  it('pins the count, interval and deadline the probe sends, as in the README', async () => {
    const { arpingSudoersRule } = await import('../../../plugins/vip/collect.ts');
    const { ArpingFlavor } = await import('../../../plugins/vip/parse.ts');
    const readme = readFileSync(join(import.meta.dirname, '../../../plugins/vip/README.md'), 'utf8');
    const habets = arpingSudoersRule('arping');
    const iputils = arpingSudoersRule('/usr/bin/arping', ArpingFlavor.IPUTILS);
    expect(readme).toContain(habets);
    expect(readme).toContain(iputils);
    // The numbers are literal: a flood such as -c 999999999 -W 0.000001 does not match.
    const pattern = new RegExp(habets.split(' NOPASSWD: /usr/sbin/arping ')[1]!);
    expect(pattern.test('-0 -i eth0 -c 2 -W 0.5 -w 1 192.0.2.10')).toBe(true);
    expect(pattern.test('-0 -i eth0 -c 999999999 -W 0.000001 -w 1 192.0.2.10')).toBe(false);
    // Other --dad-count/--dad-wait values give a rule with their own numbers.
    expect(arpingSudoersRule('arping', ArpingFlavor.HABETS, 4, 2)).toContain('-c 4 -W 0[.]5 -w 2 ');
  });
});
