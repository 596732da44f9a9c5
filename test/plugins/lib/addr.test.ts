/** The address helpers shared by the network checks. */
import { describe, expect, it } from 'vitest';
import { canonicalAddr, formatRange, parseCidr, rangeToCidrs } from '../../../plugins/lib/addr.ts';

describe('addresses', () => {
  it('canonicalises IPv4 and IPv6 (RFC 5952)', () => {
    expect(canonicalAddr('192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalAddr('2001:0db8:0000:0000:0000:0000:0000:0100')).toBe('2001:db8::100');
    expect(canonicalAddr('::ffff:192.0.2.1')).toBe('::ffff:c000:201');
    expect(canonicalAddr('not-an-ip')).toBeUndefined();
  });
  it('parses CIDRs, dotted masks, and splits ranges into CIDRs', () => {
    expect(formatRange(parseCidr('192.0.2.77/24')!)).toBe('192.0.2.0/24');
    expect(formatRange(parseCidr('10.0.0.0/255.0.0.0')!)).toBe('10.0.0.0/8');
    expect(formatRange(parseCidr('0.0.0.0/0')!)).toBe('0.0.0.0/0');
    expect(rangeToCidrs({ family: 4, start: parseCidr('192.0.2.0')!.start, end: parseCidr('192.0.2.9')!.start }).map(formatRange)).toEqual(['192.0.2.0/29', '192.0.2.8/31']);
    expect(parseCidr('192.0.2.1/33')).toBeUndefined();
  });
});
