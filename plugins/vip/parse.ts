/**
 * Pure parsers for check_ha_vip: `ip -j addr` and the output of both arping programs
 * Debian ships (iputils-arping and Thomas Habets' arping, which conflict with each other).
 */
import { canonicalAddr, parseAddr, type Family } from '../netlib/addr.ts';

export interface InterfaceAddress {
  readonly family: Family;
  /** Canonical text form. */
  readonly address: string;
  readonly prefixLen: number;
  readonly label?: string | undefined;
  /** IPv6 duplicate address detection failed: another host on the link holds this address. */
  readonly dadFailed: boolean;
  /** IPv6 duplicate address detection still running (or failed): the address is not usable yet. */
  readonly tentative: boolean;
  readonly deprecated: boolean;
}

export interface NetInterface {
  readonly name: string;
  readonly mac?: string | undefined;
  readonly operState: string;
  readonly up: boolean;
  readonly addresses: readonly InterfaceAddress[];
}

export class ParseError extends Error {
  override name = 'ParseError';
}

interface RawAddrInfo {
  family?: unknown;
  local?: unknown;
  prefixlen?: unknown;
  label?: unknown;
  dadfailed?: unknown;
  tentative?: unknown;
  deprecated?: unknown;
}

interface RawLink {
  ifname?: unknown;
  address?: unknown;
  operstate?: unknown;
  flags?: unknown;
  link_type?: unknown;
  addr_info?: unknown;
}

/** Parses `ip -j addr show` (iproute2 JSON). */
export function parseIpAddrJson(text: string): NetInterface[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ParseError(`'ip -j addr' output is not JSON (${(e as Error).message}); iproute2 older than 4.14 lacks -j`);
  }
  if (!Array.isArray(data)) throw new ParseError("'ip -j addr' output is not a JSON array of interfaces");
  const out: NetInterface[] = [];
  for (const raw of data as RawLink[]) {
    if (typeof raw !== 'object' || raw === null || typeof raw.ifname !== 'string') continue;
    const flags = Array.isArray(raw.flags) ? raw.flags.filter((f): f is string => typeof f === 'string') : [];
    const addresses: InterfaceAddress[] = [];
    for (const a of (Array.isArray(raw.addr_info) ? raw.addr_info : []) as RawAddrInfo[]) {
      if (typeof a?.local !== 'string') continue;
      const family: Family | undefined = a.family === 'inet' ? 4 : a.family === 'inet6' ? 6 : undefined;
      const canon = canonicalAddr(a.local);
      if (!family || !canon) continue;
      addresses.push({
        family,
        address: canon,
        prefixLen: typeof a.prefixlen === 'number' ? a.prefixlen : family === 4 ? 32 : 128,
        label: typeof a.label === 'string' ? a.label : undefined,
        dadFailed: a.dadfailed === true,
        tentative: a.tentative === true,
        deprecated: a.deprecated === true,
      });
    }
    out.push({
      name: raw.ifname,
      mac: typeof raw.address === 'string' && raw.link_type === 'ether' ? raw.address.toLowerCase() : typeof raw.address === 'string' && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(raw.address) ? raw.address.toLowerCase() : undefined,
      operState: typeof raw.operstate === 'string' ? raw.operstate : 'UNKNOWN',
      up: flags.includes('UP'),
      addresses,
    });
  }
  return out;
}

export const ArpingFlavor = { IPUTILS: 'iputils', HABETS: 'habets' } as const;
export type ArpingFlavor = (typeof ArpingFlavor)[keyof typeof ArpingFlavor];

/** Tells the two arping programs apart from what `arping -V` printed (stdout and stderr). */
export function detectArpingFlavor(versionOutput: string): ArpingFlavor | undefined {
  if (/iputils/i.test(versionOutput)) return ArpingFlavor.IPUTILS;
  if (/Habets|ARPing 2\./.test(versionOutput)) return ArpingFlavor.HABETS;
  return undefined;
}

export interface ArpReply {
  readonly mac: string;
  readonly ip: string;
}

export interface ArpProbe {
  /** Whether the output shows that the probe really ran (a statistics line). */
  readonly ran: boolean;
  readonly sent: number;
  readonly replies: readonly ArpReply[];
}

/**
 * iputils: `Unicast reply from 192.0.2.100 [AA:BB:CC:DD:EE:FF]  0.706ms` and
 * `Sent 2 probes (2 broadcast(s))` / `Received 1 response(s)`.
 * Habets: `42 bytes from aa:bb:cc:dd:ee:ff (192.0.2.100): index=0 time=11.868 usec` and
 * `2 packets transmitted, 1 packets received, ...`.
 */
export function parseArpingOutput(flavor: ArpingFlavor, stdout: string): ArpProbe {
  const replies: ArpReply[] = [];
  let sent = 0;
  let ran = false;
  if (flavor === ArpingFlavor.IPUTILS) {
    for (const m of stdout.matchAll(/reply from (\S+) \[([0-9A-Fa-f:]{17})\]/g)) {
      replies.push({ ip: m[1]!, mac: m[2]!.toLowerCase() });
    }
    const s = /Sent (\d+) probe/.exec(stdout);
    if (s) { ran = true; sent = Number(s[1]); }
    if (/Received \d+ (response|reply)/.test(stdout)) ran = true;
  } else {
    for (const m of stdout.matchAll(/bytes from ([0-9A-Fa-f:]{17}) \(([^)]+)\)/g)) {
      replies.push({ mac: m[1]!.toLowerCase(), ip: m[2]! });
    }
    const s = /(\d+) packets transmitted/.exec(stdout);
    if (s) { ran = true; sent = Number(s[1]); }
  }
  return { ran, sent, replies };
}

/** Strips a `/prefix` and validates the address given to --vip. */
export function parseVipOption(text: string): { family: Family; address: string } | undefined {
  const t = text.trim().replace(/\/\d+$/, '');
  const a = parseAddr(t);
  const canon = canonicalAddr(t);
  return a && canon ? { family: a.family, address: canon } : undefined;
}

/**
 * Where Pacemaker runs a resource, from `crm_mon --output-as=xml` parsed with
 * fast-xml-parser (attributes prefixed '@_', every element an array). Looks through
 * groups and clones; `found` is false when no resource has that id.
 */
export function pacemakerResourceNodes(doc: unknown, resourceId: string): { found: boolean; nodes: string[]; role?: string } {
  const nodes: string[] = [];
  let found = false;
  let role: string | undefined;
  const visit = (v: unknown, key: string): void => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x, key);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    if (key === 'resource') {
      const id = o['@_id'];
      if (typeof id === 'string' && (id === resourceId || id.startsWith(`${resourceId}:`))) {
        found = true;
        if (typeof o['@_role'] === 'string') role = o['@_role'];
        const active = o['@_active'] === 'true' || o['@_active'] === true;
        const ns = o.node;
        if (active) {
          for (const n of Array.isArray(ns) ? ns : ns ? [ns] : []) {
            const name = (n as Record<string, unknown>)['@_name'];
            if (typeof name === 'string') nodes.push(name);
          }
        }
      }
    }
    for (const [k, child] of Object.entries(o)) if (!k.startsWith('@_')) visit(child, k);
  };
  visit(doc, '');
  return role === undefined ? { found, nodes } : { found, nodes, role };
}
