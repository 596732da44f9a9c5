/** Judges Corosync quorum and link health. */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { checkThresholds, type Thresholds } from '../../nagios/range.ts';
import { group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State } from '../../nagios/states.ts';
import type { LinksStatus, QuorumStatus } from './parse.ts';

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
    if (!q.quorate) {
      children.push(leaf('quorum', State.CRITICAL, `partition is not quorate: ${votes}${q.activityBlocked ? ', activity blocked' : ''}`));
    } else if (q.totalVotes !== undefined && q.expectedVotes !== undefined && q.totalVotes < q.expectedVotes) {
      children.push(leaf('quorum', State.WARNING, `quorate, but only ${votes}: a node or vote is missing`));
    } else {
      children.push(leaf('quorum', State.OK, `quorate, ${votes}${q.flags.length ? `, flags ${q.flags.join(' ')}` : ''}`));
    }
    const st = checkThresholds(nodes, t);
    if (st !== State.OK) children.push(leaf('members', st, `${nodes} member${nodes === 1 ? '' : 's'} (${q.members.map((m) => m.name).join(', ')})`));
  }
  if (l) {
    let down = 0;
    const linkChildren: CheckResult[] = [];
    const peers = new Map<number, { up: number; total: number }>();
    for (const link of l.links) {
      const what = `${link.kind} ${link.id}${link.address ? ` (${link.address})` : ''}`;
      if (link.nodes.length === 0) {
        if (link.faulty) down++;
        linkChildren.push(leaf(what, link.faulty ? State.WARNING : State.OK, link.status ?? 'no status'));
        continue;
      }
      const bad = link.nodes.filter((n) => !n.local && !n.connected);
      for (const n of link.nodes.filter((x) => !x.local)) {
        const p = peers.get(n.nodeId) ?? { up: 0, total: 0 };
        p.total++;
        if (n.connected) p.up++;
        peers.set(n.nodeId, p);
      }
      down += bad.length;
      linkChildren.push(leaf(what, bad.length ? State.WARNING : State.OK, bad.length ? `not connected to node${bad.length === 1 ? '' : 's'} ${bad.map((n) => `${n.nodeId} (${n.status})`).join(', ')}` : `connected to ${link.nodes.filter((n) => !n.local).length} peer${link.nodes.length === 2 ? '' : 's'}`));
    }
    const faultyRings = l.links.filter((x) => x.nodes.length === 0 && x.faulty).length;
    if (l.links.length > 0 && faultyRings === l.links.length) {
      linkChildren.push(leaf('links', State.CRITICAL, `all ${l.links.length} ring${l.links.length === 1 ? ' is' : 's are'} FAULTY`));
    }
    const unreachable = [...peers.entries()].filter(([, p]) => p.up === 0).map(([id]) => id);
    if (unreachable.length) linkChildren.push(leaf('peers', State.WARNING, `node${unreachable.length === 1 ? '' : 's'} ${unreachable.join(', ')} unreachable on every link`));
    perf.push({ label: 'links_down', value: down, min: 0 });
    parts.push(`${l.links.length} ${l.links[0]?.kind ?? 'link'}${l.links.length === 1 ? '' : 's'}${down ? `, ${down} down` : ''}`);
    children.push(group('links', `${l.links.length} ${l.transport ?? ''} link${l.links.length === 1 ? '' : 's'}`.replace('  ', ' '), linkChildren));
  }
  return group('', parts.join(', '), children, perf);
}
