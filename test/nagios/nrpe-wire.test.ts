import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  containsNastyMetachars,
  decodePacket,
  encodePacket,
  expectedPacketLength,
  MAX_BUFFER_LENGTH,
  NrpeDecodeError,
  packetCrc,
  PacketType,
  parseQuery,
  truncateUtf8,
  V2_PACKET_SIZE,
  type NrpeVersion,
} from '../../nagios/nrpe.ts';

const fixture = (name: string): Buffer => Buffer.from(readFileSync(new URL(`./fixtures/nrpe/${name}.hex`, import.meta.url), 'utf8').trim(), 'hex');

/** Builds a v3/v4 packet by hand, with the CRC as NRPE computes it. */
function rawV34(version: 3 | 4, type: number, bufferLength: number, body: Buffer, opts: { trailer?: number; alignment?: number; size?: number } = {}): Buffer {
  const size = opts.size ?? 16 + bufferLength + (opts.trailer ?? (version === 3 ? 3 : 0));
  const p = Buffer.alloc(size);
  p.writeInt16BE(version, 0);
  p.writeInt16BE(type, 2);
  p.writeInt32BE(bufferLength, 12);
  body.copy(p, 16);
  p.writeUInt32BE(crc32(p) >>> 0, 4);
  if (opts.alignment !== undefined) p.writeInt16BE(opts.alignment, 10);
  return p;
}

describe('NRPE codec against packets captured from check_nrpe / nrpe 4.1.0', () => {
  it('decodes the v4 query check_nrpe sends (padded to 1036 bytes, buffer_length 1020)', () => {
    const q = fixture('query-v4-check_load-args');
    expect(q.length).toBe(1036);
    expect(q.readInt32BE(12)).toBe(1020);
    expect(expectedPacketLength(q)).toBe(1036);
    expect(decodePacket(q)).toEqual({ version: 4, type: PacketType.QUERY, resultCode: 0, text: 'check_load!x!y' });
  });

  it('encodes a v4 query byte for byte as check_nrpe does', () => {
    expect(encodePacket({ version: 4, type: PacketType.QUERY, text: 'check_load!x!y' })).toEqual(fixture('query-v4-check_load-args'));
  });

  it('decodes and re-encodes the v3 query (buffer_length 1017 + 3 trailing bytes)', () => {
    const q = fixture('query-v3-check_load-args');
    expect(q.length).toBe(1036);
    expect(q.readInt32BE(12)).toBe(1017);
    expect(decodePacket(q).text).toBe('check_load!x!y');
    expect(decodePacket(q).version).toBe(3);
    expect(encodePacket({ version: 3, type: PacketType.QUERY, text: 'check_load!x!y' })).toEqual(q);
  });

  it('decodes v2 queries whose padding and result_code are random', () => {
    for (const name of ['query-v2-check_load-args', 'query-v2-fallback', 'query-v2-fallback-from-v3']) {
      const q = fixture(name);
      expect(q.length).toBe(V2_PACKET_SIZE);
      const p = decodePacket(q);
      expect(p.version).toBe(2);
      expect(p.type).toBe(PacketType.QUERY);
      expect(p.text).toBe('check_load!x!y');
    }
    // the random bytes are really there: result_code differs between the captures
    expect(fixture('query-v2-fallback').readInt16BE(8)).not.toBe(0);
  });

  it('encodes v4 responses byte for byte as nrpe 4.1.0 does (buffer_length = strlen + 1, no padding)', () => {
    expect(encodePacket({ version: 4, type: PacketType.RESPONSE, resultCode: 0, text: 'NRPE v4.1.0' })).toEqual(fixture('response-v4-nrpe_check'));
    expect(encodePacket({ version: 4, type: PacketType.RESPONSE, resultCode: 3, text: "NRPE: Command 'nope' not defined" })).toEqual(fixture('response-v4-undefined'));
    const long = fixture('response-v4-long');
    expect(long.length).toBe(16 + 3001);
    expect(encodePacket({ version: 4, type: PacketType.RESPONSE, resultCode: 1, text: 'x'.repeat(3000) })).toEqual(long);
  });

  it('decodes the daemon v2 responses and truncates as it does (1023 bytes)', () => {
    expect(decodePacket(fixture('response-v2-nrpe_check'))).toEqual({ version: 2, type: PacketType.RESPONSE, resultCode: 0, text: 'NRPE v4.1.0' });
    const long = decodePacket(fixture('response-v2-long'));
    expect(long.text).toBe('x'.repeat(1023));
    expect(long.resultCode).toBe(1);
    // ours differs from the daemon's only in the random padding (and so the CRC)
    const ours = encodePacket({ version: 2, type: PacketType.RESPONSE, resultCode: 1, text: 'x'.repeat(3000) });
    expect(ours.subarray(8, 1034)).toEqual(fixture('response-v2-long').subarray(8, 1034));
  });
});

describe('NRPE codec validation', () => {
  it('computes the CRC with the v3/v4 alignment field zeroed, as nrpe 4.1 does', () => {
    const p = encodePacket({ version: 4, type: PacketType.QUERY, text: 'hello' });
    const shifted = Buffer.from(p);
    shifted.writeInt16BE(5, 10); // CRC was computed over alignment 0: still valid
    expect(decodePacket(shifted).text).toBe('hello');
    expect(packetCrc(shifted)).toBe(p.readUInt32BE(4));
    // a CRC that covered the non-zero alignment is refused (the stock daemon refuses it too)
    const covered = Buffer.from(shifted);
    covered.writeUInt32BE(0, 4);
    covered.writeUInt32BE(crc32(covered) >>> 0, 4);
    expect(() => decodePacket(covered)).toThrow(/CRC mismatch/);
  });

  it('refuses a wrong CRC, a wrong type and an unknown version', () => {
    const p = encodePacket({ version: 4, type: PacketType.QUERY, text: 'x' });
    const badCrc = Buffer.from(p);
    badCrc.writeUInt32BE((p.readUInt32BE(4) ^ 1) >>> 0, 4);
    expect(() => decodePacket(badCrc)).toThrow(/CRC mismatch/);
    const badType = rawV34(4, 3, 2, Buffer.from('x\0'));
    expect(() => decodePacket(badType)).toThrow(/invalid packet type 3/);
    const v5 = Buffer.from(p);
    v5.writeInt16BE(5, 0);
    expect(() => expectedPacketLength(v5)).toThrow(/unsupported packet version 5/);
    expect(() => decodePacket(v5)).toThrow(NrpeDecodeError);
  });

  it('checks buffer_length: 1..65536 and equal to what arrived', () => {
    expect(() => decodePacket(rawV34(4, 1, 0, Buffer.alloc(0)))).toThrow(/invalid buffer length 0/);
    const head = Buffer.alloc(16);
    head.writeInt16BE(4, 0);
    head.writeInt32BE(MAX_BUFFER_LENGTH + 1, 12);
    expect(() => expectedPacketLength(head)).toThrow(/invalid buffer length 65537/);
    head.writeInt32BE(-1, 12);
    expect(() => expectedPacketLength(head)).toThrow(/invalid buffer length -1/);
    head.writeInt32BE(MAX_BUFFER_LENGTH, 12);
    expect(expectedPacketLength(head)).toBe(16 + MAX_BUFFER_LENGTH);
    // fewer bytes than announced, more bytes than announced
    const ok = rawV34(4, 1, 6, Buffer.from('hello\0'));
    expect(() => decodePacket(ok.subarray(0, ok.length - 1))).toThrow(/does not match/);
    expect(() => decodePacket(Buffer.concat([ok, Buffer.alloc(1)]))).toThrow(/does not match/);
    expect(() => decodePacket(Buffer.alloc(1036).fill(0).subarray(0, 1000))).toThrow(NrpeDecodeError);
    expect(expectedPacketLength(Buffer.from([0]))).toBe(0);
    const partial = Buffer.alloc(10);
    partial.writeInt16BE(4, 0);
    expect(expectedPacketLength(partial)).toBe(0);
  });

  it('requires a NUL in the buffer', () => {
    expect(() => decodePacket(rawV34(4, 1, 5, Buffer.from('hello')))).toThrow(/NUL/);
    const v2 = Buffer.alloc(V2_PACKET_SIZE, 0x41);
    v2.writeInt16BE(2, 0);
    v2.writeInt16BE(1, 2);
    v2.writeUInt32BE(0, 4);
    v2.writeUInt32BE(packetCrc(v2), 4);
    expect(() => decodePacket(v2)).toThrow(/NUL/); // the 2 padding bytes do not count
  });

  it("accepts a 3.x daemon's v3 answer (buffer_length = strlen, NUL in the trailing bytes)", () => {
    const p = rawV34(3, 2, 5, Buffer.from('hello'), { trailer: 3 });
    expect(p.length).toBe(19 + 5);
    expect(decodePacket(p).text).toBe('hello');
  });

  it('truncates cleanly: v2 at 1023 bytes, v4 at 65535, never inside a UTF-8 character', () => {
    const euro = '€'.repeat(400); // 1200 bytes
    const v2 = decodePacket(encodePacket({ version: 2, type: PacketType.RESPONSE, text: euro }));
    expect(Buffer.byteLength(v2.text)).toBe(1023);
    expect(v2.text).toBe('€'.repeat(341));
    const big = 'y'.repeat(70_000);
    const v4 = encodePacket({ version: 4, type: PacketType.RESPONSE, text: big });
    expect(v4.readInt32BE(12)).toBe(MAX_BUFFER_LENGTH);
    expect(decodePacket(v4).text.length).toBe(MAX_BUFFER_LENGTH - 1);
    expect(truncateUtf8('aé', 2)).toEqual(Buffer.from('a'));
  });

  it('parses queries: command, up to 16 arguments', () => {
    expect(parseQuery('check_x')).toEqual({ command: 'check_x', args: [], extraArgsIgnored: false });
    expect(parseQuery('check_x!a!b c')).toEqual({ command: 'check_x', args: ['a', 'b c'], extraArgsIgnored: false });
    const many = parseQuery(['c', ...Array.from({ length: 18 }, (_, i) => `a${i + 1}`)].join('!'));
    expect(many.args).toHaveLength(16);
    expect(many.args[15]).toBe('a16');
    expect(many.extraArgsIgnored).toBe(true);
  });

  it("flags NRPE 4.x's nasty metacharacters and $(", () => {
    for (const bad of ['a|b', 'a`b', 'a&b', 'a>b', 'a<b', "a'b", 'a\\b', 'a[b', 'a]b', 'a{b', 'a}b', 'a;b', 'a\nb', 'a\rb', '$(id)']) {
      expect(containsNastyMetachars(bad), bad).toBe(true);
    }
    for (const good of ['-w 5 -c 10', '/var/lib', '$HOME', 'a!b', 'a"b', '10%', '@10:20', '~:5']) {
      expect(containsNastyMetachars(good), good).toBe(false);
    }
    expect(containsNastyMetachars('a b', ' ')).toBe(true);
  });
});

describe('NRPE decoder properties', () => {
  const version = fc.constantFrom<NrpeVersion>(2, 3, 4);
  const text = fc.string({ maxLength: 3000, unit: 'grapheme' }).map((s) => s.replace(/\0/g, ''));

  it('round-trips any text (v2 truncated to 1023 bytes)', () => {
    fc.assert(
      fc.property(version, fc.constantFrom(PacketType.QUERY, PacketType.RESPONSE), fc.integer({ min: -32768, max: 32767 }), text, (v, type, code, t) => {
        const p = encodePacket({ version: v, type, resultCode: code, text: t });
        expect(expectedPacketLength(p)).toBe(p.length);
        const d = decodePacket(p);
        expect(d.version).toBe(v);
        expect(d.type).toBe(type);
        expect(d.resultCode).toBe(code);
        if (v === 2) expect(d.text).toBe(truncateUtf8(t, 1023).toString('utf8'));
        else expect(d.text).toBe(t);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but NrpeDecodeError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), (bytes) => {
        const b = Buffer.from(bytes);
        try {
          expectedPacketLength(b);
          decodePacket(b);
        } catch (e) {
          expect(e).toBeInstanceOf(NrpeDecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every single-byte mutation of a valid packet, or decodes it consistently', () => {
    fc.assert(
      fc.property(version, fc.string({ maxLength: 50 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (v, t, at, xor) => {
        const p = encodePacket({ version: v, type: PacketType.QUERY, text: t.replace(/\0/g, '') });
        const m = Buffer.from(p);
        const i = at % m.length;
        m[i] = m[i]! ^ xor;
        let decoded: ReturnType<typeof decodePacket> | undefined;
        try {
          decoded = decodePacket(m);
        } catch (e) {
          expect(e).toBeInstanceOf(NrpeDecodeError);
          return;
        }
        // Only bytes the CRC does not protect may change: v3/v4 alignment (zeroed for the CRC).
        expect(v !== 2 && (i === 10 || i === 11)).toBe(true);
        expect(decoded.text).toBe(decodePacket(p).text);
      }),
      { numRuns: 1000 },
    );
  });
});
