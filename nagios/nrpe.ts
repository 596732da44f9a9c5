/**
 * NRPE packet codec (v2, v3, v4), pure. All integers are big-endian.
 *
 *   v2: int16 version, int16 type, uint32 crc32, int16 result, char buffer[1024], 2 pad
 *       (1036 bytes; the text is NUL terminated, so at most 1023 bytes)
 *   v3/v4: int16 version, int16 type, uint32 crc32, int16 result, int16 alignment,
 *       int32 buffer_length, buffer[buffer_length] (NUL counted); v3 carries 3 more
 *       trailing bytes (the C struct's padding), so v3 = 19 + len and v4 = 16 + len bytes.
 *
 * The CRC is IEEE CRC-32 over the whole packet with the crc field zeroed; for v3/v4 the
 * alignment field is zeroed too (nrpe 4.1 and check_nrpe do so before checking, verified:
 * a v4 query whose CRC covers a non-zero alignment is refused by the stock daemon).
 *
 * Verified against Debian's nrpe/check_nrpe 4.1.0 (fixtures in test/nagios/fixtures/nrpe):
 * check_nrpe pads every query to 1036 bytes (v4: buffer_length 1020, v3: 1017, v2: random
 * padding and result_code); the 4.1 daemon answers v4 with buffer_length = strlen + 1 and no
 * padding, v2 with 1036 bytes; it resets v3 queries. check_nrpe reads a v3 answer as 16 +
 * buffer_length bytes and checks the CRC over 19 + buffer_length bytes with the last 3 taken
 * as zero, so both our v3 answer (NUL counted) and a 3.x daemon's (buffer_length = strlen,
 * NUL in the 3 trailing bytes) are accepted; the decoder accepts both too.
 */
import { crc32 } from 'node:zlib';

export const PacketType = { QUERY: 1, RESPONSE: 2 } as const;
export type PacketTypeCode = (typeof PacketType)[keyof typeof PacketType];
export type NrpeVersion = 2 | 3 | 4;

export const V2_PACKET_SIZE = 1036;
export const V2_BUFFER_SIZE = 1024;
export const MAX_BUFFER_LENGTH = 65536;
/** Header bytes before the buffer, per version. */
const V34_HEADER = 16;
/** Bytes after the buffer: v3 keeps the C struct's padding. */
const TRAILER: Record<3 | 4, number> = { 3: 3, 4: 0 };
export const MAX_ARGS = 16;

export interface NrpePacket {
  readonly version: NrpeVersion;
  readonly type: PacketTypeCode;
  readonly resultCode: number;
  /** The text up to the first NUL, decoded as UTF-8 (invalid bytes become U+FFFD). */
  readonly text: string;
}

export class NrpeDecodeError extends Error {
  override name = 'NrpeDecodeError';
}

/**
 * How many bytes the packet starting with `head` has in all, or 0 when more bytes are
 * needed to tell. Throws NrpeDecodeError on an unknown version or an impossible length.
 */
export function expectedPacketLength(head: Buffer): number {
  if (head.length < 2) return 0;
  const version = head.readInt16BE(0);
  if (version === 2) return V2_PACKET_SIZE;
  if (version !== 3 && version !== 4) throw new NrpeDecodeError(`unsupported packet version ${version}`);
  if (head.length < V34_HEADER) return 0;
  const len = head.readInt32BE(12);
  if (len < 1 || len > MAX_BUFFER_LENGTH) throw new NrpeDecodeError(`invalid buffer length ${len} (must be 1..${MAX_BUFFER_LENGTH})`);
  return V34_HEADER + len + TRAILER[version];
}

/** The CRC of a packet as NRPE computes it: crc field (and for v3/v4 the alignment) zeroed. */
export function packetCrc(packet: Buffer): number {
  const copy = Buffer.from(packet);
  copy.writeUInt32BE(0, 4);
  if (copy.length >= V34_HEADER && copy.readInt16BE(0) !== 2) copy.writeInt16BE(0, 10);
  return crc32(copy) >>> 0;
}
const computeCrc = packetCrc;

/** Decodes one complete packet. Throws NrpeDecodeError with the reason when it is invalid. */
export function decodePacket(packet: Buffer): NrpePacket {
  if (packet.length < 2) throw new NrpeDecodeError('packet too short');
  const need = expectedPacketLength(packet);
  if (need === 0) throw new NrpeDecodeError(`packet too short (${packet.length} bytes)`);
  if (packet.length !== need) throw new NrpeDecodeError(`packet length ${packet.length} does not match the expected ${need}`);
  const version = packet.readInt16BE(0) as NrpeVersion;
  const type = packet.readInt16BE(2);
  if (type !== PacketType.QUERY && type !== PacketType.RESPONSE) throw new NrpeDecodeError(`invalid packet type ${type}`);
  const crc = packet.readUInt32BE(4);
  const actual = computeCrc(packet);
  if (crc !== actual) throw new NrpeDecodeError(`CRC mismatch (packet says ${crc.toString(16)}, computed ${actual.toString(16)})`);
  const resultCode = packet.readInt16BE(8);
  // v3 keeps 3 trailing struct bytes after the buffer; a 3.x daemon puts the NUL there
  // (buffer_length = strlen), so the terminator may be found in them.
  const buffer = version === 2 ? packet.subarray(10, 10 + V2_BUFFER_SIZE) : packet.subarray(V34_HEADER);
  const nul = buffer.indexOf(0);
  if (nul === -1) throw new NrpeDecodeError('buffer is not NUL terminated');
  return { version, type: type as PacketTypeCode, resultCode, text: buffer.subarray(0, nul).toString('utf8') };
}

/**
 * Cuts UTF-8 text to at most `maxBytes` bytes without splitting a character. Bytes (a
 * command's raw output) are cut the same way and otherwise passed through untouched.
 */
export function truncateUtf8(text: string | Uint8Array, maxBytes: number): Buffer {
  const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  if (buf.length <= maxBytes) return buf;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) so a multi-byte character is not cut.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end);
}

export interface EncodeOptions {
  readonly version: NrpeVersion;
  readonly type: PacketTypeCode;
  readonly resultCode?: number;
  /** The buffer text; bytes are sent as they are (up to the first NUL), a string as UTF-8. */
  readonly text: string | Uint8Array;
  /** Pad the packet to at least 1036 bytes, as check_nrpe does for queries. Default: queries. */
  readonly padToV2Size?: boolean;
}

/** Encodes a packet. Text longer than the version allows is truncated cleanly. */
export function encodePacket(o: EncodeOptions): Buffer {
  const resultCode = o.resultCode ?? 0;
  let packet: Buffer;
  if (o.version === 2) {
    const body = truncateUtf8(o.text, V2_BUFFER_SIZE - 1);
    packet = Buffer.alloc(V2_PACKET_SIZE);
    packet.writeInt16BE(2, 0);
    packet.writeInt16BE(o.type, 2);
    packet.writeInt16BE(resultCode, 8);
    body.copy(packet, 10);
  } else {
    const body = truncateUtf8(o.text, MAX_BUFFER_LENGTH - 1);
    const trailer = TRAILER[o.version];
    let len = body.length + 1;
    const pad = o.padToV2Size ?? o.type === PacketType.QUERY;
    if (pad && V34_HEADER + len + trailer < V2_PACKET_SIZE) len = V2_PACKET_SIZE - V34_HEADER - trailer;
    packet = Buffer.alloc(V34_HEADER + len + trailer);
    packet.writeInt16BE(o.version, 0);
    packet.writeInt16BE(o.type, 2);
    packet.writeInt16BE(resultCode, 8);
    packet.writeInt16BE(0, 10);
    packet.writeInt32BE(len, 12);
    body.copy(packet, V34_HEADER);
  }
  packet.writeUInt32BE(computeCrc(packet), 4);
  return packet;
}

export interface NrpeQuery {
  readonly command: string;
  readonly args: readonly string[];
  /** More than 16 arguments were sent; NRPE ignores the rest. */
  readonly extraArgsIgnored: boolean;
}

/** Splits `command!arg1!arg2...` into the command and at most 16 arguments. */
export function parseQuery(text: string): NrpeQuery {
  const [command = '', ...args] = text.split('!');
  return { command, args: args.slice(0, MAX_ARGS), extraArgsIgnored: args.length > MAX_ARGS };
}

/** The characters NRPE 4.x refuses in arguments (nasty_metachars default) plus CR/LF. */
export const DEFAULT_NASTY_METACHARS = "|`&><'\\[]{};\r\n";

/** True when the text contains a forbidden character, or `$(`. */
export function containsNastyMetachars(text: string, nasty: string = DEFAULT_NASTY_METACHARS): boolean {
  if (text.includes('$(')) return true;
  for (const ch of text) if (nasty.includes(ch)) return true;
  return false;
}
