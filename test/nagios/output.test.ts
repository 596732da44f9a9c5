import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpretPluginRun, parsePluginOutput } from '../../nagios/output.ts';
import { runPlugin } from '../../nagios/plugin.ts';
import { State } from '../../nagios/states.ts';
import { plugins } from '../../plugins/registry.ts';
import { fixturePath, fixturesDir, ROOT } from '../support/paths.ts';

describe('parsePluginOutput (Nagios Core rules)', () => {
  it('single line with perfdata', () => {
    const p = parsePluginOutput('DISK OK - free space: / 3326 MB (56%) | /=2643MB;5948;5958;0;5968\n');
    expect(p.output).toBe('DISK OK - free space: / 3326 MB (56%)');
    expect(p.longOutput).toBe('');
    expect(p.perfdataText).toBe('/=2643MB;5948;5958;0;5968');
    expect(p.perfdata[0]).toMatchObject({ label: '/', value: 2643, uom: 'MB' });
  });

  it('the guidelines example: long output then perfdata on later lines', () => {
    const text = [
      'DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968',
      '/ 15272 MB (77%);',
      '/boot 68 MB (69%);',
      '/home 69357 MB (27%);',
      '/var/log 819 MB (84%); | /boot=68MB;88;93;0;98',
      '/home=69357MB;253404;253409;0;253414',
      '/var/log=818MB;970;975;0;980',
    ].join('\n');
    const p = parsePluginOutput(text);
    expect(p.output).toBe('DISK OK - free space: / 3326 MB (56%);');
    expect(p.longOutput).toBe('/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n/var/log 819 MB (84%); ');
    expect(p.perfdata.map((x) => x.label)).toEqual(['/', '/boot', '/home', '/var/log']);
  });

  it('a line after the first perfdata line is perfdata even without a bar', () => {
    const p = parsePluginOutput('OK\nlong 1\n| a=1\nb=2\nc=3');
    expect(p.longOutput).toBe('long 1');
    expect(p.perfdata.map((x) => x.label)).toEqual(['a', 'b', 'c']);
  });

  it('no perfdata, several lines', () => {
    const p = parsePluginOutput('CRM CRITICAL - node b offline\n[CRITICAL] node b: offline\n[OK] node a: online\n');
    expect(p.output).toBe('CRM CRITICAL - node b offline');
    expect(p.longOutput).toBe('[CRITICAL] node b: offline\n[OK] node a: online');
    expect(p.perfdata).toEqual([]);
  });

  it('CRLF line ends', () => {
    const p = parsePluginOutput('OK - fine | x=1\r\nmore\r\n');
    expect(p.output).toBe('OK - fine');
    expect(p.longOutput).toBe('more');
  });

  it('empty output is named and exit codes outside 0..3 are UNKNOWN', () => {
    const r = interpretPluginRun(0, '');
    expect(r.output).toBe('(No output on stdout)');
    expect(interpretPluginRun(127, 'sh: not found').state).toBe(State.UNKNOWN);
    expect(interpretPluginRun(null, 'killed').state).toBe(State.UNKNOWN);
    expect(interpretPluginRun(2, 'CRIT').state).toBe(State.CRITICAL);
  });
});

/**
 * What real Nagios does to plugin output, checked on every plugin and every captured input:
 * Nagios 4 turns `;` into `:` and strips `` ` ~ $ & | ' " < > `` from notifications, and its
 * worker keeps only 8 KiB of a result. Same selection as the before-stop hook: every file up to
 * two levels under plugins/<plugin>/fixtures except *.md, through --input-file.
 */
describe('every plugin on every fixture', () => {
  const FORBIDDEN = /[;`~$&|'"<>]/;
  const cases: [string, string][] = [];
  for (const folder of readdirSync(join(ROOT, 'plugins'))) {
    const dir = fixturesDir(folder);
    if (!existsSync(dir) || !plugins.some((p) => p.name === `check_ha_${folder}`)) continue;
    const walkDir = (d: string, depth: number): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory() && depth < 2) walkDir(join(d, e.name), depth + 1);
        else if (e.isFile() && !e.name.endsWith('.md')) cases.push([folder, relative(ROOT, join(d, e.name))]);
      }
    };
    walkDir(dir, 1);
  }

  it('finds the fixtures of every plugin', () => {
    expect(cases.length).toBeGreaterThan(100);
    expect(new Set(cases.map(([p]) => p)).size).toBe(plugins.length);
  });

  it.each(cases)('%s %s', async (folder, file) => {
    const plugin = plugins.find((p) => p.name === `check_ha_${folder}`)!;
    for (const [args, max] of [[[], 8192], [['-v'], 65536]] as const) {
      const r = await runPlugin(plugin, ['--input-file', join(ROOT, file), '-t', '4', ...args], { env: {} });
      expect(Buffer.byteLength(r.text), `${args.join(' ')} whole output`).toBeLessThanOrEqual(max);
      const [first = '', ...rest] = r.text.split('\n');
      const bar = first.indexOf('|');
      expect(bar === -1 ? first : first.slice(0, bar), 'status line text').not.toMatch(FORBIDDEN);
      expect(rest.filter((l) => l.includes('|')), 'long output with a bar').toEqual([]);
      const parsed = parsePluginOutput(r.text);
      expect(parsed.perfdataErrors).toEqual([]);
      expect(parsed.perfdata.filter((p) => p.value === 'U' || !Number.isFinite(p.value))).toEqual([]);
      if (bar !== -1) expect(parsed.perfdata.length).toBeGreaterThan(0);
    }
  });
});

describe('large inputs stay within 8 KiB (issue 9: 40 DRBD resources printed 16.8 KB)', () => {
  const drbd = plugins.find((p) => p.name === 'check_ha_drbd')!;
  const haproxy = plugins.find((p) => p.name === 'check_ha_haproxy')!;

  it.each(['proc-8.4-40-resources.txt', 'status-9-40-resources.json', 'events2-9-40-resources.txt'])('DRBD, 40 resources, 2 with problems (%s)', async (name) => {
    const r = await runPlugin(drbd, ['--input-file', fixturePath('drbd', name)], { env: {} });
    expect(r.exitCode).toBe(2);
    expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(8192);
    const [first = ''] = r.text.split('\n');
    const text = first.split(' | ')[0]!;
    expect(text).not.toMatch(/[;`~$&|'"<>]/);
    expect(text).toMatch(/^DRBD CRITICAL - (r|drbd)7 peer( nodeb)?: not connected/);
    expect(text).toMatch(/(r|drbd)23 volume 0 peer( nodeb)?: 10\.0 MiB out of sync \(warning: above 0 MiB\)/);
    expect(text).toMatch(/38 of 40 resources OK$/);
    expect(Buffer.byteLength(text)).toBeLessThan(1024);
    const parsed = parsePluginOutput(r.text);
    expect(parsed.perfdataErrors).toEqual([]);
    // The problems' perfdata survives the cut.
    expect(parsed.perfdata.map((p) => p.label)).toEqual(expect.arrayContaining([expect.stringMatching(/^(r|drbd)7\/0.*_out_of_sync$/), expect.stringMatching(/^(r|drbd)23\/0.*_out_of_sync$/)]));
    expect(r.text).toMatch(/\n\(output shortened to stay within 8 KiB: \d+ OK lines, \d+ perfdata items left out, -v shows more\)\n$/);
    // -v shows everything: one line per resource and three per volume and peer.
    const v = await runPlugin(drbd, ['--input-file', fixturePath('drbd', name), '-v'], { env: {} });
    expect(v.text).not.toContain('output shortened');
    expect(v.text.trimEnd().split('\n')).toHaveLength(1 + 40 * 4);
  });

  it('DRBD, 40 healthy resources: the status line counts the roles instead of listing 40', async () => {
    const healthy = readFileSync(fixturePath('drbd', 'proc-8.4-40-resources.txt'), 'utf8').replace(/WFConnection ro:(\w+)\/Unknown ds:UpToDate\/DUnknown/, 'Connected ro:$1/Primary ds:UpToDate/UpToDate').replace(/oos:\d+/g, 'oos:0');
    const r = await runPlugin(drbd, ['--input-file', '-'], { env: {}, readStdin: async () => healthy });
    expect(r.exitCode).toBe(0);
    expect(r.text.split(' | ')[0]).toBe('DRBD OK - 40 resources (20 Primary, 20 Secondary), 40 volumes: healthy, 0 B out of sync');
    expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(8192);
  });

  it('HAProxy, 60 servers in 5 backends', async () => {
    const r = await runPlugin(haproxy, ['--input-file', fixturePath('haproxy', 'scale-60-servers.csv')], { env: {} });
    expect(r.exitCode).toBe(2);
    expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(8192);
    const text = r.text.split('\n')[0]!.split(' | ')[0]!;
    expect(text).not.toMatch(/[;`~$&|'"<>]/);
    expect(text).toMatch(/^HAPROXY CRITICAL - backend be_svc3: 0\/5 active servers usable \(critical below 1\), svc3_01 DOWN/);
    expect(text).toMatch(/backend be_app: 38\/40 active servers usable \(warning below 40\), app07 DOWN, app31 DOWN/);
    expect(text).toMatch(/4 of 6 proxies OK$/);
    expect(parsePluginOutput(r.text).perfdataErrors).toEqual([]);
  });
});
