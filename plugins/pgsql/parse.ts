/**
 * Pure: captured query results (all values as the server's text, or null) in, typed
 * observations out. LSN arithmetic is done here with BigInt so a capture replays exactly.
 */
import { PluginError } from '../../nagios/plugin.ts';

/** One row as PostgreSQL's text output format gives it: every value a string or NULL. */
export type Row = Readonly<Record<string, string | null>>;

/** Why a host could not be read. `down` = not reachable / not answering; `auth` = refused us. */
export type HostErrorKind = 'down' | 'timeout' | 'auth' | 'config' | 'query';

export interface HostCapture {
  /** The host as given with -H (host:port or socket dir). */
  readonly host: string;
  readonly error?: { readonly kind: HostErrorKind; readonly message: string } | undefined;
  /** The single row of the status query. */
  readonly server?: Row | undefined;
  /** pg_stat_replication rows (primary). */
  readonly replication?: readonly Row[] | undefined;
  /** pg_stat_wal_receiver rows (standby; zero or one). */
  readonly walReceiver?: readonly Row[] | undefined;
}

export interface Capture {
  readonly hosts: readonly HostCapture[];
}

/** `16/B374D848` -> bytes as a BigInt; undefined for NULL, empty or `0/0` (not started yet). */
export function parseLsn(text: string | null | undefined): bigint | undefined {
  if (text === null || text === undefined) return undefined;
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) return undefined;
  const v = (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
  return v === 0n ? undefined : v;
}

/** a - b in bytes, never negative (a standby can replay ahead of what it streamed from archive). */
export function lsnDiff(a: bigint | undefined, b: bigint | undefined): number | undefined {
  if (a === undefined || b === undefined) return undefined;
  const d = a - b;
  return d > 0n ? Number(d) : 0;
}

function num(text: string | null | undefined): number | undefined {
  if (text === null || text === undefined || text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function bool(text: string | null | undefined): boolean | undefined {
  if (text === null || text === undefined) return undefined;
  const t = text.trim().toLowerCase();
  if (t === 't' || t === 'true' || t === 'on') return true;
  if (t === 'f' || t === 'false' || t === 'off') return false;
  return undefined;
}

export interface StandbyView {
  readonly name: string;
  readonly clientAddr: string | undefined;
  /** startup, catchup, streaming, backup, stopping; undefined without pg_read_all_stats. */
  readonly state: string | undefined;
  readonly syncState: string | undefined;
  /** pg_current_wal_lsn() - replay_lsn; undefined while the standby has not replayed yet. */
  readonly replayLagBytes: number | undefined;
  /** sent_lsn gap: WAL the primary has not even sent yet. */
  readonly sendLagBytes: number | undefined;
  /** replay_lag in seconds; 0 when nothing is pending; undefined when not measured yet. */
  readonly replayLagSeconds: number | undefined;
  /** true when the LSN columns are hidden from us (no pg_monitor). */
  readonly hidden: boolean;
}

export interface WalReceiverView {
  /** streaming, starting, waiting, restarting, stopping; undefined when hidden. */
  readonly status: string | undefined;
  readonly senderHost: string | undefined;
  readonly senderPort: string | undefined;
  readonly hidden: boolean;
}

export interface PrimaryObservation {
  readonly role: 'primary';
  readonly host: string;
  readonly version: number | undefined;
  readonly currentLsn: string | undefined;
  readonly standbys: readonly StandbyView[];
}

export interface StandbyObservation {
  readonly role: 'standby';
  readonly host: string;
  readonly version: number | undefined;
  readonly receiveLsn: string | undefined;
  readonly replayLsn: string | undefined;
  /** receive - replay in bytes: received but not yet applied. Undefined before streaming. */
  readonly replayLagBytes: number | undefined;
  /**
   * How far replay is behind, in seconds: 0 when everything received is replayed (an idle
   * primary writes nothing, so "now - last replayed commit" would grow without any lag),
   * else now - pg_last_xact_replay_timestamp(). Undefined when it cannot be told.
   */
  readonly replayDelaySeconds: number | undefined;
  readonly replayPaused: boolean;
  /** Undefined when there is no WAL receiver row (not connected to any primary). */
  readonly walReceiver: WalReceiverView | undefined;
}

export interface UnreachableObservation {
  readonly role: 'unreachable';
  readonly host: string;
  readonly kind: HostErrorKind;
  readonly message: string;
}

export type HostObservation = PrimaryObservation | StandbyObservation | UnreachableObservation;

function standbyView(r: Row, current: bigint | undefined): StandbyView {
  const replay = parseLsn(r.replay_lsn);
  const sent = parseLsn(r.sent_lsn);
  const replayLagBytes = lsnDiff(current, replay);
  let replayLagSeconds = num(r.replay_lag);
  // replay_lag turns NULL a while after the standby caught up on an idle primary: that is
  // no lag at all, but only when no byte is pending; otherwise it is just not measured yet.
  if (replayLagSeconds === undefined && replayLagBytes === 0) replayLagSeconds = 0;
  const state = r.state ?? undefined;
  return {
    name: r.application_name ?? '',
    clientAddr: r.client_addr ?? undefined,
    state,
    syncState: r.sync_state ?? undefined,
    replayLagBytes,
    sendLagBytes: lsnDiff(current, sent),
    replayLagSeconds,
    hidden: state === undefined,
  };
}

export function parseHost(h: HostCapture): HostObservation {
  if (h.error) return { role: 'unreachable', host: h.host, kind: h.error.kind, message: h.error.message };
  const s = h.server;
  if (!s) throw new PluginError(`capture for host '${h.host}' has neither "server" nor "error"`);
  const inRecovery = bool(s.in_recovery);
  if (inRecovery === undefined) throw new PluginError(`capture for host '${h.host}' lacks in_recovery (t/f)`);
  const version = num(s.server_version_num);
  if (!inRecovery) {
    const current = parseLsn(s.current_lsn);
    const standbys = (h.replication ?? [])
      // pg_basebackup's WAL sender is a backup, not a standby.
      .filter((r) => r.state !== 'backup')
      .map((r) => standbyView(r, current))
      .sort((a, b) => a.name.localeCompare(b.name));
    return { role: 'primary', host: h.host, version, currentLsn: s.current_lsn ?? undefined, standbys };
  }
  const receive = parseLsn(s.receive_lsn);
  const replay = parseLsn(s.replay_lsn);
  const replayLagBytes = lsnDiff(receive, replay);
  let replayDelaySeconds: number | undefined;
  if (replayLagBytes === 0) replayDelaySeconds = 0;
  else if (replayLagBytes !== undefined) {
    const now = num(s.now);
    const last = num(s.last_replay_time);
    if (now !== undefined && last !== undefined) replayDelaySeconds = Math.max(0, now - last);
  }
  const wr = h.walReceiver?.[0];
  const walReceiver: WalReceiverView | undefined = wr
    ? {
        status: wr.status ?? undefined,
        senderHost: wr.sender_host ?? undefined,
        senderPort: wr.sender_port ?? undefined,
        hidden: wr.status === null || wr.status === undefined,
      }
    : undefined;
  return {
    role: 'standby',
    host: h.host,
    version,
    receiveLsn: s.receive_lsn ?? undefined,
    replayLsn: s.replay_lsn ?? undefined,
    replayLagBytes,
    replayDelaySeconds,
    replayPaused: bool(s.replay_paused) === true,
    walReceiver,
  };
}

function isRow(x: unknown): x is Row {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((v) => v === null || typeof v === 'string');
}

function rows(x: unknown, what: string, host: string): Row[] | undefined {
  if (x === undefined || x === null) return undefined;
  if (!Array.isArray(x) || !x.every(isRow)) throw new PluginError(`capture for host '${host}': "${what}" must be an array of rows whose values are strings or null`);
  return x;
}

/** Reads an `--input-file` capture: `{"hosts":[...]}` or one host object. */
export function parseCapture(text: string): Capture {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new PluginError(`input is not JSON: ${(e as Error).message.split('\n')[0]} (expected the capture format of plugins/pgsql/README.md)`);
  }
  const list: unknown[] = typeof data === 'object' && data !== null && Array.isArray((data as { hosts?: unknown }).hosts) ? (data as { hosts: unknown[] }).hosts : [data];
  if (list.length === 0) throw new PluginError('input capture has no hosts');
  const hosts = list.map((raw, i): HostCapture => {
    if (typeof raw !== 'object' || raw === null) throw new PluginError(`input capture: host #${i + 1} is not an object`);
    const o = raw as Record<string, unknown>;
    const host = typeof o.host === 'string' ? o.host : `host${i + 1}`;
    let error: HostCapture['error'];
    if (o.error !== undefined && o.error !== null) {
      const e = o.error as Record<string, unknown>;
      const kinds: readonly HostErrorKind[] = ['down', 'timeout', 'auth', 'config', 'query'];
      const kind = kinds.find((k) => k === e.kind) ?? 'query';
      error = { kind, message: typeof e.message === 'string' ? e.message : 'unknown error' };
    }
    let server: Row | undefined;
    if (o.server !== undefined && o.server !== null) {
      if (!isRow(o.server)) throw new PluginError(`capture for host '${host}': "server" must be an object whose values are strings or null`);
      server = o.server;
    }
    return { host, error, server, replication: rows(o.replication, 'replication', host), walReceiver: rows(o.walReceiver, 'walReceiver', host) };
  });
  return { hosts };
}
