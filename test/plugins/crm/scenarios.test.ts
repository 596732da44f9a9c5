/**
 * check_ha_crm against real cluster states: CIBs built with cibadmin/crm_attribute/
 * crm_resource, states produced by Pacemaker's scheduler (crm_simulate), and the plugin
 * calling the real crm_mon with CIB_file set, both in-process (runPlugin) and as the built
 * executable. UPDATE_CRM_FIXTURES=1 rewrites plugins/crm/fixtures/ from these scenarios.
 */
import { chmod, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlugin } from '../../../nagios/plugin.ts';
import { parsePluginOutput } from '../../../nagios/output.ts';
import crm from '../../../plugins/crm/index.ts';
import { binPath, runBin as runBuilt } from '../../support/bin.ts';
import { fixturesDir } from '../../support/paths.ts';
import { freePort } from '../../support/ports.ts';
import { buildHealthyCluster, CibLab } from './lab.ts';

const FIXTURES = fixturesDir('crm');

let lab: CibLab;
/** Scenario name -> CIB file name inside the lab. */
const cib = new Map<string, string>();

interface Outcome {
  readonly code: number;
  readonly text: string;
}

function envFor(cibName: string | undefined, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, CIB_file: cibName === undefined ? undefined : lab.path(cibName), ...extra };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** The built executable, given exactly the environment runPlugin gets. */
async function runBin(args: readonly string[], env: Record<string, string | undefined>, input?: string): Promise<Outcome> {
  const r = await runBuilt('check_ha_crm', args, { baseEnv: env, input, killAfterMs: 20_000 });
  return { code: r.code ?? -1, text: r.stdout };
}

/** Runs the check in-process and as the built executable; both must agree exactly. */
async function check(scenario: string | undefined, args: readonly string[] = [], extraEnv: Record<string, string | undefined> = {}): Promise<Outcome> {
  const name = scenario === undefined ? undefined : cib.get(scenario);
  if (scenario !== undefined && name === undefined) throw new Error(`scenario ${scenario} was not built`);
  const env = envFor(name, extraEnv);
  const [inProc, bin] = await Promise.all([runPlugin(crm, args, { env }), runBin(args, env)]);
  expect(bin.text, 'dist/bin/check_ha_crm.cjs and runPlugin must print the same').toBe(inProc.text);
  expect(bin.code).toBe(inProc.exitCode);
  return { code: inProc.exitCode, text: inProc.text };
}

function perf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of parsePluginOutput(text).perfdata) out[p.label] = `${p.value}`;
  return out;
}

async function pacemakerdRunning(): Promise<boolean> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if ((await readFile(`/proc/${pid}/comm`, 'utf8')).trim() === 'pacemakerd') return true;
    } catch {
      /* gone */
    }
  }
  return false;
}

beforeAll(async () => {
  binPath('check_ha_crm');
  lab = await CibLab.create();
  const healthy = await buildHealthyCluster(lab);
  cib.set('healthy', healthy);

  const from = async (name: string, edit: (c: string) => Promise<unknown>, simulateArgs: string[] | null, execute = true): Promise<void> => {
    const c = await lab.copy(healthy, `${name}-in.xml`);
    await edit(c);
    cib.set(name, simulateArgs === null ? c : await lab.simulate(c, `${name}.xml`, simulateArgs, execute));
  };
  const none = async (): Promise<void> => {};
  await Promise.all([
    from('node-offline', none, ['--node-fail', 'node2']),
    from('node-unclean', (c) => lab.clusterProperty(c, 'stonith-enabled', 'true'), ['--node-fail', 'node2']),
    // Injected without running the transition: the resource is left FAILED.
    from('resource-failed', none, ['--op-inject', 'vip_monitor_10000@node1=1'], false),
    // Injected and recovered by the scheduler: only the failed action remains.
    from('failed-action', none, ['--op-inject', 'vip_monitor_10000@node1=7']),
    from('stopped-everywhere', (c) => lab.resourceMeta(c, 'dummy', 'migration-threshold', '1'),
      ['--op-inject', 'dummy_start_0@node1=1', '--op-inject', 'dummy_start_0@node2=1']),
    from('quorum-lost', (c) => lab.setCibAttributes(c, { 'have-quorum': '0' }), []),
    from('standby', (c) => lab.nodeAttribute(c, 'node2', 'standby', 'on'), []),
    from('maintenance-mode', (c) => lab.clusterProperty(c, 'maintenance-mode', 'true'), null),
    from('node-maintenance', (c) => lab.nodeAttribute(c, 'node2', 'maintenance', 'on'), null),
    from('unmanaged', (c) => lab.resourceMeta(c, 'vip', 'is-managed', 'false'), null),
    from('disabled', (c) => lab.resourceMeta(c, 'dummy', 'target-role', 'Stopped'), []),
    // The first member of group web disabled: the scheduler stops the members after it too.
    from('group-member-disabled', (c) => lab.resourceMeta(c, 'web-ip', 'target-role', 'Stopped'), []),
    from('banned', (c) => lab.tool(c, 'crm_resource', ['--ban', '--resource', 'vip', '--node', 'node1']), []),
    from('banned-everywhere', async (c) => {
      await lab.tool(c, 'crm_resource', ['--ban', '--resource', 'vip', '--node', 'node1']);
      await lab.tool(c, 'crm_resource', ['--ban', '--resource', 'vip', '--node', 'node2']);
    }, []),
    from('blocked', none, ['--op-inject', 'vip_monitor_10000@node1=1', '--op-fail', 'vip_stop_0@node1=1']),
    (async () => cib.set('no-promoted', await buildHealthyCluster(lab, { promoteConstraint: false, name: 'no-promoted' })))(),
    (async () => {
      // A bundle (2 podman replicas with guest nodes) and a cloned group; a second transition
      // starts the resource inside each replica once its guest node is up.
      const c = await lab.copy(healthy, 'bundle-in.xml');
      await lab.create(c, 'resources',
        '<bundle id="httpd-bundle"><podman image="localhost/httpd:latest" replicas="2"/>'
        + '<network ip-range-start="192.0.2.100" control-port="3121"><port-mapping id="httpd-port" port="80"/></network>'
        + '<primitive id="httpd" class="ocf" provider="heartbeat" type="apache"><operations><op id="httpd-mon" name="monitor" interval="30s"/></operations></primitive></bundle>');
      await lab.create(c, 'resources',
        '<clone id="grp-clone"><group id="cg"><primitive id="cg-a" class="ocf" provider="pacemaker" type="Dummy"/><primitive id="cg-b" class="ocf" provider="pacemaker" type="Dummy"/></group></clone>');
      const bundle = await lab.simulate(await lab.simulate(c, 'bundle-step1.xml'), 'bundle.xml');
      cib.set('bundle', bundle);
      const d = await lab.copy(bundle, 'bundle-degraded-in.xml');
      await lab.tool(d, 'crm_resource', ['--ban', '--resource', 'httpd-bundle', '--node', 'node2']);
      cib.set('bundle-degraded', await lab.simulate(d, 'bundle-degraded.xml'));
      // Cluster-wide maintenance-mode with guest nodes: crm_mon marks every node in maintenance.
      const m = await lab.copy(bundle, 'bundle-maintenance-in.xml');
      await lab.clusterProperty(m, 'maintenance-mode', 'true');
      cib.set('bundle-maintenance', m);
    })(),
    (async () => {
      // Three nodes, a clone kept off node3 by a location constraint: crm_mon lists a third,
      // stopped instance that can never run.
      const c = await lab.copy(healthy, 'clone-constrained-in.xml');
      await lab.create(c, 'nodes', '<node id="3" uname="node3"/>');
      await lab.create(c, 'resources', '<clone id="ping-clone"><primitive id="ping" class="ocf" provider="pacemaker" type="Dummy"/></clone>');
      await lab.create(c, 'constraints', '<rsc_location id="ping-not-on-node3" rsc="ping-clone" node="node3" score="-INFINITY"/>');
      cib.set('clone-constrained', await lab.simulate(c, 'clone-constrained.xml', ['--node-up', 'node3']));
    })(),
  ]);

  if (process.env.UPDATE_CRM_FIXTURES === '1') {
    const write = async (file: string, scenario: string, args?: string[]): Promise<void> => {
      const r = await lab.crmMon(cib.get(scenario)!, args);
      await writeFile(join(FIXTURES, file), r.stdout);
    };
    await write('healthy.xml', 'healthy');
    await write('node-offline.xml', 'node-offline');
    await write('resource-failed.xml', 'resource-failed');
    await write('failed-action.xml', 'failed-action');
    await write('stopped-everywhere.xml', 'stopped-everywhere');
    await write('quorum-lost.xml', 'quorum-lost');
    await write('standby.xml', 'standby');
    await write('maintenance-mode.xml', 'maintenance-mode');
    await write('disabled.xml', 'disabled');
    await write('no-promoted.xml', 'no-promoted');
    await write('legacy-as-xml-2.1.xml', 'resource-failed', ['--as-xml', '--inactive']);
    await write('bundle-degraded.xml', 'bundle-degraded');
    await write('clone-constrained.xml', 'clone-constrained');
    await write('group-member-disabled.xml', 'group-member-disabled');
    await write('bundle-maintenance.xml', 'bundle-maintenance');
    const notConnected = await lab.crmMon('does-not-exist.xml');
    await writeFile(join(FIXTURES, 'cib-unreadable.xml'), notConnected.stdout);
  }
});

afterAll(async () => {
  await lab?.cleanup();
});

describe('check_ha_crm on real Pacemaker states (crm_simulate + crm_mon)', () => {
  it('healthy cluster: OK with counts in perfdata', async () => {
    const r = await check('healthy');
    expect(r.code).toBe(0);
    expect(r.text).toMatch(/^CRM OK - 2 of 2 nodes online, 6 resource instances started, quorate, DC node1 \|/);
    expect(perf(r.text)).toMatchObject({ nodes_online: '2', nodes_offline: '0', nodes_standby: '0', resources_started: '6', resources_stopped: '0', resources_failed: '0', failed_actions: '0', fail_count_max: '0' });
    expect(r.text).toContain('fail_count_max=0;2;;0');
    // Promotion as the scheduler decided it, as gauges a cluster rule counts.
    expect(perf(r.text)).toMatchObject({ 'db-clone@node1_promoted': '1', 'db-clone@node2_promoted': '0', node1_promoted: '1', node2_promoted: '0' });
    expect(r.text).toContain('[OK] clone db-clone: promoted on node1, unpromoted on node2 (promotable clone of ocf:pacemaker:Stateful)');
    expect(r.text).toContain('[OK] STONITH: disabled (stonith-enabled=false)');
  });

  it('node offline: CRITICAL', async () => {
    const r = await check('node-offline');
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/^CRM CRITICAL - node node2: OFFLINE/);
    expect(perf(r.text)).toMatchObject({ nodes_online: '1', nodes_offline: '1' });
  });

  it('node unclean (failed, not fenced): CRITICAL', async () => {
    const r = await check('node-unclean');
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/^CRM CRITICAL - node node2: UNCLEAN \(offline\)/);
    expect(r.text).toContain('stonith-enabled=true but no fencing device is configured');
  });

  it('failed resource: CRITICAL, with the failed action listed', async () => {
    const r = await check('resource-failed');
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/^CRM CRITICAL - resource vip: FAILED on node1/);
    expect(r.text).toMatch(/failed action: vip monitor \(every 10s\) on node1 returned error \(rc=1\): Simulated action result at /);
    expect(perf(r.text)).toMatchObject({ resources_failed: '1', failed_actions: '1', fail_count_max: '1' });
  });

  it('recovered failure still recorded: WARNING (or as --failed-action-state says)', async () => {
    const r = await check('failed-action');
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/^CRM WARNING - failed action: vip monitor \(every 10s\) on node1 returned not running \(rc=7\): Simulated action result at /);
    const ok = await check('failed-action', ['--failed-action-state', 'OK']);
    expect(ok.code).toBe(0);
    const crit = await check('failed-action', ['--failed-action-state', 'critical']);
    expect(crit.code).toBe(2);
  });

  it('fail-count thresholds: -w/-c judge the highest fail-count and appear in perfdata', async () => {
    const w = await check('failed-action', ['--failed-action-state', 'OK', '-w', '0']);
    expect(w.code).toBe(1);
    expect(w.text).toMatch(/^CRM WARNING - fail-count: highest 1 \(vip on node1\), alert when above 0/);
    const c = await check('failed-action', ['-w', '0', '-c', '0']);
    expect(c.code).toBe(2);
    expect(c.text).toContain('fail_count_max=1;0;0;0');
    const bad = await check('failed-action', ['-w', 'abc']);
    expect(bad.code).toBe(3);
    expect(bad.text.trim().split('\n')).toHaveLength(1);
  });

  it('resource stopped everywhere: CRITICAL naming the cause', async () => {
    const r = await check('stopped-everywhere');
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/^CRM CRITICAL - resource dummy: stopped but should be running \(fail-count reached migration-threshold on node1, node2\)/);
    expect(r.text).toContain('[WARNING] resource dummy: banned from node1: fail-count 1 reached migration-threshold 1');
    expect(perf(r.text)).toMatchObject({ resources_stopped: '1', resources_started: '5', failed_actions: '2' });
  });

  it('--ignore-resource (name or glob) leaves a resource and its failures out', async () => {
    for (const pattern of ['dummy', 'd?mm*', 'vip,dummy']) {
      const r = await check('stopped-everywhere', ['--ignore-resource', pattern]);
      expect(r.code, pattern).toBe(0);
      expect(r.text).toMatch(/\[OK\] resources: \d+ started, ignored: (vip, )?dummy\n/);
      expect(r.text).toContain('[OK] failed actions: none, 2 left out (ignored resources)');
      expect(perf(r.text)).toMatchObject({ resources_stopped: '0', failed_actions: '0', fail_count_max: '0' });
    }
  });

  it('quorum lost: CRITICAL, quorum named first', async () => {
    const r = await check('quorum-lost');
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/^CRM CRITICAL - quorum: partition WITHOUT quorum \(no-quorum-policy=stop, DC node1\), resource vip: stopped but should be running \(no quorum\)/);
    expect(perf(r.text)).toMatchObject({ resources_started: '0', resources_stopped: '6' });
  });

  it('node in standby: WARNING', async () => {
    const r = await check('standby');
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/^CRM WARNING - node node2: standby/);
    expect(r.text).toContain('clone db-clone: 1 of 2 instances running (node2 standby)');
    expect(perf(r.text)).toMatchObject({ nodes_standby: '1' });
  });

  it('maintenance-mode: WARNING, without one unmanaged warning per resource', async () => {
    const r = await check('maintenance-mode');
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/^CRM WARNING - maintenance-mode: on/);
    // Said once, on the cluster line: not again on every resource (issue 9 item 11).
    expect(r.text).toContain('[OK] resource vip: Started on node1 (ocf:heartbeat:IPaddr2)\n');
    const long = r.text.split('\n').slice(1).join('\n');
    expect(long.match(/maintenance/g)).toHaveLength(1);
  });

  it('maintenance-mode with guest nodes (a bundle): said once, not again for every guest node (issue 9 item 11)', async () => {
    const r = await check('bundle-maintenance');
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/^CRM WARNING - maintenance-mode: on: the cluster does not start, stop or recover any resource \|/);
    expect(r.text).toContain('[OK] nodes: 4 of 4 online\n');
    expect(r.text).toContain('[OK] node httpd-bundle-0: online, guest node in httpd-bundle-podman-0, 1 resource running');
    expect(r.text.split(' | ')[0]!.match(/maintenance/g)).toHaveLength(1);
    const long = r.text.split('\n').slice(1).join('\n');
    expect(long.match(/maintenance/g)).toHaveLength(1);
    // crm_mon marks the guest nodes in maintenance: still counted in the perfdata.
    expect(perf(r.text)).toMatchObject({ nodes_maintenance: '2' });
  });

  it('a group member stopped because an earlier member is disabled says so, and is not a failure (issue 9 item 11)', async () => {
    const r = await check('group-member-disabled');
    expect(r.code).toBe(0);
    expect(r.text).toContain('  [OK] group web: stopped (member web-ip is disabled)');
    expect(r.text).toContain('    [OK] resource web-ip: Stopped (disabled: target-role=Stopped) (ocf:heartbeat:IPaddr2)');
    expect(r.text).toContain('    [OK] resource web-srv: Stopped because the earlier group member web-ip is disabled (ocf:heartbeat:apache)');
    expect(r.text).not.toContain('should be running');
    expect(perf(r.text)).toMatchObject({ resources_stopped: '0', resources_disabled: '2' });
  });

  it('node in maintenance: WARNING', async () => {
    const r = await check('node-maintenance');
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/^CRM WARNING - node node2: maintenance/);
    expect(perf(r.text)).toMatchObject({ nodes_maintenance: '1' });
  });

  it('unmanaged resource (is-managed=false): WARNING', async () => {
    const r = await check('unmanaged');
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/^CRM WARNING - resource vip: unmanaged on node1/);
  });

  it('target-role=Stopped is disabled on purpose: OK, listed in the long output', async () => {
    const r = await check('disabled');
    expect(r.code).toBe(0);
    expect(r.text).toContain('[OK] resource dummy: Stopped (disabled: target-role=Stopped) (ocf:pacemaker:Dummy)');
    expect(perf(r.text)).toMatchObject({ resources_disabled: '1', resources_stopped: '0' });
  });

  it('promotable clone without a promoted instance: CRITICAL', async () => {
    const r = await check('no-promoted');
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/^CRM CRITICAL - clone db-clone: no promoted instance, unpromoted on node1, node2/);
    expect(perf(r.text)).toMatchObject({ 'db-clone@node1_promoted': '0', 'db-clone@node2_promoted': '0', node1_promoted: '0', node2_promoted: '0' });
  });

  it('blocked resource (failed stop, no fencing): CRITICAL for the failure, blocked named', async () => {
    const r = await check('blocked');
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/^CRM CRITICAL - resource vip: FAILED on node1, blocked on node1/);
  });

  it('bundles and cloned groups: replicas and instances counted, guest nodes judged through their container', async () => {
    const ok = await check('bundle');
    expect(ok.code).toBe(0);
    expect(ok.text).toContain('[OK] bundle httpd-bundle: started on node1, node2 (bundle of localhost/httpd:latest)');
    expect(ok.text).toContain('[OK] clone grp-clone: started on node1, node2 (clone of group cg)');
    expect(ok.text).toContain('[OK] node httpd-bundle-0: online, guest node in httpd-bundle-podman-0');
    // clone-max defaults to the node count, guest nodes included: the two extra group
    // instances crm_mon lists as stopped can never run and are not reported.
    expect(perf(ok.text)).toMatchObject({ resources_stopped: '0' });
    const degraded = await check('bundle-degraded');
    expect(degraded.code).toBe(1);
    expect(degraded.text).toMatch(/^CRM WARNING - bundle httpd-bundle: 1 of 2 replicas running \(banned from node2 by cli-ban-httpd-bundle-on-node2\), started on node1/);
    expect(degraded.text).toContain('[OK] node httpd-bundle-1: guest node offline (judged through resource httpd-bundle-podman-1)');
    expect(await check('bundle-degraded', ['--expect-resource', 'httpd@node1'])).toMatchObject({ code: 1 });
  });

  it('a clone kept off a node by a constraint is not reported as degraded', async () => {
    const r = await check('clone-constrained');
    expect(r.code).toBe(0);
    expect(r.text).toContain('[OK] clone ping-clone: started on node1, node2 (clone of ocf:pacemaker:Dummy)');
  });

  it('bans are listed; --expect-resource sees a resource that moved', async () => {
    const r = await check('banned');
    expect(r.code).toBe(0);
    expect(r.text).toContain('[OK] ban cli-ban-vip-on-node1: vip kept off node1 (score -INFINITY)');
    const moved = await check('banned', ['--expect-resource', 'vip@node1']);
    expect(moved.code).toBe(1);
    expect(moved.text).toMatch(/^CRM WARNING - expected vip@node1: running on node2, expected on node1/);
    const either = await check('banned', ['--expect-resource', 'vip@node1,node2']);
    expect(either.code).toBe(0);
    const everywhere = await check('banned-everywhere');
    expect(everywhere.code).toBe(2);
    expect(everywhere.text).toMatch(/resource vip: stopped but should be running \(banned from node1, node2 by cli-ban-vip-on-node1, cli-ban-vip-on-node2\)/);
  });

  it('--expect-resource with roles, groups, clones and unknown names', async () => {
    const ok = await check('healthy', ['--expect-resource', 'db-clone:promoted@node1', '--expect-resource', 'db:unpromoted@node2', '--expect-resource', 'web@node2', '--expect-resource', 'db-clone@node1,node2', '--expect-resource', 'dummy']);
    expect(ok.code).toBe(0);
    expect(ok.text).toContain('[OK] expected db-clone:promoted@node1: promoted on node1');
    const wrong = await check('healthy', ['--expect-resource', 'db-clone:promoted@node2']);
    expect(wrong.code).toBe(1);
    expect(wrong.text).toMatch(/^CRM WARNING - expected db-clone:promoted@node2: not promoted on node2 \(promoted on node1\)/);
    const missing = await check('healthy', ['--expect-resource', 'nosuch']);
    expect(missing.code).toBe(2);
    expect(missing.text).toMatch(/^CRM CRITICAL - expected nosuch: resource nosuch is not in the cluster status/);
    const none = await check('no-promoted', ['--expect-resource', 'db-clone:master']);
    expect(none.text).toContain('expected db-clone:master: not promoted anywhere');
    const bad = await check('healthy', ['--expect-resource', 'vip:sideways@node1']);
    expect(bad.code).toBe(3);
    expect(bad.text).toMatch(/^CRM UNKNOWN - invalid --expect-resource vip:sideways@node1: unknown role sideways/);
  });

  it('--require-stonith turns disabled STONITH into a WARNING', async () => {
    const r = await check('healthy', ['--require-stonith']);
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/^CRM WARNING - STONITH: disabled \(stonith-enabled=false\)/);
  });

  it('--ignore-node stops judging a node', async () => {
    const r = await check('node-offline', ['--ignore-node', 'node2']);
    expect(r.text).toContain('[OK] node node2: ignored (OFFLINE)');
    expect(r.text).not.toMatch(/^CRM CRITICAL - node node2/);
  });

  it('--cib-file reads a saved CIB without the CIB_file variable; -v names the source', async () => {
    const r = await check(undefined, ['--cib-file', lab.path(cib.get('healthy')!), '-v']);
    expect(r.code).toBe(0);
    expect(r.text).toContain(`[OK] source: /usr/sbin/crm_mon --output-as=xml --inactive (CIB_file=${lab.path(cib.get('healthy')!)})`);
  });

  it('Pacemaker 1.1 crm_mon (no --output-as): falls back to --as-xml and reads the legacy schema', async () => {
    // Behaves as crm_mon 1.1 does for an unknown option, then hands over to the real crm_mon.
    for (const [name, onModern] of [
      ['crm_mon_11', `echo "crm_mon: unrecognized option '$a'" >&2; exit 64`],
      ['crm_mon_200', `echo "crm_mon: unrecognized option '$a'" >&2; echo "usage: crm_mon mode [options]"; exit 0`],
    ] as const) {
      const wrapper = lab.path(name);
      await writeFile(wrapper, `#!/bin/sh\nfor a in "$@"; do case "$a" in --output-as*) ${onModern};; esac; done\nexec /usr/sbin/crm_mon "$@"\n`);
      await chmod(wrapper, 0o755);
      const r = await check('resource-failed', ['--crm-mon', wrapper]);
      expect(r.code, name).toBe(2);
      expect(r.text).toMatch(/^CRM CRITICAL - resource vip: FAILED on node1/);
      expect(r.text).toMatch(/\[OK\] cluster: quorate, crm_mon \d+\.\d+\.\d+ legacy XML/);
    }
  });

  it('cluster unreachable: CRITICAL with crm_mon\'s reason', async () => {
    const port = await freePort();
    const remote = await check(undefined, [], { CIB_server: '127.0.0.1', CIB_port: String(port), CIB_user: 'hawatch', CIB_passwd: 'x' });
    expect(remote.code).toBe(2);
    expect(remote.text).toBe('CRM CRITICAL - cannot connect to the cluster on this node: Could not connect to the CIB: Transport endpoint is not connected, is Pacemaker running (systemctl status pacemaker corosync)?\n');
    if (await pacemakerdRunning()) throw new Error('a live pacemakerd runs on this machine: this test expects no cluster stack here');
    const local = await check(undefined);
    expect(local.code).toBe(2);
    expect(local.text).toMatch(/^CRM CRITICAL - cannot connect to the cluster on this node: Connection to cluster failed: Connection refused/);
  });

  it('an unreadable saved CIB is UNKNOWN, not a cluster outage', async () => {
    const r = await check(undefined, [], { CIB_file: lab.path('does-not-exist.xml') });
    expect(r.code).toBe(3);
    expect(r.text).toMatch(/^CRM UNKNOWN - crm_mon could not read the saved CIB .*does-not-exist.xml \(CIB_file\): Could not connect to the CIB: No such device or address\n$/);
  });

  it('missing crm_mon: UNKNOWN naming pacemaker-cli-utils', async () => {
    const abs = await check('healthy', ['--crm-mon', '/nonexistent/crm_mon']);
    expect(abs.code).toBe(3);
    expect(abs.text).toBe('CRM UNKNOWN - /nonexistent/crm_mon was not found: install pacemaker-cli-utils (Debian/Ubuntu, pacemaker-cli on RHEL/SUSE) or give its path with --crm-mon\n');
    const byName = await check('healthy', ['--crm-mon', 'crm_mon_not_installed'], { PATH: '/nonexistent' });
    expect(byName.code).toBe(3);
    expect(byName.text).toMatch(/^CRM UNKNOWN - crm_mon_not_installed was not found in PATH or .*\/usr\/sbin, .*install pacemaker-cli-utils/);
    // NRPE often runs checks with PATH=/usr/bin:/bin: crm_mon is still found in /usr/sbin.
    const restricted = await check('healthy', [], { PATH: '/usr/bin:/bin' });
    expect(restricted.code).toBe(0);
  });

  it('bad input and bad options: UNKNOWN with one clear line', async () => {
    const healthyXml = (await lab.crmMon(cib.get('healthy')!)).stdout;
    const cases: [string, string, RegExp][] = [
      ['garbage.txt', 'this is not xml at all\n', /^CRM UNKNOWN - the input is not XML \(it starts with this is not xml at all\)/],
      ['empty.txt', '', /^CRM UNKNOWN - the crm_mon output is empty \(from --input-file\)/],
      ['truncated.xml', healthyXml.slice(0, Math.floor(healthyXml.length / 2)), /^CRM UNKNOWN - the crm_mon XML is malformed or truncated at line \d+: /],
      ['other.xml', '<?xml version="1.0"?><html><body/></html>', /^CRM UNKNOWN - unexpected XML document html/],
      ['no-summary.xml', '<pacemaker-result api-version="2.25"><status code="0" message="OK"/></pacemaker-result>', /^CRM UNKNOWN - the crm_mon XML has no summary/],
    ];
    for (const [file, content, re] of cases) {
      await writeFile(lab.path(file), content);
      const r = await check(undefined, ['--input-file', lab.path(file)]);
      expect(r.code, file).toBe(3);
      expect(r.text, file).toMatch(re);
      expect(r.text.trim().split('\n'), file).toHaveLength(1);
    }
    const cibAsInput = await check(undefined, ['--input-file', lab.path(cib.get('healthy')!)]);
    expect(cibAsInput.text).toMatch(/^CRM UNKNOWN - the input is a CIB \(cib.xml\), not crm_mon output: use --cib-file PATH/);
    const missing = await check(undefined, ['--input-file', lab.path('nope.xml')]);
    expect(missing.text).toMatch(/^CRM UNKNOWN - cannot read input file .*nope.xml: no such file\n$/);
    const unknown = await check('healthy', ['--frobnicate']);
    expect(unknown.code).toBe(3);
    expect(unknown.text).toBe('CRM UNKNOWN - unknown option --frobnicate, see check_ha_crm --help\n');
    const both = await check('healthy', ['--sudo', '--cib-file', '/tmp/x.xml']);
    expect(both.text).toBe('CRM UNKNOWN - --sudo and --cib-file cannot be combined: sudo drops the CIB_file variable\n');
  });

  it('--sudo runs exactly the command line the documented sudoers rule allows', async () => {
    // A stand-in for sudo (not installed here): records its argv, then runs the rest like sudo -n would.
    const dir = lab.path('');
    const log = lab.path('sudo.log');
    await writeFile(lab.path('sudo'), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${log}\n[ "$1" = -n ] || exit 9\nshift\nexec "$@"\n`);
    await chmod(lab.path('sudo'), 0o755);
    const r = await check('healthy', ['--sudo'], { PATH: `${dir}:/usr/bin:/bin` });
    expect(r.code).toBe(0);
    const calls = (await readFile(log, 'utf8')).trim().split('\n');
    expect(new Set(calls)).toEqual(new Set(['-n /usr/sbin/crm_mon --output-as=xml --inactive']));
    await writeFile(lab.path('sudo'), '#!/bin/sh\necho "sudo: a password is required" >&2\nexit 1\n');
    const refused = await check('healthy', ['--sudo'], { PATH: `${dir}:/usr/bin:/bin` });
    expect(refused.code).toBe(3);
    expect(refused.text).toBe('CRM UNKNOWN - sudo refused to run crm_mon (sudo: a password is required): add the sudoers rule from the README\n');
  });

  it('a hanging crm_mon is killed when -t expires: UNKNOWN, never a hang', async () => {
    const hang = lab.path('crm_mon_hang');
    await writeFile(hang, '#!/bin/sh\nexec sleep 30\n');
    await chmod(hang, 0o755);
    const started = Date.now();
    const env = envFor(cib.get('healthy'));
    // Not check(): the sub-timeout printed depends on the start-up time of each run.
    const [inProc, bin] = await Promise.all([runPlugin(crm, ['--crm-mon', hang, '-t', '1'], { env }), runBin(['--crm-mon', hang, '-t', '1'], env)]);
    expect(Date.now() - started).toBeLessThan(5000);
    for (const r of [{ code: inProc.exitCode, text: inProc.text }, bin]) {
      expect(r.code).toBe(3);
      expect(r.text).toMatch(/^CRM UNKNOWN - plugin timed out after 1 s while running .*crm_mon_hang \(raise -t, or check why the data source is slow\)\n$/);
    }
  });

  it('--input-file - reads crm_mon XML from stdin (executable)', async () => {
    const xml = (await lab.crmMon(cib.get('node-offline')!)).stdout;
    const r = await runBin(['--input-file', '-'], envFor(undefined), xml);
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/^CRM CRITICAL - node node2: OFFLINE/);
  });

  it('--help documents the options and the sudoers rule', async () => {
    const r = await check(undefined, ['--help']);
    expect(r.code).toBe(3);
    for (const s of ['--ignore-resource', '--expect-resource', '--crm-mon', '--cib-file', '--require-stonith', '--failed-action-state', '--sudo', 'haclient', 'NOPASSWD: /usr/sbin/crm_mon --output-as=xml --inactive']) {
      expect(r.text).toContain(s);
    }
  });
});
