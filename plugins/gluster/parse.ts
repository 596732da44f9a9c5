/**
 * Pure: what the gluster CLI printed in, typed facts out. Also the transcript format of
 * --input-file / --save-input: each run as `$ gluster ARGS`, its stdout, then `[exit N]`.
 *
 * Every answer of `gluster ... --xml` is `<cliOutput>` with `opRet` (0 or -1), `opErrno` and
 * `opErrstr`, then the payload (`peerStatus`, `volInfo`, `volStatus`, `healInfo`). The CLI
 * exits 0 even when opRet is -1 in XML mode (GlusterFS 10.3, seen in the lab): opRet decides.
 * `volume heal VOL statistics heal-count` has no XML form: it is read as text.
 *
 * The cluster-wide lock: every volume operation takes a lock on all peers. A second operation
 * meanwhile answers opRet -1 with `Another transaction is in progress for VOL. Please try again
 * after some time.` (opErrno 30802), or `Locking failed on HOST` when a peer refused the lock.
 * That is not a volume with no bricks: the caller retries and reports the lock.
 */
import { XMLParser } from 'fast-xml-parser';
import { PluginError } from '../../nagios/plugin.ts';
import { formatTranscript as formatTranscriptOf, parseTranscript as parseTranscriptOf, type Run } from '../lib/transcript.ts';

export type { Run };

const LOCK = /another transaction (is|could be) in progress|locking failed on|unable to (acquire|get) lock|lock (is )?(held|failed)/i;

/** The text of an answer that says the cluster lock is taken. */
export function lockMessage(r: Run): string | undefined {
  const text = `${r.stdout}\n${r.stderr}`;
  if (!LOCK.test(text)) return undefined;
  const line = text.split('\n').find((l) => LOCK.test(l)) ?? '';
  return clean(line.replace(/<\/?[a-zA-Z]+>/g, ''));
}

/** One line of CLI text fit for the status line (no characters Nagios mangles). */
export function clean(s: string): string {
  return s.trim().replace(/["'`<>|;&$~]/g, '').replace(/\s+/g, ' ').slice(0, 200);
}

type Xml = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // Lists that may hold one element: always arrays.
  isArray: (name) => ['peer', 'volume', 'brick', 'option', 'node', 'hostname'].includes(name),
});

function arr(v: unknown): Xml[] {
  if (v === undefined || v === null || v === '') return [];
  return (Array.isArray(v) ? v : [v]) as Xml[];
}

function text(v: unknown): string {
  if (Array.isArray(v)) return text(v[0]); // hostname is a list under peer, one value under node
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') {
    const t = (v as Xml)['#text'];
    return t === undefined ? '' : String(t);
  }
  return String(v);
}

function num(v: unknown): number | undefined {
  const t = text(v).trim();
  return /^-?\d+$/.test(t) ? Number(t) : undefined;
}

/** Parses one `--xml` answer; a CLI error (opRet -1) becomes a PluginError with its opErrstr. */
export function parseCliOutput(r: Run, what: string): Xml {
  const out = r.stdout.trim();
  if (!out.startsWith('<')) {
    const why = clean(r.stderr.split('\n').find((l) => l.trim() !== '') ?? '') || clean(out.split('\n')[0] ?? '') || 'no output';
    throw new PluginError(`gluster ${what} failed (exit ${r.exitCode ?? 'by signal'}): ${why}`);
  }
  let doc: Xml;
  try {
    doc = parser.parse(out) as Xml;
  } catch (e) {
    throw new PluginError(`gluster ${what} printed XML that cannot be read: ${clean((e as Error).message)}`);
  }
  const root = doc['cliOutput'] as Xml | undefined;
  if (!root || typeof root !== 'object') throw new PluginError(`gluster ${what} printed XML without cliOutput`);
  const ret = num(root['opRet']);
  if (ret !== undefined && ret !== 0) {
    const err = clean(text(root['opErrstr']) || text(root['output'])) || `opErrno ${text(root['opErrno'])}`;
    throw new PluginError(`gluster ${what} failed: ${err}`);
  }
  return root;
}

export interface Peer {
  readonly uuid: string;
  readonly hostname: string;
  readonly connected: boolean;
  /** Peer in Cluster, Peer Rejected, Accepted peer request... */
  readonly stateStr: string;
}

/** `peer status --xml`: the other peers (this node is not listed). */
export function parsePeers(root: Xml): Peer[] {
  const ps = root['peerStatus'] as Xml | undefined;
  if (ps === undefined) throw new PluginError('gluster peer status --xml has no peerStatus element');
  return arr((ps as Xml)['peer'])
    .map((p) => ({ uuid: text(p['uuid']), hostname: text(arr(p['hostname'])[0]), connected: text(p['connected']) === '1', stateStr: text(p['stateStr']) }))
    .filter((p) => p.hostname !== 'localhost'); // pool list lists this node as localhost
}

export interface VolumeBrick {
  /** host:path as the volume names it. */
  readonly name: string;
  readonly hostUuid: string;
  readonly arbiter: boolean;
}

export interface VolumeInfo {
  readonly name: string;
  /** Started, Stopped, Created. */
  readonly status: string;
  /** Replicate, Distributed-Replicate, Disperse, Distributed-Disperse, Distribute... */
  readonly type: string;
  readonly replicaCount: number;
  readonly arbiterCount: number;
  readonly disperseCount: number;
  readonly redundancyCount: number;
  readonly bricks: readonly VolumeBrick[];
  readonly options: ReadonlyMap<string, string>;
}

/** `volume info --xml`. */
export function parseVolumeInfo(root: Xml): VolumeInfo[] {
  const vi = root['volInfo'] as Xml | undefined;
  if (vi === undefined) throw new PluginError('gluster volume info --xml has no volInfo element');
  const vols = arr((vi['volumes'] as Xml | undefined)?.['volume']);
  return vols.map((v) => ({
    name: text(v['name']),
    status: text(v['statusStr']),
    type: text(v['typeStr']),
    replicaCount: num(v['replicaCount']) ?? 1,
    arbiterCount: num(v['arbiterCount']) ?? 0,
    disperseCount: num(v['disperseCount']) ?? 0,
    redundancyCount: num(v['redundancyCount']) ?? 0,
    bricks: arr((v['bricks'] as Xml | undefined)?.['brick']).map((b) => ({
      name: text(b['name']) || text(b),
      hostUuid: text(b['hostUuid']) || text(b['@_uuid']),
      arbiter: text(b['isArbiter']) === '1',
    })),
    options: new Map(arr((v['options'] as Xml | undefined)?.['option']).map((o) => [text(o['name']), text(o['value'])] as const)),
  }));
}

export interface StatusNode {
  /** A brick's host, or `Self-heal Daemon`, `NFS Server`, `Quota Daemon`... */
  readonly hostname: string;
  /** A brick's path, or for a daemon the host it runs on (`localhost` for this node). */
  readonly path: string;
  readonly peerid: string;
  readonly online: boolean;
  readonly pid?: number | undefined;
}

/** `volume status VOL --xml`: bricks and daemons glusterd could ask (a peer whose glusterd is down is absent). */
export function parseVolumeStatus(root: Xml, volume: string): StatusNode[] {
  const vs = root['volStatus'] as Xml | undefined;
  if (vs === undefined) throw new PluginError(`gluster volume status ${volume} --xml has no volStatus element`);
  const vol = arr((vs['volumes'] as Xml | undefined)?.['volume']).find((v) => text(v['volName']) === volume);
  if (!vol) throw new PluginError(`gluster volume status ${volume} --xml does not list the volume`);
  return arr(vol['node']).map((n) => ({ hostname: text(n['hostname']), path: text(n['path']), peerid: text(n['peerid']), online: text(n['status']) === '1', pid: num(n['pid']) }));
}

export interface HealBrick {
  readonly name: string;
  /** Connected, or why heal info could not read the brick. */
  readonly status: string;
  readonly connected: boolean;
  readonly total?: number | undefined;
  readonly pending?: number | undefined;
  readonly splitBrain?: number | undefined;
  readonly possiblyHealing?: number | undefined;
}

/** `volume heal VOL info summary --xml`. */
export function parseHealSummary(root: Xml, volume: string): HealBrick[] {
  const hi = root['healInfo'] as Xml | undefined;
  if (hi === undefined) throw new PluginError(`gluster volume heal ${volume} info summary --xml has no healInfo element`);
  return arr((hi['bricks'] as Xml | undefined)?.['brick']).map((b) => {
    // A brick heal info cannot reach reads `Failed to process entries completely. (Transport
    // endpoint is not connected)totalNumberOfEntries0` (10.3): the status text up to the first `)`.
    const raw = text(b['status']);
    const status = raw.replace(/\)totalNumberOfEntries.*$/, ')');
    return {
      name: text(b['name']),
      status,
      connected: status === 'Connected',
      total: num(b['totalNumberOfEntries']),
      pending: num(b['numberOfEntriesInHealPending']),
      splitBrain: num(b['numberOfEntriesInSplitBrain']),
      possiblyHealing: num(b['numberOfEntriesPossiblyHealing']),
    };
  });
}

/**
 * `volume heal VOL statistics heal-count` (text only):
 *   Brick HOST:/path
 *   Number of entries: N            (or: Status: Brick is not connected)
 */
export function parseHealCount(r: Run, volume: string): HealBrick[] {
  if (r.exitCode !== 0 || !/^Brick /m.test(r.stdout)) {
    const why = clean(r.stderr.split('\n').find((l) => l.trim() !== '') ?? '') || clean(r.stdout.split('\n').find((l) => l.trim() !== '') ?? '') || 'no output';
    throw new PluginError(`gluster volume heal ${volume} statistics heal-count failed (exit ${r.exitCode ?? 'by signal'}): ${why}`);
  }
  const out: HealBrick[] = [];
  for (const block of r.stdout.split(/^(?=Brick )/m)) {
    const name = /^Brick (\S+)/.exec(block)?.[1];
    if (!name) continue;
    const n = /^Number of entries: (\d+)/m.exec(block);
    const status = /^Status: (.+)$/m.exec(block)?.[1]?.trim();
    out.push(n ? { name, status: 'Connected', connected: true, pending: Number(n[1]) } : { name, status: status ?? 'no count', connected: false });
  }
  return out;
}

/** The transcript of --input-file (plugins/lib/transcript.ts). */
export function parseTranscript(input: string): Map<string, Run> {
  return parseTranscriptOf(input, 'gluster', 'peer status --xml');
}

export function formatTranscript(runs: ReadonlyMap<string, Run>): string {
  return formatTranscriptOf(runs, 'gluster');
}
