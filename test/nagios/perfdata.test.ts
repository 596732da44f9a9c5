import { describe, expect, it } from 'vitest';
import { formatLabel, formatNumber, formatPerfdata, formatPerfdataList, parsePerfdata } from '../../nagios/perfdata.ts';
import { parseRange } from '../../nagios/range.ts';

describe('formatPerfdata', () => {
  it('prints value, unit, the evaluated thresholds, min and max', () => {
    expect(formatPerfdata({ label: 'r0_0_out_of_sync', value: 10485760, uom: 'B', warning: parseRange('5242880'), critical: parseRange('31457280'), min: 0 }))
      .toBe('r0_0_out_of_sync=10485760B;5242880;31457280;0');
  });
  it('drops trailing empty fields but keeps inner ones', () => {
    expect(formatPerfdata({ label: 'load', value: 1.5 })).toBe('load=1.5');
    expect(formatPerfdata({ label: 'pct', value: 99.5, uom: '%', min: 0, max: 100 })).toBe('pct=99.5%;;;0;100');
    expect(formatPerfdata({ label: 'x', value: 1, critical: '@10:20' })).toBe('x=1;;@10:20');
  });
  it('quotes labels with spaces and escapes quotes', () => {
    expect(formatLabel('plain_label')).toBe('plain_label');
    expect(formatLabel('my label')).toBe("'my label'");
    expect(formatLabel("it's")).toBe("'it''s'");
    expect(formatLabel('a=b')).toBe('a_b');
    expect(formatPerfdata({ label: 'web 1', value: 3, uom: 'c' })).toBe("'web 1'=3c");
  });
  it('leaves out an unknown (U) value: Icinga 2.13 rejects the whole perfdata for it', () => {
    expect(formatPerfdata({ label: 'lag', value: 'U', uom: 's', warning: '60' })).toBe('');
    expect(formatPerfdataList([
      { label: 'a', value: 1 },
      { label: 'lag', value: 'U', uom: 's', warning: '60' },
      { label: 'b', value: 2, uom: 'B' },
    ])).toBe('a=1 b=2B');
    // Not a number either: an empty value would be a malformed item.
    expect(formatPerfdataList([{ label: 'x', value: Number.NaN }, { label: 'y', value: Infinity }])).toBe('');
  });
  it('formats numbers without exponents or float noise', () => {
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
    expect(formatNumber(1e21)).toBe('1000000000000000000000');
    expect(formatNumber(-0.0000001)).toBe('0');
    expect(formatNumber(12.5)).toBe('12.5');
    expect(formatNumber(7)).toBe('7');
  });
  it('joins a list with spaces', () => {
    expect(formatPerfdataList([{ label: 'a', value: 1 }, { label: 'b', value: 2, uom: 's' }])).toBe('a=1 b=2s');
  });
});

describe('parsePerfdata', () => {
  it('parses quoted labels, units, thresholds, min and max', () => {
    const { items, errors } = parsePerfdata("time=0.012s;1;2;0; 'disk /var'=45%;80;90 'it''s'=3c size=U");
    expect(errors).toEqual([]);
    expect(items).toEqual([
      { label: 'time', value: 0.012, uom: 's', warning: '1', critical: '2', min: 0, max: undefined },
      { label: 'disk /var', value: 45, uom: '%', warning: '80', critical: '90', min: undefined, max: undefined },
      { label: "it's", value: 3, uom: 'c', warning: undefined, critical: undefined, min: undefined, max: undefined },
      { label: 'size', value: 'U', uom: '', warning: undefined, critical: undefined, min: undefined, max: undefined },
    ]);
  });
  it('skips malformed items and says why', () => {
    const { items, errors } = parsePerfdata('good=1 bad novalue= x=abc');
    expect(items.map((i) => i.label)).toEqual(['good']);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/'bad' has no '='/);
  });
  it('round-trips what formatPerfdata prints', () => {
    const text = formatPerfdataList([
      { label: 'a b', value: 1.25, uom: 'MB', warning: parseRange('10:'), critical: parseRange('@1:2'), min: 0, max: 100 },
      { label: "q'x", value: -3 },
    ]);
    const { items } = parsePerfdata(text);
    expect(items[0]).toMatchObject({ label: 'a b', value: 1.25, uom: 'MB', warning: '10:', critical: '@1:2', min: 0, max: 100 });
    expect(items[1]).toMatchObject({ label: "q'x", value: -3 });
  });
});
