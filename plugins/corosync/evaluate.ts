/** Judges Corosync quorum and link health. */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { checkThresholds, type Thresholds } from '../../nagios/range.ts';
import { group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State } from '../../nagios/states.ts';
import type { LinkNode, LinksStatus, QuorumStatus } from './parse.ts';

/** `node 2`, or `nodelist entry 2` in the brief format, which does not print node ids. */
function nodeLabel(n: LinkNode): string {
  return n.nodeId !== undefined ? `node ${n.nodeId}` : `nodelist entry ${n.position ?? '?'}`;
}

export function evaluateCorosync(q: QuorumStatus | undefined, l: LinksStatus | undefined, t: Thresholds): CheckResult {
  const children: CheckResult[] = [];
  const perf: Perfdata[] = [];
  const parts: string[] = [];
  if (q) {
    perf.push({ label: 'quorate', value: q.quorate ? 1 : 0, min: 0, max: 1 });
    if (q.expectedVotes !== undefined) perf.push({ label: 'expected_votes', value: q.expectedVotes, min: 0 });
    if (q.totalVotes !== undefined) perf.push({ label: 'total_votes', value: q.totalVotes, min: 0, max: q.expectedVotes });
    if (q.quorum !== undefined) perf.push({ label: 'quorum_votes', value: q.quorum, min: 0 });
    const nodes = q.nodes ?? q.members.length;
    perf.push({ label: 'members', value: nodes, warning: t.warning, critical: t.critical, min: 0 });
    const votes = `${q.totalVotes ?? '?'} of ${q.expectedVotes ?? '?'} votes, quorum ${q.quorum ?? '?'}`;
    parts.push(`${q.quorate ? 'quorate' : 'NOT quorate'} (${votes})`);
    const qd = q.qdevice;
    const lostDevice = qd?.lost
      ? `the quorum device ${qd.name} is lost (${[
          qd.notAliveOn.length ? `not alive on ${qd.notAliveOn.join(', ')}` : '',
          qd.votes === 0 ? `it casts 0 votes${qd.configuredVotes !== undefined ? ` of its ${qd.configuredVotes}` : ''}` : '',
        ].filter(Boolean).join(', ') || 'no device row in the membership'})`
      : undefined;
    const missing = q.totalVotes !== undefined && q.expectedVotes !== undefined ? q.expectedVotes - q.totalVotes : 0;
    // The votes a lost device would cast explain that many missing votes, and no more.
    const deviceShare = qd?.lost ? (qd.configuredVotes ?? Math.max(missing, 0)) : 0;
    if (!q.quorate) {
      children.push(leaf('quorum', State.CRITICAL, `partition is not quorate: ${votes}${q.activityBlocked ? ', activity blocked' : ''}${lostDevice ? `, ${lostDevice}` : ''}`));
    } else if (lostDevice) {
      children.push(leaf('quorum', State.WARNING, `quorate, but ${lostDevice}: ${votes}${missing > deviceShare ? ', and a node or vote is missing besides' : ''}`));
    } else if (missing > 0) {
      children.push(leaf('quorum', State.WARNING, `quorate, but only ${votes}: a node or vote is missing`));
    } else {
      children.push(leaf('quorum', State.OK, `quorate, ${votes}${q.flags.length ? `, flags ${q.flags.join(' ')}` : ''}`));
    }
    const st = checkThresholds(nodes, t);
    if (st !== State.OK) children.push(leaf('members', st, `${nodes} member${nodes === 1 ? '' : 's'} (${q.members.map((m) => m.name).join(', ')})`));
  }
  if (l && l.links.length === 0) {
    // A header and nothing else judges nothing: never OK. -s and -n print the same header;
    // -n lists only reachable nodes, so an empty -n may mean every other node is cut off.
    children.push(leaf('links', State.UNKNOWN, `corosync-cfgtool printed its header (local node ${l.localNodeId ?? '?'}) but no link: with -n no other node is reachable from this one, with -s no link is configured: check corosync-cfgtool -s and the quorum`));
    parts.push('no link status');
  } else if (l) {
    let down = 0;
    const linkChildren: CheckResult[] = [];
    const peers = new Map<string, { up: number; total: number }>();
    for (const link of l.links) {
      const what = `${link.kind} ${link.id}${link.address ? ` (${link.address})` : ''}`;
      if (link.nodes.length === 0) {
        if (link.faulty) down++;
        linkChildren.push(leaf(what, link.faulty ? State.WARNING : State.OK, link.status ?? 'no status'));
        continue;
      }
      const others = link.nodes.filter((n) => !n.local);
      const bad = others.filter((n) => !n.connected);
      for (const n of others) {
        const key = nodeLabel(n);
        const p = peers.get(key) ?? { up: 0, total: 0 };
        p.total++;
        if (n.connected) p.up++;
        peers.set(key, p);
      }
      down += bad.length;
      linkChildren.push(leaf(what, bad.length ? State.WARNING : State.OK, bad.length ? `not connected to ${bad.map((n) => `${nodeLabel(n)} (${n.status})`).join(', ')}` : `connected to ${others.length} peer${others.length === 1 ? '' : 's'}`));
    }
    const faultyRings = l.links.filter((x) => x.nodes.length === 0 && x.faulty).length;
    if (l.links.length > 0 && faultyRings === l.links.length) {
      linkChildren.push(leaf('links', State.CRITICAL, `all ${l.links.length} ring${l.links.length === 1 ? ' is' : 's are'} FAULTY`));
    }
    // Every link to a node down: that node is cut off from this one (the per-link lines say WARNING).
    const unreachable = [...peers.entries()].filter(([, p]) => p.up === 0).map(([label]) => label);
    if (unreachable.length) linkChildren.push(leaf('peers', State.CRITICAL, `${unreachable.join(', ')} unreachable on every link`));
    perf.push({ label: 'links_down', value: down, min: 0 });
    parts.push(`${l.links.length} ${l.links[0]?.kind ?? 'link'}${l.links.length === 1 ? '' : 's'}${down ? `, ${down} down` : ''}`);
    children.push(group('links', `${l.links.length} ${l.transport ?? ''} link${l.links.length === 1 ? '' : 's'}${l.format === 'nodes' ? ' (reachable nodes only)' : ''}`.replace('  ', ' '), linkChildren));
  }
  return group('', parts.join(', '), children, perf);
}
