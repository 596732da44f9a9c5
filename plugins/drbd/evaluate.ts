/**
 * Pure judgement of a parsed DRBD status: one subcheck per resource, per volume (local disk),
 * per peer (connection) and per volume and peer (replication, peer disk, out-of-sync data).
 *
 * How states are judged, and why:
 * - Connection: anything but Connected is CRITICAL. StandAlone is named "split brain
 *   suspected", since that is what DRBD does after an unresolved split brain (it is also the
 *   state after `drbdadm disconnect`); newer drbd-utils say `sync-state:SplitBrain` in events2,
 *   and then it is named split brain outright.
 * - Replication: a running resync (SyncSource/SyncTarget and the states that start one) is
 *   WARNING, with progress and ETA. A resync paused only because it waits for another one
 *   (resync-after dependency) is WARNING too: it resumes by itself. Paused by the user or the
 *   peer is CRITICAL: nothing will resume it and the target stays Inconsistent. Ahead/Behind
 *   (congestion policy pull-ahead) is WARNING: replication resumes by itself, and how much data
 *   is at risk meanwhile is what -w/-c on out-of-sync data judge.
 * - Disks: UpToDate is OK. Inconsistent is expected only on the target of a running resync;
 *   Outdated only on the Behind side. Otherwise Diskless (unless an intentional diskless
 *   client), Outdated, Failed, Inconsistent and an unknown peer disk on a live connection are
 *   CRITICAL; transient states (Attaching, Detaching, Negotiating) and Consistent are WARNING.
 *   Peer-disk and replication states of a peer that is not connected are consequences of the
 *   connection problem: reported, but judged once, on the connection.
 * - Out-of-sync data is judged against -w/-c for every volume and peer, connected or not: it is
 *   what would be lost if this node died now.
 */
import { checkThresholds, describeRange, scaleRange, type Range, type Thresholds } from '../../nagios/range.ts';
import type { Perfdata } from '../../nagios/perfdata.ts';
import { group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, worst, type StateCode } from '../../nagios/states.ts';
import type { DrbdConnection, DrbdDevice, DrbdPeerDevice, DrbdResource, DrbdStatus, ResyncProgress } from './parse.ts';

export const SIZE_UNITS = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as const;
export type SizeUnit = keyof typeof SIZE_UNITS;

export interface DrbdCheckOptions {
  /** Ranges on out-of-sync data per volume and peer, in `unit`. */
  readonly thresholds: Thresholds;
  readonly unit: SizeUnit;
  /** Only these resources (empty: all). On 8.x /proc/drbd also `0`, `drbd0` or `/dev/drbd0`. */
  readonly resources: readonly string[];
  /** Every selected resource must have this role. */
  readonly role?: 'Primary' | 'Secondary' | undefined;
}

interface Finding {
  readonly state: StateCode;
  readonly text: string;
}

const ok = (text: string): Finding => ({ state: State.OK, text });
const warn = (text: string): Finding => ({ state: State.WARNING, text });
const crit = (text: string): Finding => ({ state: State.CRITICAL, text });
const unknown = (text: string): Finding => ({ state: State.UNKNOWN, text });

/** A leaf whose state is the worst of its findings; problems are named first, `detail` last. */
function leafOf(name: string, findings: readonly Finding[], perfdata?: readonly Perfdata[], detail?: string): CheckResult {
  const state = worst(...findings.map((f) => f.state));
  const ordered = [...findings.filter((f) => f.state !== State.OK), ...findings.filter((f) => f.state === State.OK)];
  const texts = ordered.map((f) => f.text);
  if (detail) texts.push(detail);
  return leaf(name, state, texts.join(', '), perfdata);
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** 0 B, 512 KiB, 10.0 MiB, 7.00 GiB: three significant digits, binary units. */
export function formatKiB(kib: number): string {
  if (kib === 0) return '0 B';
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = kib;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = v >= 100 || Number.isInteger(v) && i === 0 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${units[i]}`;
}

/** 45s, 3m25s, 1h01m40s. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m${String(sec).padStart(2, '0')}s`;
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

function progressText(p: ResyncProgress | undefined): string {
  if (!p) return '';
  const parts: string[] = [];
  if (p.percentDone !== undefined) parts.push(`${p.percentDone.toFixed(1)}% done`);
  if (p.stalled) parts.push('stalled');
  else if (p.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  if (p.speedKiBps !== undefined && !p.stalled) parts.push(`${formatKiB(p.speedKiBps)}/s`);
  return parts.length ? `: ${parts.join(', ')}` : '';
}

// ---------------------------------------------------------------------------------------------
// State tables

/** Connection states that mean "trying to (re)connect" or "just lost it". */
const CONNECTING = new Set(['Connecting', 'WFConnection', 'Unconnected', 'WFReportParams']);
const CONNECTION_LOST = new Set(['Timeout', 'BrokenPipe', 'NetworkFailure', 'ProtocolError', 'TearDown', 'Disconnecting']);

const RESYNC_RUNNING = new Set(['SyncSource', 'SyncTarget']);
const RESYNC_STARTING = new Set(['StartingSyncS', 'StartingSyncT', 'WFBitMapS', 'WFBitMapT', 'WFSyncUUID']);
const RESYNC_PAUSED = new Set(['PausedSyncS', 'PausedSyncT']);
/** This node is (or will be) the resync target: its own disk is Inconsistent meanwhile. */
const LOCAL_IS_TARGET = new Set(['SyncTarget', 'PausedSyncT', 'StartingSyncT', 'WFBitMapT', 'WFSyncUUID']);
/** The peer is (or will be) the resync target: its disk is Inconsistent meanwhile. */
const PEER_IS_TARGET = new Set(['SyncSource', 'PausedSyncS', 'StartingSyncS', 'WFBitMapS']);
const TRANSIENT_DISK = new Set(['Attaching', 'Detaching', 'Negotiating']);

function judgeConnection(c: DrbdConnection): Finding {
  const cs = c.connectionState;
  if (cs === 'Connected') return ok(`connected, peer ${c.peerRole}`);
  if (cs === 'StandAlone') {
    if (c.syncState === 'SplitBrain') {
      return crit('split brain: DRBD dropped the connection (StandAlone, sync-state SplitBrain), resolve it by hand (drbdadm connect --discard-my-data on the node whose changes are to be lost)');
    }
    if (c.syncState === 'Unrelated') return crit('StandAlone: the peer holds unrelated data (no common generation UUID)');
    return crit('StandAlone, split brain suspected (or disconnected by an admin): look for Split-Brain detected in the kernel log, then run drbdadm connect');
  }
  if (CONNECTING.has(cs)) return crit(`not connected (${cs}): the peer is unreachable or down`);
  if (CONNECTION_LOST.has(cs)) return crit(`connection lost (${cs})`);
  return unknown(`unknown connection state ${cs}`);
}

function judgeReplication(pd: DrbdPeerDevice, connected: boolean): Finding {
  const rs = pd.replicationState;
  if (rs === 'Established' || rs === 'Connected') return ok(`replication ${rs}`);
  if (!connected) return ok(`replication ${rs} (not connected)`);
  if (RESYNC_RUNNING.has(rs)) return warn(`resync in progress (${rs})${progressText(pd.resync)}`);
  if (RESYNC_STARTING.has(rs)) return warn(`resync starting (${rs})`);
  if (rs === 'VerifyS' || rs === 'VerifyT') return ok(`online verify running (${rs})${progressText(pd.resync)}`);
  if (RESYNC_PAUSED.has(rs)) {
    const why = pd.resyncSuspended.split(',').filter((r) => r !== '' && r !== 'no');
    if (why.length > 0 && why.every((r) => r === 'dependency')) {
      return warn(`resync paused (${rs}): waiting for another resync to finish (resync-after dependency)`);
    }
    const by = why.length ? ` by ${why.join(' and ')}` : '';
    return crit(`resync paused${by} (${rs}): the target stays Inconsistent until drbdadm resume-sync`);
  }
  if (rs === 'Ahead') return warn('Ahead: replication paused by the congestion policy, out-of-sync data accumulates until the peer catches up');
  if (rs === 'Behind') return warn('Behind: the peer pulled ahead (congestion policy), this copy is outdated until the resync');
  if (rs === 'Off') return crit('replication Off on a live connection: is the volume configured on the peer?');
  return unknown(`unknown replication state ${rs}`);
}

function judgePeerDisk(pd: DrbdPeerDevice, connected: boolean): Finding {
  const ds = pd.peerDiskState;
  if (ds === 'UpToDate') return ok('peer disk UpToDate');
  if (!connected) return ok(`peer disk ${ds} (not connected)`);
  if (ds === 'Inconsistent') {
    return PEER_IS_TARGET.has(pd.replicationState) ? ok('peer disk Inconsistent (being resynced)') : crit('peer disk Inconsistent and no resync running');
  }
  if (ds === 'Outdated') return pd.replicationState === 'Ahead' ? ok('peer disk Outdated (Ahead)') : crit('peer disk Outdated');
  if (ds === 'Diskless') return pd.peerIntentionalDiskless ? ok('peer is a diskless client') : crit('peer has no disk (detached, or after an I/O error)');
  if (ds === 'Failed') return crit('peer disk Failed (I/O error on the peer)');
  if (ds === 'DUnknown') return crit('peer disk state unknown (DUnknown)');
  if (ds === 'Consistent') return warn('peer disk Consistent (not known to be up to date)');
  if (TRANSIENT_DISK.has(ds)) return warn(`peer disk ${ds}`);
  return unknown(`unknown peer disk state ${ds}`);
}

function judgeLocalDisk(d: DrbdDevice, peerDevices: readonly { connection: DrbdConnection; pd: DrbdPeerDevice }[]): Finding[] {
  const ds = d.diskState;
  const findings: Finding[] = [];
  const source = peerDevices.find((x) => LOCAL_IS_TARGET.has(x.pd.replicationState));
  if (ds === 'UpToDate') findings.push(ok('disk UpToDate'));
  else if (ds === 'Inconsistent') {
    findings.push(source ? ok(`disk Inconsistent (being resynced from ${source.connection.name ?? 'the peer'})`) : crit('disk Inconsistent and no resync running'));
  } else if (ds === 'Outdated') {
    findings.push(peerDevices.some((x) => x.pd.replicationState === 'Behind') ? ok('disk Outdated (Behind)') : crit('disk Outdated: this copy is older than the one on the peer'));
  } else if (ds === 'Diskless') {
    findings.push(d.intentionalDiskless ? ok('diskless client (intentional)') : crit('no local disk (Diskless: detached, or after an I/O error)'));
  } else if (ds === 'Failed') findings.push(crit('disk Failed: I/O error on the backing device'));
  else if (ds === 'Consistent') findings.push(warn('disk Consistent (not known to be up to date)'));
  else if (TRANSIENT_DISK.has(ds)) findings.push(warn(`disk ${ds}`));
  else findings.push(unknown(`unknown disk state ${ds}`));
  if (d.quorum === false) findings.push(crit('no quorum: I/O is frozen or fails'));
  return findings;
}

// ---------------------------------------------------------------------------------------------
// Subchecks

function label(r: DrbdResource, volume: number, c?: DrbdConnection): string {
  return `${r.name}/${volume}${c?.name ? `@${c.name}` : ''}`;
}

function counter(label: string, kib: number | undefined): Perfdata[] {
  return kib === undefined ? [] : [{ label, value: kib * 1024, uom: 'c' }];
}

function scaled(range: Range | undefined, factor: number): Range | undefined {
  return range && scaleRange(range, factor);
}

function outOfSyncFinding(pd: DrbdPeerDevice, opts: DrbdCheckOptions): Finding {
  if (pd.outOfSyncKiB === undefined) return ok('out-of-sync amount not reported by this DRBD version');
  const value = (pd.outOfSyncKiB * 1024) / SIZE_UNITS[opts.unit];
  const state = checkThresholds(value, opts.thresholds);
  const text = `${formatKiB(pd.outOfSyncKiB)} out of sync`;
  if (state === State.CRITICAL) return crit(`${text} (critical: ${describeRange(opts.thresholds.critical!)} ${opts.unit})`);
  if (state === State.WARNING) return warn(`${text} (warning: ${describeRange(opts.thresholds.warning!)} ${opts.unit})`);
  return ok(text);
}

function peerDeviceCheck(r: DrbdResource, c: DrbdConnection, pd: DrbdPeerDevice, device: DrbdDevice | undefined, opts: DrbdCheckOptions): CheckResult {
  const connected = c.connectionState === 'Connected';
  const bytesPerUnit = SIZE_UNITS[opts.unit];
  const base = label(r, pd.volume, c);
  const perfdata: Perfdata[] = [
    {
      label: `${base}_out_of_sync`,
      value: pd.outOfSyncKiB === undefined ? 'U' : pd.outOfSyncKiB * 1024,
      uom: 'B',
      // Thresholds are given in --unit; the perfdata is in bytes, so are its warn/crit.
      warning: scaled(opts.thresholds.warning, bytesPerUnit),
      critical: scaled(opts.thresholds.critical, bytesPerUnit),
      min: 0,
      max: device?.sizeKiB === undefined ? undefined : device.sizeKiB * 1024,
    },
    { label: `${base}_in_sync`, value: pd.percentInSync === undefined ? 'U' : Math.round(pd.percentInSync * 100) / 100, uom: '%', min: 0, max: 100 },
    ...counter(`${base}_sent_bytes`, pd.sentKiB),
    ...counter(`${base}_received_bytes`, pd.receivedKiB),
  ];
  const findings = [judgeReplication(pd, connected), judgePeerDisk(pd, connected), outOfSyncFinding(pd, opts)];
  return leafOf(`volume ${pd.volume} peer${c.name ? ` ${c.name}` : ''}`, findings, perfdata);
}

function resourceCheck(r: DrbdResource, opts: DrbdCheckOptions): CheckResult {
  const own: Finding[] = [];
  if (opts.role && r.role !== opts.role) own.push(crit(`role ${r.role}, expected ${opts.role}`));
  if (r.suspended !== 'no') own.push(crit(`I/O suspended (${r.suspended})`));
  if (r.devices.length === 0) own.push(warn('no volumes'));
  if (r.connections.length === 0) own.push(warn('no peers configured: the data is not replicated'));

  const children: CheckResult[] = [];
  const peerDevicesOf = (volume: number) =>
    r.connections.flatMap((connection) => connection.peerDevices.filter((pd) => pd.volume === volume).map((pd) => ({ connection, pd })));
  for (const d of r.devices) {
    const perfdata = [
      ...counter(`${label(r, d.volume)}_read_bytes`, d.readKiB),
      ...counter(`${label(r, d.volume)}_written_bytes`, d.writtenKiB),
    ];
    const device = d.minor === undefined ? undefined : `/dev/drbd${d.minor}`;
    children.push(leafOf(`volume ${d.volume}`, judgeLocalDisk(d, peerDevicesOf(d.volume)), perfdata, device));
  }
  for (const c of r.connections) {
    children.push(leafOf(c.name ? `peer ${c.name}` : 'peer', [judgeConnection(c)]));
    for (const pd of c.peerDevices) children.push(peerDeviceCheck(r, c, pd, r.devices.find((d) => d.volume === pd.volume), opts));
  }

  const summary = `${r.role}, ${plural(r.devices.length, 'volume')}, ${plural(r.connections.length, 'peer')}`;
  const state = worst(...own.map((f) => f.state));
  return {
    name: r.name,
    state,
    summary: own.filter((f) => f.state !== State.OK).map((f) => f.text).join(', ') || summary,
    children,
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function matches(r: DrbdResource, wanted: string): boolean {
  if (r.name === wanted) return true;
  return r.minor !== undefined && (wanted === String(r.minor) || wanted === `/dev/drbd${r.minor}`);
}

/**
 * Roles as gauges a cluster rule can sum or compare without reading text: `<res>_primary` (this
 * node), and `<res>@<peer>_peer_primary` for each peer whose role this node knows (8.x has one
 * unnamed peer, called `peer`). A disconnected peer's role is Unknown: left out rather than
 * guessed, so a rule counting primaries does not count a stale 0 or 1. They go on the root
 * because the shared render keeps the root's perfdata first when it must shorten the output.
 */
export function rolePerfdata(resources: readonly DrbdResource[]): Perfdata[] {
  const out: Perfdata[] = [];
  for (const r of resources) {
    out.push({ label: `${r.name}_primary`, value: r.role === 'Primary' ? 1 : 0, min: 0, max: 1 });
    for (const c of r.connections) {
      if (c.peerRole !== 'Primary' && c.peerRole !== 'Secondary') continue;
      out.push({ label: `${r.name}@${c.name ?? 'peer'}_peer_primary`, value: c.peerRole === 'Primary' ? 1 : 0, min: 0, max: 1 });
    }
  }
  return out;
}

export function evaluate(status: DrbdStatus, opts: DrbdCheckOptions): CheckResult {
  const selected = opts.resources.length ? status.resources.filter((r) => opts.resources.some((w) => matches(r, w))) : status.resources;
  const missing = opts.resources.filter((w) => !status.resources.some((r) => matches(r, w)));
  const children = selected.map((r) => resourceCheck(r, opts));
  for (const m of missing) children.push(leaf(m, State.CRITICAL, 'resource not found: not configured, or down'));

  if (status.resources.length === 0 && missing.length === 0) {
    const minors = status.unconfiguredMinors.length ? ` (minors ${status.unconfiguredMinors.join(', ')} are unconfigured)` : '';
    return leaf('', State.UNKNOWN, `no DRBD resources are configured${minors}: nothing to check, bring them up with drbdadm up, or pick them with --resource`);
  }

  const volumes = selected.reduce((n, r) => n + r.devices.length, 0);
  const oosKiB = selected.reduce((n, r) => n + r.connections.reduce((m, c) => m + c.peerDevices.reduce((k, pd) => k + (pd.outOfSyncKiB ?? 0), 0), 0), 0);
  // Each resource's role while they are few; counted per role when a list would fill the line.
  const roles = selected.length <= 6
    ? selected.map((r) => `${r.name} ${r.role}`).join(', ')
    : [...new Set(selected.map((r) => r.role))].map((role) => `${selected.filter((r) => r.role === role).length} ${role}`).join(', ');
  const ignored = status.unconfiguredMinors.length ? `, unconfigured minors ignored: ${status.unconfiguredMinors.join(', ')}` : '';
  return { ...group('', `${plural(selected.length, 'resource')} (${roles}), ${plural(volumes, 'volume')}: healthy, ${formatKiB(oosKiB)} out of sync${ignored}`, children, rolePerfdata(selected)), items: 'resources' };
}
