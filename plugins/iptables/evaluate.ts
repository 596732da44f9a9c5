/**
 * Holds the effective INPUT reachability of the ruleset against the declared policy.
 *
 * The address, port and interface space is cut at every boundary that any rule or the
 * policy mentions; every piece behaves alike for every rule, so deciding one packet per
 * piece decides them all. Violations are grouped by the rule (or chain policy) that
 * decided, so each message names the line to fix.
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, type StateCode } from '../../nagios/states.ts';
import { FAMILY_BITS, formatRange, rangeToCidrs, type AddrRange, type Family } from '../lib/addr.ts';
import { cmpBig, collectBoundaries, decide, PROTOS, type Layer, type PortRange, type Proto, type Rule } from './model.ts';
import type { AllowRule, FirewallPolicy } from './policy.ts';

export interface BaseChainInfo {
  readonly family: Family;
  /** INPUT, FORWARD, OUTPUT. */
  readonly hook: string;
  readonly policy: 'ACCEPT' | 'DROP';
  /** `:INPUT ACCEPT` line or nft chain description. */
  readonly text: string;
  /** An accept-policy chain without rules changes nothing (an unused iptables-nft table). */
  readonly passThrough: boolean;
}

export interface DriftInfo {
  readonly baseline: string;
  readonly recorded?: boolean | undefined;
  /** Unified diff; empty when equal. */
  readonly diff?: string | undefined;
  readonly added?: number | undefined;
  readonly removed?: number | undefined;
  readonly state: StateCode;
}

export interface FirewallObservation {
  readonly sources: readonly string[];
  readonly layers: ReadonlyMap<Family, readonly Layer[]>;
  readonly baseChains: readonly BaseChainInfo[];
  readonly policy?: FirewallPolicy | undefined;
  readonly policyFile?: string | undefined;
  readonly drift?: DriftInfo | undefined;
  /** Things read but not modelled, said once each (legacy tables, netdev hooks ...). */
  readonly notes: readonly { state: StateCode; text: string }[];
}

interface Interval {
  readonly lo: bigint;
  readonly hi: bigint;
}

function intervalsFromBoundaries(bounds: readonly bigint[], max: bigint): Interval[] {
  const sorted = [...new Set(bounds.filter((b) => b <= max))].sort(cmpBig);
  const out: Interval[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const lo = sorted[i]!;
    const hi = i + 1 < sorted.length ? sorted[i + 1]! - 1n : max;
    if (lo <= hi) out.push({ lo, hi });
  }
  return out;
}

function mergeIntervals(list: Interval[]): Interval[] {
  const s = [...list].sort((a, b) => cmpBig(a.lo, b.lo));
  const out: Interval[] = [];
  for (const i of s) {
    const last = out[out.length - 1];
    if (last && i.lo <= last.hi + 1n) out[out.length - 1] = { lo: last.lo, hi: i.hi > last.hi ? i.hi : last.hi };
    else out.push(i);
  }
  return out;
}

function describeSources(family: Family, list: Interval[]): string {
  const merged = mergeIntervals(list);
  const max = (1n << BigInt(FAMILY_BITS[family])) - 1n;
  if (merged.length === 1 && merged[0]!.lo === 0n && merged[0]!.hi === max) return 'anywhere';
  const parts: string[] = [];
  for (const i of merged) {
    const r: AddrRange = { family, start: i.lo, end: i.hi };
    const cidrs = rangeToCidrs(r);
    parts.push(cidrs.length === 1 ? formatRange(cidrs[0]!) : formatRange(r));
  }
  return parts.length > 4 ? `${parts.slice(0, 4).join(', ')} and ${parts.length - 4} more` : parts.join(', ');
}

function describePorts(proto: Proto, list: Interval[]): string {
  const merged = mergeIntervals(list);
  const count = merged.reduce((n, i) => n + Number(i.hi - i.lo + 1n), 0);
  const parts = merged.map((i) => (i.lo === i.hi ? `${i.lo}` : `${i.lo}-${i.hi}`));
  const shown = parts.length > 6 ? `${parts.slice(0, 6).join(',')},...` : parts.join(',');
  return `${proto}/${shown}${count > 1 ? ` (${count} ports)` : ''}`;
}

/** iptables rules are named as rule [-A ...]; nft rules and chain policies already say what they are. */
function quoteRule(by: string): string {
  return by.startsWith('-A ') ? `rule [${by}]` : by;
}

function inPorts(ports: readonly PortRange[], lo: number, hi: number): boolean {
  return ports.some((p) => lo >= p.lo && hi <= p.hi);
}

function inAddrs(from: readonly AddrRange[] | undefined, family: Family, lo: bigint, hi: bigint): boolean {
  if (from === undefined) return true;
  return from.some((r) => r.family === family && lo >= r.start && hi <= r.end);
}

interface Bucket {
  ports: Interval[];
  srcs: Interval[];
  ifaces: Set<string>;
}

function add(map: Map<string, Bucket>, key: string, port: Interval, src: Interval, iface: string): void {
  let b = map.get(key);
  if (!b) { b = { ports: [], srcs: [], ifaces: new Set() }; map.set(key, b); }
  if (!b.ports.some((p) => p.lo === port.lo)) b.ports.push(port);
  if (!b.srcs.some((s) => s.lo === src.lo)) b.srcs.push(src);
  b.ifaces.add(iface);
}

function viaText(ifaces: Set<string>): string {
  const named = [...ifaces].filter((i) => i !== '*');
  return named.length && !ifaces.has('*') ? ` via ${named.join(', ')}` : '';
}

/** Checks one family's reachability against the policy. */
export function analyseFamily(family: Family, layers: readonly Layer[], policy: FirewallPolicy): { children: CheckResult[]; violations: number } {
  const b = collectBoundaries(layers, family);
  const allowFam = policy.allow.map((a) => ({ ...a, from: a.from?.filter((r) => r.family === family) }));
  for (const a of allowFam) {
    for (const p of a.ports) b.ports.push(p.lo, p.hi + 1);
    for (const r of a.from ?? []) b.src.push(r.start, r.end + 1n);
  }
  const maxAddr = (1n << BigInt(FAMILY_BITS[family])) - 1n;
  const srcs = intervalsFromBoundaries(b.src, maxAddr);
  const dsts = intervalsFromBoundaries(b.dst, maxAddr);
  const ports = intervalsFromBoundaries(b.ports.map(BigInt), 65535n).filter((p) => p.hi >= 1n).map((p) => ({ lo: p.lo < 1n ? 1n : p.lo, hi: p.hi }));
  const ifaces = policy.interfaces ? [...policy.interfaces] : b.ifaces;

  const open = new Map<string, Bucket>();
  const closed = new Map<string, Bucket>();
  const unsure = new Map<string, Bucket>();
  const closedRule = new Map<string, AllowRule>();
  for (const proto of PROTOS) {
    for (const port of ports) {
      const plo = Number(port.lo);
      const phi = Number(port.hi);
      const rulesHere = allowFam.filter((a) => a.proto === proto && inPorts(a.ports, plo, phi));
      for (const src of srcs) {
        const allowing = rulesHere.filter((a) => inAddrs(a.from, family, src.lo, src.hi) && (a.from === undefined || a.from.length > 0));
        const allowed = allowing.length > 0;
        const required = allowing.find((a) => a.required);
        for (const dst of dsts) {
          for (const iface of ifaces) {
            const d = decide(layers, { family, proto, dport: plo, src: src.lo, dst: dst.lo, iface });
            if (d.accepted && !allowed) {
              add(open, `${proto}\u0000${d.by}`, port, src, iface);
              continue;
            }
            if (!d.accepted && required) {
              const key = `${required.name}\u0000${d.by}`;
              closedRule.set(key, required);
              add(closed, key, port, src, iface);
              continue;
            }
            // The verdict agrees with the policy; could an unmodelled rule have changed it?
            const risky = d.uncertain.filter((r: Rule) => (allowed ? r.verdict.kind !== 'accept' : r.verdict.kind !== 'drop' && r.verdict.kind !== 'reject'));
            for (const r of risky) add(unsure, `${proto}\u0000${r.text}\u0000${allowed ? 'block' : 'open'}`, port, src, iface);
          }
        }
      }
    }
  }

  const fam = family === 6 ? 'IPv6 ' : '';
  const children: CheckResult[] = [];
  for (const [key, bucket] of open) {
    const [proto, by] = key.split('\u0000') as [Proto, string];
    children.push(leaf('', State.CRITICAL, `${quoteRule(by)} accepts new ${fam}${describePorts(proto, bucket.ports)} from ${describeSources(family, bucket.srcs)}${viaText(bucket.ifaces)}, which the policy does not allow`));
  }
  for (const [key, bucket] of closed) {
    const [, by] = key.split('\u0000') as [string, string];
    const rule = closedRule.get(key)!;
    children.push(leaf('', State.CRITICAL, `${rule.name} (policy line ${rule.line}): new ${fam}${describePorts(rule.proto, bucket.ports)} from ${describeSources(family, bucket.srcs)}${viaText(bucket.ifaces)} is not accepted: blocked by ${quoteRule(by)}`));
  }
  for (const [key, bucket] of unsure) {
    const [proto, text, way] = key.split('\u0000') as [Proto, string, string];
    const rule = text;
    children.push(leaf('', State.UNKNOWN, `cannot tell whether ${quoteRule(rule)} ${way === 'open' ? 'accepts' : 'blocks'} new ${fam}${describePorts(proto, bucket.ports)} from ${describeSources(family, bucket.srcs)}: it uses matches that are not modelled`));
  }
  return { children, violations: open.size + closed.size };
}

export function evaluateFirewall(o: FirewallObservation): CheckResult {
  const children: CheckResult[] = [];
  const perf: Perfdata[] = [];
  let violations = 0;
  const ruleCount = [...new Set([...o.layers.values()].flat())].reduce((n, l) => n + [...l.chains.values()].reduce((m, c) => m + c.rules.length, 0), 0);

  if (o.policy) {
    const policyChildren: CheckResult[] = [];
    for (const [chain, want] of o.policy.defaultPolicy) {
      for (const fam of o.policy.families) {
        const chains = o.baseChains.filter((c) => c.family === fam && c.hook === chain && !c.passThrough);
        for (const c of chains) {
          if (c.policy !== want.policy) {
            violations++;
            policyChildren.push(leaf('', State.CRITICAL, `${fam === 6 ? 'IPv6 ' : ''}${c.text}: default policy is ${c.policy}, the policy file (line ${want.line}) wants ${want.policy}`));
          }
        }
        if (chains.length === 0 && want.policy === 'DROP') {
          violations++;
          policyChildren.push(leaf('', State.CRITICAL, `${fam === 6 ? 'IPv6' : 'IPv4'}: no ${chain} chain with rules or a DROP policy: everything is accepted, the policy file (line ${want.line}) wants DROP`));
        }
      }
    }
    for (const fam of o.policy.families) {
      const layers = o.layers.get(fam) ?? [];
      const r = analyseFamily(fam, layers, o.policy);
      violations += r.violations;
      policyChildren.push(...r.children);
    }
    const bad = policyChildren.filter((c) => c.state !== State.OK).length;
    children.push(group('', bad ? `${bad} problem${bad === 1 ? '' : 's'} against ${o.policyFile ?? 'the policy'}` : `compliant with ${o.policyFile ?? 'the policy'} (${o.policy.allow.length} allow entries, ${o.policy.families.map((f) => `IPv${f}`).join(' and ')})`, policyChildren.length ? policyChildren : [leaf('', State.OK, `compliant with ${o.policyFile ?? 'the policy'}`)]));
    perf.push({ label: 'violations', value: violations, min: 0 });
  }
  for (const n of o.notes) children.push(leaf('', n.state, n.text));

  if (o.drift) {
    const d = o.drift;
    if (d.recorded) {
      children.push(leaf('baseline', State.OK, `recorded the current ruleset in ${d.baseline}`));
    } else if (d.diff) {
      const lines = d.diff.split('\n');
      children.push({
        name: 'drift',
        state: d.state,
        summary: `ruleset differs from baseline ${d.baseline}: ${d.added ?? 0} line${d.added === 1 ? '' : 's'} added, ${d.removed ?? 0} removed`,
        children: lines.filter((l) => l !== '').map((l) => leaf('', State.OK, l)),
      });
    } else {
      children.push(leaf('drift', State.OK, `ruleset matches baseline ${d.baseline}`));
    }
    perf.push({ label: 'drift_lines', value: (d.added ?? 0) + (d.removed ?? 0), min: 0 });
  }
  perf.push({ label: 'rules', value: ruleCount, min: 0 });
  const summary = [
    o.policy ? (violations ? `${violations} violation${violations === 1 ? '' : 's'}` : `compliant with ${o.policyFile ?? 'the policy'}`) : '',
    o.drift ? (o.drift.recorded ? 'baseline recorded' : o.drift.diff ? 'drift from baseline' : 'no drift') : '',
    `${ruleCount} rules read from ${o.sources.join(', ')}`,
  ].filter(Boolean).join(', ');
  return group('', summary, children, perf);
}
