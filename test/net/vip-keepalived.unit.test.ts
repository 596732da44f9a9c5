import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { render } from '../../nagios/result.ts';
import { State } from '../../nagios/states.ts';
import { canonicalAddr, formatRange, parseCidr, rangeToCidrs } from '../../plugins/netlib/addr.ts';
import { evaluateKeepalived } from '../../plugins/keepalived/evaluate.ts';
import { parseDataDump, parseExpectation, parseJsonDump, parseKeepalivedState, parseNotifyLog } from '../../plugins/keepalived/parse.ts';
import { evaluateVip, type VipObservation } from '../../plugins/vip/evaluate.ts';
import { detectArpingFlavor, parseArpingOutput, parseIpAddrJson, parseVipOption, pacemakerResourceNodes } from '../../plugins/vip/parse.ts';
import { ROOT } from './harness.ts';

const fx = (plugin: string, file: string): string => readFileSync(join(ROOT, 'plugins', plugin, 'fixtures', file), 'utf8');

describe('addresses', () => {
  it('canonicalises IPv4 and IPv6 (RFC 5952)', () => {
    expect(canonicalAddr('192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalAddr('2001:0db8:0000:0000:0000:0000:0000:0100')).toBe('2001:db8::100');
    expect(canonicalAddr('::ffff:192.0.2.1')).toBe('::ffff:c000:201');
    expect(canonicalAddr('not-an-ip')).toBeUndefined();
  });
  it('parses CIDRs, dotted masks, and splits ranges into CIDRs', () => {
    expect(formatRange(parseCidr('192.0.2.77/24')!)).toBe('192.0.2.0/24');
    expect(formatRange(parseCidr('10.0.0.0/255.0.0.0')!)).toBe('10.0.0.0/8');
    expect(formatRange(parseCidr('0.0.0.0/0')!)).toBe('0.0.0.0/0');
    expect(rangeToCidrs({ family: 4, start: parseCidr('192.0.2.0')!.start, end: parseCidr('192.0.2.9')!.start }).map(formatRange)).toEqual(['192.0.2.0/29', '192.0.2.8/31']);
    expect(parseCidr('192.0.2.1/33')).toBeUndefined();
  });
});

describe('check_ha_vip parsing', () => {
  it('reads ip -j addr with the kernel DAD flags', () => {
    const owner = parseIpAddrJson(fx('vip', 'ip-addr-owner.json'));
    const veth = owner.find((i) => i.name.endsWith('-a'))!;
    expect(veth.addresses.map((a) => a.address)).toEqual(expect.arrayContaining(['192.0.2.1', '192.0.2.100', '192.0.2.101', '2001:db8::100']));
    expect(veth.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    const other = parseIpAddrJson(fx('vip', 'ip-addr-dadfailed.json'));
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
    const h = parseArpingOutput('habets', fx('vip', 'arping-habets-answered.txt'));
    expect(h).toEqual({ ran: true, sent: 2, replies: [{ mac: '7a:3d:21:77:a5:5b', ip: '192.0.2.100' }, { mac: '7a:3d:21:77:a5:5b', ip: '192.0.2.100' }] });
    expect(parseArpingOutput('habets', fx('vip', 'arping-habets-silent.txt'))).toEqual({ ran: true, sent: 2, replies: [] });
    expect(parseArpingOutput('iputils', fx('vip', 'arping-iputils-answered.txt')).replies).toEqual([{ ip: '192.0.2.100', mac: '7a:3d:21:77:a5:5b' }]);
    expect(parseArpingOutput('iputils', fx('vip', 'arping-iputils-silent.txt'))).toEqual({ ran: true, sent: 2, replies: [] });
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
    expect(r.text).toContain('not held here but this node should own it');
  });
  it('held but should be standby: CRITICAL', () => {
    expect(out({ ...base, held: { iface, addr }, expectation: { role: 'standby', because: 'keepalived VI_1 is BACKUP' } }).exitCode).toBe(State.CRITICAL);
  });
  it('IPv6 dadfailed is split brain; tentative is a warning', () => {
    const v6 = { ...addr, family: 6 as const, address: '2001:db8::100', dadFailed: true, tentative: true };
    const r = out({ ...base, vip: { family: 6, address: '2001:db8::100' }, held: { iface, addr: v6 } });
    expect(r.exitCode).toBe(State.CRITICAL);
    expect(r.text).toContain("duplicate address detection failed");
    expect(out({ ...base, vip: { family: 6, address: '2001:db8::100' }, held: { iface, addr: { ...v6, dadFailed: false } } }).exitCode).toBe(State.WARNING);
  });
});

describe('check_ha_keepalived parsing', () => {
  it('reads the JSON dump (state numbers, VIPs, stats)', () => {
    const i = parseJsonDump(fx('keepalived', 'keepalived.json'));
    expect(i.map((x) => [x.name, x.state, x.vrid, x.priority])).toEqual([['VI_1', 'MASTER', 51, 150], ['VI_DB', 'MASTER', 52, 100]]);
    expect(i[0]!.vips[0]).toEqual({ address: '192.0.2.100', device: expect.stringMatching(/-a$/) });
    expect(i[0]!.stats?.advertSent).toBeGreaterThan(0);
    expect(i[0]!.lastTransition).toBeGreaterThan(1.7e9);
  });
  it('reads the same states from the data dump', () => {
    const d = parseDataDump(fx('keepalived', 'keepalived.data'));
    expect(d.map((x) => [x.name, x.state, x.vrid, x.priority, x.vips.map((v) => v.address)])).toEqual([
      ['VI_1', 'MASTER', 51, 150, ['192.0.2.100']],
      ['VI_DB', 'MASTER', 52, 100, ['192.0.2.101']],
    ]);
  });
  it('reads notify state logs and FIFO lines, and detects the format', () => {
    const s = parseKeepalivedState(fx('keepalived', 'notify-state.log'));
    expect(s.format).toBe('notify');
    expect(s.instances).toEqual([{ name: 'VI_1', state: 'STOP', priority: 150, lastTransition: 1795298373, vips: [] }]);
    const f = parseNotifyLog(fx('keepalived', 'notify-fifo.txt'));
    expect(f.events.map((e) => e.state)).toEqual(['BACKUP', 'MASTER', 'MASTER_RX_LOWER_PRI']);
    expect(parseNotifyLog('garbage here\n').bad).toEqual([{ line: 1, text: 'garbage here' }]);
    expect(parseKeepalivedState(fx('keepalived', 'keepalived.json')).format).toBe('json');
  });
  it('parses --expect', () => {
    expect(parseExpectation('VI_1=MASTER')).toEqual({ instance: 'VI_1', states: ['MASTER'] });
    expect(parseExpectation('VI_1=master|backup')).toEqual({ instance: 'VI_1', states: ['MASTER', 'BACKUP'] });
    expect(parseExpectation('VI_1=PRIMARY')).toBeUndefined();
  });
});

describe('check_ha_keepalived evaluation', () => {
  const inst = (name: string, state: string) => ({ name, state, vips: [] });
  const ev = (o: Partial<Parameters<typeof evaluateKeepalived>[0]>) =>
    render(evaluateKeepalived({ source: 'test', instances: [], expectations: new Map(), windowSeconds: 3600, thresholds: {}, ...o }), { prefix: 'KEEPALIVED' });
  it('FAULT is CRITICAL, INIT is WARNING, expected states are OK', () => {
    expect(ev({ instances: [inst('VI_1', 'FAULT')] }).exitCode).toBe(State.CRITICAL);
    expect(ev({ instances: [inst('VI_1', 'INIT')] }).exitCode).toBe(State.WARNING);
    expect(ev({ instances: [inst('VI_1', 'BACKUP')], expectations: new Map([['VI_1', ['BACKUP']]]) }).exitCode).toBe(State.OK);
  });
  it('a missing expected instance is CRITICAL', () => {
    const r = ev({ instances: [inst('VI_1', 'MASTER')], expectations: new Map([['VI_2', ['MASTER']]]) });
    expect(r.text).toContain('VI_2: instance not found in test (expected MASTER)');
  });
  it('too many state changes trip -w', () => {
    const r = ev({ instances: [inst('VI_1', 'MASTER')], transitions: new Map([['VI_1', 5]]), thresholds: { warning: { start: 0, end: 3, alertInside: false, text: '3' } } });
    expect(r.exitCode).toBe(State.WARNING);
    expect(r.text).toContain('VI_1_transitions=5;3;;0');
  });
});
