import { describe, expect, it } from 'vitest';
import { parsePluginOutput } from '../../nagios/output.ts';
import { parseRange } from '../../nagios/range.ts';
import { effectiveState, group, leaf, render } from '../../nagios/result.ts';
import { State } from '../../nagios/states.ts';

describe('result tree rendering', () => {
  const tree = {
    state: State.OK,
    summary: '2 resources',
    children: [
      group('r0', 'Primary', [
        leaf('volume 0', State.OK, 'UpToDate', [{ label: 'r0_0_oos', value: 0, uom: 'B' as const, warning: parseRange('5242880') }]),
        leaf('peer b', State.CRITICAL, 'connection StandAlone (split brain suspected)'),
      ]),
      group('r1', 'Secondary', [leaf('volume 0', State.WARNING, '10.0 MiB out of sync', [{ label: 'r1_0_oos', value: 10485760, uom: 'B' as const }])]),
    ],
  };

  it('the worst state of the tree wins', () => {
    expect(effectiveState(tree)).toBe(State.CRITICAL);
    expect(effectiveState(group('x', 'y', [leaf('a', State.UNKNOWN, 'u'), leaf('b', State.WARNING, 'w')]))).toBe(State.WARNING);
  });

  it('renders a status line naming the problems (worst first), long output per subcheck, and perfdata', () => {
    const r = render(tree, { prefix: 'DRBD' });
    expect(r.exitCode).toBe(State.CRITICAL);
    expect(r.text).toBe(
      [
        'DRBD CRITICAL - r0 peer b: connection StandAlone (split brain suspected), r1 volume 0: 10.0 MiB out of sync | r0_0_oos=0B;5242880 r1_0_oos=10485760B',
        '[CRITICAL] r0: Primary',
        '  [OK] volume 0: UpToDate',
        '  [CRITICAL] peer b: connection StandAlone (split brain suspected)',
        '[WARNING] r1: Secondary',
        '  [WARNING] volume 0: 10.0 MiB out of sync',
        '',
      ].join('\n'),
    );
    // What Nagios Core reads back from it.
    const parsed = parsePluginOutput(r.text);
    expect(parsed.perfdata).toHaveLength(2);
    expect(parsed.longOutput.split('\n')).toHaveLength(5);
  });

  it('all OK: the root summary is the message', () => {
    const r = render({ state: State.OK, summary: 'all 3 resources UpToDate', children: [leaf('r0', State.OK, 'fine')] }, { prefix: 'DRBD' });
    expect(r.exitCode).toBe(0);
    expect(r.text.split('\n')[0]).toBe('DRBD OK - all 3 resources UpToDate');
  });

  it('limits the problems named on the status line and counts the rest', () => {
    const kids = [1, 2, 3, 4, 5].map((i) => leaf(`n${i}`, State.WARNING, 'standby'));
    const r = render({ state: State.OK, summary: 'x', children: kids }, { prefix: 'CRM', maxProblemsOnStatusLine: 2 });
    expect(r.text.split('\n')[0]).toBe('CRM WARNING - n1: standby, n2: standby, and 3 more problems');
  });

  it('never lets a bar or a newline from data break the format', () => {
    const r = render({ state: State.WARNING, summary: 'a|b\nc' }, { prefix: 'X' });
    expect(r.text).toBe('X WARNING - a/b c\n');
  });
});
