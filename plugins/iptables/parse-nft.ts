/**
 * Turns `nft -j list ruleset` into layers of the rule model: each base chain on the
 * input hook (type filter) of an ip, ip6 or inet table is one layer, run in priority
 * order. Expressions we do not understand make the rule "maybe" (reported, never guessed).
 */
import { parseAddr, parseCidr, type AddrRange, type Family } from '../netlib/addr.ts';
import type { Chain, Conditions, Layer, PortRange, Rule, Verdict } from './model.ts';

export class NftParseError extends Error {
  override name = 'NftParseError';
}

type J = Record<string, unknown>;

interface NftTable { family: string; name: string }
interface NftChain { family: string; table: string; name: string; handle?: number; type?: string; hook?: string; prio?: number; policy?: string }
interface NftRule { family: string; table: string; chain: string; handle?: number; expr: unknown[]; comment?: string }
interface NftSet { family: string; table: string; name: string; elem?: unknown[] }

export interface NftRuleset {
  readonly tables: NftTable[];
  readonly chains: NftChain[];
  readonly rules: NftRule[];
  readonly sets: NftSet[];
}

export function parseNftJson(text: string): NftRuleset {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new NftParseError(`'nft -j list ruleset' output is not JSON (${(e as Error).message})`);
  }
  const list = (data as J)?.nftables;
  if (!Array.isArray(list)) throw new NftParseError("'nft -j list ruleset' output has no 'nftables' array");
  const out: NftRuleset = { tables: [], chains: [], rules: [], sets: [] };
  for (const item of list as J[]) {
    if (item.table) out.tables.push(item.table as NftTable);
    else if (item.chain) out.chains.push(item.chain as NftChain);
    else if (item.rule) out.rules.push({ ...(item.rule as NftRule), expr: Array.isArray((item.rule as J).expr) ? ((item.rule as J).expr as unknown[]) : [] });
    else if (item.set) out.sets.push(item.set as NftSet);
  }
  return out;
}

const FAMILIES: Record<string, Family[]> = { ip: [4], ip6: [6], inet: [4, 6] };

function protoName(v: unknown): string | undefined {
  if (typeof v === 'string') return v.toLowerCase();
  if (v === 6) return 'tcp';
  if (v === 17) return 'udp';
  if (typeof v === 'number') return String(v);
  return undefined;
}

interface Ctx {
  readonly sets: NftSet[];
  readonly table: { family: string; name: string };
}

/** The elements of a right-hand side: a value, a set literal, or a named set. */
function elements(right: unknown, ctx: Ctx): unknown[] | undefined {
  if (typeof right === 'string' && right.startsWith('@')) {
    const set = ctx.sets.find((s) => s.name === right.slice(1) && s.table === ctx.table.name && s.family === ctx.table.family);
    return set?.elem ? set.elem.map((e) => ((e as J)?.elem !== undefined ? ((e as J).elem as J).val : e)) : undefined;
  }
  if (right && typeof right === 'object' && !Array.isArray(right) && 'set' in (right as J)) {
    const s = (right as J).set;
    return Array.isArray(s) ? s : [s];
  }
  if (Array.isArray(right)) return right;
  return [right];
}

function toPorts(items: unknown[]): PortRange[] | undefined {
  const out: PortRange[] = [];
  for (const it of items) {
    if (typeof it === 'number') out.push({ lo: it, hi: it });
    else if (it && typeof it === 'object' && Array.isArray((it as J).range)) {
      const [lo, hi] = (it as J).range as unknown[];
      if (typeof lo !== 'number' || typeof hi !== 'number') return undefined;
      out.push({ lo, hi });
    } else return undefined;
  }
  return out;
}

function toAddrs(items: unknown[], family: Family): AddrRange[] | undefined {
  const out: AddrRange[] = [];
  for (const it of items) {
    if (typeof it === 'string') {
      const r = parseCidr(it);
      if (!r || r.family !== family) return undefined;
      out.push(r);
    } else if (it && typeof it === 'object' && (it as J).prefix) {
      const p = (it as J).prefix as J;
      const r = parseCidr(`${String(p.addr)}/${String(p.len)}`);
      if (!r || r.family !== family) return undefined;
      out.push(r);
    } else if (it && typeof it === 'object' && Array.isArray((it as J).range)) {
      const [a, b] = ((it as J).range as unknown[]).map((x) => (typeof x === 'string' ? parseAddr(x) : undefined));
      if (!a || !b || a.family !== family || b.family !== family) return undefined;
      out.push({ family, start: a.value, end: b.value });
    } else return undefined;
  }
  return out;
}

/** A readable rendering of an expression, close to nft syntax, for messages. */
export function renderExpr(e: unknown): string {
  const r = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    if (typeof v !== 'object') return String(v);
    if (Array.isArray(v)) return `{ ${v.map(r).join(', ')} }`;
    const o = v as J;
    if ('set' in o) return `{ ${(Array.isArray(o.set) ? o.set : [o.set]).map(r).join(', ')} }`;
    if ('prefix' in o) return `${String((o.prefix as J).addr)}/${String((o.prefix as J).len)}`;
    if ('range' in o) return (o.range as unknown[]).map(r).join('-');
    if ('payload' in o) return `${String((o.payload as J).protocol)} ${String((o.payload as J).field)}`;
    if ('meta' in o) return `meta ${String((o.meta as J).key)}`;
    if ('ct' in o) return `ct ${String((o.ct as J).key)}`;
    const k = Object.keys(o)[0] ?? '?';
    return k;
  };
  if (!e || typeof e !== 'object') return String(e);
  const o = e as J;
  if (o.match) {
    const m = o.match as J;
    const op = m.op === '==' || m.op === 'in' ? '' : `${String(m.op)} `;
    return `${r(m.left)} ${op}${r(m.right)}`.replace(/^meta l4proto /, 'meta l4proto ');
  }
  if ('accept' in o) return 'accept';
  if ('drop' in o) return 'drop';
  if ('reject' in o) return 'reject';
  if ('return' in o) return 'return';
  if ('continue' in o) return 'continue';
  if (o.jump) return `jump ${String((o.jump as J).target)}`;
  if (o.goto) return `goto ${String((o.goto as J).target)}`;
  if ('counter' in o) return 'counter';
  if ('log' in o) return 'log';
  return Object.keys(o)[0] ?? '?';
}

export function ruleFromNft(rule: NftRule, ctx: Ctx): Rule {
  const c: Conditions = {};
  const unmodelled: string[] = [];
  const never: string[] = [];
  let verdict: Verdict = { kind: 'continue' };
  const famSet = new Set<Family>(FAMILIES[rule.family] ?? []);
  const restrict = (f: Family): void => { for (const x of [...famSet]) if (x !== f) famSet.delete(x); };
  const requireProto = (p: string): void => {
    if (c.protos && !c.protos.negate && !c.protos.names.includes(p)) never.push(`${p} after ${c.protos.names.join('/')}`);
    else if (!c.protos) c.protos = { names: [p], negate: false };
  };
  for (const e of rule.expr) {
    const o = (e ?? {}) as J;
    if (o.match) {
      const m = o.match as J;
      const neg = m.op === '!=';
      const left = (m.left ?? {}) as J;
      const items = elements(m.right, ctx);
      const text = renderExpr(e);
      if (!items) { unmodelled.push(text); continue; }
      if (left.payload) {
        const p = left.payload as J;
        const proto = String(p.protocol);
        const field = String(p.field);
        if ((proto === 'tcp' || proto === 'udp' || proto === 'th') && field === 'dport') {
          if (proto !== 'th') requireProto(proto);
          const ports = toPorts(items);
          if (!ports) { unmodelled.push(text); continue; }
          c.dports = { ranges: ports, negate: neg };
        } else if ((proto === 'ip' || proto === 'ip6') && (field === 'saddr' || field === 'daddr')) {
          const fam: Family = proto === 'ip' ? 4 : 6;
          restrict(fam);
          const addrs = toAddrs(items, fam);
          if (!addrs) { unmodelled.push(text); continue; }
          (c[field === 'saddr' ? 'src' : 'dst'] ??= []).push({ ranges: addrs, negate: neg });
        } else if ((proto === 'ip' && field === 'protocol') || (proto === 'ip6' && field === 'nexthdr')) {
          restrict(proto === 'ip' ? 4 : 6);
          const names = items.map(protoName);
          if (names.some((n) => n === undefined)) { unmodelled.push(text); continue; }
          c.protos = { names: names as string[], negate: neg };
        } else if ((proto === 'tcp' || proto === 'udp') && field !== 'dport') {
          requireProto(proto);
          if (proto === 'tcp' && field === 'flags') unmodelled.push(text);
          else unmodelled.push(text);
        } else {
          unmodelled.push(text);
        }
      } else if (left.meta) {
        const key = String((left.meta as J).key);
        if (key === 'l4proto') {
          const names = items.map(protoName);
          if (names.some((n) => n === undefined)) { unmodelled.push(text); continue; }
          c.protos = { names: names as string[], negate: neg };
        } else if (key === 'nfproto') {
          const fams = items.map((x) => (x === 'ipv4' ? 4 : x === 'ipv6' ? 6 : undefined));
          for (const f of [4, 6] as Family[]) if (fams.includes(f) === neg) famSet.delete(f);
        } else if (key === 'iifname' || key === 'iif') {
          const names = items.filter((x): x is string => typeof x === 'string');
          if (names.length !== items.length) { unmodelled.push(text); continue; }
          (c.ifaces ??= []).push({ names, negate: neg });
        } else if (key === 'pkttype') {
          const hasHost = items.includes('host') || items.includes('unicast');
          if (hasHost === neg) never.push(text);
        } else {
          unmodelled.push(text);
        }
      } else if (left.ct && String((left.ct as J).key) === 'state') {
        const states = items.filter((x): x is string => typeof x === 'string').map((s) => s.toUpperCase());
        c.ctstates = [...(c.ctstates ?? []), { states, negate: neg }];
      } else if (left.fib) {
        // fib daddr type local: the usual "is it for us" check
        const isLocal = items.includes('local');
        if (isLocal === neg) never.push(text);
      } else {
        unmodelled.push(text);
      }
      continue;
    }
    if ('accept' in o) { verdict = { kind: 'accept' }; continue; }
    if ('drop' in o) { verdict = { kind: 'drop' }; continue; }
    if ('reject' in o) { verdict = { kind: 'reject' }; continue; }
    if ('return' in o) { verdict = { kind: 'return' }; continue; }
    if ('continue' in o) { verdict = { kind: 'continue' }; continue; }
    if (o.jump) { verdict = { kind: 'jump', target: String((o.jump as J).target) }; continue; }
    if (o.goto) { verdict = { kind: 'goto', target: String((o.goto as J).target) }; continue; }
    if ('queue' in o) { verdict = { kind: 'unknown', what: 'queue' }; continue; }
    if ('limit' in o || 'quota' in o || 'xt' in o) { unmodelled.push(renderExpr(e)); continue; }
    // counter, log, meta set, ct set, mangle, notrack, ...: no effect on the verdict.
  }
  if (famSet.size < (FAMILIES[rule.family] ?? []).length) c.families = [...famSet];
  if (unmodelled.length) c.unmodelled = unmodelled;
  if (never.length) c.never = never;
  const body = rule.expr.map(renderStatement).filter((s) => s !== 'counter').join(' ');
  const text = `nft ${rule.family} ${rule.table} ${rule.chain} handle ${rule.handle ?? '?'}: ${body}${rule.comment ? ` comment "${rule.comment}"` : ''}`;
  return { text, conditions: c, verdict };
}

/** iptables-nft keeps its tables in nft under these names: they are read through iptables-save. */
export const IPTABLES_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

export function nftLayers(rs: NftRuleset, skip: (family: string, table: string) => boolean): Layer[] {
  const layers: Layer[] = [];
  for (const base of rs.chains) {
    if (base.hook !== 'input' || (base.type ?? 'filter') !== 'filter') continue;
    const fams = FAMILIES[base.family];
    if (!fams || skip(base.family, base.table)) continue;
    const ctx: Ctx = { sets: rs.sets, table: { family: base.family, name: base.table } };
    const chains = new Map<string, Chain>();
    for (const ch of rs.chains) {
      if (ch.family !== base.family || ch.table !== base.table) continue;
      const rules = rs.rules.filter((r) => r.family === ch.family && r.table === ch.table && r.chain === ch.name).map((r) => ruleFromNft(r, ctx));
      const policy = ch.hook ? (ch.policy === 'drop' ? 'drop' : 'accept') : undefined;
      chains.set(ch.name, { name: ch.name, policy, policyText: policy ? `nft chain ${ch.family} ${ch.table} ${ch.name} policy ${policy}` : undefined, rules });
    }
    layers.push({ name: `nft ${base.family} ${base.table} ${base.name}`, families: fams, priority: base.prio ?? 0, entry: base.name, chains });
  }
  return layers;
}

function renderStatement(e: unknown): string {
  const o = (e ?? {}) as J;
  if (o.limit) {
    const l = o.limit as J;
    return `limit rate ${String(l.rate)}/${String(l.per)}`;
  }
  if (o.xt) return `xt ${String((o.xt as J).type ?? '')} ${String((o.xt as J).name ?? '')}`.trim();
  return renderExpr(e);
}

/** A stable text form of the ruleset (no handles, no counters), for the drift baseline. */
export function renderNftRuleset(rs: NftRuleset, skip: (family: string, table: string) => boolean): string {
  const out: string[] = [];
  for (const t of rs.tables) {
    if (skip(t.family, t.name)) continue;
    out.push(`table ${t.family} ${t.name}`);
    for (const s of rs.sets.filter((x) => x.family === t.family && x.table === t.name)) {
      out.push(`  set ${s.name} { ${(s.elem ?? []).map((e) => renderExpr((e as J)?.elem !== undefined ? ((e as J).elem as J).val : e)).join(', ')} }`);
    }
    for (const c of rs.chains.filter((x) => x.family === t.family && x.table === t.name)) {
      out.push(`  chain ${c.name}${c.hook ? ` { type ${c.type ?? 'filter'} hook ${c.hook} priority ${c.prio ?? 0}; policy ${c.policy ?? 'accept'}; }` : ''}`);
      for (const r of rs.rules.filter((x) => x.family === t.family && x.table === t.name && x.chain === c.name)) {
        out.push(`    ${r.expr.filter((e) => !(e && typeof e === 'object' && 'counter' in (e as J))).map(renderStatement).join(' ')}${r.comment ? ` comment "${r.comment}"` : ''}`);
      }
    }
  }
  return out.join('\n');
}
