/**
 * Pure: what cl_status said -> CheckResult tree. Membership (nodes, ping nodes), links of the
 * other nodes, and with haresources (no Pacemaker) the resources this node holds against what
 * the other nodes' state implies: holding none while no other node is alive means nobody holds
 * them (CRITICAL); holding all while the others are dead is a failover, or a split brain when
 * they are alive behind cut links (each node then reports its peer dead: CRITICAL on both).
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, type StateCode } from '../../nagios/states.ts';
import type { HeartbeatFacts } from './collect.ts';

const ALIVE = new Set(['active', 'up', 'ping']);

function label(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}

function resources(f: HeartbeatFacts): CheckResult {
  const others = f.nodes.filter((n) => n.name !== f.local);
  const othersAlive = others.filter((n) => ALIVE.has(n.status));
  const mine = (f.groups ?? []).filter((g) => g.node === f.local);
  const theirs = (f.groups ?? []).filter((g) => g.node !== f.local);
  const groupsText = f.groups ? ` (haresources: ${mine.length} group${mine.length === 1 ? '' : 's'} of this node, ${theirs.length} of others)` : '';
  let state: StateCode = State.OK;
  let text: string;
  switch (f.rsc) {
    case 'all':
      if (others.length > 0 && othersAlive.length === 0) {
        state = State.WARNING;
        text = `holds all resources while ${others.map((n) => n.name).join(', ')} ${others.length === 1 ? 'is' : 'are'} dead to it: a failover, or split brain if the peer is alive behind cut links and holds them too`;
      } else if (theirs.length > 0) {
        state = State.WARNING;
        text = `holds all resources, also those haresources gives to ${[...new Set(theirs.map((g) => g.node))].join(', ')} (not failed back: auto_failback off?)`;
      } else text = 'holds all resources';
      break;
    case 'none':
      if (othersAlive.length === 0) {
        state = State.CRITICAL;
        text = 'holds no resources and no other node is alive: nobody holds them';
      } else if (mine.length > 0) {
        state = State.WARNING;
        text = `holds none, not even its own ${mine.length} group${mine.length === 1 ? '' : 's'} (held by ${othersAlive.map((n) => n.name).join(', ')}?)`;
      } else text = `holds none (the resources belong to ${othersAlive.map((n) => n.name).join(', ')})`;
      break;
    case 'local':
      if (theirs.length > 0 && others.length > 0 && othersAlive.length === 0) {
        state = State.CRITICAL;
        text = `holds only its own resources while the other node is dead: the groups of ${[...new Set(theirs.map((g) => g.node))].join(', ')} are held by nobody`;
      } else text = 'holds its own resources';
      break;
    case 'foreign':
      state = State.WARNING;
      text = 'holds the resources of another node but not its own';
      break;
    case 'transition':
      state = State.WARNING;
      text = 'resources in transition (being taken over or released)';
      break;
    default:
      state = State.UNKNOWN;
      text = `cl_status rscstatus printed ${f.rscRaw ?? 'nothing'}`;
  }
  return leaf('resources', state, `${text}${groupsText}`);
}

export function evaluate(f: HeartbeatFacts): CheckResult {
  if (f.hb.state !== 'running') return leaf('', f.hb.state === 'unknown' ? State.UNKNOWN : State.CRITICAL, f.hb.text);
  const children: CheckResult[] = [];
  const perf: Perfdata[] = [];
  const alive = f.nodes.filter((n) => ALIVE.has(n.status)).length;
  perf.push({ label: 'nodes_alive', value: alive, min: 0, max: f.nodes.length });
  for (const n of f.nodes) children.push(leaf(`node ${n.name}`, ALIVE.has(n.status) ? State.OK : State.CRITICAL, `${n.status}${n.name === f.local ? ' (this node)' : ''}`));
  if (f.pingNodes.length) {
    perf.push({ label: 'ping_nodes_alive', value: f.pingNodes.filter((n) => ALIVE.has(n.status)).length, min: 0, max: f.pingNodes.length });
    // A ping node is a reference outside the cluster: losing it is lost reachability, not a lost member.
    for (const n of f.pingNodes) children.push(leaf(`ping node ${n.name}`, ALIVE.has(n.status) ? State.OK : State.WARNING, ALIVE.has(n.status) ? 'reachable' : `${n.status}: unreachable from the cluster`));
  }
  for (const l of f.links) {
    const up = l.status === 'up';
    const node = f.nodes.find((n) => n.name === l.node);
    const nodeAlive = node ? ALIVE.has(node.status) : false;
    const othersUp = f.links.filter((x) => x.node === l.node && x !== l && x.status === 'up').length;
    // One link of several lost is lost redundancy; the node itself being dead is said on its own line.
    const state = up ? State.OK : nodeAlive && othersUp > 0 ? State.WARNING : nodeAlive ? State.CRITICAL : State.WARNING;
    children.push(leaf(`link ${l.node}/${l.link}`, state, l.status));
    perf.push({ label: `link_${label(l.node)}_${label(l.link)}`, value: up ? 1 : 0, min: 0, max: 1 });
  }
  if (f.pacemaker) children.push(leaf('resources', State.OK, `managed by Pacemaker (pacemaker ${f.pacemaker}): check_ha_crm judges them, this check judges membership and links`));
  else children.push(resources(f));
  const summary = `${alive}/${f.nodes.length} nodes alive, ${f.links.filter((l) => l.status === 'up').length}/${f.links.length} links up${f.rsc ? `, resources ${f.rsc}` : ''}`;
  return { ...group('', summary, children, perf), items: 'checks' };
}
