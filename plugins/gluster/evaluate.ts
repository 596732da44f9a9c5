/**
 * Pure: gluster facts -> CheckResult tree.
 *
 * Peers: a disconnected peer is WARNING while more than half of the pool (this node counted)
 * is connected, CRITICAL when the pool lost its majority (glusterd's server quorum); a peer
 * that is not `Peer in Cluster` is WARNING, `Peer Rejected` CRITICAL.
 * Volumes: not started is CRITICAL. Bricks are judged per replica set (or disperse set): a
 * brick down with the set still in quorum is WARNING, a set below quorum is CRITICAL (writes
 * fail or turn read-only). Quorum follows cluster.quorum-type: auto (the default) needs more
 * than half of the set, or exactly half including its first brick; fixed needs
 * cluster.quorum-count; none needs one brick. A disperse set needs all but `redundancy`
 * bricks. A plain distribute brick down is CRITICAL (its files are gone). A brick absent from
 * `volume status` (its node's glusterd does not answer) counts as down.
 * Self-heal daemons down are WARNING (nothing heals). Split-brain entries are CRITICAL.
 * Pending heal entries that did not shrink since the previous run are WARNING.
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, type StateCode } from '../../nagios/states.ts';
import { isReplicated, type GlusterFacts, type HealFacts, type VolumeFacts } from './collect.ts';
import type { StatusNode, VolumeInfo } from './parse.ts';

function label(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function peers(f: GlusterFacts, perf: Perfdata[]): CheckResult {
  const total = f.peers.length + 1;
  const connected = f.peers.filter((p) => p.connected).length + 1;
  perf.push({ label: 'peers_connected', value: connected, min: 0, max: total });
  const majority = connected * 2 > total;
  const children = f.peers.map((p) => {
    if (!p.connected) return leaf(p.hostname, majority ? State.WARNING : State.CRITICAL, `disconnected (${p.stateStr || 'state unknown'})${majority ? '' : ', the pool lost its majority'}`);
    if (p.stateStr !== 'Peer in Cluster') return leaf(p.hostname, /rejected/i.test(p.stateStr) ? State.CRITICAL : State.WARNING, `connected but ${p.stateStr}`);
    return leaf(p.hostname, State.OK, 'connected, in cluster');
  });
  return group('peers', `${connected}/${total} connected (this node counted)`, children);
}

/** The sets of bricks that hold the same data: replica sets, disperse sets, or single bricks. */
function brickSets(v: VolumeInfo): { kind: 'replica' | 'disperse' | 'distribute'; size: number } {
  if (v.disperseCount > 0) return { kind: 'disperse', size: v.disperseCount };
  if (v.replicaCount > 1) return { kind: 'replica', size: v.replicaCount };
  return { kind: 'distribute', size: 1 };
}

function quorumNeed(v: VolumeInfo, size: number, firstUp: boolean): number {
  const type = (v.options.get('cluster.quorum-type') ?? 'auto').toLowerCase();
  if (type === 'none') return 1;
  if (type === 'fixed') {
    const n = Number(v.options.get('cluster.quorum-count'));
    return Number.isInteger(n) && n > 0 ? Math.min(n, size) : Math.floor(size / 2) + 1;
  }
  // auto: more than half, or exactly half when the first brick of the set is one of them.
  return size % 2 === 0 && firstUp ? size / 2 : Math.floor(size / 2) + 1;
}

function bricks(v: VolumeInfo, status: readonly StatusNode[], perf: Perfdata[]): CheckResult[] {
  const online = (name: string) => status.find((n) => `${n.hostname}:${n.path}` === name);
  const { kind, size } = brickSets(v);
  const out: CheckResult[] = [];
  let up = 0;
  for (let i = 0; i < v.bricks.length; i += size) {
    const set = v.bricks.slice(i, i + size);
    const states = set.map((b) => ({ b, node: online(b.name) }));
    const n = states.filter((s) => s.node?.online).length;
    up += n;
    const down = states.filter((s) => !s.node?.online);
    const downText = down.map((s) => `${s.b.name}${s.node ? ' offline' : ' not reported (its glusterd does not answer)'}`).join(', ');
    const setName = v.bricks.length > size && kind !== 'distribute' ? `${kind} set ${i / size + 1}` : kind === 'distribute' ? `brick ${set[0]!.name}` : 'bricks';
    let state: StateCode = State.OK;
    let text: string;
    if (kind === 'distribute') {
      state = n === 1 ? State.OK : State.CRITICAL;
      text = n === 1 ? 'online' : `${downText}: its files are unavailable (no replica)`;
    } else {
      const need = kind === 'disperse' ? size - v.redundancyCount : quorumNeed(v, size, states[0]?.node?.online === true);
      if (n === size) text = `${n}/${size} online`;
      else if (n >= need && n > 0) {
        state = State.WARNING;
        text = `${n}/${size} online, quorum held (needs ${need}): ${downText}`;
      } else {
        state = State.CRITICAL;
        text = `${n}/${size} online, quorum lost (needs ${need}): ${downText}`;
      }
    }
    out.push(leaf(setName, state, text));
  }
  perf.push({ label: `${label(v.name)}_bricks_online`, value: up, min: 0, max: v.bricks.length });
  return out;
}

function shd(v: VolumeInfo, status: readonly StatusNode[]): CheckResult | undefined {
  if (!isReplicated(v)) return undefined;
  if (/^(off|disable|false|no)$/i.test(v.options.get('cluster.self-heal-daemon') ?? '')) return leaf('self-heal daemon', State.WARNING, 'disabled (cluster.self-heal-daemon off): nothing heals in the background');
  const daemons = status.filter((n) => n.hostname === 'Self-heal Daemon');
  if (daemons.length === 0) return leaf('self-heal daemon', State.WARNING, 'none reported by volume status');
  const down = daemons.filter((d) => !d.online);
  if (down.length === 0) return leaf('self-heal daemon', State.OK, `up on ${plural(daemons.length, 'node')}`);
  return leaf('self-heal daemon', State.WARNING, `down on ${down.map((d) => d.path).join(', ')}: pending heals wait`);
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

function heal(v: VolumeInfo, h: HealFacts, now: number, perf: Perfdata[]): CheckResult[] {
  const out: CheckResult[] = [];
  const l = label(v.name);
  perf.push({ label: `${l}_heal_pending`, value: h.pending, min: 0 });
  const unread = h.bricks.filter((b) => !b.connected);
  const unreadText = unread.length ? ` (not read on ${unread.map((b) => b.name).join(', ')})` : '';
  if (h.source === 'summary') {
    const split = h.bricks.reduce((s, b) => s + (b.splitBrain ?? 0), 0);
    perf.push({ label: `${l}_split_brain`, value: split, min: 0 });
    const where = h.bricks.filter((b) => (b.splitBrain ?? 0) > 0).map((b) => `${b.name} ${b.splitBrain}`);
    out.push(split > 0
      ? leaf('split-brain', State.CRITICAL, `${plural(split, 'entry', 'entries')} counted on the bricks (${where.join(', ')}): resolve with gluster volume heal ${v.name} split-brain`)
      : leaf('split-brain', State.OK, `none${unreadText}`));
  }
  let state: StateCode = State.OK;
  let text: string;
  const p = h.previous;
  if (h.pending === 0) text = `none pending${unreadText}`;
  else if (!p) text = `${h.pending} pending (first count, the trend is judged from the next run)${unreadText}`;
  else if (p.pending > 0 && h.pending >= p.pending) {
    state = State.WARNING;
    text = `${h.pending} pending, not shrinking (${p.pending} at the run ${ago(now - p.at)} ago)${unreadText}`;
  } else text = `${h.pending} pending, ${p.pending === 0 ? 'new since' : `down from ${p.pending} at`} the run ${ago(now - p.at)} ago${unreadText}`;
  if (h.stateError) text += `, trend not kept: ${h.stateError}`;
  out.push(leaf(h.source === 'summary' ? 'pending heals' : 'pending heals (heal-count)', state, text));
  return out;
}

function volume(vf: VolumeFacts, now: number, perf: Perfdata[]): CheckResult {
  const v = vf.info;
  const name = `volume ${v.name}`;
  if (v.status !== 'Started') return leaf(name, State.CRITICAL, `${v.status || 'state unknown'}, not started`);
  if (vf.error) return leaf(name, State.UNKNOWN, vf.error);
  const children: CheckResult[] = [...bricks(v, vf.status ?? [], perf)];
  const d = shd(v, vf.status ?? []);
  if (d) children.push(d);
  if (vf.heal) children.push(...heal(v, vf.heal, now, perf));
  return group(name, `${v.type}${v.replicaCount > 1 ? ` replica ${v.replicaCount}` : ''}${v.arbiterCount ? ` arbiter ${v.arbiterCount}` : ''}${v.disperseCount ? ` disperse ${v.disperseCount} redundancy ${v.redundancyCount}` : ''}, ${plural(v.bricks.length, 'brick')}, started`, children);
}

export function evaluate(f: GlusterFacts, now: number): CheckResult {
  const perf: Perfdata[] = [];
  const children: CheckResult[] = [peers(f, perf)];
  for (const n of f.missing) children.push(leaf(`volume ${n}`, State.CRITICAL, 'no such volume in gluster volume info'));
  if (f.volumes.length === 0 && f.missing.length === 0) children.push(leaf('volumes', State.WARNING, 'gluster volume info lists no volume'));
  for (const vf of f.volumes) children.push(volume(vf, now, perf));
  const connected = f.peers.filter((p) => p.connected).length + 1;
  const started = f.volumes.filter((v) => v.info.status === 'Started').length;
  const summary = `${connected}/${f.peers.length + 1} peers connected, ${started}/${f.volumes.length + f.missing.length} volumes started`;
  return { ...group('', summary, children, perf), items: 'checks' };
}
