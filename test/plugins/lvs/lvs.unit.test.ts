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
