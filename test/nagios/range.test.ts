import { describe, expect, it } from 'vitest';
import { checkThresholds, parseRange, rangeAlerts, RangeError } from '../../nagios/range.ts';
import { State } from '../../nagios/states.ts';

// Each row: range text, values that alert, values that do not (from the Nagios guidelines).
const cases: [string, number[], number[]][] = [
  ['10', [-1, -0.001, 10.001, 11, 1e9], [0, 5, 10]],
  ['10:', [9.999, 0, -5], [10, 11, 1e12]],
  ['~:10', [10.5, 11], [-1e12, 0, 10]],
  ['10:20', [9, 21, -10], [10, 15, 20]],
  ['@10:20', [10, 15, 20], [9.99, 20.01, -1]],
  ['0.5', [0.51, -0.1], [0, 0.25, 0.5]],
  ['-5:-1', [-0.5, 0, -6], [-5, -3, -1]],
  ['@~:0', [-1, 0], [0.1, 3]],
  [':10', [-1, 11], [0, 10]],
  ['1e3', [1001], [1000]],
  ['@5', [0, 5], [-1, 6]],
];

describe('parseRange / rangeAlerts', () => {
  for (const [text, alert, quiet] of cases) {
    it(`'${text}' alerts on ${alert.join(', ')} and not on ${quiet.join(', ')}`, () => {
      const r = parseRange(text);
      for (const v of alert) expect(rangeAlerts(r, v), `value ${v}`).toBe(true);
      for (const v of quiet) expect(rangeAlerts(r, v), `value ${v}`).toBe(false);
      expect(r.text).toBe(text);
    });
  }

  it('parses bounds and infinities', () => {
    expect(parseRange('10:')).toMatchObject({ start: 10, end: Infinity, alertInside: false });
    expect(parseRange('~:10')).toMatchObject({ start: -Infinity, end: 10 });
    expect(parseRange('@10:20')).toMatchObject({ start: 10, end: 20, alertInside: true });
    expect(parseRange(' 7 ')).toMatchObject({ start: 0, end: 7 });
  });

  const invalid: [string, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['abc', /abc is not a number/],
    ['10:5', /start 10 is greater than end 5/],
    ['1:2:3', /more than one colon/],
    ['@', /not a number/],
    ['~', /not a number/],
    ['10:x', /end x is not a number/],
    ['5%', /not a number/],
    ['--1', /not a number/],
    ['1,5', /not a number/],
  ];
  for (const [text, msg] of invalid) {
    it(`rejects '${text}' with a clear message`, () => {
      expect(() => parseRange(text)).toThrow(RangeError);
      expect(() => parseRange(text)).toThrow(msg);
    });
  }
});

describe('checkThresholds', () => {
  it('critical wins over warning, OK when neither alerts', () => {
    const t = { warning: parseRange('5'), critical: parseRange('30') };
    expect(checkThresholds(3, t)).toBe(State.OK);
    expect(checkThresholds(5, t)).toBe(State.OK);
    expect(checkThresholds(10, t)).toBe(State.WARNING);
    expect(checkThresholds(7168, t)).toBe(State.CRITICAL);
  });
  it('no thresholds is always OK', () => {
    expect(checkThresholds(1e9, {})).toBe(State.OK);
  });
  it('minimum style ranges (cluster size: -w 3: -c 2:)', () => {
    const t = { warning: parseRange('3:'), critical: parseRange('2:') };
    expect(checkThresholds(3, t)).toBe(State.OK);
    expect(checkThresholds(2, t)).toBe(State.WARNING);
    expect(checkThresholds(1, t)).toBe(State.CRITICAL);
  });
});
