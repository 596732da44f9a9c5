/**
 * check_ha_heartbeat on transcripts of cl_status captured (--save-input) from the real
 * two-node Heartbeat 3.0.6 cluster of heartbeat-env.ts, and on the parsers directly.
 */
import { describe, expect, it } from 'vitest';
import { runPlugin } from '../../../nagios/plugin.ts';
import { effectiveState } from '../../../nagios/result.ts';
import { State } from '../../../nagios/states.ts';
import { evaluate } from '../../../plugins/heartbeat/evaluate.ts';
import descriptor from '../../../plugins/heartbeat/index.ts';
import { formatTranscript, parseHaresources, parseHbstatus, parseTranscript } from '../../../plugins/heartbeat/parse.ts';
import { fixturePath, readFixture } from '../../support/paths.ts';

const run = (name: string, ...args: string[]) => runPlugin(descriptor, ['--input-file', fixturePath('heartbeat', name), ...args], { env: {} });

describe('cl_status answers', () => {
  it('hbstatus: running; stopped; refused with exit 0 and the alarm exit 12 are not OK', () => {
    expect(parseHbstatus({ stdout: 'Heartbeat is running on this machine.\n', stderr: '', exitCode: 0 }).state).toBe('running');
    expect(parseHbstatus({ stdout: 'Heartbeat is stopped on this machine.\n', stderr: '', exitCode: 1 }).state).toBe('stopped');
    expect(parseHbstatus({ stdout: 'Heartbeat is apparently running on this machine, but refuses my connection\n', stderr: '', exitCode: 0 }).state).toBe('refused');
    expect(parseHbstatus({ stdout: '', stderr: '', exitCode: 12 }).state).toBe('no-answer');
    // "running" with a failing exit is not trusted either.
    expect(parseHbstatus({ stdout: 'Heartbeat is running on this machine.\n', stderr: '', exitCode: 12 }).state).toBe('no-answer');
    expect(parseHbstatus({ stdout: 'something else\n', stderr: '', exitCode: 0 }).state).toBe('unknown');
  });

  it('haresources: comments, continuation lines, the preferred node first', () => {
    const groups = parseHaresources('# the web group\nnode1 IPaddr::192.0.2.10/24/eth0 \\\n   Filesystem::/dev/drbd0::/srv::ext4 apache2\nnode2 mysql # db\n\n');
    expect(groups).toEqual([
      { node: 'node1', resources: ['IPaddr::192.0.2.10/24/eth0', 'Filesystem::/dev/drbd0::/srv::ext4', 'apache2'] },
      { node: 'node2', resources: ['mysql'] },
    ]);
  });

  it('the transcript format reads back what it writes', () => {
    const text = readFixture('heartbeat', 'split-brain-nodeb.txt');
    const map = parseTranscript(text);
    expect(map.get('rscstatus')).toEqual({ stdout: 'all\n', stderr: '', exitCode: 0 });
    expect(map.get('nodestatus nodea')!.exitCode).toBe(1);
    expect(formatTranscript(map)).toBe(text);
    expect(() => parseTranscript('hello')).toThrow(/not a cl_status transcript/);
  });
});

describe('captured from the real cluster', () => {
  it('healthy nodea: every node and link up, its own group held; the unreachable ping node is WARNING', async () => {
    const r = await run('healthy-nodea.txt', '--node', 'nodea');
    expect(r.text.split('\n')[0]).toMatch(/^HEARTBEAT WARNING - ping node 192\.0\.2\.254: dead: unreachable from the cluster, 5 of 6 checks OK \| nodes_alive=2;;;0;2 ping_nodes_alive=0;;;0;1 link_nodeb_hb\w+=1;;;0;1 link_nodeb_hb\w+=1;;;0;1$/);
    expect(r.text).toContain('[OK] resources: holds its own resources');
  });

  it('one link cut: that link WARNING, the node alive', async () => {
    const r = await run('link-cut-nodea.txt', '--node', 'nodea');
    expect(r.exitCode).toBe(1);
    expect(r.text).toMatch(/\[WARNING\] link nodeb\/hb\w+1a: dead/);
    expect(r.text).toMatch(/\[OK\] link nodeb\/hb\w+2a: up/);
    expect(r.text).toContain('[OK] node nodeb: active');
  });

  it('split brain: both links cut, nodeb took the resources while nodea still holds them: CRITICAL on both', async () => {
    const b = await run('split-brain-nodeb.txt', '--node', 'nodeb');
    expect(b.exitCode).toBe(2);
    expect(b.text).toContain('[CRITICAL] node nodea: dead');
    expect(b.text).toMatch(/\[WARNING\] resources: holds all resources while nodea is dead to it: a failover, or split brain/);
    // Both links of a dead node: WARNING each (the node line carries the CRITICAL).
    expect(b.text).toMatch(/\[WARNING\] link nodea\/hb\w+: dead/);
    const a = await run('split-brain-nodea.txt', '--node', 'nodea');
    expect(a.exitCode).toBe(2);
    expect(a.text).toContain('[CRITICAL] node nodeb: dead');
  });

  it('heartbeat stopped, hung (signon failed under SIGSTOP, or the 5 s alarm: exit 12), refusing: CRITICAL', async () => {
    for (const [name, text] of [
      ['sigstop-signon-failed-nodea.txt', 'heartbeat is stopped on this node'],
      ['hbstatus-alarm-exit12.txt', 'cl_status hbstatus got no answer from heartbeat (exit 12)'],
      ['hbstatus-refused-exit0.txt', 'heartbeat runs but refuses the API connection of cl_status'],
    ] as const) {
      const r = await run(name);
      expect(r.exitCode, name).toBe(2);
      expect(r.text).toContain(text);
    }
  });
});

describe('resources against the other nodes', () => {
  const base = {
    hb: { state: 'running' as const, text: '' },
    local: 'n1',
    pingNodes: [],
    links: [],
  };
  it('none while the peer is dead: nobody holds them (CRITICAL); none while the peer holds its own: OK', () => {
    const dead = evaluate({ ...base, nodes: [{ name: 'n1', status: 'active' }, { name: 'n2', status: 'dead' }], rsc: 'none', groups: [{ node: 'n2', resources: ['x'] }] });
    expect(effectiveState(dead)).toBe(State.CRITICAL);
    expect(dead.children!.find((c) => c.name === 'resources')!.summary).toMatch(/nobody holds them/);
    const alive = evaluate({ ...base, nodes: [{ name: 'n1', status: 'active' }, { name: 'n2', status: 'active' }], rsc: 'none', groups: [{ node: 'n2', resources: ['x'] }] });
    expect(effectiveState(alive)).toBe(State.OK);
  });

  it('all with the peer alive and a group of the peer: WARNING (not failed back); transition WARNING; Pacemaker leaves resources to check_ha_crm', () => {
    const nodes = [{ name: 'n1', status: 'active' }, { name: 'n2', status: 'active' }];
    expect(effectiveState(evaluate({ ...base, nodes, rsc: 'all', groups: [{ node: 'n1', resources: ['a'] }, { node: 'n2', resources: ['b'] }] }))).toBe(State.WARNING);
    expect(effectiveState(evaluate({ ...base, nodes, rsc: 'transition' }))).toBe(State.WARNING);
    const pm = evaluate({ ...base, nodes, pacemaker: 'respawn' });
    expect(effectiveState(pm)).toBe(State.OK);
    expect(pm.children!.find((c) => c.name === 'resources')!.summary).toMatch(/managed by Pacemaker \(pacemaker respawn\): check_ha_crm judges them, this check judges membership and links/);
    const local = evaluate({ ...base, nodes: [{ name: 'n1', status: 'active' }, { name: 'n2', status: 'dead' }], rsc: 'local', groups: [{ node: 'n1', resources: ['a'] }, { node: 'n2', resources: ['b'] }] });
    expect(local.children!.find((c) => c.name === 'resources')!.state).toBe(State.CRITICAL);
  });
});
