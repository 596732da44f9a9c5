/**
 * Pure parsers for the three ways DRBD reports its state, all turned into one model:
 *
 *   proc         /proc/drbd of DRBD 8.x (8.0-8.2 write `st:`, 8.3+ `ro:`). One block per minor.
 *   status-json  `drbdsetup status --json` (DRBD 9): resources > devices, connections > peer_devices.
 *   events2      `drbdsetup events2 --now --statistics` (DRBD 9, and 8.4 kernels with drbd-utils 9):
 *                one `exists <object> key:value ...` line per object, ending with `exists -`.
 *
 * Every size in DRBD's output is in KiB (the kernel counts 512-byte sectors and prints them / 2),
 * and so is every size in the model. Malformed or truncated input throws DrbdParseError with a
 * message that says where; it never yields a half-filled model.
 */

export const FORMATS = ['proc', 'status-json', 'events2'] as const;
export type DrbdFormat = (typeof FORMATS)[number];

export interface ResyncProgress {
  /** How much of the current resync (or online verify) is done, 0..100. */
  readonly percentDone?: number | undefined;
  readonly etaSeconds?: number | undefined;
  readonly speedKiBps?: number | undefined;
  /** /proc/drbd says `stalled` when no progress was made for a while. */
  readonly stalled?: boolean | undefined;
}

export interface DrbdPeerDevice {
  readonly volume: number;
  /** DRBD 9 replication state (Established, SyncSource, ...); on 8.x the `cs:` value (Connected, SyncSource, ...). */
  readonly replicationState: string;
  readonly peerDiskState: string;
  /** The peer is a diskless client on purpose (DRBD 9 `peer-client`). */
  readonly peerIntentionalDiskless: boolean;
  /** `no`, or why the resync is paused: `user`, `peer`, `dependency` (comma separated). */
  readonly resyncSuspended: string;
  /** Data this peer lacks (or we lack from it): the RPO. Undefined when DRBD does not say (8.2.5 and older). */
  readonly outOfSyncKiB?: number | undefined;
  readonly percentInSync?: number | undefined;
  readonly sentKiB?: number | undefined;
  readonly receivedKiB?: number | undefined;
  readonly resync?: ResyncProgress | undefined;
}

export interface DrbdConnection {
  /** The peer's name (DRBD 9 `conn-name`); undefined on 8.x, which has exactly one unnamed peer. */
  readonly name?: string | undefined;
  readonly peerNodeId?: number | undefined;
  readonly connectionState: string;
  readonly peerRole: string;
  /** Newer drbd-utils print `sync-state:SplitBrain` or `sync-state:Unrelated` on a StandAlone connection. */
  readonly syncState?: string | undefined;
  readonly peerDevices: readonly DrbdPeerDevice[];
}

export interface DrbdDevice {
  readonly volume: number;
  readonly minor?: number | undefined;
  readonly diskState: string;
  /** A diskless client on purpose (DRBD 9 `client`): Diskless is then the normal state. */
  readonly intentionalDiskless: boolean;
  /** DRBD 9 only; undefined when not reported. */
  readonly quorum?: boolean | undefined;
  readonly sizeKiB?: number | undefined;
  readonly readKiB?: number | undefined;
  readonly writtenKiB?: number | undefined;
}

export interface DrbdResource {
  /** DRBD 9 resource name; on 8.x /proc/drbd (which has no names) `drbd<minor>`. */
  readonly name: string;
  /** Set for 8.x /proc/drbd, where a "resource" is one minor. */
  readonly minor?: number | undefined;
  readonly role: string;
  /** `no`, or why I/O is suspended: `user`, `no-data`, `fencing`, `quorum`, or `yes` when DRBD does not say. */
  readonly suspended: string;
  readonly devices: readonly DrbdDevice[];
  readonly connections: readonly DrbdConnection[];
}

export interface DrbdStatus {
  readonly format: DrbdFormat;
  /** Kernel module version, from /proc/drbd. */
  readonly version?: string | undefined;
  readonly resources: readonly DrbdResource[];
  /** 8.x minors listed as `cs:Unconfigured` (allocated but not set up): not resources. */
  readonly unconfiguredMinors: readonly number[];
}

export class DrbdParseError extends Error {
  override name = 'DrbdParseError';
}

// ---------------------------------------------------------------------------------------------
// Format detection

const EVENTS2_LINE = /^(?:\d{4}-\d\d-\d\dT\S+ )?(?:exists|create|change|destroy|call|response|rename) (?:resource|connection|device|peer-device|path|helper|-)(?: |$)/;
const PROC_MINOR_LINE = /^\s*\d+: cs:/;

/** Tells the three formats apart by their content. */
export function detectFormat(text: string): DrbdFormat {
  const trimmed = text.trim();
  if (trimmed === '') throw new DrbdParseError('the input is empty');
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) return 'status-json';
  const lines = trimmed.split('\n');
  if (lines.some((l) => EVENTS2_LINE.test(l))) return 'events2';
  if (lines.some((l) => /^version: \d/.test(l) || PROC_MINOR_LINE.test(l))) return 'proc';
  throw new DrbdParseError(
    "the input is not DRBD status: expected /proc/drbd text, 'drbdsetup status --json' or 'drbdsetup events2 --now' output",
  );
}

export function parseDrbd(text: string, format: DrbdFormat = detectFormat(text)): DrbdStatus {
  switch (format) {
    case 'proc': return parseProcDrbd(text);
    case 'status-json': return parseStatusJson(text);
    case 'events2': return parseEvents2(text);
  }
}

// ---------------------------------------------------------------------------------------------
// /proc/drbd (DRBD 8.x)

/** Numbers in /proc/drbd progress lines use thousands separators: `35,704`. */
function groupedNumber(s: string): number {
  return Number(s.replace(/,/g, ''));
}

function versionAtLeast(version: string | undefined, major: number, minor: number, patch: number): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version ?? '');
  if (!m) return false;
  const v = [Number(m[1]), Number(m[2]), Number(m[3])] as const;
  const want = [major, minor, patch] as const;
  for (let i = 0; i < 3; i++) if (v[i] !== want[i]) return v[i]! > want[i]!;
  return true;
}

interface ProcMinor {
  minor: number;
  lineNo: number;
  fields: Map<string, string>;
  flags: string;
  counters?: Map<string, string>;
  resync: { percentDone?: number; etaSeconds?: number; speedKiBps?: number; stalled?: boolean };
}

/** The `cs:` values that mean "no working connection"; all others mean connected (and maybe syncing). */
const PROC_DISCONNECTED = new Set([
  'StandAlone', 'Disconnecting', 'Unconnected', 'Timeout', 'BrokenPipe', 'NetworkFailure',
  'ProtocolError', 'TearDown', 'WFConnection', 'WFReportParams',
]);

export function parseProcDrbd(text: string): DrbdStatus {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let version: string | undefined;
  const minors: ProcMinor[] = [];
  const unconfigured: number[] = [];
  let current: ProcMinor | undefined;

  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trimEnd();
    if (line.trim() === '') return;
    const v = /^version: (\S+)/.exec(line);
    if (v) {
      version = v[1];
      return;
    }
    const minorMatch = /^\s*(\d+): (.*)$/.exec(line);
    if (minorMatch && /^cs:/.test(minorMatch[2]!)) {
      const minor = Number(minorMatch[1]);
      const tokens = minorMatch[2]!.split(/\s+/);
      const fields = new Map<string, string>();
      let flags = '';
      for (const t of tokens) {
        const c = t.indexOf(':');
        if (c > 0) fields.set(t.slice(0, c), t.slice(c + 1));
        else if (/^[rs][-a-z]{3,}$/.test(t)) flags = t;
      }
      if (fields.get('cs') === 'Unconfigured') {
        unconfigured.push(minor);
        current = undefined;
        return;
      }
      const roles = fields.get('ro') ?? fields.get('st');
      const disks = fields.get('ds');
      if (!roles || !/^\w+\/\w+$/.test(roles) || !disks || !/^\w+\/\w+$/.test(disks) || !fields.get('cs')) {
        throw new DrbdParseError(`/proc/drbd line ${lineNo} is truncated or not understood: '${line.trim()}' (expected 'N: cs:... ro:.../... ds:.../...')`);
      }
      current = { minor, lineNo, fields, flags, resync: {} };
      minors.push(current);
      return;
    }
    if (!/^\s/.test(raw)) {
      // Headers (GIT-hash:, srcversion:, Transports ...) come before the first minor.
      if (minors.length === 0 && unconfigured.length === 0) return;
      throw new DrbdParseError(`/proc/drbd line ${lineNo} is not understood: '${line.trim()}'`);
    }
    if (!current) return;
    const body = line.trim();
    if (/^ns:/.test(body)) {
      const counters = new Map<string, string>();
      for (const t of body.split(/\s+/)) {
        const m = /^([a-z]+):(\S+)$/.exec(t);
        if (!m || (m[1] !== 'wo' && !/^\d+$/.test(m[2]!))) {
          throw new DrbdParseError(`/proc/drbd line ${lineNo} is truncated or not understood: '${body}'`);
        }
        counters.set(m[1]!, m[2]!);
      }
      current.counters = counters;
      return;
    }
    // Resync / online-verify progress, e.g.
    //   [=>..................] sync'ed: 12.6% (7168/8192)M
    //   finish: 0:03:25 speed: 35,704 (35,704) want: 40,960 K/sec
    const pct = /(?:sync'ed|verified):\s*([\d.]+)%/.exec(body);
    if (pct) current.resync.percentDone = Number(pct[1]);
    const finish = /finish: (\d+):(\d\d):(\d\d)/.exec(body);
    if (finish) current.resync.etaSeconds = Number(finish[1]) * 3600 + Number(finish[2]) * 60 + Number(finish[3]);
    const speed = /speed: ([\d,]+)/.exec(body);
    if (speed) current.resync.speedKiBps = groupedNumber(speed[1]!);
    if (/\bstalled\b/.test(body)) current.resync.stalled = true;
  });

  if (version === undefined && minors.length === 0 && unconfigured.length === 0) {
    throw new DrbdParseError("the input is not /proc/drbd: it has neither a 'version:' line nor minor lines");
  }
  if (minors.length === 0 && unconfigured.length === 0 && Number(/^(\d+)\./.exec(version ?? '')?.[1]) >= 9) {
    throw new DrbdParseError(`DRBD ${version} keeps only its version in /proc/drbd: read 'drbdsetup status --json' instead (--source status-json)`);
  }
  // oos: exists since 8.2.6; a counters line without it on a newer module means the text was cut.
  const needsOos = versionAtLeast(version, 8, 2, 6);
  const resources = minors.map((m): DrbdResource => {
    if (!m.counters) {
      throw new DrbdParseError(`/proc/drbd minor ${m.minor} (line ${m.lineNo}) has no counters line ('ns:... oos:...'): the input is truncated`);
    }
    if (needsOos && !m.counters.has('oos')) {
      throw new DrbdParseError(`/proc/drbd minor ${m.minor} has no 'oos:' counter although DRBD ${version} prints it: the input is truncated`);
    }
    const [role = '', peerRole = ''] = (m.fields.get('ro') ?? m.fields.get('st') ?? '').split('/');
    const [disk = '', peerDisk = ''] = (m.fields.get('ds') ?? '').split('/');
    const cs = m.fields.get('cs')!;
    const num = (k: string): number | undefined => (m.counters!.has(k) ? Number(m.counters!.get(k)) : undefined);
    const connected = !PROC_DISCONNECTED.has(cs);
    // Flags: [0] r running / s suspended, [1] a = resync paused by a resync-after dependency,
    // [2] p = paused by the peer, [3] u = paused by the user.
    const paused = [m.flags[1] === 'a' ? 'dependency' : '', m.flags[2] === 'p' ? 'peer' : '', m.flags[3] === 'u' ? 'user' : ''].filter(Boolean);
    const resync = Object.keys(m.resync).length > 0 ? m.resync : undefined;
    return {
      name: `drbd${m.minor}`,
      minor: m.minor,
      role,
      suspended: m.flags[0] === 's' ? 'yes' : 'no',
      devices: [{ volume: 0, minor: m.minor, diskState: disk, intentionalDiskless: false, readKiB: num('dr'), writtenKiB: num('dw') }],
      connections: [{
        connectionState: connected ? 'Connected' : cs,
        peerRole,
        peerDevices: [{
          volume: 0,
          replicationState: connected ? cs : 'Off',
          peerDiskState: peerDisk,
          peerIntentionalDiskless: false,
          resyncSuspended: paused.length ? paused.join(',') : 'no',
          outOfSyncKiB: num('oos'),
          percentInSync: num('oos') === 0 ? 100 : undefined,
          sentKiB: num('ns'),
          receivedKiB: num('nr'),
          resync,
        }],
      }],
    };
  });
  return { format: 'proc', version, resources, unconfiguredMinors: unconfigured };
}

// ---------------------------------------------------------------------------------------------
// drbdsetup status --json (DRBD 9)

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function req<T>(obj: Json, key: string, type: 'string' | 'number' | 'boolean', where: string): T {
  const v = obj[key];
  if (typeof v !== type) throw new DrbdParseError(`status JSON: ${where} has no ${type} '${key}'`);
  return v as T;
}

function opt(obj: Json, key: string): number | undefined {
  const v = obj[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function arr(obj: Json, key: string, where: string): Json[] {
  const v = obj[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every(isObject)) throw new DrbdParseError(`status JSON: ${where} has a '${key}' that is not a list of objects`);
  return v;
}

/** drbdsetup prints 987654321 when it cannot estimate the time left. */
const NO_ESTIMATE = 987654321;

export function parseStatusJson(text: string): DrbdStatus {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new DrbdParseError(`status JSON is not valid JSON (truncated or garbage): ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new DrbdParseError("status JSON: expected a list of resources ('[...]') at the top");
  const resources = data.map((r, i): DrbdResource => {
    if (!isObject(r)) throw new DrbdParseError(`status JSON: resource ${i + 1} is not an object`);
    const name = req<string>(r, 'name', 'string', `resource ${i + 1}`);
    const where = `resource '${name}'`;
    const reasons = (['user', 'no-data', 'fencing', 'quorum'] as const).filter((k) => r[`suspended-${k}`] === true);
    const suspended = r.suspended === true ? (reasons.length ? reasons.join(',') : 'yes') : 'no';
    const devices = arr(r, 'devices', where).map((d): DrbdDevice => ({
      volume: req<number>(d, 'volume', 'number', `${where} device`),
      minor: opt(d, 'minor'),
      diskState: req<string>(d, 'disk-state', 'string', `${where} device`),
      intentionalDiskless: d.client === true,
      quorum: typeof d.quorum === 'boolean' ? d.quorum : undefined,
      sizeKiB: opt(d, 'size'),
      readKiB: opt(d, 'read'),
      writtenKiB: opt(d, 'written'),
    }));
    const connections = arr(r, 'connections', where).map((c): DrbdConnection => {
      const cname = req<string>(c, 'name', 'string', `${where} connection`);
      const cwhere = `${where} connection '${cname}'`;
      return {
        name: cname,
        peerNodeId: opt(c, 'peer-node-id'),
        connectionState: req<string>(c, 'connection-state', 'string', cwhere),
        peerRole: req<string>(c, 'peer-role', 'string', cwhere),
        peerDevices: arr(c, 'peer_devices', cwhere).map((p): DrbdPeerDevice => {
          const eta = opt(p, 'estimated-seconds-to-finish');
          const done = opt(p, 'percent-resync-done');
          const speedMiBps = opt(p, 'db1/dt1 [MiB/s]');
          return {
            volume: req<number>(p, 'volume', 'number', `${cwhere} peer device`),
            replicationState: req<string>(p, 'replication-state', 'string', `${cwhere} peer device`),
            peerDiskState: req<string>(p, 'peer-disk-state', 'string', `${cwhere} peer device`),
            peerIntentionalDiskless: p['peer-client'] === true,
            resyncSuspended: typeof p['resync-suspended'] === 'string' ? p['resync-suspended'] : 'no',
            outOfSyncKiB: opt(p, 'out-of-sync'),
            percentInSync: opt(p, 'percent-in-sync'),
            sentKiB: opt(p, 'sent'),
            receivedKiB: opt(p, 'received'),
            resync: done === undefined
              ? undefined
              : {
                  percentDone: done,
                  etaSeconds: eta === undefined || eta >= NO_ESTIMATE ? undefined : eta,
                  speedKiBps: speedMiBps === undefined ? undefined : speedMiBps * 1024,
                },
          };
        }),
      };
    });
    return { name, role: req<string>(r, 'role', 'string', where), suspended, devices, connections };
  });
  return { format: 'status-json', resources, unconfiguredMinors: [] };
}

// ---------------------------------------------------------------------------------------------
// drbdsetup events2 --now --statistics

type Fields = Map<string, string>;

interface Ev2Resource {
  fields: Fields;
  devices: Map<number, Fields>;
  connections: Map<string, { fields: Fields; peerDevices: Map<number, Fields> }>;
}

function yesNo(v: string | undefined): boolean | undefined {
  return v === 'yes' ? true : v === 'no' ? false : undefined;
}

function numField(f: Fields, key: string, where: string, required = false): number | undefined {
  const v = f.get(key);
  if (v === undefined) {
    if (required) throw new DrbdParseError(`events2 ${where} has no '${key}:'`);
    return undefined;
  }
  if (!/^\d+(\.\d+)?$/.test(v)) throw new DrbdParseError(`events2 ${where}: '${key}:${v}' is not a number (truncated?)`);
  return Number(v);
}

export function parseEvents2(text: string): DrbdStatus {
  const resources = new Map<string, Ev2Resource>();
  let complete = false;
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  // Every line is checked before anything is built: a cut line must not become a half object.
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trim().replace(/^\d{4}-\d\d-\d\dT\S+ /, '');
    if (line === '') return;
    const [action = '', object = '', ...rest] = line.split(/\s+/);
    if (!/^(exists|create|change|destroy|call|response|rename)$/.test(action)) {
      throw new DrbdParseError(`events2 line ${lineNo} is not an event: '${raw.trim()}'`);
    }
    if (object === '-') {
      if (action === 'exists') complete = true;
      return;
    }
    const fields: Fields = new Map();
    for (const t of rest) {
      const c = t.indexOf(':');
      if (c <= 0) throw new DrbdParseError(`events2 line ${lineNo}: '${t}' is not key:value (truncated?)`);
      fields.set(t.slice(0, c), t.slice(c + 1));
    }
    if (action === 'call' || action === 'response' || action === 'rename' || object === 'path' || object === 'helper') return;
    const name = fields.get('name');
    if (!name) throw new DrbdParseError(`events2 line ${lineNo}: ${object} without 'name:'`);
    let res = resources.get(name);
    if (object === 'resource') {
      if (action === 'destroy') {
        resources.delete(name);
        return;
      }
      if (!res) {
        res = { fields: new Map(), devices: new Map(), connections: new Map() };
        resources.set(name, res);
      }
      for (const [k, v] of fields) res.fields.set(k, v);
      return;
    }
    if (!res) throw new DrbdParseError(`events2 line ${lineNo}: ${object} of resource '${name}' before the resource itself`);
    const merge = <K>(map: Map<K, Fields>, key: K): void => {
      if (action === 'destroy') {
        map.delete(key);
        return;
      }
      const old = map.get(key) ?? new Map<string, string>();
      for (const [k, v] of fields) old.set(k, v);
      map.set(key, old);
    };
    switch (object) {
      case 'device':
        merge(res.devices, numField(fields, 'volume', `line ${lineNo}`, true)!);
        break;
      case 'connection': {
        const conn = fields.get('conn-name') ?? `peer-node-id ${fields.get('peer-node-id') ?? '?'}`;
        if (action === 'destroy') {
          res.connections.delete(conn);
          break;
        }
        const c = res.connections.get(conn) ?? { fields: new Map<string, string>(), peerDevices: new Map<number, Fields>() };
        for (const [k, v] of fields) c.fields.set(k, v);
        res.connections.set(conn, c);
        break;
      }
      case 'peer-device': {
        const conn = fields.get('conn-name') ?? `peer-node-id ${fields.get('peer-node-id') ?? '?'}`;
        const c = res.connections.get(conn);
        if (!c) throw new DrbdParseError(`events2 line ${lineNo}: peer-device of connection '${conn}' before the connection itself`);
        merge(c.peerDevices, numField(fields, 'volume', `line ${lineNo}`, true)!);
        break;
      }
      default:
        throw new DrbdParseError(`events2 line ${lineNo}: unknown object '${object}'`);
    }
  });
  if (!complete) {
    throw new DrbdParseError("events2 output does not end with 'exists -': the input is truncated (was it taken with --now?)");
  }

  const out = [...resources.entries()].map(([name, r]): DrbdResource => {
    const devices = [...r.devices.entries()].sort((a, b) => a[0] - b[0]).map(([volume, f]): DrbdDevice => ({
      volume,
      minor: numField(f, 'minor', `device ${name}/${volume}`),
      diskState: f.get('disk') ?? 'DUnknown',
      intentionalDiskless: f.get('client') === 'yes',
      quorum: yesNo(f.get('quorum')),
      sizeKiB: numField(f, 'size', `device ${name}/${volume}`),
      readKiB: numField(f, 'read', `device ${name}/${volume}`),
      writtenKiB: numField(f, 'written', `device ${name}/${volume}`),
    }));
    const sizeOf = new Map(devices.map((d) => [d.volume, d.sizeKiB]));
    const connections = [...r.connections.entries()].map(([cname, c]): DrbdConnection => ({
      name: c.fields.get('conn-name') ?? cname,
      peerNodeId: numField(c.fields, 'peer-node-id', `connection ${name} ${cname}`),
      connectionState: c.fields.get('connection') ?? 'Unknown',
      peerRole: c.fields.get('role') ?? 'Unknown',
      syncState: c.fields.get('sync-state'),
      peerDevices: [...c.peerDevices.entries()].sort((a, b) => a[0] - b[0]).map(([volume, f]): DrbdPeerDevice => {
        const oos = numField(f, 'out-of-sync', `peer-device ${name}/${volume} ${cname}`);
        const size = sizeOf.get(volume);
        const done = numField(f, 'done', `peer-device ${name}/${volume} ${cname}`);
        const eta = f.get('eta');
        const dbdt1 = f.get('dbdt1');
        return {
          volume,
          replicationState: f.get('replication') ?? 'Off',
          peerDiskState: f.get('peer-disk') ?? 'DUnknown',
          peerIntentionalDiskless: f.get('peer-client') === 'yes',
          resyncSuspended: f.get('resync-suspended') ?? 'no',
          outOfSyncKiB: oos,
          percentInSync: oos === undefined ? undefined : size ? 100 * (1 - oos / size) : oos === 0 ? 100 : undefined,
          sentKiB: numField(f, 'sent', `peer-device ${name}/${volume} ${cname}`),
          receivedKiB: numField(f, 'received', `peer-device ${name}/${volume} ${cname}`),
          resync: done === undefined
            ? undefined
            : {
                percentDone: done,
                // eta is printed as 'nan' when DRBD cannot estimate it.
                etaSeconds: eta !== undefined && /^\d+$/.test(eta) ? Number(eta) : undefined,
                speedKiBps: dbdt1 !== undefined && /^[\d.]+$/.test(dbdt1) ? Number(dbdt1) * 1024 : undefined,
              },
        };
      }),
    }));
    return {
      name,
      role: r.fields.get('role') ?? 'Unknown',
      suspended: r.fields.get('suspended') ?? 'no',
      devices,
      connections,
    };
  });
  return { format: 'events2', resources: out, unconfiguredMinors: [] };
}
