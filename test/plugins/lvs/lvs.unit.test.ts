/** check_ha_lvs on saved ipvsadm -Ln output (with --stats and --rate). */
import { describe, expect, it } from 'vitest';
import { runPlugin } from '../../../nagios/plugin.ts';
import lvs from '../../../plugins/lvs/index.ts';
import { parseIpvsCounters, parseIpvsList, parseLargeNum } from '../../../plugins/lvs/parse.ts';
import { fixturePath, readFixture } from '../../support/paths.ts';

describe('lvs', () => {
  it('parses services, flags, FWM and IPv6', () => {
    const l = parseIpvsList(readFixture('lvs', 'ipvsadm-Ln.txt'));
    expect(l.version).toBe('1.2.1');
    expect(l.services.map((s) => [s.key, s.scheduler, s.flags, s.realServers.length])).toEqual([
      ['TCP 192.0.2.100:80', 'wlc', '', 3], ['TCP 192.0.2.100:443', 'wlc', 'persistent 300', 2], ['UDP 192.0.2.100:53', 'rr', '', 1],
      ['TCP 192.0.2.101:3306', 'rr', '', 2], ['FWM 7', 'sh', '', 1], ['TCP [2001:db8::100]:80', 'rr', '', 1],
    ]);
    expect(l.services[0]!.realServers[0]).toEqual({ address: '192.0.2.11:80', forward: 'Route', weight: 1, activeConns: 12, inactiveConns: 140 });
  });
  it('parses --stats with K suffixes and --rate', () => {
    expect(parseLargeNum('153499K')).toBe(153499000);
    const s = parseIpvsCounters(readFixture('lvs', 'ipvsadm-Ln-stats.txt'));
    expect(s.columns).toEqual(['Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes']);
    expect(s.services[0]).toMatchObject({ key: 'TCP 192.0.2.100:80', values: [48211, 1934221, 0, 153499000, 0] });
    expect(parseIpvsCounters(readFixture('lvs', 'ipvsadm-Ln-rate.txt')).columns[0]).toBe('CPS');
  });
  it('no usable real server is CRITICAL, weight 0 on some is WARNING, -w/-c judge the usable count', async () => {
    const r = await runPlugin(lvs, ['--input-file', fixturePath('lvs', 'ipvsadm-Ln.txt'), '--stats-file', fixturePath('lvs', 'ipvsadm-Ln-stats.txt')]);
    expect(r.exitCode).toBe(2);
    expect(r.text).toMatch(/^LVS CRITICAL - TCP 192\.0\.2\.101:3306: 0 of 2 real servers usable \(critical when below 1\)/);
    expect(r.text).toContain('[WARNING] TCP 192.0.2.100:80: 2 of 3 real servers usable, weight 0: 192.0.2.13:80 (wlc)');
    expect(r.text).toContain('tcp_192.0.2.100:80_usable=2;;1:;0;3');
    expect(r.text).toContain('tcp_192.0.2.100:80_conns=48211c');
    const one = await runPlugin(lvs, ['--input-file', fixturePath('lvs', 'ipvsadm-Ln.txt'), '-s', 'TCP 192.0.2.100:443', '-w', '3:', '-c', '1:']);
    expect(one.exitCode).toBe(1);
    expect(one.text).toMatch(/^LVS WARNING - TCP 192\.0\.2\.100:443: 2 of 2 real servers usable \(warning when below 3\)/);
    const missing = await runPlugin(lvs, ['--input-file', fixturePath('lvs', 'ipvsadm-Ln.txt'), '-s', '192.0.2.200:80']);
    expect(missing.text).toMatch(/^LVS CRITICAL - 192\.0\.2\.200:80: virtual service not configured/);
  });
});

describe('long output tags (issue 9 item 9)', () => {
  it('a weight-0 real server is tagged WARNING under its service, a usable one OK; the service line carries the verdict', async () => {
    const r = await runPlugin(lvs, ['--input-file', fixturePath('lvs', 'ipvsadm-Ln.txt')]);
    expect(r.text).toContain('\n[CRITICAL] TCP 192.0.2.101:3306: 0 of 2 real servers usable');
    expect(r.text).toContain('\n  [WARNING] 192.0.2.31:3306: Masq weight 0 (quiesced: no new connections), 0 active, 0 inactive');
    expect(r.text).toContain('\n  [WARNING] 192.0.2.13:80: Route weight 0');
    expect(r.text).toContain('\n  [OK] 192.0.2.11:80: Route weight 1, 12 active, 140 inactive');
    expect(r.text).not.toMatch(/\[OK\] \S+: \S+ weight 0/);
    // With -w given, a quiesced server does not make its service WARNING: its own line still says so.
    const w = await runPlugin(lvs, ['--input-file', fixturePath('lvs', 'ipvsadm-Ln.txt'), '-s', 'TCP 192.0.2.100:80', '-w', '1:']);
    expect(w.exitCode).toBe(0);
    expect(w.text).toContain('\n  [WARNING] 192.0.2.13:80: Route weight 0');
  });
});

describe('/proc/net/ip_vs (issue 9 item 11a)', () => {
  it('decodes hex addresses, ports, firewall marks and the persistence mask to what ipvsadm -Ln prints', () => {
    const proc = parseIpvsList(readFixture('lvs', 'proc-net-ip_vs.txt'));
    const adm = parseIpvsList(readFixture('lvs', 'ipvsadm-Ln.txt'));
    expect(proc.source).toBe('proc');
    expect(adm.source).toBe('ipvsadm');
    // The same services as the ipvsadm capture, read the same way.
    expect(proc.services.slice(0, adm.services.length)).toEqual(adm.services);
    expect(proc.services[adm.services.length]).toMatchObject({ key: 'FWM 26', address: '26', scheduler: 'rr' });
    expect(proc.services[adm.services.length]!.realServers[0]).toMatchObject({ address: '192.0.2.42:0', weight: 1 });
  });

  it('the check on /proc/net/ip_vs judges like on ipvsadm -Ln and says which table it read', async () => {
    const r = await runPlugin(lvs, ['--input-file', fixturePath('lvs', 'proc-net-ip_vs.txt')]);
    expect(r.exitCode).toBe(2);
    expect(r.text).toMatch(/^LVS CRITICAL - TCP 192\.0\.2\.101:3306: 0 of 2 real servers usable/);
    expect(r.text).toContain('[WARNING] TCP 192.0.2.100:80: 2 of 3 real servers usable');
    expect(r.text).toContain('[OK] FWM 26: 1 of 1 real servers usable (rr)');
    expect(r.text).toContain('[OK] input: read from the kernel table /proc/net/ip_vs');
    expect(r.text).not.toMatch(/C0000264|0050/);
    const fwm = await runPlugin(lvs, ['--input-file', fixturePath('lvs', 'proc-net-ip_vs.txt'), '-s', 'FWM 26']);
    expect(fwm.exitCode).toBe(0);
  });

  it('a kernel table with an address not in hex is refused, saying what was expected', () => {
    const text = readFixture('lvs', 'proc-net-ip_vs.txt').replace('C000020C:0050', '192.0.2.12:80');
    expect(() => parseIpvsList(text)).toThrow(/^\/proc\/net\/ip_vs address 192\.0\.2\.12:80 is not in the kernel hex form HHHHHHHH:PPPP/);
  });
});
