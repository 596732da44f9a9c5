import { PluginError, type PluginDescriptor } from '../../nagios/plugin.ts';
import { parseStateName, State, type StateCode } from '../../nagios/states.ts';
import type { Family } from '../lib/addr.ts';
import { collectRulesets, readBaseline, readPolicyFile, SUDOERS_RULE, writeBaseline } from './collect.ts';
import { evaluateFirewall, type BaseChainInfo, type DriftInfo } from './evaluate.ts';
import type { Layer } from './model.ts';
import { filterLayer, normalizeSave, parseSave, SaveParseError, type SavedTable } from './parse-iptables.ts';
import { IPTABLES_TABLES, nftLayers, NftParseError, parseNftJson, renderNftRuleset, type NftRuleset } from './parse-nft.ts';

function saveChains(tables: Map<string, SavedTable> | undefined, family: Family, label: string): BaseChainInfo[] {
  const t = tables?.get('filter');
  if (!t) return [];
  const out: BaseChainInfo[] = [];
  for (const hook of ['INPUT', 'FORWARD', 'OUTPUT']) {
    const c = t.chains.get(hook);
    if (!c || (c.policy !== 'ACCEPT' && c.policy !== 'DROP')) continue;
    const empty = !t.rules.some((r) => r.chain === hook);
    out.push({ family, hook, policy: c.policy, text: `${label} ':${hook} ${c.policy}' (line ${c.line})`, passThrough: c.policy === 'ACCEPT' && empty });
  }
  return out;
}

function nftChains(rs: NftRuleset | undefined, skip: (f: string, t: string) => boolean): BaseChainInfo[] {
  const out: BaseChainInfo[] = [];
  for (const c of rs?.chains ?? []) {
    if (!c.hook || (c.type ?? 'filter') !== 'filter' || skip(c.family, c.table)) continue;
    const hook = c.hook.toUpperCase();
    if (!['INPUT', 'FORWARD', 'OUTPUT'].includes(hook)) continue;
    const fams: Family[] = c.family === 'ip' ? [4] : c.family === 'ip6' ? [6] : c.family === 'inet' ? [4, 6] : [];
    const policy = c.policy === 'drop' ? 'DROP' : 'ACCEPT';
    const empty = !rs!.rules.some((r) => r.family === c.family && r.table === c.table && r.chain === c.name);
    for (const family of fams) out.push({ family, hook, policy, text: `nft chain ${c.family} ${c.table} ${c.name} (hook ${c.hook}, policy ${c.policy ?? 'accept'})`, passThrough: policy === 'ACCEPT' && empty });
  }
  return out;
}

function countDiff(diff: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const l of diff.split('\n')) {
    if (l.startsWith('+') && !l.startsWith('+++')) added++;
    else if (l.startsWith('-') && !l.startsWith('---')) removed++;
  }
  return { added, removed };
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_iptables',
  prefix: 'FIREWALL',
  description:
    'Checks the packet filter (iptables-save, ip6tables-save, nft -j list ruleset) against a declared policy (YAML): ' +
    'default chain policies, and for every port and source whether NEW connections are accepted, computed by walking the ' +
    'INPUT rules in order (jumps, RETURN, CIDRs, ports, multiport, interfaces, conntrack state). A violation is CRITICAL and ' +
    'names the rule or chain policy that decided. With --baseline it also reports drift from a recorded ruleset as a unified diff.',
  inputFile: true,
  options: [
    { name: 'policy', short: 'P', type: 'string', restricted: 'file', valueName: 'FILE', help: 'The declared policy (YAML; see README).' },
    { name: 'baseline', short: 'b', type: 'string', restricted: 'file', valueName: 'FILE', help: 'Compare the ruleset with the one recorded in FILE.' },
    { name: 'record', type: 'boolean', help: 'With --baseline: record the current ruleset in FILE (and report OK for the drift part).' },
    { name: 'drift-state', type: 'string', valueName: 'STATE', default: 'WARNING', help: 'State when the ruleset differs from the baseline (WARNING or CRITICAL).' },
    { name: 'source', type: 'string', valueName: 'SRC', default: 'auto', help: 'auto (iptables-save and nft), iptables, or nft.' },
    { name: 'sudo', type: 'boolean', help: 'Run iptables-save, ip6tables-save and nft through `sudo -n` (see README).' },
    { name: 'iptables-file', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Read saved iptables-save output instead of running it.' },
    { name: 'ip6tables-file', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Read saved ip6tables-save output instead of running it.' },
    { name: 'nft-file', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Read saved `nft -j list ruleset` output instead of running it.' },
    { name: 'iptables-save', type: 'string', restricted: 'program', valueName: 'PATH', help: 'The iptables-save program (e.g. iptables-legacy-save).' },
    { name: 'ip6tables-save', type: 'string', restricted: 'program', valueName: 'PATH', help: 'The ip6tables-save program.' },
    { name: 'nft', type: 'string', restricted: 'program', valueName: 'PATH', help: 'The nft program.' },
  ],
  notes:
    'Examples:\n' +
    '  check_ha_iptables --policy /etc/hawatch/firewall.yaml\n' +
    '  check_ha_iptables --policy /etc/hawatch/firewall.yaml --baseline /var/lib/hawatch/firewall.baseline [--record]\n' +
    `Privileges: root, or --sudo with the sudoers rule:\n  ${SUDOERS_RULE}`,
  async run(ctx) {
    const policyPath = ctx.string('policy');
    const baselinePath = ctx.string('baseline');
    if (!policyPath && !baselinePath) throw new PluginError("nothing to check: give --policy FILE and/or --baseline FILE; see 'check_ha_iptables --help'");
    if (ctx.flag('record') && !baselinePath) throw new PluginError('--record needs --baseline FILE');
    const driftState: StateCode | undefined = parseStateName(ctx.string('drift-state') ?? 'WARNING');
    if (driftState === undefined) throw new PluginError('invalid --drift-state: use OK, WARNING, CRITICAL or UNKNOWN');
    const source = (ctx.string('source') ?? 'auto').toLowerCase();
    if (source !== 'auto' && source !== 'iptables' && source !== 'nft') throw new PluginError(`invalid --source '${source}': use auto, iptables or nft`);

    let policy;
    if (policyPath) {
      // yaml is only loaded when there is a policy to read.
      const { parsePolicy, PolicyError } = await import('./policy.ts');
      try {
        policy = parsePolicy(await readPolicyFile(policyPath), policyPath);
      } catch (e) {
        if (e instanceof PolicyError) throw new PluginError(e.message);
        throw e;
      }
    }
    const wantV6 = !policy || policy.families.includes(6) || baselinePath !== undefined;
    const raw = await collectRulesets(ctx, { v6: wantV6, source });

    let t4: Map<string, SavedTable> | undefined;
    let t6: Map<string, SavedTable> | undefined;
    let rs: NftRuleset | undefined;
    try {
      t4 = raw.v4 !== undefined ? parseSave(raw.v4) : undefined;
      t6 = raw.v6 !== undefined ? parseSave(raw.v6) : undefined;
      rs = raw.nft !== undefined ? parseNftJson(raw.nft) : undefined;
    } catch (e) {
      if (e instanceof SaveParseError) throw new PluginError(`cannot read the iptables-save output: ${e.message}`);
      if (e instanceof NftParseError) throw new PluginError(e.message);
      throw e;
    }
    // iptables-nft keeps its tables in nftables too: read those through iptables-save only.
    const skip = (family: string, table: string): boolean =>
      IPTABLES_TABLES.has(table) && ((family === 'ip' && t4?.has(table) === true) || (family === 'ip6' && t6?.has(table) === true));

    const layers = new Map<Family, Layer[]>([[4, []], [6, []]]);
    const l4 = t4 ? filterLayer(t4, 4, 'iptables') : undefined;
    const l6 = t6 ? filterLayer(t6, 6, 'ip6tables') : undefined;
    if (l4) layers.get(4)!.push(l4);
    if (l6) layers.get(6)!.push(l6);
    for (const l of rs ? nftLayers(rs, skip) : []) for (const f of l.families) layers.get(f)!.push(l);
    for (const list of layers.values()) list.sort((a, b) => a.priority - b.priority);

    const notes: { state: StateCode; text: string }[] = raw.notes.map((text) => ({ state: State.OK, text }));
    if (raw.v4?.includes('iptables-legacy tables present')) notes.push({ state: State.UNKNOWN, text: 'iptables-legacy tables are present and were not read: check them with --iptables-save iptables-legacy-save' });
    const blockers: string[] = [];
    for (const [label, tables] of [['iptables', t4], ['ip6tables', t6]] as const) {
      for (const [name, t] of tables ?? []) {
        if (name !== 'filter' && t.rules.some((r) => (r.chain === 'PREROUTING' || r.chain === 'INPUT') && /-j (DROP|REJECT)\b/.test(r.text))) blockers.push(`${label} ${name}`);
      }
    }
    for (const c of rs?.chains ?? []) {
      if (c.hook && (c.hook === 'ingress' || c.hook === 'prerouting') && !skip(c.family, c.table)) blockers.push(`nft ${c.family} ${c.table} ${c.name} (${c.hook})`);
    }
    if (blockers.length) notes.push({ state: State.OK, text: `not modelled (these can only block, never open): ${[...new Set(blockers)].join(', ')}` });

    let drift: DriftInfo | undefined;
    if (baselinePath) {
      const sections: string[] = [];
      const add = (title: string, text: string | undefined): void => {
        if (text) sections.push(`# ${title}\n${text}`);
      };
      add('iptables-save', raw.v4 === undefined ? undefined : normalizeSave(raw.v4));
      add('ip6tables-save', raw.v6 === undefined ? undefined : normalizeSave(raw.v6));
      add('nft list ruleset', rs ? renderNftRuleset(rs, skip) : undefined);
      const current = sections.join('\n\n') + '\n';
      if (ctx.flag('record')) {
        await writeBaseline(baselinePath, current);
        drift = { baseline: baselinePath, recorded: true, state: State.OK };
      } else {
        const old = await readBaseline(baselinePath);
        if (old === current) {
          drift = { baseline: baselinePath, state: driftState };
        } else {
          const { createTwoFilesPatch } = await import('diff');
          const patch = createTwoFilesPatch(baselinePath, 'current ruleset', old, current, '', '', { context: 0 });
          const body = patch.split('\n').filter((l) => !l.startsWith('====')).join('\n');
          drift = { baseline: baselinePath, diff: body, ...countDiff(body), state: driftState };
        }
      }
    }
    return evaluateFirewall({
      sources: raw.sources,
      layers,
      baseChains: [...saveChains(t4, 4, 'iptables'), ...saveChains(t6, 6, 'ip6tables'), ...nftChains(rs, skip)],
      policy,
      policyFile: policyPath,
      drift,
      notes,
    });
  },
};

export default descriptor;
