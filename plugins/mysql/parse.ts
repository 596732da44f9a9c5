/**
 * Pure: a capture (rows as the servers returned them) in, typed observations out.
 *
 * Naming differs by version: MySQL >= 8.0.22 `SHOW REPLICA STATUS` says Replica_* and
 * Source_* (Seconds_Behind_Source, Source_Server_Id, Exec_Source_Log_Pos, ...); MySQL 5.7,
 * 8.0 before 8.0.22 and every MariaDB (even through its SHOW REPLICA STATUS alias) say
 * Slave_* and Master_*. MariaDB multi-source rows carry Connection_name, MySQL channels
 * Channel_Name. Everything is mapped to the Slave_/Master_ names first.
 */
import { PluginError } from '../../nagios/plugin.ts';
import { CAPTURE_FORMAT, type Capture, type RawRow, type RawSample, type RawServer } from './capture.ts';

export type Flavor = 'mariadb' | 'mysql';

export interface LogPosition {
  readonly file: string;
  readonly pos: number;
}

export interface Channel {
  /** Connection_name (MariaDB) or Channel_Name (MySQL); '' for the default connection. */
  readonly name: string;
  readonly sourceHost: string;
  readonly sourcePort: number | undefined;
  /** 0 until the IO thread has connected once. */
  readonly sourceServerId: number | undefined;
  /** Slave_IO_Running as given: Yes, No, Connecting (MySQL), Preparing (MariaDB 10.x). */
  readonly ioState: string;
  readonly sqlState: string;
  readonly ioRunning: boolean;
  readonly sqlRunning: boolean;
  readonly lastIoErrno: number;
  readonly lastIoError: string;
  readonly lastSqlErrno: number;
  readonly lastSqlError: string;
  /** NULL while a thread is stopped. */
  readonly secondsBehind: number | null;
  readonly sqlDelay: number;
  readonly sqlRunningState: string;
  readonly usingGtid: string;
  readonly gtidIoPos: string;
  readonly retrievedGtidSet: string;
  readonly executedGtidSet: string;
  /** Source binlog coordinates the IO thread has read up to. */
  readonly read: LogPosition | undefined;
  /** Source binlog coordinates the SQL thread has executed up to. */
  readonly exec: LogPosition | undefined;
}

export interface Sample {
  readonly clientTime: number;
  readonly serverTime: number;
  readonly channels: readonly Channel[];
  readonly binlog: LogPosition | undefined;
  readonly binlogError: string | undefined;
  /** server_id -> newest heartbeat (Unix seconds) present on this server. */
  readonly heartbeat: ReadonlyMap<number, number> | undefined;
  readonly heartbeatError: string | undefined;
}

export interface ServerUp {
  readonly ok: true;
  readonly label: string;
  readonly address: string | undefined;
  readonly flavor: Flavor;
  readonly version: string;
  readonly serverId: number | undefined;
  readonly readOnly: boolean;
  readonly superReadOnly: boolean;
  readonly autoIncrementIncrement: number;
  readonly autoIncrementOffset: number;
  readonly logBin: boolean;
  readonly gtidPosition: string | undefined;
  readonly threadsRunning: number | undefined;
  readonly first: Sample;
  readonly last: Sample;
  readonly heartbeatWritten: number | undefined;
  readonly heartbeatWriteNote: string | undefined;
}

export interface ServerDown {
  readonly ok: false;
  readonly label: string;
  readonly address: string | undefined;
  readonly kind: string;
  readonly message: string;
}

export type ServerObservation = ServerUp | ServerDown;

export interface Observations {
  readonly heartbeatTable: string | undefined;
  readonly servers: readonly ServerObservation[];
}

export function isMariaDb(version: string, comment = ''): boolean {
  return /mariadb/i.test(version) || /mariadb/i.test(comment);
}

/** `10.11.19-MariaDB-log` -> [10, 11, 19]; the `5.5.5-` prefix old MariaDB sends is dropped. */
export function versionNumbers(version: string): [number, number, number] {
  const v = version.replace(/^5\.5\.5-/, '');
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v) ?? /^(\d+)\.(\d+)/.exec(v);
  return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0), Number(m?.[3] ?? 0)];
}

function atLeast(v: readonly number[], want: readonly number[]): boolean {
  for (let i = 0; i < want.length; i++) {
    const a = v[i] ?? 0;
    const b = want[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** Which statement lists the replication connections on this server. */
export function replicaStatusStatement(version: string, comment = ''): string {
  if (isMariaDb(version, comment)) return 'SHOW ALL SLAVES STATUS'; // every MariaDB 10.x/11.x, with Connection_name
  const v = versionNumbers(version);
  return atLeast(v, [8, 0, 22]) ? 'SHOW REPLICA STATUS' : 'SHOW SLAVE STATUS';
}

/** Which statement gives this server's own binlog coordinates. */
export function binlogStatusStatement(version: string, comment = ''): string {
  if (isMariaDb(version, comment)) return 'SHOW MASTER STATUS';
  return atLeast(versionNumbers(version), [8, 2, 0]) ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS';
}

/** Replica_IO_Running -> Slave_IO_Running, Seconds_Behind_Source -> Seconds_Behind_Master, ... */
export function legacyColumnName(name: string): string {
  return name
    .split('_')
    .map((t) => (t === 'Replica' ? 'Slave' : t === 'Source' ? 'Master' : t))
    .join('_');
}

export function normalizeRow(row: RawRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[legacyColumnName(k)] = v;
  return out;
}

function str(v: unknown): string {
  if (v === null || v === undefined) return '';
  return String(v);
}

function num(v: unknown): number | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  return Number.isFinite(n) ? n : undefined;
}

function flag(v: string | undefined): boolean {
  const t = (v ?? '').trim().toUpperCase();
  return t === 'ON' || t === '1' || t === 'YES' || t === 'TRUE';
}

function position(file: unknown, pos: unknown): LogPosition | undefined {
  const f = str(file);
  const p = num(pos);
  return f === '' || p === undefined ? undefined : { file: f, pos: p };
}

export function parseChannel(raw: RawRow): Channel {
  const r = normalizeRow(raw);
  const ioState = str(r.Slave_IO_Running);
  const sqlState = str(r.Slave_SQL_Running);
  const sbm = num(r.Seconds_Behind_Master);
  return {
    name: str(r.Connection_name ?? r.Channel_Name ?? r.Channel_name),
    sourceHost: str(r.Master_Host),
    sourcePort: num(r.Master_Port),
    sourceServerId: num(r.Master_Server_Id),
    ioState,
    sqlState,
    ioRunning: ioState.toLowerCase() === 'yes',
    sqlRunning: sqlState.toLowerCase() === 'yes',
    lastIoErrno: num(r.Last_IO_Errno) ?? 0,
    lastIoError: str(r.Last_IO_Error),
    lastSqlErrno: num(r.Last_SQL_Errno) ?? 0,
    lastSqlError: str(r.Last_SQL_Error),
    secondsBehind: sbm === undefined ? null : sbm,
    sqlDelay: num(r.SQL_Delay) ?? 0,
    sqlRunningState: str(r.Slave_SQL_Running_State),
    usingGtid: str(r.Using_Gtid),
    gtidIoPos: str(r.Gtid_IO_Pos),
    retrievedGtidSet: str(r.Retrieved_Gtid_Set),
    executedGtidSet: str(r.Executed_Gtid_Set),
    read: position(r.Master_Log_File, r.Read_Master_Log_Pos),
    exec: position(r.Relay_Master_Log_File, r.Exec_Master_Log_Pos),
  };
}

function parseSample(s: RawSample): Sample {
  let heartbeat: Map<number, number> | undefined;
  if (s.heartbeat) {
    heartbeat = new Map();
    for (const row of s.heartbeat) {
      const id = num(row.server_id);
      const ts = num(row.ts);
      if (id === undefined || ts === undefined) continue;
      heartbeat.set(id, Math.max(ts, heartbeat.get(id) ?? -Infinity));
    }
  }
  const b = s.binlogStatus?.[0];
  return {
    clientTime: num(s.clientTime) ?? 0,
    serverTime: num(s.serverTime) ?? num(s.clientTime) ?? 0,
    channels: (s.replicaStatus ?? []).map(parseChannel),
    binlog: b ? position(b.File, b.Position) : undefined,
    binlogError: s.binlogStatusError,
    heartbeat,
    heartbeatError: s.heartbeatError,
  };
}

function parseServer(s: RawServer): ServerObservation {
  const label = str(s.target) || '?';
  if (s.error || !s.variables || !s.samples || s.samples.length === 0) {
    return { ok: false, label, address: s.address, kind: s.error?.kind ?? 'query', message: s.error?.message ?? 'no data captured' };
  }
  const v = s.variables;
  const get = (name: string): string | undefined => v[name] ?? v[name.toLowerCase()] ?? v[name.toUpperCase()];
  const version = get('version') ?? '';
  const comment = get('version_comment') ?? '';
  const flavor: Flavor = isMariaDb(version, comment) ? 'mariadb' : 'mysql';
  const samples = s.samples.map(parseSample);
  const status = s.status ?? {};
  return {
    ok: true,
    label,
    address: s.address,
    flavor,
    version,
    serverId: num(get('server_id')),
    readOnly: flag(get('read_only')),
    superReadOnly: flag(get('super_read_only')),
    autoIncrementIncrement: num(get('auto_increment_increment')) ?? 1,
    autoIncrementOffset: num(get('auto_increment_offset')) ?? 1,
    logBin: flag(get('log_bin')),
    gtidPosition: flavor === 'mariadb' ? get('gtid_binlog_pos') : get('gtid_executed'),
    threadsRunning: num(status.Threads_running ?? status.THREADS_RUNNING),
    first: samples[0]!,
    last: samples[samples.length - 1]!,
    heartbeatWritten: num(s.heartbeatWrite?.ts),
    heartbeatWriteNote: s.heartbeatWrite?.error ?? s.heartbeatWrite?.skipped,
  };
}

export function parseCapture(c: Capture): Observations {
  return { heartbeatTable: c.heartbeatTable, servers: c.servers.map(parseServer) };
}

/** Parses `--input-file` content: a capture written by this plugin (or by hand). */
export function parseCaptureText(text: string): Capture {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new PluginError(`input file is not JSON (${(e as Error).message.split('\n')[0]}): expected a capture in format ${CAPTURE_FORMAT} (see plugins/mysql/README.md)`);
  }
  const c = data as Partial<Capture>;
  if (typeof c !== 'object' || c === null || !Array.isArray(c.servers)) {
    throw new PluginError(`input file has no "servers" array: expected a capture in format ${CAPTURE_FORMAT} (see plugins/mysql/README.md)`);
  }
  for (const [i, s] of c.servers.entries()) {
    if (typeof s !== 'object' || s === null || typeof (s as RawServer).target !== 'string') {
      throw new PluginError(`input file: servers[${i}] has no "target" name`);
    }
  }
  return { format: CAPTURE_FORMAT, heartbeatTable: c.heartbeatTable, servers: c.servers };
}
