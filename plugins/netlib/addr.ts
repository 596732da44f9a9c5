/**
 * IP addresses as numbers, so prefixes and ranges can be compared and partitioned.
 * IPv4 uses 32 bits, IPv6 128 bits, both held in a bigint. Pure: no DNS, no I/O.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface AddrRange {
  readonly family: Family;
  readonly start: bigint;
  readonly end: bigint;
}

export const FAMILY_BITS: Record<Family, number> = { 4: 32, 6: 128 };

export function familyOf(text: string): Family | undefined {
  const t = stripZone(text);
  if (isIPv4(t)) return 4;
  if (isIPv6(t)) return 6;
  return undefined;
}

function stripZone(text: string): string {
  const pct = text.indexOf('%');
  return pct === -1 ? text : text.slice(0, pct);
}

/** The address as a number; undefined when it is not an IP address literal. */
export function parseAddr(text: string): { family: Family; value: bigint } | undefined {
  const t = stripZone(text.trim());
  if (isIPv4(t)) {
    const parts = t.split('.').map(Number);
    let v = 0n;
    for (const p of parts) v = (v << 8n) | BigInt(p);
    return { family: 4, value: v };
  }
  if (isIPv6(t)) {
    let head = t;
    let tailV4: bigint | undefined;
    // An embedded IPv4 tail (::ffff:192.0.2.1) counts as the last two groups.
    const lastColon = t.lastIndexOf(':');
    const tail = t.slice(lastColon + 1);
    if (tail.includes('.')) {
      const v4 = parseAddr(tail);
      if (!v4) return undefined;
      tailV4 = v4.value;
      head = t.slice(0, lastColon + 1) + '0:0';
    }
    const [left = '', right] = head.split('::');
    const l = left === '' ? [] : left.split(':');
    const r = right === undefined ? [] : right === '' ? [] : right.split(':');
    const missing = 8 - l.length - r.length;
    const groups = right === undefined ? l : [...l, ...Array<string>(missing).fill('0'), ...r];
    if (groups.length !== 8) return undefined;
    let v = 0n;
    for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
    if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4;
    return { family: 6, value: v };
  }
  return undefined;
}

/** Canonical text: dotted quad, or RFC 5952 compressed IPv6. */
export function formatAddr(family: Family, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // The longest run of two or more zero groups becomes '::'.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

/** Normalises an address literal; returns undefined when it is not one. */
export function canonicalAddr(text: string): string | undefined {
  const a = parseAddr(text);
  return a ? formatAddr(a.family, a.value) : undefined;
}

/** `192.0.2.0/24`, `2001:db8::/32`, a bare address, or `0/0` style shorthands. */
export function parseCidr(text: string): AddrRange | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addrText = slash === -1 ? t : t.slice(0, slash);
  const a = parseAddr(addrText);
  if (!a) return undefined;
  const bits = FAMILY_BITS[a.family];
  let len = bits;
  if (slash !== -1) {
    const lenText = t.slice(slash + 1);
    if (/^\d+$/.test(lenText)) {
      len = Number(lenText);
    } else {
      // iptables-save prints netmasks that are not prefixes as dotted quads (-s 10.0.0.0/255.0.0.0).
      const m = parseAddr(lenText);
      if (!m || m.family !== a.family) return undefined;
      const ones = m.value.toString(2).replace(/0+$/, '');
      if (ones.includes('0')) return undefined;
      len = m.value === 0n ? 0 : ones.length;
    }
    if (len < 0 || len > bits) return undefined;
  }
  const hostBits = BigInt(bits - len);
  const mask = hostBits === 0n ? 0n : (1n << hostBits) - 1n;
  const start = a.value & ~mask & ((1n << BigInt(bits)) - 1n);
  return { family: a.family, start, end: start | mask };
}

export function fullRange(family: Family): AddrRange {
  return { family, start: 0n, end: (1n << BigInt(FAMILY_BITS[family])) - 1n };
}

export function rangeContains(r: AddrRange, family: Family, value: bigint): boolean {
  return r.family === family && value >= r.start && value <= r.end;
}

/** Shortest text for a range: a CIDR when it is one, else `a-b`. */
export function formatRange(r: AddrRange): string {
  const bits = FAMILY_BITS[r.family];
  const size = r.end - r.start + 1n;
  if ((size & (size - 1n)) === 0n && (r.start & (size - 1n)) === 0n) {
    const len = bits - (size.toString(2).length - 1);
    if (len === 0) return r.family === 4 ? '0.0.0.0/0' : '::/0';
    if (len === bits) return formatAddr(r.family, r.start);
    return `${formatAddr(r.family, r.start)}/${len}`;
  }
  return `${formatAddr(r.family, r.start)}-${formatAddr(r.family, r.end)}`;
}

/** Splits a range into the fewest CIDR blocks (for readable messages). */
export function rangeToCidrs(r: AddrRange): AddrRange[] {
  const out: AddrRange[] = [];
  let start = r.start;
  while (start <= r.end) {
    let size = 1n;
    while ((start & (size * 2n - 1n)) === 0n && start + size * 2n - 1n <= r.end) size *= 2n;
    out.push({ family: r.family, start, end: start + size - 1n });
    start += size;
  }
  return out;
}

/** The prefix length of a network containing `value`, as given in `ip addr` (for subnet matching). */
export function inSubnet(family: Family, value: bigint, netAddr: bigint, prefixLen: number): boolean {
  const bits = FAMILY_BITS[family];
  const hostBits = BigInt(bits - prefixLen);
  const mask = hostBits === 0n ? ((1n << BigInt(bits)) - 1n) : ((1n << BigInt(bits)) - 1n) ^ ((1n << hostBits) - 1n);
  return (value & mask) === (netAddr & mask);
}
