import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { containsNastyMetachars, decodePacket, encodePacket, expectedPacketLength, NrpeDecodeError, PacketType, parseQuery, truncateUtf8 } from '../../nagios/nrpe.ts';

describe('NRPE codec', () => {
  it('v2 packets are 1036 bytes and round-trip', () => {
    const p = encodePacket({ version: 2, type: PacketType.QUERY, text: 'check_load' });
    expect(p.length).toBe(1036);
    expect(p.readInt16BE(0)).toBe(2);
    expect(expectedPacketLength(p)).toBe(1036);
    expect(decodePacket(p)).toEqual({ version: 2, type: 1, resultCode: 0, text: 'check_load' });
  });
  it('a v4 query is padded to 1036 bytes with buffer_length 1020', () => {
    const p = encodePacket({ version: 4, type: PacketType.QUERY, text: 'check_load' });
    expect(p.length).toBe(1036);
    expect(p.readInt32BE(12)).toBe(1020);
    expect(decodePacket(p).text).toBe('check_load');
  });
  it('a v4 response is 16 + text + NUL, a v3 one 3 bytes more', () => {
    const v4 = encodePacket({ version: 4, type: PacketType.RESPONSE, resultCode: 2, text: 'CRIT' });
    expect(v4.length).toBe(16 + 5);
    expect(decodePacket(v4)).toEqual({ version: 4, type: 2, resultCode: 2, text: 'CRIT' });
    const v3 = encodePacket({ version: 3, type: PacketType.RESPONSE, resultCode: 1, text: 'WARN' });
    expect(v3.length).toBe(19 + 5);
    expect(decodePacket(v3).resultCode).toBe(1);
  });
  it('the CRC is IEEE CRC-32 over the packet with the crc field zeroed', () => {
    const p = encodePacket({ version: 2, type: PacketType.RESPONSE, text: 'OK' });
    const z = Buffer.from(p);
    z.writeUInt32BE(0, 4);
    expect(p.readUInt32BE(4)).toBe(crc32(z) >>> 0);
  });
  it('long text: v2 truncated to 1023 bytes, v4 carries it whole', () => {
    const long = 'x'.repeat(5000);
    expect(decodePacket(encodePacket({ version: 2, type: 2, text: long })).text).toHaveLength(1023);
    expect(decodePacket(encodePacket({ version: 4, type: 2, text: long })).text).toBe(long);
    expect(truncateUtf8('ééé', 5).toString('utf8')).toBe('éé');
  });
  it('rejects bad CRC, bad type, bad version, bad lengths, missing NUL', () => {
    const p = encodePacket({ version: 4, type: 1, text: 'x' });
    const badCrc = Buffer.from(p);
    badCrc[20] = 0x41;
    expect(() => decodePacket(badCrc)).toThrow(/CRC mismatch/);
    const badType = encodePacket({ version: 4, type: 1, text: 'x' });
    badType.writeInt16BE(7, 2);
    expect(() => decodePacket(badType)).toThrow(NrpeDecodeError);
    const badVersion = Buffer.from(p);
    badVersion.writeInt16BE(9, 0);
    expect(() => expectedPacketLength(badVersion)).toThrow(/unsupported packet version 9/);
    const huge = Buffer.from(p);
    huge.writeInt32BE(70000, 12);
    expect(() => expectedPacketLength(huge)).toThrow(/invalid buffer length 70000/);
    const zero = Buffer.from(p);
    zero.writeInt32BE(0, 12);
    expect(() => expectedPacketLength(zero)).toThrow(/invalid buffer length 0/);
    expect(() => decodePacket(p.subarray(0, 500))).toThrow(/does not match/);
    const noNul = Buffer.alloc(16 + 3);
    noNul.writeInt16BE(4, 0);
    noNul.writeInt16BE(1, 2);
    noNul.writeInt32BE(3, 12);
    noNul.write('abc', 16);
    const z = Buffer.from(noNul);
    noNul.writeUInt32BE(crc32(z) >>> 0, 4);
    expect(() => decodePacket(noNul)).toThrow(/not NUL terminated/);
  });
  it('needs more bytes before it can tell a v4 length', () => {
    expect(expectedPacketLength(Buffer.from([0, 4, 0, 1]))).toBe(0);
    expect(expectedPacketLength(Buffer.from([0]))).toBe(0);
  });
  it('parses queries with at most 16 arguments', () => {
    expect(parseQuery('check_drbd!5!30')).toEqual({ command: 'check_drbd', args: ['5', '30'], extraArgsIgnored: false });
    const many = parseQuery(['c', ...Array.from({ length: 18 }, (_, i) => String(i))].join('!'));
    expect(many.args).toHaveLength(16);
    expect(many.extraArgsIgnored).toBe(true);
  });
  it('spots the characters NRPE refuses', () => {
    for (const bad of ['a|b', 'a`b', 'a;b', "a'b", 'a\nb', '$(id)', 'a>b', 'a\\b', 'a{b']) expect(containsNastyMetachars(bad), bad).toBe(true);
    for (const ok of ['5', '~:10', '@10:20', 'r0', '/var/lib', 'a b', '$HOME']) expect(containsNastyMetachars(ok), ok).toBe(false);
  });
});
