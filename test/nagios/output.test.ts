import { describe, expect, it } from 'vitest';
import { interpretPluginRun, parsePluginOutput } from '../../nagios/output.ts';
import { State } from '../../nagios/states.ts';

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
