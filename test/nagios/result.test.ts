import { describe, expect, it } from 'vitest';
import { parsePluginOutput } from '../../nagios/output.ts';
import { parseRange } from '../../nagios/range.ts';
import { effectiveState, group, leaf, render, renderMessage, statusText, VERBOSE_MAX_BYTES, type CheckResult } from '../../nagios/result.ts';
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

/** What Nagios 4 turns into `:` or strips from notifications (illegal_macro_output_chars), and `|`. */
const FORBIDDEN = /[;`~$&|'"<>]/;

describe('status line characters real Nagios mangles', () => {
  it('a name or message from outside cannot bring them into the status line', () => {
    const evil = `r0;$(id)|'x' "y" <z> & \`w\` ~v`;
    const r = render({ state: State.OK, summary: 'x', children: [leaf(evil, State.CRITICAL, "Duplicate entry '100' for key 'PRIMARY'; a > b")] }, { prefix: 'X' });
    const first = r.text.split('\n')[0]!;
    expect(first).not.toMatch(FORBIDDEN);
    expect(first).toBe('X CRITICAL - r0,(id)/x y z + w v: Duplicate entry 100 for key PRIMARY, a b');
    // Long output keeps the text as it came, but a bar would start perfdata there: never.
    expect(r.text.split('\n').slice(1).join('\n')).not.toContain('|');
    expect(parsePluginOutput(r.text).perfdata).toHaveLength(0);
  });

  it('renderMessage (errors, timeouts) is cleaned the same way', () => {
    const r = renderMessage('X', State.UNKNOWN, "cannot read input file '/tmp/a;b': no such file; see 'x --help'");
    expect(r.text).toBe('X UNKNOWN - cannot read input file /tmp/a,b: no such file, see x --help\n');
  });

  it('statusText keeps everything else', () => {
    expect(statusText('r0/0@nodeb: 10.0 MiB out of sync (warning: above 5 MiB), 12.5% done [GTID 1-1-55]')).toBe('r0/0@nodeb: 10.0 MiB out of sync (warning: above 5 MiB), 12.5% done [GTID 1-1-55]');
  });

  it('a very long problem text is cut on the status line, kept whole in long output', () => {
    const long = 'x'.repeat(5000);
    const r = render({ state: State.OK, summary: 's', children: [leaf('a', State.WARNING, long)] }, { prefix: 'X' });
    const [first = ''] = r.text.split('\n');
    expect(Buffer.byteLength(first)).toBeLessThan(1100);
    expect(first).toMatch(/x\.\.\.$/);
    expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(8192);
  });
});

describe('the 8 KiB budget', () => {
  /** 200 OK items with 3 details and 4 perfdata items each, and 2 problems. */
  function bigTree(): CheckResult {
    const items: CheckResult[] = [];
    for (let i = 0; i < 200; i++) {
      const bad = i === 17 ? State.CRITICAL : i === 150 ? State.WARNING : State.OK;
      items.push(group(`item${i}`, `Primary, 1 volume, 1 peer`, [
        leaf('volume 0', State.OK, `disk UpToDate, /dev/drbd${i}`, [{ label: `item${i}_read`, value: 1000 + i, uom: 'c' }, { label: `item${i}_written`, value: 2000 + i, uom: 'c' }]),
        leaf('peer b', bad, bad === State.OK ? 'connected' : 'not connected (Connecting)'),
        leaf('volume 0 peer b', State.OK, 'replication Established, peer disk UpToDate', [{ label: `item${i}_oos`, value: bad === State.OK ? 0 : 4096, uom: 'B' }, { label: `item${i}_sync`, value: 'U', uom: '%' }]),
      ]));
    }
    return { ...group('', '200 items', items, [{ label: 'items', value: 200 }]), items: 'items' };
  }

  it('stays within 8 KiB: problems first and whole, OK items collapsed and counted, perfdata of problems kept', () => {
    const r = render(bigTree(), { prefix: 'T' });
    expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(8192);
    expect(r.exitCode).toBe(State.CRITICAL);
    const lines = r.text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^T CRITICAL - item17 peer b: not connected \(Connecting\), item150 peer b: not connected \(Connecting\), 198 of 200 items OK \| /);
    // Problems come first in the long output, with all their details.
    expect(lines.slice(1, 9)).toEqual([
      '[CRITICAL] item17: Primary, 1 volume, 1 peer',
      '  [CRITICAL] peer b: not connected (Connecting)',
      '  [OK] volume 0: disk UpToDate, /dev/drbd17',
      '  [OK] volume 0 peer b: replication Established, peer disk UpToDate',
      '[WARNING] item150: Primary, 1 volume, 1 peer',
      '  [WARNING] peer b: not connected (Connecting)',
      '  [OK] volume 0: disk UpToDate, /dev/drbd150',
      '  [OK] volume 0 peer b: replication Established, peer disk UpToDate',
    ]);
    const parsed = parsePluginOutput(r.text);
    expect(parsed.perfdataErrors).toEqual([]);
    const labels = parsed.perfdata.map((p) => p.label);
    // The root's perfdata, then the problems' perfdata, then what fits.
    expect(labels.slice(0, 4)).toEqual(['items', 'item17_read', 'item17_written', 'item17_oos']);
    expect(labels).toContain('item150_oos');
    expect(parsed.perfdata.every((p) => p.value !== 'U')).toBe(true);
    // What was left out is counted, and the counts add up.
    const note = lines[lines.length - 1]!;
    const m = /^\(output shortened to stay within 8 KiB: (\d+) OK lines, (\d+) perfdata items left out, -v shows more\)$/.exec(note);
    expect(m).not.toBeNull();
    const shownOk = lines.filter((l) => /^\s*\[OK\]/.test(l)).length;
    expect(shownOk + Number(m![1])).toBe(200 * 4 - 2 - 2);
    expect(parsed.perfdata.length + Number(m![2])).toBe(1 + 200 * 3);
    expect(lines.every((l) => !FORBIDDEN.test(l.replace(/ \| .*/, '')))).toBe(true);
  });

  it('-v (64 KiB) holds all of it', () => {
    const r = render(bigTree(), { prefix: 'T', maxBytes: VERBOSE_MAX_BYTES });
    expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(VERBOSE_MAX_BYTES);
    expect(r.text).not.toContain('output shortened');
    expect(r.text.trimEnd().split('\n')).toHaveLength(1 + 200 * 4);
  });

  it('more problems than fit: the rest are counted where they were left out', () => {
    const kids = Array.from({ length: 400 }, (_, i) => leaf(`node${i}`, State.CRITICAL, `OFFLINE since a long time, with a long explanation of what that means number ${i}`));
    const r = render({ state: State.OK, summary: 'x', children: kids }, { prefix: 'T' });
    expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(8192);
    const lines = r.text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^T CRITICAL - node0: OFFLINE .*, and 397 more problems$/);
    const shown = lines.filter((l) => l.startsWith('[CRITICAL]')).length;
    expect(lines).toContain(`... and ${400 - shown} more lines, ${400 - shown} of them not OK`);
    expect(lines[lines.length - 1]).toBe(`(output shortened to stay within 8 KiB: ${400 - shown} problem lines left out, -v shows more)`);
  });
});
