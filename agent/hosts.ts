/**
 * allowed_hosts as NRPE reads it: IPv4/IPv6 addresses, CIDR networks and host names
 * (resolved to all their addresses when the config is loaded or reloaded, as NRPE does at
 * start-up). Checked right after accept, before any TLS.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export interface AllowedHosts {
  allows(address: string): boolean;
  /** What the names resolved to, and entries that could not be used. */
  readonly notes: readonly string[];
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) is checked as 1.2.3.4. */
export function normalizeAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

export async function buildAllowedHosts(entries: readonly string[], resolveName: (name: string) => Promise<string[]> = resolveAll): Promise<AllowedHosts> {
  const list = new BlockList();
  const notes: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '') continue;
    const slash = entry.indexOf('/');
    if (slash !== -1) {
      const net = entry.slice(0, slash);
      const bitsText = entry.slice(slash + 1);
      const family = isIP(net);
      const bits = Number(bitsText);
      const max = family === 6 ? 128 : 32;
      if (family === 0 || !/^\d+$/.test(bitsText) || bits > max) {
        notes.push(`allowed_hosts: '${entry}' is not a valid network (address/prefix); ignored`);
        continue;
      }
      list.addSubnet(net, bits, family === 6 ? 'ipv6' : 'ipv4');
      continue;
    }
    const family = isIP(entry);
    if (family !== 0) {
      list.addAddress(entry, family === 6 ? 'ipv6' : 'ipv4');
      continue;
    }
    try {
      const addrs = await resolveName(entry);
      for (const a of addrs) list.addAddress(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
      notes.push(`allowed_hosts: ${entry} resolved to ${addrs.join(', ') || 'nothing'}`);
    } catch (e) {
      notes.push(`allowed_hosts: cannot resolve '${entry}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ignored until the next reload`);
    }
  }
  return {
    notes,
    allows(address: string): boolean {
      const a = normalizeAddress(address);
      const family = isIP(a);
      if (family === 0) return false;
      return list.check(a, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

async function resolveAll(name: string): Promise<string[]> {
  const res = await lookup(name, { all: true });
  return [...new Set(res.map((r) => r.address))];
}
