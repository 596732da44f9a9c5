/**
 * The declared firewall policy (YAML) that check_ha_iptables holds the ruleset to.
 * Every error names the line of the policy file it is about.
 *
 *   families: [ipv4, ipv6]          # which rulesets to check (default both)
 *   default_policy:                 # expected default policies of the filter chains
 *     INPUT: DROP
 *     FORWARD: DROP
 *   interfaces: [eth0]              # optional: interfaces traffic arrives on (default: all but lo)
 *   hosts:                          # optional names for addresses and networks
 *     admin: 192.0.2.10
 *     web: [192.0.2.21, 192.0.2.22]
 *   allow:                          # what may be reached by NEW connections; everything else must not
 *     - name: ssh
 *       proto: tcp                  # tcp (default) or udp
 *       port: 2222                  # or ports: [80, 443], or "8000-8100"
 *       from: admin                 # any, a host name, an address/CIDR, or a list of them
 *       required: true              # default true: it must also really be reachable
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { parseCidr, type AddrRange, type Family } from '../netlib/addr.ts';
import type { PortRange, Proto } from './model.ts';

export interface AllowRule {
  readonly name: string;
  readonly proto: Proto;
  readonly ports: readonly PortRange[];
  /** undefined = from anywhere. */
  readonly from?: readonly AddrRange[] | undefined;
  readonly fromText: string;
  readonly required: boolean;
  readonly line: number;
}

export interface FirewallPolicy {
  readonly families: readonly Family[];
  readonly defaultPolicy: ReadonlyMap<string, { policy: 'ACCEPT' | 'DROP'; line: number }>;
  readonly interfaces?: readonly string[] | undefined;
  readonly allow: readonly AllowRule[];
}

export class PolicyError extends Error {
  override name = 'PolicyError';
}

export function parsePolicy(text: string, file: string): FirewallPolicy {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const lineOf = (n: YamlNode | null | undefined): number => (n?.range ? lc.linePos(n.range[0]).line : 1);
  const fail = (n: YamlNode | null | undefined, msg: string): never => {
    throw new PolicyError(`policy ${file} line ${lineOf(n)}: ${msg}`);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? 1;
    throw new PolicyError(`policy ${file} line ${line}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const root = doc.contents;
  if (!isMap(root)) return fail(root, 'the policy must be a mapping with allow: (and optionally families:, default_policy:, interfaces:, hosts:)');

  const known = new Set(['families', 'default_policy', 'interfaces', 'hosts', 'allow']);
  for (const pair of root.items) {
    const k = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!known.has(k)) fail(pair.key as YamlNode, `unknown key '${k}' (expected ${[...known].join(', ')})`);
  }
  const get = (key: string): YamlNode | undefined => (root.get(key, true) as YamlNode | undefined) ?? undefined;
  const scalarList = (n: YamlNode, what: string): { value: string; node: YamlNode }[] => {
    if (isScalar(n)) return [{ value: String(n.value), node: n }];
    if (isSeq(n)) return n.items.map((i) => (isScalar(i) ? { value: String(i.value), node: i as YamlNode } : fail(i as YamlNode, `${what}: expected a plain value`)));
    return fail(n, `${what}: expected a value or a list`);
  };

  let families: Family[] = [4, 6];
  const famNode = get('families');
  if (famNode) {
    families = scalarList(famNode, 'families').map(({ value, node }) => {
      const v = value.toLowerCase();
      if (v === 'ipv4' || v === '4' || v === 'inet') return 4 as Family;
      if (v === 'ipv6' || v === '6' || v === 'inet6') return 6 as Family;
      return fail(node, `families: '${value}' is not ipv4 or ipv6`);
    });
  }

  const defaultPolicy = new Map<string, { policy: 'ACCEPT' | 'DROP'; line: number }>();
  const dp = get('default_policy');
  if (dp) {
    if (!isMap(dp)) fail(dp, 'default_policy: expected a mapping like INPUT: DROP');
    for (const pair of (dp as unknown as { items: { key: YamlNode; value: YamlNode }[] }).items) {
      const chain = isScalar(pair.key) ? String(pair.key.value).toUpperCase() : '';
      if (!['INPUT', 'FORWARD', 'OUTPUT'].includes(chain)) fail(pair.key, `default_policy: '${chain}' is not INPUT, FORWARD or OUTPUT`);
      const v = isScalar(pair.value) ? String(pair.value.value).toUpperCase() : '';
      if (v !== 'ACCEPT' && v !== 'DROP') fail(pair.value ?? pair.key, `default_policy: ${chain} must be ACCEPT or DROP, not '${v}'`);
      defaultPolicy.set(chain, { policy: v as 'ACCEPT' | 'DROP', line: lineOf(pair.key) });
    }
  }

  const ifNode = get('interfaces');
  const interfaces = ifNode ? scalarList(ifNode, 'interfaces').map((x) => x.value) : undefined;

  const hosts = new Map<string, { ranges: AddrRange[]; text: string }>();
  const hostsNode = get('hosts');
  if (hostsNode) {
    if (!isMap(hostsNode)) fail(hostsNode, 'hosts: expected a mapping of names to addresses');
    for (const pair of (hostsNode as unknown as { items: { key: YamlNode; value: YamlNode }[] }).items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : fail(pair.key, 'hosts: bad name');
      const ranges = scalarList(pair.value, `hosts: ${name}`).map(({ value, node }) => parseCidr(value) ?? fail(node, `hosts: ${name}: '${value}' is not an address or CIDR (names are not resolved)`));
      hosts.set(name, { ranges, text: name });
    }
  }

  const allow: AllowRule[] = [];
  const allowNode = get('allow');
  if (allowNode && !isSeq(allowNode)) fail(allowNode, 'allow: expected a list of entries (- port: 22 ...)');
  for (const item of isSeq(allowNode) ? allowNode.items : []) {
    const entry = item as YamlNode;
    if (!isMap(entry)) fail(entry, 'allow: each entry must be a mapping with port(s) and from');
    const m = entry as unknown as { items: { key: YamlNode; value: YamlNode }[]; get(k: string, keep: true): YamlNode | undefined };
    const keys = new Set(['name', 'proto', 'port', 'ports', 'from', 'required']);
    for (const pair of m.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!keys.has(k)) fail(pair.key, `allow: unknown key '${k}' (expected ${[...keys].join(', ')})`);
    }
    const line = lineOf(entry);
    const protoNode = m.get('proto', true);
    const proto = protoNode ? String(isScalar(protoNode) ? protoNode.value : '').toLowerCase() : 'tcp';
    if (proto !== 'tcp' && proto !== 'udp') fail(protoNode, `allow: proto '${proto}' is not tcp or udp`);
    const portNode = m.get('ports', true) ?? m.get('port', true);
    if (!portNode) fail(entry, 'allow: entry has no port or ports');
    const ports = scalarList(portNode!, 'ports').map(({ value, node }) => {
      const mm = /^\s*(\d+)\s*(?:[-:]\s*(\d+))?\s*$/.exec(value);
      const lo = mm ? Number(mm[1]) : NaN;
      const hi = mm?.[2] !== undefined ? Number(mm[2]) : lo;
      if (!(lo >= 1 && hi <= 65535 && lo <= hi)) fail(node, `allow: '${value}' is not a port (1-65535) or a range like 8000-8100`);
      return { lo, hi };
    });
    const fromNode = m.get('from', true);
    if (!fromNode) fail(entry, "allow: entry has no from (use 'from: any' to allow everyone)");
    const fromItems = scalarList(fromNode!, 'from');
    let from: AddrRange[] | undefined = [];
    const texts: string[] = [];
    for (const { value, node } of fromItems) {
      if (value.toLowerCase() === 'any') { from = undefined; texts.push('any'); break; }
      const h = hosts.get(value);
      if (h) { from.push(...h.ranges); texts.push(value); continue; }
      const r = parseCidr(value);
      if (!r) fail(node, `allow: from '${value}' is neither any, a name under hosts:, nor an address/CIDR`);
      from.push(r!);
      texts.push(value);
    }
    const reqNode = m.get('required', true);
    const required = reqNode ? (isScalar(reqNode) && typeof reqNode.value === 'boolean' ? reqNode.value : fail(reqNode, 'allow: required must be true or false')) : true;
    const nameNode = m.get('name', true);
    const name = nameNode && isScalar(nameNode) ? String(nameNode.value) : `${proto}/${ports.map((p) => (p.lo === p.hi ? `${p.lo}` : `${p.lo}-${p.hi}`)).join(',')}`;
    allow.push({ name, proto: proto as Proto, ports, from, fromText: texts.join(', '), required, line });
  }
  return { families, defaultPolicy, interfaces, allow };
}
