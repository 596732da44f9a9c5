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

/** Runs the check on saved link status alone (real captures from Corosync 3.1.7, see fixtures/README.md). */
async function links(file: string) {
  const r = await runPlugin(corosync, ['--links-file', fixturePath('corosync', file), '--no-quorum']);
  return { code: r.exitCode, text: r.text, status: r.text.split('\n')[0]!.split(' | ')[0]! };
}

describe('corosync-cfgtool -n (3.1+, issue 9 item 10)', () => {
  it('reads the per-node link lines: both links connected is OK', async () => {
    const l = parseLinksStatus(readFixture('corosync', '3.1-connected.nodes.links.txt'));
    expect(l.format).toBe('nodes');
    expect(l.links.map((x) => [x.id, x.transport, x.address, x.nodes.map((n) => [n.nodeId, n.connected])])).toEqual([
      [0, 'udp', '192.0.2.1', [[2, true]]], [1, 'udp', '192.0.2.65', [[2, true]]],
    ]);
    const r = await links('3.1-connected.nodes.links.txt');
    expect(r.code).toBe(0);
    expect(r.status).toBe('COROSYNC OK - 2 links');
  });

  it('a link enabled but not connected is WARNING, naming the link and the node', async () => {
    const r = await links('3.1-link1-down.nodes.links.txt');
    expect(r.code).toBe(1);
    expect(r.status).toBe('COROSYNC WARNING - links link 1 (192.0.2.65): not connected to node 2 (enabled but not connected)');
    expect(r.text).toContain('links_down=1');
  });

  it('every link to a node down is CRITICAL; the onwire suffix and dynconnected are understood', async () => {
    const text = 'Local node ID 1, transport knet\nnodeid: 3 reachable   onwire (min/max/cur): 0, 2, 2\n   LINK: 0 udp (10.0.0.1->10.0.0.3) enabled dynconnected mtu: 1397\n   LINK: 1 sctp (10.1.0.1->10.1.0.3) enabled mtu: 1397\n\n';
    const l = parseLinksStatus(text);
    expect(l.links.map((x) => x.nodes.map((n) => [n.nodeId, n.connected]))).toEqual([[[3, false]], [[3, false]]]);
    const r = render(evaluateCorosync(undefined, l, {}), { prefix: 'COROSYNC' });
    expect(r.exitCode).toBe(State.CRITICAL);
    expect(r.text).toMatch(/^COROSYNC CRITICAL - links peers: node 3 unreachable on every link/);
  });

  it('a header with no node or link is UNKNOWN, never OK', async () => {
    const r = await links('3.1-no-peer.nodes.links.txt');
    expect(r.code).toBe(3);
    expect(r.status).toMatch(/^COROSYNC UNKNOWN - links: corosync-cfgtool printed its header \(local node 1\) but no link/);
    const s = render(evaluateCorosync(undefined, parseLinksStatus('Local node ID 4, transport knet\n'), {}), { prefix: 'C' });
    expect(s.exitCode).toBe(State.UNKNOWN);
  });
});

describe('corosync-cfgtool -s -b brief digits (issue 9 item 10)', () => {
  it('decodes one character per nodelist entry: n this node, 3 connected, 1 enabled but not connected', () => {
    const ok = parseLinksStatus(readFixture('corosync', '3.1-connected.brief.links.txt'));
    expect(ok.format).toBe('brief');
    expect(ok.links[0]!.nodes.map((n) => [n.position, n.local, n.connected, n.status])).toEqual([[1, true, true, 'localhost'], [2, false, true, 'connected']]);
    const node2 = parseLinksStatus(readFixture('corosync', '3.1-connected-node2.brief.links.txt'));
    expect(node2.links[1]!.nodes.map((n) => [n.position, n.local])).toEqual([[1, false], [2, true]]);
    const down = parseLinksStatus(readFixture('corosync', '3.1-link1-down.brief.links.txt'));
    expect(down.links[1]!.nodes[1]).toMatchObject({ connected: false, status: 'disconnected' });
    // 3.0 digits carry dynconnected in bit 2; 0 is not even enabled; ? and d are errors.
    const v30 = parseLinksStatus('Printing link status.\nLocal node ID 2\nLINK ID 0\n\taddr\t= 10.0.0.2\n\tstatus\t= 7n05?d\n');
    expect(v30.links[0]!.nodes.map((n) => n.status)).toEqual(['connected', 'localhost', 'disconnected (not enabled)', 'disconnected', 'knet error', 'config error']);
    expect(v30.links[0]!.nodes.map((n) => n.connected)).toEqual([true, true, false, false, false, false]);
  });

  it('judges the digits like the long format: one link down WARNING, peer unreachable on all links CRITICAL', async () => {
    expect((await links('3.1-connected.brief.links.txt')).code).toBe(0);
    const one = await links('3.1-link1-down.brief.links.txt');
    expect(one.code).toBe(1);
    expect(one.status).toBe('COROSYNC WARNING - links link 1 (192.0.2.65): not connected to nodelist entry 2 (disconnected)');
    for (const f of ['3.1-all-down.brief.links.txt', '3.1-peer-down.brief.links.txt']) {
      const all = await links(f);
      expect(all.code).toBe(2);
      expect(all.status).toMatch(/^COROSYNC CRITICAL - links peers: nodelist entry 2 unreachable on every link/);
    }
  });
});

describe('quorum device (issue 9 item 10)', () => {
  it('a registered, voting device is OK', () => {
    const q = parseQuorumStatus(readFixture('corosync', '3.1-qdevice.quorum.txt'));
    expect(q.qdevice).toEqual({ name: 'Qdevice', votes: 1, configuredVotes: undefined, notAliveOn: [], lost: false });
    expect(q.members.map((m) => [m.nodeId, m.name, m.qdevice])).toEqual([[1, 'node1', 'A,V,NMW'], [2, 'node2', 'A,V,NMW']]);
    expect(render(evaluateCorosync(q, undefined, {}), { prefix: 'C' }).exitCode).toBe(State.OK);
  });

  it('a lost device (members flagged NA, Qdevice with 0 votes) is named as a lost quorum device', async () => {
    const q = parseQuorumStatus(readFixture('corosync', '3.1-qdevice-lost.quorum.txt'));
    expect(q.qdevice).toMatchObject({ votes: 0, configuredVotes: 1, notAliveOn: ['node1', 'node2'], lost: true });
    const r = await runPlugin(corosync, ['--quorum-file', fixturePath('corosync', '3.1-qdevice-lost.quorum.txt')]);
    expect(r.exitCode).toBe(1);
    expect(r.text).toMatch(/^COROSYNC WARNING - quorum: quorate, but the quorum device Qdevice is lost \(not alive on node1, node2, it casts 0 votes of its 1\): 2 of 3 votes, quorum 2 \|/);
    expect(r.text).not.toContain('a node or vote is missing');
  });
});
