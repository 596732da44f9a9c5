/**
 * The pure verdicts: fixtures of real states in, states and texts out; option parsing; the
 * mapping of crm_mon failures.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseThresholds } from '../../../nagios/range.ts';
import { effectiveState, render } from '../../../nagios/result.ts';
import { State } from '../../../nagios/states.ts';
import { describeFailure, evaluate, parseExpectation, type EvalOptions } from '../../../plugins/crm/evaluate.ts';
import { describeCrmMonFailure, isOldCrmMonUsageError, mainMessage } from '../../../plugins/crm/failure.ts';
import { parseCrmMon, type ClusterStatus, type Primitive } from '../../../plugins/crm/parse.ts';
import { parsePerfdata } from '../../../nagios/perfdata.ts';
import { globToRegExp } from '../../../plugins/lib/glob.ts';
import { fixturesDir } from '../../support/paths.ts';

const FIXTURES = fixturesDir('crm');
const load = (name: string): ClusterStatus => parseCrmMon(readFileSync(join(FIXTURES, name), 'utf8'));

const DEFAULTS: EvalOptions = {
  ignoreResources: [],
  ignoreNodes: [],
  expectations: [],
  failCount: parseThresholds('2'),
  requireStonith: false,
  failedActionState: State.WARNING,
};

function verdict(name: string, opts: Partial<EvalOptions> = {}): { state: number; text: string } {
  const r = evaluate(load(name), { ...DEFAULTS, ...opts });
  return { state: effectiveState(r), text: render(r, { prefix: 'CRM' }).text };
}

describe('evaluate: one verdict per real state', () => {
  it.each([
    ['healthy.xml', State.OK],
    ['node-offline.xml', State.CRITICAL],
    ['resource-failed.xml', State.CRITICAL],
    ['failed-action.xml', State.WARNING],
    ['stopped-everywhere.xml', State.CRITICAL],
    ['quorum-lost.xml', State.CRITICAL],
    ['standby.xml', State.WARNING],
    ['maintenance-mode.xml', State.WARNING],
    ['disabled.xml', State.OK],
    ['no-promoted.xml', State.CRITICAL],
    ['bundle-degraded.xml', State.WARNING],
    ['clone-constrained.xml', State.OK],
    ['legacy-as-xml-2.1.xml', State.CRITICAL],
    ['pacemaker-1.1.18.xml', State.CRITICAL],
    ['pacemaker-1.1.12.xml', State.OK],
  ])('%s -> %i', (name, state) => {
    expect(verdict(name).state).toBe(state);
  });

  it('Pacemaker 1.1.18: a stopped fence device, a degraded master/slave set, a standby node, a failed action', () => {
    const { text } = verdict('pacemaker-1.1.18.xml');
    expect(text).toMatch(/^CRM CRITICAL - resource fence-node-a: stopped but should be running \(node-b standby\), node node-b: standby/);
    expect(text).toContain('[WARNING] clone ms_drbd_r0: 1 of 2 instances running (node-b standby), promoted on node-a');
    expect(text).toContain('[WARNING] failed action: nfsserver monitor (every 10s) on node-a returned not running (rc=7) at Tue Jul 10 13:41:07 2018');
    expect(text).toContain('[OK] STONITH: enabled, 1 of 2 fencing devices running');
    expect(text).toContain('[OK] cluster: quorate, stack corosync, crm_mon 1.1.18 legacy XML');
  });

  it('an empty cluster is UNKNOWN', () => {
    const s = { ...load('healthy.xml'), nodes: [], resources: [] };
    const r = evaluate(s, DEFAULTS);
    expect(effectiveState(r)).toBe(State.UNKNOWN);
    expect(render(r, { prefix: 'CRM' }).text).toMatch(/^CRM UNKNOWN - crm_mon lists no nodes/);
  });

  it('stop-all-resources: resources are disabled on purpose, the setting itself warns', () => {
    const base = load('quorum-lost.xml');
    const s: ClusterStatus = { ...base, dc: { ...base.dc, withQuorum: true }, options: { ...base.options, stopAllResources: true } };
    const { state, text } = { state: effectiveState(evaluate(s, DEFAULTS)), text: render(evaluate(s, DEFAULTS), { prefix: 'CRM' }).text };
    expect(state).toBe(State.WARNING);
    expect(text).toMatch(/^CRM WARNING - stop-all-resources: /);
    expect(text).toContain('[OK] resource vip: Stopped (disabled: stop-all-resources)');
  });

  it('a primitive active on two nodes is CRITICAL (multiple-active)', () => {
    const base = load('healthy.xml');
    const s: ClusterStatus = { ...base, resources: base.resources.map((r) => (r.id === 'vip' && r.kind === 'primitive' ? { ...r, nodes: ['node1', 'node2'] } : r)) };
    expect(render(evaluate(s, DEFAULTS), { prefix: 'CRM' }).text).toMatch(/^CRM CRITICAL - resource vip: active on 2 nodes at once \(node1, node2\): multiple-active/);
  });

  it('fail-count INFINITY with the default migration-threshold bans the resource from the node', () => {
    const s = parseCrmMon(readFileSync(join(FIXTURES, 'failed-action.xml'), 'utf8').replace('fail-count="1"', 'fail-count="INFINITY"'));
    const text = render(evaluate(s, DEFAULTS), { prefix: 'CRM' }).text;
    expect(text).toContain('fail_count_max=1000000;2;;0');
    expect(text).toContain('[WARNING] fail-count: highest INFINITY (vip on node1), alert when above 2');
    expect(text).toContain('banned from node1: fail-count INFINITY reached migration-threshold INFINITY');
  });
});

describe('option parsing', () => {
  it('parseExpectation', () => {
    expect(parseExpectation('vip')).toEqual({ resource: 'vip', role: undefined, nodes: [], text: 'vip' });
    expect(parseExpectation('vip@node1,node2')).toMatchObject({ resource: 'vip', nodes: ['node1', 'node2'] });
    expect(parseExpectation('ms_drbd:Master@node-a')).toMatchObject({ resource: 'ms_drbd', role: 'promoted', nodes: ['node-a'] });
    expect(parseExpectation('db:slave')).toMatchObject({ role: 'unpromoted', nodes: [] });
    expect(() => parseExpectation('vip@')).toThrow(/no node after @/);
    expect(() => parseExpectation('vip:sideways')).toThrow(/unknown role sideways/);
    expect(() => parseExpectation('a b')).toThrow(/bad syntax/);
  });

  it('globToRegExp', () => {
    expect(globToRegExp('test-*').test('test-vip')).toBe(true);
    expect(globToRegExp('test-*').test('prod-test-vip')).toBe(false);
    expect(globToRegExp('db?').test('db1')).toBe(true);
    expect(globToRegExp('db[12]').test('db3')).toBe(false);
    expect(globToRegExp('db[!12]').test('db3')).toBe(true);
    expect(globToRegExp('a.b+c').test('a.b+c')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });

  it('describeFailure', () => {
    expect(describeFailure({ opKey: 'x_monitor_3600000', resource: 'x', node: 'n', task: 'monitor', intervalMs: 3_600_000, exitStatus: 'error', exitCode: 1, status: 'Timed Out', exitReason: 'slow' }))
      .toBe('x monitor (every 1h) on n returned error (rc=1), Timed Out: slow');
    expect(describeFailure({ opKey: 'x_start_0', resource: 'x', node: 'n', task: 'start', intervalMs: 0, exitStatus: 'not installed' }))
      .toBe('x start on n returned not installed');
  });
});

describe('describeCrmMonFailure', () => {
  it('maps "not connected" to CRITICAL, with a group hint for non-root users', () => {
    const v = describeCrmMonFailure({ code: 102, messages: ['error: Could not connect to launcher: Connection refused', 'crm_mon: Connection to cluster failed: Connection refused'], user: 'nagios' });
    expect(v.state).toBe(State.CRITICAL);
    expect(v.message).toBe("cannot connect to the cluster on this node: Connection to cluster failed: Connection refused; is Pacemaker running (systemctl status pacemaker corosync)?; if Pacemaker does run here, user 'nagios' may lack the haclient group");
  });

  it('maps Pacemaker 1.1 texts on stdout (errno exit codes) to CRITICAL', () => {
    expect(describeCrmMonFailure({ code: 107, messages: ['', '\nError: cluster is not available on this node\n'] })).toEqual({
      state: State.CRITICAL,
      message: 'cannot connect to the cluster on this node: cluster is not available on this node; is Pacemaker running (systemctl status pacemaker corosync)?',
    });
  });

  it('maps permission problems to UNKNOWN with what to do', () => {
    for (const f of [{ code: 4, messages: ['crm_mon: Insufficient privileges'] }, { code: 1, messages: ['Connection to cluster failed: Permission denied'] }]) {
      const v = describeCrmMonFailure({ ...f, user: 'nagios' });
      expect(v.state).toBe(State.UNKNOWN);
      expect(v.message).toMatch(/^crm_mon was denied access to the cluster \(.*\): run the check as root, add user 'nagios' to the haclient group, or use --sudo/);
    }
  });

  it('a saved CIB that cannot be read is UNKNOWN; other failures name the exit status', () => {
    expect(describeCrmMonFailure({ code: 0, messages: ['Could not connect to the CIB: No such device or address'], cibFile: '/x.xml' }).state).toBe(State.UNKNOWN);
    expect(describeCrmMonFailure({ code: 124, messages: ['Timed out'] }).message).toMatch(/^crm_mon timed out/);
    expect(describeCrmMonFailure({ code: 70, messages: ['something odd'] })).toEqual({ state: State.UNKNOWN, message: 'crm_mon failed (exit status 70): something odd' });
    expect(describeCrmMonFailure({ code: null, messages: [] }).message).toBe('crm_mon failed (killed by a signal): no error message');
  });

  it('recognises a crm_mon that predates --output-as', () => {
    expect(isOldCrmMonUsageError(64, "crm_mon: unrecognized option '--output-as=xml'")).toBe(true);
    expect(isOldCrmMonUsageError(0, "crm_mon: unrecognized option '--output-as=xml'\nusage: ...")).toBe(true);
    expect(isOldCrmMonUsageError(102, '<pacemaker-result api-version="2.25"><status code="102"/></pacemaker-result>')).toBe(false);
    expect(isOldCrmMonUsageError(1, 'Connection refused')).toBe(false);
  });

  it('mainMessage prefers the line with a cause', () => {
    expect(mainMessage(['error: Could not connect to launcher: Connection refused\ncrm_mon: Connection to cluster failed: Connection refused', ''])).toBe('Connection to cluster failed: Connection refused');
    expect(mainMessage(['just text'])).toBe('just text');
  });
});

describe('roles in perfdata (what a cluster rule counts)', () => {
  const roles = (name: string, opts: Partial<EvalOptions> = {}) =>
    Object.fromEntries((evaluate(load(name), { ...DEFAULTS, ...opts }).perfdata ?? []).map((p) => [p.label, p.value]));

  it('healthy: the promoted instance 1 on its node, the unpromoted 0; per-node counts', () => {
    expect(roles('healthy.xml')).toEqual({ 'db-clone@node1_promoted': 1, 'db-clone@node2_promoted': 0, node1_promoted: 1, node2_promoted: 0 });
  });

  it('no promoted instance: every running instance 0', () => {
    expect(roles('no-promoted.xml')).toEqual({ 'db-clone@node1_promoted': 0, 'db-clone@node2_promoted': 0, node1_promoted: 0, node2_promoted: 0 });
  });

  it('Pacemaker 1.1 Master/Slave roles count as promoted/unpromoted', () => {
    expect(roles('pacemaker-1.1.12.xml')).toEqual({
      'master_p_rabbitmq-server@ctl-2_promoted': 1, 'master_p_rabbitmq-server@ctl-1_promoted': 0, 'master_p_rabbitmq-server@ctl-3_promoted': 0,
      'ctl-1_promoted': 0, 'ctl-2_promoted': 1, 'ctl-3_promoted': 0,
    });
  });

  it('a stopped instance (node in standby or offline) has no item; the node count says 0', () => {
    expect(roles('standby.xml')).toEqual({ 'db-clone@node1_promoted': 1, node1_promoted: 1, node2_promoted: 0 });
    expect(roles('quorum-lost.xml')).toEqual({ node1_promoted: 0, node2_promoted: 0 });
  });

  it('--ignore-resource and --ignore-node leave their items out; no promotable clone, no items', () => {
    expect(roles('healthy.xml', { ignoreNodes: ['node2'] })).toEqual({ 'db-clone@node1_promoted': 1, node1_promoted: 1 });
    expect(roles('healthy.xml', { ignoreResources: ['db*'] })).toEqual({});
  });

  it('a large failing cluster: output shortened to 8 KiB, every role item kept', () => {
    const base = load('healthy.xml');
    const proto = base.resources.find((r): r is Primitive => r.kind === 'primitive')!;
    // 300 failed primitives: their long output and perfdata would need several times 8 KiB.
    const failed: Primitive[] = Array.from({ length: 300 }, (_, i) => ({ ...proto, id: `app-with-a-long-name-${i}`, failed: true, active: false, nodes: [] }));
    const status: ClusterStatus = { ...base, resources: [...failed, ...base.resources] };
    const r = evaluate(status, DEFAULTS);
    const text = render(r, { prefix: 'CRM' }).text;
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(8192);
    expect(text).toContain('output shortened');
    const perf = parsePerfdata(text.split('\n')[0]!.split(' | ')[1] ?? '').items.map((p) => `${p.label}=${p.value}`);
    for (const want of ['db-clone@node1_promoted=1', 'db-clone@node2_promoted=0', 'node1_promoted=1', 'node2_promoted=0']) expect(perf).toContain(want);
  });
});
