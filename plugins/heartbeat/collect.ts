/**
 * The impure part of check_ha_heartbeat: runs cl_status sub-commands (or answers them from a
 * transcript) and reads haresources. cl_status needs heartbeat's API socket (group haclient),
 * not root.
 */
import { hostname } from 'node:os';
import { CommandError } from '../../nagios/exec.ts';
import { PluginError, type PluginContext } from '../../nagios/plugin.ts';
import { State } from '../../nagios/states.ts';
import { readTextFile, replaceFile } from '../lib/files.ts';
import { formatTranscript, parseHaresources, parseHbstatus, parseList, parseRscstatus, parseWord, type HbState, type ResourceGroup, type RscState, type Run } from './parse.ts';

export interface HeartbeatFacts {
  readonly hb: { state: HbState; text: string };
  readonly local: string;
  readonly nodes: readonly { name: string; status: string }[];
  readonly pingNodes: readonly { name: string; status: string }[];
  readonly links: readonly { node: string; link: string; status: string }[];
  readonly rsc?: RscState | undefined;
  readonly rscRaw?: string | undefined;
  /** The pacemaker (or crm) parameter of ha.cf when set to something else than off/no/false. */
  readonly pacemaker?: string | undefined;
  readonly groups?: readonly ResourceGroup[] | undefined;
}

export type ClStatus = (args: readonly string[]) => Promise<Run>;

export function commandRunner(ctx: PluginContext, program: string, record: Map<string, Run>): ClStatus {
  return async (args) => {
    let r: Run;
    try {
      // cl_status gives up itself after 5 s (alarm): a little more here.
      r = await ctx.runCommand(program, args, { timeoutMs: Math.min(6000, ctx.remainingMs()), signal: ctx.signal, env: { LC_ALL: 'C' } });
    } catch (e) {
      if (e instanceof CommandError && e.kind === 'not-found') throw new PluginError(`${program} was not found: install the Debian package heartbeat`);
      if (e instanceof CommandError && e.kind === 'timeout') return { stdout: '', stderr: 'no answer within 6 s', exitCode: null };
      throw e instanceof CommandError ? new PluginError(e.message) : e;
    }
    if (/permission denied|Operation not permitted/i.test(r.stderr) && r.exitCode !== 0) {
      throw new PluginError(`cl_status may not use the heartbeat API (${r.stderr.trim().split('\n')[0]}): add the nagios user to the haclient group (usermod -aG haclient nagios)`);
    }
    record.set(args.join(' '), r);
    return r;
  };
}

export function transcriptRunner(map: ReadonlyMap<string, Run>): ClStatus {
  return async (args) => map.get(args.join(' ')) ?? { stdout: '', stderr: `not in the transcript: cl_status ${args.join(' ')}`, exitCode: 2 };
}

export async function collect(cl: ClStatus, opts: { local?: string | undefined; haresources?: string | undefined; signal: AbortSignal }): Promise<HeartbeatFacts> {
  const hb = parseHbstatus(await cl(['hbstatus']));
  const local = opts.local ?? hostname();
  if (hb.state !== 'running') return { hb, local, nodes: [], pingNodes: [], links: [] };
  const normal = parseList(await cl(['listnodes', '-n']), 'listnodes -n');
  const ping = parseList(await cl(['listnodes', '-p']), 'listnodes -p');
  const status = async (n: string) => ({ name: n, status: parseWord(await cl(['nodestatus', n])) || 'unknown' });
  const nodes = [];
  for (const n of normal) nodes.push(await status(n));
  const pingNodes = [];
  for (const n of ping) pingNodes.push(await status(n));
  // A node does not hear its own unicast/broadcast: its own links read dead. Only the others'.
  const links = [];
  for (const n of nodes) {
    if (n.name === local) continue;
    const r = await cl(['listhblinks', n.name]);
    if (r.exitCode !== 0) continue; // the node is down: nodestatus said so
    for (const link of parseList(r, `listhblinks ${n.name}`)) links.push({ node: n.name, link, status: parseWord(await cl(['hblinkstatus', n.name, link])) || 'unknown' });
  }
  const pm = await cl(['hbparameter', '-p', 'pacemaker']);
  const pmValue = pm.exitCode === 0 ? parseWord(pm) : '';
  const pacemaker = pmValue !== '' && !/^(off|no|false|0|n)$/i.test(pmValue) ? pmValue : undefined;
  let rsc: RscState | undefined;
  let rscRaw: string | undefined;
  let groups: ResourceGroup[] | undefined;
  if (!pacemaker) {
    const r = await cl(['rscstatus']);
    rsc = parseRscstatus(r);
    rscRaw = parseWord(r) || `exit ${r.exitCode ?? 'by signal'}`;
    if (opts.haresources !== undefined) groups = parseHaresources(await readTextFile(opts.haresources, 'haresources', { signal: opts.signal }));
  }
  return { hb, local, nodes, pingNodes, links, rsc, rscRaw, pacemaker, groups };
}

export async function saveTranscript(path: string, runs: ReadonlyMap<string, Run>): Promise<void> {
  try {
    await replaceFile(path, formatTranscript(runs), 0o644);
  } catch (e) {
    throw new PluginError(`cannot write --save-input ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, State.UNKNOWN);
  }
}
