/**
 * A small model of the netfilter INPUT path, enough to answer "is a NEW connection to
 * port P from source S accepted?" for every (protocol, port, source, destination,
 * interface) class at once.
 *
 * Rules from iptables-save and from `nft -j list ruleset` are both turned into the same
 * conditions. A condition that is not modelled (rate limits, ipsets, recent, marks, ...)
 * answers "maybe": the walk then assumes it does not match and remembers the rule, so
 * the verdict can be reported as uncertain instead of silently wrong.
 */
import type { AddrRange, Family } from '../netlib/addr.ts';

export type Proto = 'tcp' | 'udp';
export const PROTOS: readonly Proto[] = ['tcp', 'udp'];

/** One class of packets: a NEW connection arriving from the network. */
export interface Packet {
  readonly family: Family;
  readonly proto: Proto;
  readonly dport: number;
  readonly src: bigint;
  readonly dst: bigint;
  /** The input interface; '*' stands for any interface no rule names. */
  readonly iface: string;
}

export type Tri = 'yes' | 'no' | 'maybe';

export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

/** Conditions of one rule, all of which must hold. Absent fields match everything. */
export interface Conditions {
  /** Families the rule can match (an `ip saddr` match implies IPv4 only). */
  families?: Family[];
  protos?: { readonly names: readonly string[]; readonly negate: boolean };
  dports?: { readonly ranges: readonly PortRange[]; readonly negate: boolean };
  src?: { readonly ranges: readonly AddrRange[]; readonly negate: boolean }[];
  dst?: { readonly ranges: readonly AddrRange[]; readonly negate: boolean }[];
  ifaces?: { readonly names: readonly string[]; readonly negate: boolean }[];
  /** Conntrack states the rule matches (NEW, ESTABLISHED, ...). */
  ctstates?: { readonly states: readonly string[]; readonly negate: boolean }[];
  /** Matches that are certainly false for a NEW connection from the network. */
  never?: string[];
  /** Matches we do not model: the rule may or may not match. */
  unmodelled?: string[];
}

export type Verdict =
  | { readonly kind: 'accept' | 'drop' | 'reject' | 'return' | 'continue' }
  | { readonly kind: 'jump' | 'goto'; readonly target: string }
  /** A verdict we do not model (NFQUEUE ...): treated as "may decide". */
  | { readonly kind: 'unknown'; readonly what: string };

export interface Rule {
  /** How the rule is named in messages: the exact `-A ...` line, or `nft handle N: ...`. */
  readonly text: string;
  readonly conditions: Conditions;
  readonly verdict: Verdict;
}

export interface Chain {
  readonly name: string;
  /** Only base chains have a policy. */
  readonly policy?: 'accept' | 'drop' | undefined;
  /** How the policy is named in messages (`:INPUT DROP`, `nft chain inet filter input policy drop`). */
  readonly policyText?: string | undefined;
  readonly rules: readonly Rule[];
}

/** One hook-input base chain with the chains it can jump to (one iptables table or nft table). */
export interface Layer {
  /** "iptables filter", "nft inet filter". */
  readonly name: string;
  readonly families: readonly Family[];
  /** Lower runs first (nft priority; iptables filter is 0). */
  readonly priority: number;
  readonly entry: string;
  readonly chains: ReadonlyMap<string, Chain>;
}

function ifaceMatches(pattern: string, iface: string): boolean {
  if (iface === '*') return false;
  if (pattern.endsWith('+')) return iface.startsWith(pattern.slice(0, -1));
  if (pattern.endsWith('*')) return iface.startsWith(pattern.slice(0, -1));
  return pattern === iface;
}

/** Whether a name in a rule can match the '*' class: only wildcards that cover every name. */
function patternCoversAll(pattern: string): boolean {
  return pattern === '+' || pattern === '*';
}

function inRanges(ranges: readonly AddrRange[], family: Family, v: bigint): boolean {
  return ranges.some((r) => r.family === family && v >= r.start && v <= r.end);
}

export function matchConditions(c: Conditions, p: Packet): Tri {
  if (c.families && !c.families.includes(p.family)) return 'no';
  if (c.protos) {
    const has = c.protos.names.some((n) => n === p.proto || n === 'all' || n === '0');
    if (has === c.protos.negate) return 'no';
  }
  if (c.dports) {
    const has = c.dports.ranges.some((r) => p.dport >= r.lo && p.dport <= r.hi);
    if (has === c.dports.negate) return 'no';
  }
  for (const s of c.src ?? []) if (inRanges(s.ranges, p.family, p.src) === s.negate) return 'no';
  for (const d of c.dst ?? []) if (inRanges(d.ranges, p.family, p.dst) === d.negate) return 'no';
  for (const i of c.ifaces ?? []) {
    const has = i.names.some((n) => ifaceMatches(n, p.iface) || patternCoversAll(n));
    if (has === i.negate) return 'no';
  }
  for (const s of c.ctstates ?? []) if (s.states.includes('NEW') === s.negate) return 'no';
  if (c.never && c.never.length) return 'no';
  if (c.unmodelled && c.unmodelled.length) return 'maybe';
  return 'yes';
}

export interface Decision {
  readonly accepted: boolean;
  /** The rule or policy that decided. */
  readonly by: string;
  /** True when `by` is a chain policy rather than a rule. */
  readonly byPolicy: boolean;
  readonly layer: string;
  /** Rules that might have matched but were assumed not to (unmodelled matches). */
  readonly uncertain: readonly Rule[];
}

interface ChainResult {
  readonly kind: 'accept' | 'drop' | 'return';
  readonly by?: Rule | undefined;
}

const MAX_DEPTH = 32;

function walkChain(layer: Layer, chainName: string, p: Packet, uncertain: Rule[], depth: number): ChainResult {
  const chain = layer.chains.get(chainName);
  if (!chain || depth > MAX_DEPTH) return { kind: 'return' };
  for (const rule of chain.rules) {
    const m = matchConditions(rule.conditions, p);
    if (m === 'no') continue;
    if (m === 'maybe') {
      if (rule.verdict.kind !== 'continue') uncertain.push(rule);
      continue;
    }
    const v = rule.verdict;
    switch (v.kind) {
      case 'accept': return { kind: 'accept', by: rule };
      case 'drop':
      case 'reject': return { kind: 'drop', by: rule };
      case 'return': return { kind: 'return' };
      case 'continue': break;
      case 'unknown': uncertain.push(rule); break;
      case 'jump': {
        const r = walkChain(layer, v.target, p, uncertain, depth + 1);
        if (r.kind !== 'return') return r;
        break;
      }
      case 'goto': return walkChain(layer, v.target, p, uncertain, depth + 1);
    }
  }
  return { kind: 'return' };
}

/**
 * Runs a packet through every layer in priority order: a drop anywhere is final, an
 * accept passes on to the next layer (that is how several input hooks combine).
 */
export function decide(layers: readonly Layer[], p: Packet): Decision {
  const uncertain: Rule[] = [];
  let accepted: Decision | undefined;
  for (const layer of layers) {
    if (!layer.families.includes(p.family)) continue;
    const r = walkChain(layer, layer.entry, p, uncertain, 0);
    const base = layer.chains.get(layer.entry);
    if (r.kind === 'drop') return { accepted: false, by: r.by!.text, byPolicy: false, layer: layer.name, uncertain };
    if (r.kind === 'return') {
      if (base?.policy === 'drop') return { accepted: false, by: base.policyText ?? `${layer.name} policy drop`, byPolicy: true, layer: layer.name, uncertain };
      // Policy accept: keep a rule that accepted explicitly in an earlier layer as the reason.
      if (!accepted || accepted.byPolicy) accepted = { accepted: true, by: base?.policyText ?? `${layer.name} policy accept`, byPolicy: true, layer: layer.name, uncertain };
    } else if (!accepted || accepted.byPolicy) {
      accepted = { accepted: true, by: r.by!.text, byPolicy: false, layer: layer.name, uncertain };
    }
  }
  return accepted ? { ...accepted, uncertain } : { accepted: true, by: 'no firewall rules at all', byPolicy: true, layer: '-', uncertain };
}

/** Every boundary value mentioned by any rule, so each class between boundaries behaves alike. */
export function collectBoundaries(layers: readonly Layer[], family: Family): { src: bigint[]; dst: bigint[]; ports: number[]; ifaces: string[] } {
  const src = new Set<bigint>([0n]);
  const dst = new Set<bigint>([0n]);
  const ports = new Set<number>([1]);
  const ifaces = new Set<string>(['*']);
  for (const layer of layers) {
    if (!layer.families.includes(family)) continue;
    for (const chain of layer.chains.values()) {
      for (const rule of chain.rules) {
        const c = rule.conditions;
        for (const s of c.src ?? []) for (const r of s.ranges) if (r.family === family) { src.add(r.start); src.add(r.end + 1n); }
        for (const d of c.dst ?? []) for (const r of d.ranges) if (r.family === family) { dst.add(r.start); dst.add(r.end + 1n); }
        for (const r of c.dports?.ranges ?? []) { ports.add(r.lo); ports.add(r.hi + 1); }
        for (const i of c.ifaces ?? []) for (const n of i.names) if (n !== 'lo' && !patternCoversAll(n)) ifaces.add(n.replace(/[+*]$/, ''));
      }
    }
  }
  return { src: [...src].sort(cmpBig), dst: [...dst].sort(cmpBig), ports: [...ports].filter((p) => p <= 65535).sort((a, b) => a - b), ifaces: [...ifaces] };
}

export function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
