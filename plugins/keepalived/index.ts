import { join } from 'node:path';
import { PluginError, type PluginContext, type PluginDescriptor } from '../../nagios/plugin.ts';
import { canonicalAddr, familyOf } from '../lib/addr.ts';
import { arpingSudoersRule, interfaceFor, ownMacs, probeDuplicate, readIpAddr } from '../vip/collect.ts';
import { ArpingFlavor } from '../vip/parse.ts';
import {
  DEFAULT_PID_FILE, DEFAULT_STATE_DIR, DEFAULT_STATE_FILE, fileExists, keepalivedProcess, loadMemory, memoryPath,
  readTextFile, saveMemory, triggerDump, type Memory,
} from './collect.ts';
import { evaluateKeepalived, type DadOutcome } from './evaluate.ts';
import { parseExpectation, parseKeepalivedState, VRRP_STATES, type NotifyEvent, type VrrpInstance, type VrrpState } from './parse.ts';

const KNOWN_STATES = new Set<string>(VRRP_STATES);

function seconds(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new PluginError(`invalid --${name} '${text}': expected a positive number of seconds`);
  return n;
}

/** State changes per instance in the window, from the notify history. */
function transitionsFromEvents(events: readonly NotifyEvent[], since: number): Map<string, number> {
  const prev = new Map<string, string>();
  const counts = new Map<string, number>();
  for (const e of events) {
    if (e.type !== 'INSTANCE' || !KNOWN_STATES.has(e.state)) continue;
    counts.set(e.name, counts.get(e.name) ?? 0);
    if (prev.get(e.name) !== e.state && e.time !== undefined && e.time >= since) counts.set(e.name, (counts.get(e.name) ?? 0) + 1);
    prev.set(e.name, e.state);
  }
  return counts;
}

async function loadSource(ctx: PluginContext): Promise<{ text: string; source: string; kind: 'input' | 'notify' | 'json' | 'data'; mtimeMs?: number }> {
  const input = await ctx.readInput();
  if (input !== undefined) return { text: input, source: `input file ${ctx.string('input-file')}`, kind: 'input' };
  let kind = (ctx.string('source') ?? 'auto').toLowerCase();
  if (!['auto', 'notify', 'json', 'data'].includes(kind)) throw new PluginError(`invalid --source '${kind}': use auto, notify, json or data`);
  const stateFile = ctx.string('state-file') ?? DEFAULT_STATE_FILE;
  const auto = kind === 'auto';
  if (auto) {
    if (await fileExists(stateFile)) kind = 'notify';
    else if (process.getuid?.() === 0 || ctx.flag('sudo')) kind = 'json';
    else throw new PluginError(`no notify state file at ${stateFile} and not root: install hawatch-keepalived-notify.sh as keepalived's notify script (see README), or use --source json --trigger --sudo`);
  }
  if (kind === 'notify') {
    const f = await readTextFile(stateFile, 'keepalived notify state file');
    return { text: f.text, source: `notify state file ${stateFile}`, kind: 'notify', mtimeMs: f.mtimeMs };
  }
  const what = kind === 'json' ? 'JSON' : 'DATA';
  const dumpFile = join(ctx.string('dump-dir') ?? '/tmp', kind === 'json' ? 'keepalived.json' : 'keepalived.data');
  const trigger = ctx.flag('trigger') || auto;
  if (trigger) {
    await triggerDump(ctx, { keepalived: ctx.string('keepalived') ?? 'keepalived', what, pidFile: ctx.string('pid-file') ?? DEFAULT_PID_FILE, dumpFile, sudo: ctx.flag('sudo'), waitMs: 3000 });
  }
  const f = await readTextFile(dumpFile, `keepalived ${what} dump`);
  const maxAge = seconds(ctx.string('max-age'), 'max-age', 300);
  const age = (Date.now() - f.mtimeMs) / 1000;
  if (!trigger && age > maxAge) throw new PluginError(`keepalived dump ${dumpFile} is ${Math.round(age)} s old (more than --max-age ${maxAge}); add --trigger to ask keepalived for a fresh one`);
  return { text: f.text, source: `${what} dump ${dumpFile}`, kind: kind === 'json' ? 'json' : 'data', mtimeMs: f.mtimeMs };
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_keepalived',
  prefix: 'KEEPALIVED',
  description:
    "Checks keepalived's VRRP instances (INIT, BACKUP, MASTER, FAULT) from keepalived's own output: the state file " +
    'written by hawatch-keepalived-notify.sh (no privileges needed), or a JSON or data dump that keepalived writes on a ' +
    'signal. FAULT and unexpected states are CRITICAL; a state that keeps changing is reported; two masters are found ' +
    'from adverts received while MASTER (dumps) and, with --dad, from another host answering for a MASTER address.',
  inputFile: true,
  thresholds: { subject: 'state changes of one instance within --window', warning: '3' },
  options: [
    { name: 'expect', short: 'e', type: 'string', multiple: true, valueName: 'INST=STATE', help: 'Expected state of an instance, e.g. VI_1=MASTER or VI_1=MASTER|BACKUP (repeatable, or comma separated).' },
    { name: 'source', type: 'string', valueName: 'SRC', default: 'auto', help: 'notify (the state file), json or data (keepalived dumps), auto (the state file if present, else a JSON dump when root).' },
    { name: 'state-file', type: 'string', restricted: 'file', valueName: 'PATH', help: `State file written by hawatch-keepalived-notify.sh (default ${DEFAULT_STATE_FILE}).` },
    { name: 'dump-dir', type: 'string', restricted: 'file', valueName: 'DIR', help: "Where keepalived writes keepalived.json/.data: its TMPDIR (default /tmp)." },
    { name: 'trigger', type: 'boolean', help: 'Signal keepalived to write a fresh dump first (root, or --sudo with the pkill sudoers rule). Implied for --source auto.' },
    { name: 'max-age', type: 'string', valueName: 'SECONDS', default: '300', help: 'Without --trigger, a dump older than this is refused.' },
    { name: 'pid-file', type: 'string', restricted: 'file', valueName: 'PATH', help: `keepalived's pid file, to check it runs and to signal it (default ${DEFAULT_PID_FILE}).` },
    { name: 'no-process-check', type: 'boolean', help: 'Do not check that keepalived runs.' },
    { name: 'keepalived', type: 'string', restricted: 'program', valueName: 'PATH', default: 'keepalived', help: 'The keepalived program (asked for signal numbers).' },
    { name: 'sudo', type: 'boolean', help: 'Run pkill (dump trigger) and arping through `sudo -n`.' },
    { name: 'window', type: 'string', valueName: 'SECONDS', default: '3600', help: 'Window for counting state changes.' },
    { name: 'state-dir', type: 'string', restricted: 'file', valueName: 'DIR', help: `Where states are remembered between runs for dumps (default ${DEFAULT_STATE_DIR}).` },
    { name: 'dad', type: 'boolean', help: 'Probe the virtual IPv4 addresses with arping: a MASTER whose address another host answers is split brain.' },
    { name: 'vip', type: 'string', multiple: true, valueName: 'INST=ADDR[@IF]', help: 'Virtual address of an instance for --dad when the source does not list them (the notify state file).' },
    { name: 'arping', type: 'string', restricted: 'program', valueName: 'PATH', default: 'arping', help: 'The arping program for --dad.' },
    { name: 'arping-flavor', type: 'string', valueName: 'KIND', default: 'auto', help: 'iputils, habets or auto.' },
  ],
  notes:
    'Examples:\n' +
    '  check_ha_keepalived --expect VI_1=MASTER                      (notify state file)\n' +
    '  check_ha_keepalived --source json --trigger --sudo --dad -e VI_1=BACKUP\n' +
    'Sudoers for --trigger --sudo: nagios ALL=(root) NOPASSWD: /usr/bin/pkill --signal 36 -F /run/keepalived.pid -x keepalived\n' +
    '(36 is `keepalived --signum=JSON` on Debian 12; 10 for DATA.)\n' +
    `Sudoers for --dad --sudo (sudo >= 1.9.10): ${arpingSudoersRule('arping')}`,
  async run(ctx) {
    const expectations = new Map<string, VrrpState[]>();
    for (const e of ctx.strings('expect')) {
      const p = parseExpectation(e);
      if (!p) throw new PluginError(`invalid --expect '${e}': use INSTANCE=STATE with STATE one of ${VRRP_STATES.slice(0, 4).join(', ')} (alternatives with |)`);
      expectations.set(p.instance, p.states);
    }
    const windowSeconds = seconds(ctx.string('window'), 'window', 3600);
    const src = await loadSource(ctx);
    let parsed;
    try {
      parsed = parseKeepalivedState(src.text);
    } catch (e) {
      throw new PluginError((e as Error).message);
    }
    const instances: VrrpInstance[] = parsed.instances;
    const now = Date.now() / 1000;

    const checkProcess = src.kind !== 'input' && !ctx.flag('no-process-check');
    const proc = checkProcess ? await keepalivedProcess(ctx.string('pid-file') ?? DEFAULT_PID_FILE) : undefined;

    let transitions: Map<string, number> | undefined;
    let trackingNote: string | undefined;
    let advertsWhileMaster: Map<string, number> | undefined;
    if (parsed.format === 'notify') {
      transitions = transitionsFromEvents(parsed.events, now - windowSeconds);
    } else if (src.kind !== 'input') {
      const dir = ctx.string('state-dir') ?? DEFAULT_STATE_DIR;
      const path = memoryPath(dir, src.source);
      const before = (await loadMemory(path)) ?? {};
      const after: Memory = {};
      transitions = new Map();
      advertsWhileMaster = new Map();
      for (const inst of instances) {
        const prev = before[inst.name];
        let changes = (prev?.changes ?? []).filter((t) => t >= now - windowSeconds);
        if (prev && (prev.state !== inst.state || (inst.lastTransition !== undefined && prev.lastTransition !== undefined && prev.lastTransition !== inst.lastTransition))) {
          changes = [...changes, inst.lastTransition ?? now];
        }
        transitions.set(inst.name, changes.length);
        const rcvd = inst.stats?.advertReceived;
        if (prev && prev.state === 'MASTER' && inst.state === 'MASTER' && prev.lastTransition === inst.lastTransition && rcvd !== undefined && prev.advertReceived !== undefined) {
          advertsWhileMaster.set(inst.name, Math.max(0, rcvd - prev.advertReceived));
        }
        after[inst.name] = { state: inst.state, lastTransition: inst.lastTransition, advertReceived: rcvd, changes };
      }
      const err = await saveMemory(path, dir, after);
      if (err) trackingNote = `state changes between runs are not tracked: ${err} (give --state-dir)`;
    }

    let dad: Map<string, DadOutcome[]> | undefined;
    if (ctx.flag('dad')) {
      dad = new Map();
      const extra = new Map<string, { address: string; iface?: string }[]>();
      for (const v of ctx.strings('vip')) {
        const m = /^([^=]+)=([^@]+)(?:@(.+))?$/.exec(v);
        const addr = m ? canonicalAddr(m[2]!.replace(/\/\d+$/, '')) : undefined;
        if (!m || !addr) throw new PluginError(`invalid --vip '${v}': use INSTANCE=ADDRESS or INSTANCE=ADDRESS@INTERFACE`);
        extra.set(m[1]!, [...(extra.get(m[1]!) ?? []), { address: addr, iface: m[3] }]);
      }
      const interfaces = await readIpAddr(ctx, undefined);
      const macs = ownMacs(interfaces);
      for (const inst of instances) {
        if (inst.state !== 'MASTER' && inst.state !== 'BACKUP') continue;
        const vips = [...inst.vips.map((v) => ({ address: v.address, iface: v.device ?? inst.interface })), ...(extra.get(inst.name) ?? [])];
        const outcomes: DadOutcome[] = [];
        for (const v of vips) {
          if (familyOf(v.address) !== 4) continue;
          const iface = v.iface ?? interfaceFor(interfaces, 4, v.address);
          if (!iface) {
            outcomes.push({ address: v.address, error: 'no interface for it here; give --vip INST=ADDR@IF' });
            continue;
          }
          try {
            const r = await probeDuplicate(ctx, {
              address: v.address, family: 4, iface, ownMacs: macs, count: 2, waitSeconds: 1, sudo: ctx.flag('sudo'),
              arping: ctx.string('arping') ?? 'arping', flavor: (ctx.string('arping-flavor') ?? 'auto') as 'auto' | ArpingFlavor,
            });
            outcomes.push({ address: v.address, iface, foreign: r.foreign.map((f) => f.mac) });
          } catch (e) {
            if (e instanceof PluginError) outcomes.push({ address: v.address, iface, error: e.message });
            else throw e;
          }
        }
        if (outcomes.length) dad.set(inst.name, outcomes);
      }
    }

    const otherEvents = parsed.events.filter((e) => !KNOWN_STATES.has(e.state) && (e.time === undefined || e.time >= now - windowSeconds));
    return evaluateKeepalived({
      source: src.source, instances, expectations, process: proc, transitions, windowSeconds, trackingNote, advertsWhileMaster,
      otherEvents, dad, badLines: parsed.bad, thresholds: ctx.thresholds,
    });
  },
};

export default descriptor;
