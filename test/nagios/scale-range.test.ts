import { describe, expect, it } from 'vitest';
import { parseRange, rangeAlerts, scaleRange } from '../../nagios/range.ts';

describe('scaleRange', () => {
  it.each([
    ['5', 1024, '5120'],
    ['10:', 1024, '10240:'],
    ['~:10', 2, '~:20'],
    ['10:20', 1048576, '10485760:20971520'],
    ['@10:20', 10, '@100:200'],
    ['0:', 1024, '0:'],
    ['0.5', 1024, '512'],
    ['0.1', 3, '0.3'],
  ])('%s x %d = %s', (text, factor, want) => {
    const scaled = scaleRange(parseRange(text), factor);
    expect(scaled.text).toBe(want);
    expect(parseRange(scaled.text)).toMatchObject({ start: scaled.start, end: scaled.end, alertInside: scaled.alertInside });
  });

  it('judges the scaled value the same way', () => {
    for (const text of ['5', '10:', '~:10', '10:20', '@10:20']) {
      const r = parseRange(text);
      const s = scaleRange(r, 1024);
      for (const v of [-1, 0, 5, 10, 15, 20, 25]) expect(rangeAlerts(s, v * 1024)).toBe(rangeAlerts(r, v));
    }
  });

  it('refuses a factor that is not positive and finite', () => {
    expect(() => scaleRange(parseRange('5'), 0)).toThrow();
    expect(() => scaleRange(parseRange('5'), Infinity)).toThrow();
  });
});
