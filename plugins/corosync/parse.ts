/**
 * Parses `corosync-quorumtool -s` and `corosync-cfgtool -s` as printed by Corosync 2.x
 * (RING ID blocks, "ring 0 active with no faults" / "FAULTY") and 3.x (LINK ID blocks
 * with one status line per node: "nodeid:  2:	connected" in 3.1, "nodeid  2:	connected"
 * in 3.0 man pages, "link enabled:1	link connected:1" in early 3.0).
 */

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
  const memb = text.split(/^Membership information\s*\n-+\s*\n/m)[1];
  if (memb) {
    const lines = memb.split('\n');
    const header = lines[0] ?? '';
    const hasQdevice = /Qdevice/.test(header);
    for (const line of lines.slice(1)) {
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
    flags: (field('Flags') ?? '').split(/\s+/).filter((f) => f !== ''),
    members,
  };
}

export interface LinkNode {
  readonly nodeId: number;
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

export function parseLinksStatus(text: string): LinksStatus {
  const lines = text.split('\n');
  let localNodeId: number | undefined;
  let transport: string | undefined;
  const links: { -readonly [K in keyof LinkStatus]: LinkStatus[K] }[] = [];
  let cur: (typeof links)[number] | undefined;
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
      cur.status = st[1]!.trim();
      // 2.x: "ring 0 active with no faults" / "Marking ringid 0 interface 10.0.0.1 FAULTY"; brief (-b) digit strings are not used here.
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
  return { localNodeId, transport, links };
}
