/**
 * Parses `corosync-quorumtool -s` and `corosync-cfgtool` as printed by Corosync 2.x
 * (RING ID blocks, "ring 0 active with no faults" / "FAULTY") and 3.x:
 *  - `-s`: LINK ID blocks with one status line per node: "nodeid:  2:	connected" in 3.1,
 *    "nodeid  2:	connected" in 3.0, "link enabled:1	link connected:1" in early 3.0;
 *  - `-s -b` (brief): one status character per node of the nodelist, in nodeid order
 *    (tools/corosync-cfgtool.c): `n` this node, else a digit whose bit 0 is "enabled",
 *    bit 1 "connected" (and bit 2 "dynconnected" in 3.0), `?` knet error, `d` config error;
 *  - `-n` (3.1+): one block per REACHABLE node, "nodeid: 2 reachable" then
 *    "   LINK: 0 udp (192.0.2.1->192.0.2.2) enabled connected mtu: 1446" per enabled link;
 *    a node that is not reachable is not listed at all.
 */

export interface QuorumDevice {
  readonly name: string;
  /** Votes the device casts now (0 when this node's device is not voting). */
  readonly votes: number;
  /** Votes it would cast, from "Qdevice (votes 1)" when it casts none. */
  readonly configuredVotes?: number | undefined;
  /** Members whose flags say the device is not alive there (NA) or not registered (NR). */
  readonly notAliveOn: readonly string[];
  readonly lost: boolean;
}

export interface QuorumStatus {
  readonly provider?: string | undefined;
  readonly nodes?: number | undefined;
  readonly nodeId?: number | undefined;
  readonly ringId?: string | undefined;
  readonly quorate: boolean;
  readonly expectedVotes?: number | undefined;
  readonly highestExpected?: number | undefined;
  readonly totalVotes?: number | undefined;
  readonly quorum?: number | undefined;
  readonly activityBlocked: boolean;
  readonly flags: readonly string[];
  readonly members: readonly { nodeId: number; votes: number; name: string; local: boolean; qdevice?: string | undefined }[];
  /** Set when a quorum device is registered (a Qdevice column or row, or the Qdevice flag). */
  readonly qdevice?: QuorumDevice | undefined;
}

export class CorosyncParseError extends Error {
  override name = 'CorosyncParseError';
}

export function parseQuorumStatus(text: string): QuorumStatus {
  const field = (name: string): string | undefined => {
    const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text);
    return m ? m[1]!.trim() : undefined;
  };
  const num = (name: string): number | undefined => {
    const v = field(name);
    const m = v === undefined ? null : /^(\d+)/.exec(v);
    return m ? Number(m[1]) : undefined;
  };
  const quorateText = field('Quorate');
  if (quorateText === undefined) {
    const first = text.trim().split('\n')[0] ?? '';
    throw new CorosyncParseError(`no 'Quorate:' line in corosync-quorumtool output${first ? ` (it said: ${first.slice(0, 100)})` : ''}`);
  }
  const quorumLine = field('Quorum') ?? '';
  const members: QuorumStatus['members'][number][] = [];
  let qdRow: { name: string; votes: number; configuredVotes?: number | undefined } | undefined;
  const memb = text.split(/^Membership information\s*\n-+\s*\n/m)[1];
  if (memb) {
    const lines = memb.split('\n');
    const header = lines[0] ?? '';
    const hasQdevice = /Qdevice/.test(header);
    for (const line of lines.slice(1)) {
      // corosync-quorumtool.c: the device's own row, node id 0, "(votes N)" when it casts none here.
      const dev = /^\s*(?:0|0x0+)\s+(\d+)\s+(\S+)(?:\s+\(votes (\d+)\))?\s*$/i.exec(line);
      if (dev) {
        qdRow = { name: dev[2]!, votes: Number(dev[1]), configuredVotes: dev[3] === undefined ? undefined : Number(dev[3]) };
        continue;
      }
      const m = hasQdevice ? /^\s*(\d+|0x[0-9a-f]+)\s+(\d+)\s+(\S+)\s+(.*)$/i.exec(line) : /^\s*(\d+|0x[0-9a-f]+)\s+(\d+)\s+(.*)$/i.exec(line);
      if (!m) continue;
      const rest = (hasQdevice ? m[4] : m[3])!.trim();
      members.push({
        nodeId: Number(m[1]),
        votes: Number(m[2]),
        name: rest.replace(/\s*\(local\)\s*$/, ''),
        local: /\(local\)\s*$/.test(rest),
        qdevice: hasQdevice ? m[3] : undefined,
      });
    }
  }
  const flags = (field('Flags') ?? '').split(/\s+/).filter((f) => f !== '');
  let qdevice: QuorumDevice | undefined;
  if (qdRow || flags.includes('Qdevice') || members.some((m) => m.qdevice !== undefined && m.qdevice !== 'NR')) {
    // Member flags are A|NA (alive), V|NV (votes), MW|NMW (master wins); NR is not registered.
    const notAliveOn = members.filter((m) => m.qdevice !== undefined && (/^NA\b/.test(m.qdevice) || m.qdevice === 'NR')).map((m) => m.name);
    const votes = qdRow?.votes ?? 0;
    qdevice = {
      name: qdRow?.name ?? 'Qdevice',
      votes,
      configuredVotes: qdRow?.configuredVotes,
      notAliveOn,
      lost: qdRow === undefined || votes === 0 || notAliveOn.length > 0,
    };
  }
  return {
    provider: field('Quorum provider'),
    nodes: num('Nodes'),
    nodeId: num('Node ID'),
    ringId: field('Ring ID'),
    quorate: /^yes/i.test(quorateText),
    expectedVotes: num('Expected votes'),
    highestExpected: num('Highest expected'),
    totalVotes: num('Total votes'),
    quorum: num('Quorum'),
    activityBlocked: /Activity blocked/i.test(quorumLine),
    flags,
    members,
    qdevice,
  };
}

export interface LinkNode {
  /** Undefined in the brief format, which gives nodes only by their place in the nodelist. */
  readonly nodeId?: number | undefined;
  /** 1-based place in the nodelist sorted by nodeid (brief format). */
  readonly position?: number | undefined;
  readonly status: string;
  readonly connected: boolean;
  readonly local: boolean;
}

export interface LinkStatus {
  readonly id: number;
  /** RING (2.x) or LINK (3.x). */
  readonly kind: 'ring' | 'link';
  readonly transport?: string | undefined;
  readonly address?: string | undefined;
  /** 2.x and non-knet transports: one status for the whole ring/link. */
  readonly status?: string | undefined;
  readonly faulty: boolean;
  readonly nodes: readonly LinkNode[];
}

export interface LinksStatus {
  /** `status`: -s; `brief`: -s -b; `nodes`: -n (only reachable nodes are listed). */
  readonly format: 'status' | 'brief' | 'nodes';
  readonly localNodeId?: number | undefined;
  readonly transport?: string | undefined;
  readonly links: readonly LinkStatus[];
}

function nodeConnected(status: string): boolean {
  const s = status.toLowerCase();
  if (s.includes('localhost')) return true;
  if (/link connected:\s*0/.test(s) || /link enabled:\s*0/.test(s)) return false;
  if (/link connected:\s*1/.test(s)) return true;
  if (/\bdisconnected\b/.test(s)) return false;
  return /\bconnected\b/.test(s);
}

/** One brief status character (see the file comment). */
function briefNode(ch: string, position: number): LinkNode | undefined {
  if (ch === 'n') return { position, status: 'localhost', connected: true, local: true };
  if (ch === '?') return { position, status: 'knet error', connected: false, local: false };
  if (ch === 'd') return { position, status: 'config error', connected: false, local: false };
  if (!/^\d$/.test(ch)) return undefined;
  const t = Number(ch);
  const enabled = (t & 1) !== 0;
  const connected = (t & 2) !== 0;
  // corosync-cfgtool itself counts anything but n and 3 as a fault (its exit status 1).
  const status = `${connected ? 'connected' : 'disconnected'}${enabled ? '' : ' (not enabled)'}`;
  return { position, status, connected: connected && enabled, local: false };
}

/** `corosync-cfgtool -n`: per reachable node, its enabled links. */
function parseNodesFormat(lines: readonly string[], localNodeId: number | undefined, transport: string | undefined): LinksStatus {
  const links = new Map<number, { -readonly [K in keyof LinkStatus]: LinkStatus[K] }>();
  let node: number | undefined;
  for (const line of lines) {
    const n = /^nodeid:\s*(\d+)\s+reachable\b/.exec(line);
    if (n) { node = Number(n[1]); continue; }
    const l = /^\s+LINK:\s*(\d+)\s*(\S*)\s*\(([^)]*)\)\s*(.*?)\s*(?:mtu:\s*\d+)?\s*$/.exec(line);
    if (!l || node === undefined) continue;
    const id = Number(l[1]);
    const words = l[4]!.split(/\s+/);
    const connected = words.includes('connected');
    const enabled = words.includes('enabled');
    const [src] = l[3]!.split('->');
    let link = links.get(id);
    if (!link) links.set(id, (link = { id, kind: 'link', transport: l[2] || undefined, address: src?.trim() || undefined, faulty: false, nodes: [] }));
    (link.nodes as LinkNode[]).push({ nodeId: node, status: connected ? 'connected' : enabled ? 'enabled but not connected' : 'not enabled', connected, local: false });
  }
  return { format: 'nodes', localNodeId, transport, links: [...links.values()].sort((a, b) => a.id - b.id) };
}

export function parseLinksStatus(text: string): LinksStatus {
  const lines = text.split('\n');
  let localNodeId: number | undefined;
  let transport: string | undefined;
  let format: LinksStatus['format'] = 'status';
  const links: { -readonly [K in keyof LinkStatus]: LinkStatus[K] }[] = [];
  let cur: (typeof links)[number] | undefined;
  if (lines.some((l) => /^nodeid:\s*\d+\s+reachable\b/.test(l) || /^\s+LINK:\s*\d+/.test(l))) {
    const local = /^Local node ID (\d+)(?:, transport (\S+))?/m.exec(text);
    return parseNodesFormat(lines, local ? Number(local[1]) : undefined, local?.[2]);
  }
  for (const line of lines) {
    const local = /^Local node ID (\d+)(?:, transport (\S+))?/.exec(line);
    if (local) { localNodeId = Number(local[1]); transport = local[2]; continue; }
    const head = /^(RING|LINK) ID (\d+)(?:\s+(\S+))?/.exec(line);
    if (head) {
      cur = { id: Number(head[2]), kind: head[1] === 'RING' ? 'ring' : 'link', transport: head[3], faulty: false, nodes: [] };
      links.push(cur);
      continue;
    }
    if (!cur) continue;
    const kv = /^\s+(id|addr)\s*=\s*(.*)$/.exec(line);
    if (kv) { cur.address = kv[2]!.trim(); continue; }
    const st = /^\s+status\s*=\s*(.*)$/.exec(line);
    if (st) {
      const value = st[1]!.trim();
      // 3.x brief (-b): one character per nodelist entry, decoded into per-node status.
      if (cur.kind === 'link' && /^[0-9nd?]+$/.test(value)) {
        format = 'brief';
        const nodes = [...value].map((ch, i) => briefNode(ch, i + 1));
        if (nodes.every((n) => n !== undefined)) {
          cur.nodes = nodes;
          continue;
        }
      }
      cur.status = value;
      // 2.x: "ring 0 active with no faults" / "Marking ringid 0 interface 10.0.0.1 FAULTY".
      cur.faulty = /FAULTY/i.test(cur.status);
      continue;
    }
    const node = /^\s+nodeid:?\s+(\d+):\s*(.*)$/.exec(line);
    if (node) {
      const status = node[2]!.trim();
      (cur.nodes as LinkNode[]).push({ nodeId: Number(node[1]), status, connected: nodeConnected(status), local: /localhost/i.test(status) || Number(node[1]) === localNodeId });
    }
  }
  if (localNodeId === undefined && links.length === 0) {
    const first = text.trim().split('\n')[0] ?? '';
    throw new CorosyncParseError(`no link or ring status in corosync-cfgtool output${first ? ` (it said: ${first.slice(0, 100)})` : ''}`);
  }
  return { format, localNodeId, transport, links };
}
