/** check_ha_corosync on saved corosync-quorumtool -s and corosync-cfgtool -s output (2.x, 3.0, 3.1). */
import { describe, expect, it } from 'vitest';
import { runPlugin } from '../../../nagios/plugin.ts';
import { render } from '../../../nagios/result.ts';
import { State } from '../../../nagios/states.ts';
import corosync from '../../../plugins/corosync/index.ts';
import { evaluateCorosync } from '../../../plugins/corosync/evaluate.ts';
import { parseLinksStatus, parseQuorumStatus } from '../../../plugins/corosync/parse.ts';
import { fixturePath, readFixture } from '../../support/paths.ts';

describe('corosync', () => {
  it('3.1 quorate with two links', () => {
    const q = parseQuorumStatus(readFixture('corosync', '3.1-quorate.quorum.txt'));
    expect(q).toMatchObject({ quorate: true, expectedVotes: 2, totalVotes: 2, quorum: 2, ringId: '1.9', activityBlocked: false, flags: ['Quorate'] });
    expect(q.members.map((m) => [m.nodeId, m.name, m.local])).toEqual([[1, 'node1', true], [2, 'node2', false]]);
    const l = parseLinksStatus(readFixture('corosync', '3.1-connected.links.txt'));
    expect(l).toMatchObject({ localNodeId: 1, transport: 'knet' });
    expect(l.links.map((x) => x.nodes.map((n) => n.connected))).toEqual([[true, true], [true, true]]);
    expect(render(evaluateCorosync(q, l, {}), { prefix: 'COROSYNC' }).exitCode).toBe(State.OK);
  });
  it('3.1 one link down: WARNING; peer down and inquorate: CRITICAL', () => {
    const q = parseQuorumStatus(readFixture('corosync', '3.1-quorate.quorum.txt'));
    expect(render(evaluateCorosync(q, parseLinksStatus(readFixture('corosync', '3.1-link1-down.links.txt')), {}), { prefix: 'C' }).exitCode).toBe(State.WARNING);
    const bad = render(evaluateCorosync(parseQuorumStatus(readFixture('corosync', '3.1-inquorate.quorum.txt')), parseLinksStatus(readFixture('corosync', '3.1-peer-down.links.txt')), {}), { prefix: 'C' });
    expect(bad.exitCode).toBe(State.CRITICAL);
    expect(bad.text).toContain('node 2 unreachable on every link');
  });
  it('2.x formats: slash ring id, RING blocks, FAULTY', () => {
    const q = parseQuorumStatus(readFixture('corosync', '2.x-inquorate.quorum.txt'));
    expect(q).toMatchObject({ quorate: false, ringId: '1/247225', expectedVotes: 3, totalVotes: 1, activityBlocked: true });
    const ok = parseLinksStatus(readFixture('corosync', '2.x-rings-ok.links.txt'));
    expect(ok.links.map((x) => [x.kind, x.id, x.address, x.faulty])).toEqual([['ring', 0, '10.0.1.1', false], ['ring', 1, '192.168.42.1', false]]);
    const faulty = render(evaluateCorosync(parseQuorumStatus(readFixture('corosync', '2.x-quorate.quorum.txt')), parseLinksStatus(readFixture('corosync', '2.x-ring1-faulty.links.txt')), {}), { prefix: 'C' });
    expect(faulty.exitCode).toBe(State.WARNING);
    expect(faulty.text).toContain('ring 1 (192.168.42.1): Marking ringid 1 interface 192.168.42.1 FAULTY');
  });
  it('3.0 man page layout (nodeid without colon)', () => {
    const l = parseLinksStatus(readFixture('corosync', '3.0-manpage.links.txt'));
    expect(l.links[0]!.nodes.map((n) => [n.nodeId, n.connected])).toEqual([[1, true], [2, true], [3, true]]);
  });
  it('black box with --quorum-file and --links-file', async () => {
    const r = await runPlugin(corosync, ['--quorum-file', fixturePath('corosync', '3.1-inquorate.quorum.txt'), '--links-file', fixturePath('corosync', '3.1-peer-down.links.txt')]);
    expect(r.exitCode).toBe(2);
    expect(r.text).toMatch(/^COROSYNC CRITICAL - quorum: partition is not quorate: 1 of 2 votes, quorum 2, activity blocked/);
  });
  it('garbage in: UNKNOWN with what it said', async () => {
    const r = await runPlugin(corosync, ['--quorum-file', fixturePath('lvs', 'README.md')]);
    expect(r.exitCode).toBe(3);
    expect(r.text).toMatch(/^COROSYNC UNKNOWN - no Quorate: line in corosync-quorumtool output/);
  });
});
