/**
 * Real Pacemaker cluster states, made on one machine with Pacemaker's own tools: cibadmin,
 * crm_attribute and crm_resource edit a CIB file (CIB_file=...), crm_simulate runs the real
 * scheduler on it and writes the resulting status, crm_mon reads it back.
 */
import { execFile } from 'node:child_process';
import { access, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TOOLS = ['crm_mon', 'cibadmin', 'crm_attribute', 'crm_resource', 'crm_simulate'] as const;
const SBIN = '/usr/sbin';

/** Fails (never skips) when a tool is missing, naming the Debian package. */
export async function requireTools(): Promise<void> {
  for (const t of TOOLS) {
    try {
      await access(join(SBIN, t));
    } catch {
      throw new Error(`${SBIN}/${t} is missing: install the Debian packages pacemaker and pacemaker-cli-utils (apt-get install pacemaker pacemaker-cli-utils)`);
    }
  }
}

export interface ToolResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

function run(file: string, args: readonly string[], env: Record<string, string | undefined>): Promise<ToolResult> {
  const merged: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return new Promise((resolve) => {
    execFile(join(SBIN, file), [...args], { env: merged, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ stdout, stderr, code });
    });
  });
}

export class CibLab {
  readonly dir: string;
  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(): Promise<CibLab> {
    await requireTools();
    return new CibLab(await mkdtemp(join(tmpdir(), 'hawatch-crm-')));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Runs a Pacemaker tool on the CIB file `cib` (through CIB_file); throws on failure. */
  async tool(cib: string, file: string, args: readonly string[]): Promise<string> {
    const r = await run(file, args, { CIB_file: this.path(cib) });
    if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} (CIB_file=${cib}) failed with ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  async copy(from: string, to: string): Promise<string> {
    await copyFile(this.path(from), this.path(to));
    return to;
  }

  async empty(name: string): Promise<string> {
    const r = await run('cibadmin', ['--empty'], { CIB_file: undefined });
    if (r.code !== 0) throw new Error(`cibadmin --empty failed: ${r.stderr}`);
    await writeFile(this.path(name), r.stdout);
    return name;
  }

  create(cib: string, section: string, xml: string): Promise<string> {
    return this.tool(cib, 'cibadmin', ['--create', '--scope', section, '--xml-text', xml]);
  }

  /** Sets attributes of the <cib> element itself: have-quorum, dc-uuid. */
  setCibAttributes(cib: string, attrs: Record<string, string>): Promise<string> {
    const text = Object.entries(attrs).map(([k, v]) => `${k}="${v}"`).join(' ');
    return this.tool(cib, 'cibadmin', ['--modify', '--xml-text', `<cib ${text}/>`]);
  }

  clusterProperty(cib: string, name: string, value: string): Promise<string> {
    return this.tool(cib, 'crm_attribute', ['--type', 'crm_config', '--name', name, '--update', value]);
  }

  nodeAttribute(cib: string, node: string, name: string, value: string): Promise<string> {
    return this.tool(cib, 'crm_attribute', ['--node', node, '--name', name, '--update', value]);
  }

  resourceMeta(cib: string, rsc: string, name: string, value: string): Promise<string> {
    return this.tool(cib, 'crm_resource', ['--resource', rsc, '--meta', '--set-parameter', name, '--parameter-value', value]);
  }

  /** Runs the scheduler on `from` (with crm_simulate's injections) and writes the result to `to`. */
  async simulate(from: string, to: string, args: readonly string[] = [], execute = true): Promise<string> {
    const r = await run('crm_simulate', ['--xml-file', this.path(from), '--save-output', this.path(to), ...(execute ? ['--simulate'] : []), ...args], { CIB_file: undefined });
    if (r.code !== 0) throw new Error(`crm_simulate ${args.join(' ')} failed with ${r.code}: ${r.stderr.trim()}`);
    return to;
  }

  /** crm_mon's own XML for a CIB file, as the plugin would get it. */
  async crmMon(cib: string, args: readonly string[] = ['--output-as=xml', '--inactive']): Promise<ToolResult> {
    return run('crm_mon', args, { CIB_file: this.path(cib) });
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A two-node cluster (node1 DC, quorate, STONITH disabled) with a VIP, a group (IP + apache),
 * a promotable clone of ocf:pacemaker:Stateful preferring node1 for the promoted role, and a
 * Dummy, every resource started by the real scheduler. Written as `healthy.xml`.
 *
 * Without the location constraint for role Promoted nothing would be promoted: Stateful's
 * promotion score comes from the agent, which crm_simulate never runs.
 */
export async function buildHealthyCluster(lab: CibLab, opts: { promoteConstraint?: boolean; name?: string } = {}): Promise<string> {
  const base = await lab.empty(`${opts.name ?? 'healthy'}-config.xml`);
  await lab.create(base, 'nodes', '<node id="1" uname="node1"/>');
  await lab.create(base, 'nodes', '<node id="2" uname="node2"/>');
  await lab.clusterProperty(base, 'stonith-enabled', 'false');
  await lab.create(base, 'resources',
    '<primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2">'
    + '<instance_attributes id="vip-ia"><nvpair id="vip-ip" name="ip" value="192.0.2.10"/><nvpair id="vip-cidr" name="cidr_netmask" value="24"/></instance_attributes>'
    + '<operations><op id="vip-mon" name="monitor" interval="10s"/></operations></primitive>');
  await lab.create(base, 'resources',
    '<group id="web">'
    + '<primitive id="web-ip" class="ocf" provider="heartbeat" type="IPaddr2"><instance_attributes id="web-ip-ia"><nvpair id="web-ip-ip" name="ip" value="192.0.2.11"/></instance_attributes>'
    + '<operations><op id="web-ip-mon" name="monitor" interval="10s"/></operations></primitive>'
    + '<primitive id="web-srv" class="ocf" provider="heartbeat" type="apache"><operations><op id="web-srv-mon" name="monitor" interval="20s"/></operations></primitive>'
    + '</group>');
  await lab.create(base, 'resources',
    '<clone id="db-clone"><meta_attributes id="db-clone-meta"><nvpair id="db-clone-promotable" name="promotable" value="true"/><nvpair id="db-clone-pmax" name="promoted-max" value="1"/></meta_attributes>'
    + '<primitive id="db" class="ocf" provider="pacemaker" type="Stateful"><operations>'
    + '<op id="db-mon-promoted" name="monitor" interval="10s" role="Promoted"/><op id="db-mon-unpromoted" name="monitor" interval="11s" role="Unpromoted"/>'
    + '</operations></primitive></clone>');
  await lab.create(base, 'resources',
    '<primitive id="dummy" class="ocf" provider="pacemaker" type="Dummy"><operations><op id="dummy-mon" name="monitor" interval="30s"/></operations></primitive>');
  if (opts.promoteConstraint ?? true) {
    await lab.create(base, 'constraints', '<rsc_location id="db-promoted-on-node1" rsc="db-clone" role="Promoted" node="node1" score="100"/>');
  }
  // A CIB made by hand has no DC and no quorum flag; a live cluster's DC writes both.
  await lab.setCibAttributes(base, { 'have-quorum': '1', 'dc-uuid': '1' });
  return lab.simulate(base, `${opts.name ?? 'healthy'}.xml`, ['--node-up', 'node1', '--node-up', 'node2']);
}
