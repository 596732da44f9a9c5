/** check_ha_keepalived without keepalived: JSON and data dumps, notify state logs, --expect, and the verdicts. */
import { describe, expect, it } from 'vitest';
import { render } from '../../../nagios/result.ts';
import { State } from '../../../nagios/states.ts';
import { evaluateKeepalived } from '../../../plugins/keepalived/evaluate.ts';
import { parseDataDump, parseExpectation, parseJsonDump, parseKeepalivedState, parseNotifyLog } from '../../../plugins/keepalived/parse.ts';
import { readFixture } from '../../support/paths.ts';

describe('check_ha_keepalived parsing', () => {
  it('reads the JSON dump (state numbers, VIPs, stats)', () => {
    const i = parseJsonDump(readFixture('keepalived', 'keepalived.json'));
    expect(i.map((x) => [x.name, x.state, x.vrid, x.priority])).toEqual([['VI_1', 'MASTER', 51, 150], ['VI_DB', 'MASTER', 52, 100]]);
    expect(i[0]!.vips[0]).toEqual({ address: '192.0.2.100', device: expect.stringMatching(/-a$/) });
    expect(i[0]!.stats?.advertSent).toBeGreaterThan(0);
    expect(i[0]!.lastTransition).toBeGreaterThan(1.7e9);
  });
  it('reads the same states from the data dump', () => {
    const d = parseDataDump(readFixture('keepalived', 'keepalived.data'));
    expect(d.map((x) => [x.name, x.state, x.vrid, x.priority, x.vips.map((v) => v.address)])).toEqual([
      ['VI_1', 'MASTER', 51, 150, ['192.0.2.100']],
      ['VI_DB', 'MASTER', 52, 100, ['192.0.2.101']],
    ]);
  });
  it('reads notify state logs and FIFO lines, and detects the format', () => {
    const s = parseKeepalivedState(readFixture('keepalived', 'notify-state.log'));
    expect(s.format).toBe('notify');
    expect(s.instances).toEqual([{ name: 'VI_1', state: 'STOP', priority: 150, lastTransition: 1795298373, vips: [] }]);
    const f = parseNotifyLog(readFixture('keepalived', 'notify-fifo.txt'));
    expect(f.events.map((e) => e.state)).toEqual(['BACKUP', 'MASTER', 'MASTER_RX_LOWER_PRI']);
    expect(parseNotifyLog('garbage here\n').bad).toEqual([{ line: 1, text: 'garbage here' }]);
    expect(parseKeepalivedState(readFixture('keepalived', 'keepalived.json')).format).toBe('json');
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

describe('roles in perfdata (what a cluster rule sums)', () => {
  const ev = (instances: Parameters<typeof evaluateKeepalived>[0]['instances']) =>
    render(evaluateKeepalived({ source: 'test', instances, expectations: new Map(), windowSeconds: 3600, thresholds: {} }), { prefix: 'KEEPALIVED' }).text.split('\n')[0]!;
  it('<instance>_master: 1 for MASTER only; BACKUP, FAULT, INIT, STOP are 0', () => {
    const line = ev(['MASTER', 'BACKUP', 'FAULT', 'INIT', 'STOP'].map((state, i) => ({ name: `VI_${i}`, state, vips: [] })));
    expect(line).toContain('| VI_0_master=1;;;0;1 VI_1_master=0;;;0;1 VI_2_master=0;;;0;1 VI_3_master=0;;;0;1 VI_4_master=0;;;0;1 ');
    expect(line).toContain('vrrp_masters=1;;;0;5');
  });
  it('from the real dumps: both instances MASTER; the label is made safe', () => {
    expect(ev(parseJsonDump(readFixture('keepalived', 'keepalived.json')))).toContain('VI_1_master=1;;;0;1 VI_DB_master=1;;;0;1');
    expect(ev([{ name: 'web vip/1', state: 'BACKUP', vips: [] }])).toContain('web_vip_1_master=0;;;0;1');
  });
});

describe('tracked scripts (issue 9 item 11d)', () => {
  const ev = (instances: Parameters<typeof evaluateKeepalived>[0]['instances']) =>
    render(evaluateKeepalived({ source: 'test', instances, expectations: new Map(), windowSeconds: 3600, thresholds: {} }), { prefix: 'KEEPALIVED' });

  it('reads each instance tracked scripts and their GOOD or BAD status from the data dump (real keepalived 2.2.7 capture)', () => {
    const d = parseDataDump(readFixture('keepalived', 'script-bad.data'));
    expect(d.map((i) => [i.name, i.state, i.priority, i.effectivePriority])).toEqual([['VI_1', 'MASTER', 150, 130]]);
    expect(d[0]!.trackedScripts).toEqual([{ name: 'chk_good', weight: -10, status: 'GOOD' }, { name: 'chk_web', weight: -20, status: 'BAD' }]);
    // A dump without tracked scripts has none.
    expect(parseDataDump(readFixture('keepalived', 'keepalived.data'))[0]!.trackedScripts).toBeUndefined();
  });

  it('a BAD tracked script while MASTER is WARNING and named', () => {
    const r = ev(parseDataDump(readFixture('keepalived', 'script-bad.data')));
    expect(r.exitCode).toBe(State.WARNING);
    expect(r.text).toMatch(/^KEEPALIVED WARNING - VI_1 script chk_web: tracked script chk_web is BAD \(weight -20\), but this node still holds MASTER at priority 130 of 150/);
    expect(r.text).not.toContain('chk_good');
  });

  it('otherwise the usual judgement: BACKUP stays OK, FAULT stays CRITICAL, and the script line says BAD', () => {
    const [i] = parseDataDump(readFixture('keepalived', 'script-bad.data'));
    const backup = ev([{ ...i!, state: 'BACKUP' }]);
    expect(backup.exitCode).toBe(State.OK);
    expect(backup.text).toContain('  [WARNING] script chk_web: tracked script chk_web is BAD (weight -20)');
    const fault = ev([{ ...i!, state: 'FAULT' }]);
    expect(fault.exitCode).toBe(State.CRITICAL);
    expect(fault.text).toContain('tracked script chk_web is BAD (weight -20): it keeps the instance in FAULT');
  });

  it('the JSON dump (2.2.7 lists only the script commands): a priority below the configured one while MASTER is WARNING', () => {
    const j = parseJsonDump(readFixture('keepalived', 'script-bad.json'));
    expect(j[0]!.trackedScripts).toEqual([{ name: '/usr/bin/true' }, { name: '/usr/bin/false' }]);
    const r = ev(j);
    expect(r.exitCode).toBe(State.WARNING);
    expect(r.text).toMatch(/^KEEPALIVED WARNING - VI_1 tracking: MASTER at priority 130, below the configured 150: a tracked script or interface has failed/);
    expect(ev(parseJsonDump(readFixture('keepalived', 'keepalived.json'))).exitCode).toBe(State.OK);
  });
});
