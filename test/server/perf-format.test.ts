// Issue 15 item 3: perfdata shown as readable values with units instead of raw strings.
import { describe, expect, it } from 'vitest';
import { formatBytes, formatSeconds, formatValue, readablePerfdata } from '../../server/http/perf-format.ts';

describe('readable perfdata', () => {
  it('scales bytes in binary units from B, KB, MB, GB, TB', () => {
    expect(formatValue(7 * 1024 ** 3, 'B')).toBe('7.00 GiB');
    expect(formatValue(512, 'B')).toBe('512 B');
    expect(formatValue(1536, 'KB')).toBe('1.50 MiB');
    expect(formatValue(2048, 'MB')).toBe('2.00 GiB');
    expect(formatValue(3, 'GB')).toBe('3.00 GiB');
    expect(formatValue(1.5, 'TB')).toBe('1.50 TiB');
    expect(formatBytes(1023)).toBe('1023 B');
  });

  it('scales seconds from s, ms, us', () => {
    expect(formatValue(3, 's')).toBe('3 s');
    expect(formatValue(0.25, 's')).toBe('250 ms');
    expect(formatValue(1500, 'ms')).toBe('1.5 s');
    expect(formatValue(40, 'us')).toBe('40 us');
    expect(formatValue(0, 's')).toBe('0 s');
    expect(formatSeconds(185)).toBe('3 min 5 s');
    expect(formatSeconds(3 * 3600 + 600)).toBe('3 h 10 min');
    expect(formatSeconds(3 * 86400)).toBe('3 d 0 h');
  });

  it('keeps percentages, counters and unitless values short', () => {
    expect(formatValue(37.5, '%')).toBe('37.5%');
    expect(formatValue(123456, 'c')).toBe('123456');
    expect(formatValue(0.333333, '')).toBe('0.3333');
    expect(formatValue(12, 'conn')).toBe('12 conn');
  });

  it('reads a whole perfdata string: label, value, thresholds in the same unit', () => {
    expect(readablePerfdata("'r0/0 out_of_sync'=7516192768B;1073741824;;0 lag=3s;5;30;0 is_primary=1;;;0;1").map((x) => x.text)).toEqual([
      'r0/0 out_of_sync 7.00 GiB (warn 1.00 GiB)',
      'lag 3 s (warn 5 s, crit 30 s)',
      'is_primary 1',
    ]);
    // a range with a colon stays as written; a malformed item is left out, not the whole string
    expect(readablePerfdata('load=2.5;@1:3;~:10 broken lag=U').map((x) => x.text)).toEqual(['load 2.5 (warn @1:3, crit ~:10)', 'lag unknown']);
    expect(readablePerfdata('')).toEqual([]);
  });
});
