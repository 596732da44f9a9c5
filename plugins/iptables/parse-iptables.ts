/**
 * Parses iptables-save / ip6tables-save output into the rule model. Only the filter
 * table is modelled (that is where INPUT policy lives); other tables are kept as text for
 * the drift check.
 */
import { parseCidr, parseAddr, type AddrRange, type Family } from '../lib/addr.ts';
import type { Chain, Conditions, Layer, PortRange, Rule, Verdict } from './model.ts';

export interface SavedTable {
  readonly name: string;
  /** Chain name -> policy text ('ACCEPT', 'DROP', '-' for user chains). */
  readonly chains: Map<string, { policy: string; line: number }>;
  readonly rules: { chain: string; text: string; line: number; tokens: string[] }[];
}

export class SaveParseError extends Error {
  override name = 'SaveParseError';
}

/** Splits a rule line like iptables-save prints it: double quotes with backslash escapes. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    let tok = '';
    if (line[i] === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++;
        tok += line[i];
        i++;
      }
      i++;
    } else {
      while (i < line.length && !/\s/.test(line[i]!)) { tok += line[i]; i++; }
    }
    out.push(tok);
  }
  return out;
}

export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let cur: SavedTable | undefined;
  text.split('\n').forEach((raw, idx) => {
    const line = raw.trim();
    const n = idx + 1;
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('*')) {
      cur = { name: line.slice(1), chains: new Map(), rules: [] };
      tables.set(cur.name, cur);
      return;
    }
    if (line === 'COMMIT') { cur = undefined; return; }
    if (!cur) throw new SaveParseError(`line ${n}: '${line.slice(0, 60)}' outside a table (no '*table' line before it)`);
    if (line.startsWith(':')) {
      const m = /^:(\S+)\s+(\S+)/.exec(line);
      if (!m) throw new SaveParseError(`line ${n}: bad chain line '${line}'`);
      cur.chains.set(m[1]!, { policy: m[2]!, line: n });
      return;
    }
    if (line.startsWith('-A ')) {
      const tokens = tokenize(line);
      cur.rules.push({ chain: tokens[1] ?? '', text: line, line: n, tokens: tokens.slice(2) });
      return;
    }
    if (line.startsWith('[')) return; // counters-only lines (iptables-save -c prefixes rules with them)
    throw new SaveParseError(`line ${n}: cannot read '${line.slice(0, 60)}'`);
  });
  return tables;
}

function parsePortSpec(spec: string): PortRange[] | undefined {
  const out: PortRange[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:[:-](\d*))?$/.exec(part.trim());
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : m[2] === '' ? 65535 : Number(m[2]);
    if (lo > 65535 || hi > 65535 || lo > hi) return undefined;
    out.push({ lo, hi });
  }
  return out;
}

function parseAddrList(spec: string, family: Family): AddrRange[] | undefined {
  const out: AddrRange[] = [];
  for (const part of spec.split(',')) {
    const r = parseCidr(part);
    if (!r || r.family !== family) return undefined;
    out.push(r);
  }
  return out;
}

function parseIpRange(spec: string, family: Family): AddrRange[] | undefined {
  const [a, b] = spec.split('-');
  const lo = a ? parseAddr(a) : undefined;
  const hi = b ? parseAddr(b) : lo;
  if (!lo || !hi || lo.family !== family || hi.family !== family) return undefined;
  return [{ family, start: lo.value, end: hi.value }];
}

const NON_TERMINAL_TARGETS = new Set(['LOG', 'NFLOG', 'ULOG', 'MARK', 'CONNMARK', 'CT', 'TRACE', 'AUDIT', 'NOTRACK', 'CLASSIFY', 'SET', 'TCPMSS', 'DSCP', 'TOS', 'TTL', 'HL', 'SECMARK', 'CONNSECMARK', 'IDLETIMER', 'LED', 'CHECKSUM', 'RATEEST', 'TEE']);
/** Matches whose options we read; any other module makes the rule "maybe". */
const KNOWN_MODULES = new Set(['tcp', 'udp', 'multiport', 'conntrack', 'state', 'iprange', 'comment', 'addrtype', 'icmp', 'icmp6', 'icmpv6']);

/** Reads a rule's tokens (after `-A CHAIN`) into conditions and a verdict. */
export function ruleFromTokens(tokens: readonly string[], family: Family, userChains: ReadonlySet<string>, text: string): Rule {
  const c: Conditions = {};
  const unmodelled: string[] = [];
  const never: string[] = [];
  let verdict: Verdict = { kind: 'continue' };
  let negate = false;
  const modules: string[] = [];
  const bad = (what: string): void => { unmodelled.push(what); };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '!') { negate = true; continue; }
    const val = (): string => tokens[++i] ?? '';
    const neg = negate;
    negate = false;
    switch (t) {
      case '-p': case '--protocol': {
        const v = val().toLowerCase();
        const name = v === '6' ? 'tcp' : v === '17' ? 'udp' : v;
        c.protos = { names: [name], negate: neg };
        break;
      }
      case '-s': case '--source': case '-d': case '--destination': {
        const spec = val();
        const ranges = parseAddrList(spec, family);
        if (!ranges) { bad(`${t} ${spec}`); break; }
        const key = t === '-s' || t === '--source' ? 'src' : 'dst';
        (c[key] ??= []).push({ ranges, negate: neg });
        break;
      }
      case '-i': case '--in-interface':
        (c.ifaces ??= []).push({ names: [val()], negate: neg });
        break;
      case '-o': case '--out-interface':
        val();
        break;
      case '-f': case '--fragment':
        // Only non-first fragments match; the first packet of a connection never does.
        if (!neg) never.push('-f');
        break;
      case '-m': case '--match': {
        const m = val();
        modules.push(m);
        if (!KNOWN_MODULES.has(m)) bad(`-m ${m}`);
        break;
      }
      case '--dport': case '--destination-port': case '--dports': case '--destination-ports': {
        const spec = val();
        const ranges = parsePortSpec(spec);
        if (!ranges) { bad(`${t} ${spec}`); break; }
        c.dports = { ranges, negate: neg };
        break;
      }
      case '--ports': {
        // Matches when either port is in the list; a client's source port is arbitrary.
        const spec = val();
        bad(`--ports ${spec}`);
        break;
      }
      case '--sport': case '--source-port': case '--sports': case '--source-ports':
        bad(`${t} ${val()}`);
        break;
      case '--ctstate': case '--state': {
        const states = val().toUpperCase().split(',');
        (c.ctstates ??= []).push({ states, negate: neg });
        break;
      }
      case '--src-range': case '--dst-range': {
        const spec = val();
        const ranges = parseIpRange(spec, family);
        if (!ranges) { bad(`${t} ${spec}`); break; }
        (c[t === '--src-range' ? 'src' : 'dst'] ??= []).push({ ranges, negate: neg });
        break;
      }
      case '--syn':
        if (neg) never.push('! --syn');
        break;
      case '--tcp-flags': {
        const mask = val();
        const comp = val();
        const syn = mask.split(',').sort().join(',') === 'ACK,FIN,RST,SYN' && comp === 'SYN';
        if (syn && neg) never.push('! --syn');
        else if (!syn) bad(`--tcp-flags ${mask} ${comp}`);
        break;
      }
      case '--dst-type': {
        const v = val().toUpperCase();
        const local = v.split(',').includes('LOCAL');
        if (local === neg) never.push(`--dst-type ${v}`);
        break;
      }
      case '--src-type': {
        const v = val().toUpperCase();
        const local = v.split(',').includes('LOCAL');
        if (local !== neg) never.push(`--src-type ${v}`);
        break;
      }
      case '--comment': val(); break;
      case '--icmp-type': case '--icmpv6-type': val(); break;
      case '-j': case '--jump': case '-g': case '--goto': {
        const target = val();
        const upper = target.toUpperCase();
        if (t === '-g' || t === '--goto') verdict = { kind: 'goto', target };
        else if (upper === 'ACCEPT') verdict = { kind: 'accept' };
        else if (upper === 'DROP') verdict = { kind: 'drop' };
        else if (upper === 'REJECT') verdict = { kind: 'reject' };
        else if (upper === 'RETURN') verdict = { kind: 'return' };
        else if (userChains.has(target)) verdict = { kind: 'jump', target };
        else if (NON_TERMINAL_TARGETS.has(upper)) verdict = { kind: 'continue' };
        else verdict = { kind: 'unknown', what: `-j ${target}` };
        // Everything after the target is the target's own options (--reject-with, --log-prefix, ...).
        i = tokens.length;
        break;
      }
      default:
        if (t.startsWith('-')) {
          // An option of an unmodelled match: take its values too.
          let vals = '';
          while (i + 1 < tokens.length && !tokens[i + 1]!.startsWith('-') && tokens[i + 1] !== '!') vals += ' ' + tokens[++i];
          if (!unmodelled.some((u) => u.startsWith('-m '))) bad(`${neg ? '! ' : ''}${t}${vals}`);
        }
    }
  }
  if (unmodelled.length) c.unmodelled = unmodelled;
  if (never.length) c.never = never;
  return { text, conditions: c, verdict };
}

/** The filter table as a layer for the reachability walk; undefined when absent. */
export function filterLayer(tables: Map<string, SavedTable>, family: Family, name: string): Layer | undefined {
  const t = tables.get('filter');
  if (!t || !t.chains.has('INPUT')) return undefined;
  const userChains = new Set([...t.chains.entries()].filter(([, v]) => v.policy === '-').map(([k]) => k));
  const chains = new Map<string, Chain>();
  for (const [chainName, info] of t.chains) {
    const rules = t.rules.filter((r) => r.chain === chainName).map((r) => ruleFromTokens(r.tokens, family, userChains, r.text));
    const policy = info.policy === 'ACCEPT' ? 'accept' : info.policy === 'DROP' ? 'drop' : undefined;
    chains.set(chainName, { name: chainName, policy, policyText: policy ? `${name}: policy :${chainName} ${info.policy}` : undefined, rules });
  }
  return { name, families: [family], priority: 0, entry: 'INPUT', chains };
}

/** Drops counters and the generated-by/completed-on comments, for a stable baseline. */
export function normalizeSave(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/^(:\S+ \S+) \[\d+:\d+\]$/, '$1').replace(/^\[\d+:\d+\] /, ''))
    .join('\n')
    .trim();
}
