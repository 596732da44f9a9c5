import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPlugin } from '../../../nagios/plugin.ts';
import { parseRange } from '../../../nagios/range.ts';
import { effectiveState, render } from '../../../nagios/result.ts';
import { State } from '../../../nagios/states.ts';
import { csvUrl } from '../../../plugins/haproxy/collect.ts';
import { evaluate, type HaproxyPolicy } from '../../../plugins/haproxy/evaluate.ts';
import descriptor from '../../../plugins/haproxy/index.ts';
import { classifyStatus, parseStats, parseStatsText, splitCsvLine } from '../../../plugins/haproxy/parse.ts';
import { globToRegExp } from '../../../plugins/lib/glob.ts';
import { perfValue } from '../../support/bin.ts';
import { fixturePath, readFixture } from '../../support/paths.ts';

const fixture = (name: string): string => readFixture('haproxy', name);

function policy(over: Partial<HaproxyPolicy> = {}): HaproxyPolicy {
  return {
    serverThresholds: {},
    percent: false,
    ignoreMaint: false,
    sessionThresholds: { warning: parseRange('80'), critical: parseRange('95') },
    queueThresholds: {},
    backends: [],
    excludeBackends: [],
    frontends: [],
    excludeFrontends: [],
    ...over,
  };
}

/** A minimal stats CSV, columns deliberately in a different order than HAProxy's. */
function csv(rows: readonly (readonly [string, string, string, string, string?, string?, string?])[]): string {
  const lines = ['# type,status,svname,pxname,bck,qcur,scur,slim'];
  for (const [type, px, sv, status, bck = '0', qcur = '0', scur = '0'] of rows) lines.push(`${type},${status},${sv},${px},${bck},${qcur},${scur},`);
  return lines.join('\n') + '\n';
}

function check(text: string, over: Partial<HaproxyPolicy> = {}) {
  const result = evaluate(parseStats(text), policy(over));
  const r = render(result, { prefix: 'HAPROXY' });
  const first = r.text.split('\n')[0]!;
  return { state: effectiveState(result), text: r.text, status: first.split(' | ')[0]!, perf: first.includes('|') ? first.slice(first.indexOf('|') + 1) : '' };
}

describe('CSV reading', () => {
  it('splits quoted fields (csv_enc) and finds columns by the header', () => {
    expect(splitCsvLine('a,"b,c",,"d ""e"""')).toEqual(['a', 'b,c', '', 'd "e"']);
    const raw = parseStatsText('Name: HAProxy\nVersion: 2.9.1\n\n# pxname,svname,status,type\nbe,s1,UP,2\n');
    expect(raw.info).toEqual({ Name: 'HAProxy', Version: '2.9.1' });
    expect(raw.rows).toEqual([{ pxname: 'be', svname: 's1', status: 'UP', type: '2' }]);
  });

  it('works with columns in any order', () => {
    const r = check(csv([['2', 'be', 's1', 'UP'], ['2', 'be', 's2', 'DOWN'], ['1', 'be', 'BACKEND', 'UP']]));
    expect(r.state).toBe(State.WARNING);
    expect(r.perf).toContain('be_servers_up=1;2:;1:;0;2');
  });

  it('says what is wrong with input that is not stats CSV', () => {
    expect(() => parseStatsText('<html><body>login</body></html>')).toThrow(/HTML page instead of the stats CSV/);
    expect(() => parseStatsText('Permission denied\n\n')).toThrow(/level user or higher/);
    expect(() => parseStatsText('')).toThrow(/no stats CSV header/);
  });
});

describe('server states', () => {
  it.each([
    ['UP', 'up'],
    ['UP 1/3', 'going-down'],
    ['DOWN', 'down'],
    ['DOWN 1/2', 'going-up'],
    ['DOWN (agent)', 'down'],
    ['MAINT', 'maint'],
    ['MAINT (via be_x/s1)', 'maint'],
    ['MAINT (resolution)', 'maint'],
    ['DRAIN', 'drain'],
    ['DRAIN (agent)', 'drain'],
    ['NOLB', 'nolb'],
    ['no check', 'no-check'],
    ['weird', 'unknown'],
  ])('%s -> %s', (status, state) => {
    expect(classifyStatus(status)).toBe(state);
  });
});

describe('backend thresholds', () => {
  const backend = (n: number, up: number) =>
    csv([...Array.from({ length: n }, (_, i) => ['2', 'be', `s${i}`, i < up ? 'UP' : 'DOWN'] as const), ['1', 'be', 'BACKEND', up ? 'UP' : 'DOWN']]);

  it('defaults scale with the backend: all usable OK, one down WARNING, none CRITICAL', () => {
    for (const n of [1, 2, 5, 20]) {
      expect(check(backend(n, n)).state).toBe(State.OK);
      if (n > 1) expect(check(backend(n, n - 1)).state).toBe(State.WARNING);
      if (n > 1) expect(check(backend(n, 1)).state).toBe(State.WARNING);
      expect(check(backend(n, 0)).state).toBe(State.CRITICAL);
    }
  });

  it('explicit -w/-c counts and --percent', () => {
    expect(check(backend(4, 2), { serverThresholds: { warning: parseRange('2:'), critical: parseRange('1:') } }).state).toBe(State.OK);
    expect(check(backend(4, 1), { serverThresholds: { warning: parseRange('3:'), critical: parseRange('2:') } }).state).toBe(State.CRITICAL);
    const p = check(backend(4, 1), { percent: true });
    expect(p.state).toBe(State.WARNING);
    expect(p.perf).toContain('be_servers_up_pct=25%;100:;@~:0;0;100');
    expect(check(backend(4, 0), { percent: true }).state).toBe(State.CRITICAL);
    expect(check(backend(4, 1), { percent: true, serverThresholds: { warning: parseRange('50:'), critical: parseRange('30:') } }).state).toBe(State.CRITICAL);
  });

  it('backup servers are counted apart; a backend served by backups only is WARNING', () => {
    const text = csv([['2', 'be', 'a', 'DOWN'], ['2', 'be', 'b', 'DOWN'], ['2', 'be', 'spare', 'UP', '1'], ['1', 'be', 'BACKEND', 'UP']]);
    const r = check(text);
    expect(r.state).toBe(State.WARNING);
    expect(r.status).toContain('0/2 active servers usable, served by 1 backup server');
    expect(perfValue(r.perf, 'be_backup_up')).toBe(1);
    const deadBackup = check(csv([['2', 'be', 'a', 'UP'], ['2', 'be', 'spare', 'DOWN', '1'], ['1', 'be', 'BACKEND', 'UP']]));
    expect(deadBackup.state).toBe(State.WARNING);
    expect(deadBackup.status).toContain('backup: 0/1 backup servers usable (spare DOWN)');
  });

  it('a backend of backup servers only is judged on them', () => {
    const r = check(csv([['2', 'be', 'b1', 'UP', '1'], ['2', 'be', 'b2', 'DOWN', '1'], ['1', 'be', 'BACKEND', 'UP']]));
    expect(r.state).toBe(State.WARNING);
    expect(r.status).toContain('1/2 backup servers usable');
  });

  it('--ignore-maint leaves planned work out of the count', () => {
    const text = csv([['2', 'be', 'a', 'UP'], ['2', 'be', 'b', 'MAINT'], ['2', 'be', 'c', 'DRAIN'], ['1', 'be', 'BACKEND', 'UP']]);
    expect(check(text).state).toBe(State.WARNING);
    expect(check(text, { ignoreMaint: true }).state).toBe(State.OK);
    const allMaint = csv([['2', 'be', 'a', 'MAINT'], ['1', 'be', 'BACKEND', 'DOWN']]);
    const r = check(allMaint, { ignoreMaint: true });
    expect(r.state).toBe(State.CRITICAL);
    expect(r.status).toContain('no usable active server: all 1 in MAINT/DRAIN (critical below 1)');
  });

  it('NOLB and DRAIN servers take no new traffic: not usable', () => {
    expect(check(csv([['2', 'be', 'a', 'UP'], ['2', 'be', 'b', 'NOLB'], ['1', 'be', 'BACKEND', 'UP']])).state).toBe(State.WARNING);
  });

  it('queue thresholds', () => {
    const text = csv([['2', 'be', 'a', 'UP'], ['1', 'be', 'BACKEND', 'UP', '0', '12']]);
    expect(check(text).state).toBe(State.OK);
    const r = check(text, { queueThresholds: { warning: parseRange('5'), critical: parseRange('20') } });
    expect(r.state).toBe(State.WARNING);
    expect(r.status).toContain('12 requests queued (warning above 5)');
    expect(r.perf).toContain('be_queue=12;5;20;0');
  });

  it('backends without servers are skipped unless DOWN', () => {
    expect(check(csv([['1', 'stats', 'BACKEND', 'UP'], ['2', 'be', 'a', 'UP'], ['1', 'be', 'BACKEND', 'UP']])).status).toBe('HAPROXY OK - 1/1 backends fully usable');
    expect(check(csv([['1', 'empty', 'BACKEND', 'DOWN']])).state).toBe(State.CRITICAL);
  });
});

describe('frontends and selection', () => {
  it('only OPEN is fine; sessions are judged against slim', () => {
    for (const st of ['STOP', 'PAUSED', 'FULL']) expect(check(csv([['0', 'fe', 'FRONTEND', st]])).state).toBe(State.CRITICAL);
    const text = '# pxname,svname,scur,slim,status,type\nfe,FRONTEND,96,100,OPEN,0\n';
    expect(check(text).state).toBe(State.CRITICAL);
    expect(check(text, { sessionThresholds: { warning: parseRange('97'), critical: parseRange('99') } }).state).toBe(State.OK);
  });

  it('globs select and exclude backends and frontends', () => {
    expect(globToRegExp('be_*').test('be_web')).toBe(true);
    expect(globToRegExp('be_?').test('be_ab')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    const text = fixture('down-maint-drain.csv');
    expect(check(text, { backends: ['be_api'] }).state).toBe(State.OK);
    expect(check(text, { excludeBackends: ['be_w*'] }).state).toBe(State.OK);
    expect(check(text, { frontends: ['fe_*'] }).status).toBe('HAPROXY OK - 1/1 frontends open');
    expect(check(text, { backends: ['nope*'] }).status).toMatch(/UNKNOWN - no backend matches --backend nope\* \(have: be_web, be_api, be_static, stats\)/);
  });
});

describe('stats page URL', () => {
  it('appends ;csv once, keeps a query-string stats uri', () => {
    expect(csvUrl('http://lb:8404/stats').href).toBe('http://lb:8404/stats;csv');
    expect(csvUrl('http://lb:8404/stats;csv').href).toBe('http://lb:8404/stats;csv');
    expect(csvUrl('https://lb/haproxy?stats').href).toBe('https://lb/haproxy?stats;csv');
    expect(csvUrl('http://lb/stats;csv;norefresh').href).toBe('http://lb/stats;csv;norefresh');
    expect(() => csvUrl('http://u:p@lb/stats')).toThrow(/visible in the process list/);
    expect(() => csvUrl('ftp://lb/stats')).toThrow(/only http and https/);
  });
});

describe('real captures through the runner', () => {
  it.each([
    ['healthy-show-info-stat.txt', State.OK, 'HAPROXY OK - 3/3 backends fully usable, 2/2 frontends open'],
    ['down-maint-drain.csv', State.WARNING, 'HAPROXY WARNING - backend be_web: 0/3 active servers usable, served by 1 backup server, web1 DOWN, web2 MAINT, web3 DRAIN, 1/1 backup, 4 of 5 proxies OK'],
    ['transitional.csv', State.WARNING, 'HAPROXY WARNING - backend be_web: 2/3 active servers usable (warning below 3), web1 DOWN 1/2, 1/1 backup, 4 of 5 proxies OK'],
    ['backup-only.csv', State.CRITICAL, 'HAPROXY CRITICAL - backend be_api: 0/1 active servers usable (critical below 1), api1 DOWN, backend be_web: 0/3 active servers usable, served by 1 backup server, web1 DOWN, web2 DOWN, web3 DOWN, 1/1 backup, 3 of 5 proxies OK'],
    ['all-down-frontend-paused.txt', State.CRITICAL, undefined],
    ['frontend-sessions-90pct.txt', State.CRITICAL, undefined],
  ])('%s', async (file, state, status) => {
    const r = await runPlugin(descriptor, ['--input-file', fixturePath('haproxy', file)]);
    expect(r.exitCode).toBe(state);
    if (status) expect(r.text.split(' | ')[0]).toBe(status);
  });

  it('the 90% frontend alone is WARNING', async () => {
    const r = await runPlugin(descriptor, ['--input-file', fixturePath('haproxy', 'frontend-sessions-90pct.txt'), '--frontend', 'fe_web']);
    expect(r.exitCode).toBe(State.WARNING);
  });

  it('bad options get one line', async () => {
    const r = await runPlugin(descriptor, ['--socket', 'a', '--url', 'http://x/']);
    expect(r.text).toBe('HAPROXY UNKNOWN - give either --socket or --url, not both\n');
    const bad = await runPlugin(descriptor, ['--input-file', fixturePath('haproxy', 'transitional.csv'), '-w', 'x']);
    expect(bad.text).toMatch(/^HAPROXY UNKNOWN - invalid threshold range x/);
    const sock = await runPlugin(descriptor, ['--socket', 'nohost']);
    expect(sock.text).toMatch(/invalid --socket nohost/);
  });
});

describe('long output tags (issue 9 item 9)', () => {
  it('a DOWN, MAINT or DRAIN server line is tagged with its own state, never [OK]; the backend line keeps the verdict', () => {
    const r = check(fixture('down-maint-drain.csv'));
    expect(r.state).toBe(State.WARNING);
    expect(r.text).toContain('\n[WARNING] backend be_web: 0/3 active servers usable, served by 1 backup server');
    expect(r.text).toContain('\n  [CRITICAL] server web1: DOWN');
    expect(r.text).toContain('\n  [WARNING] server web2: MAINT');
    expect(r.text).toContain('\n  [WARNING] server web3: DRAIN');
    expect(r.text).not.toMatch(/\[OK\] server web[123]/);
    // A server that still takes traffic without checks stays OK.
    expect(r.text).toContain('\n  [OK] server static1: no check');
    // The server lines describe parts already judged: they do not raise the exit state.
    const ignored = check(fixture('down-maint-drain.csv'), { ignoreMaint: true, serverThresholds: { critical: parseRange('@~:0') }, backends: ['be_web'] });
    expect(ignored.text).toContain('  [WARNING] server web2: MAINT');
    expect(ignored.state).toBe(State.WARNING);
    expect(ignored.status).not.toContain('server web');
  });

  it('a CRITICAL backend with all servers DOWN lists each as CRITICAL, the status line names the backend only', () => {
    const r = check(csv([['2', 'be', 's1', 'DOWN'], ['2', 'be', 's2', 'DOWN 1/2'], ['1', 'be', 'BACKEND', 'DOWN']]));
    expect(r.state).toBe(State.CRITICAL);
    expect(r.text).toContain('\n  [CRITICAL] server s1: DOWN');
    expect(r.text).toContain('\n  [CRITICAL] server s2: DOWN 1/2');
    expect(r.status).toMatch(/^HAPROXY CRITICAL - backend be: 0\/2 active servers usable/);
    expect(r.status).not.toContain('server s1');
  });
});

describe('stats CSV without its header line (issue 9 item 11b)', () => {
  const headerless = (text: string): string => text.split('\n').filter((l) => !l.startsWith('#')).join('\n');

  it('reads rows by the documented column positions and says so in the long output', async () => {
    const withHeader = check(fixture('down-maint-drain.csv'));
    const r = check(headerless(fixture('down-maint-drain.csv')));
    expect(r.state).toBe(withHeader.state);
    expect(r.status).toBe(withHeader.status);
    expect(r.perf).toBe(withHeader.perf);
    expect(r.text).toContain('[OK] input: the stats CSV had no header line: its columns were read by the positions of HAProxy documented CSV layout (management guide 9.1)');
    const run = await runPlugin(descriptor, ['--input-file', '-'], { readStdin: async () => headerless(fixture('transitional.csv')) });
    expect(run.text).toMatch(/^HAPROXY (OK|WARNING|CRITICAL) - /);
    expect(run.text).toContain('read by the positions');
    // show info before the headerless rows: its lines (one with a comma) are info, not rows.
    const info = 'Name: HAProxy\nVersion: 2.6.12\nDescription: edge, eu\nUptime_sec: 90000\nCurrConns: 5\nMaxconn: 100\n\n';
    const both = check(info + headerless(fixture('down-maint-drain.csv')));
    expect(both.text).toContain('[OK] process: HAProxy 2.6.12, up 1d 1h, 5/100 connections (5%)');
    expect(both.text).not.toContain('Description');
  });

  it('a file that is neither is refused, naming the missing header', () => {
    expect(() => parseStatsText('foo,bar\nbaz,qux\n')).toThrow(/no stats CSV header \('# pxname,svname,\.\.\.'\) in the input, and its lines are not stats rows/);
  });
});
