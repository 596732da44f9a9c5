/**
 * The only impure part of check_ha_mysql: connects to every server at once, takes one or
 * two samples of variables, replication status, binlog position and heartbeat rows, and
 * optionally writes this run's heartbeat. Failures are recorded per server, never thrown,
 * so one dead or hung server is reported while the others are still judged.
 */
import type { PluginContext } from '../../nagios/plugin.ts';
import { CAPTURE_FORMAT, type Capture, type RawRow, type RawSample, type RawServer } from './capture.ts';
import { classifyError, openSession, type Credentials, type Session } from './connection.ts';
import { binlogStatusStatement, parseChannel, replicaStatusStatement } from './parse.ts';
import type { Target } from './target.ts';

export const VARIABLES = [
  'version', 'version_comment', 'server_id', 'server_uuid', 'hostname', 'port',
  'read_only', 'super_read_only', 'auto_increment_increment', 'auto_increment_offset',
  'log_bin', 'log_slave_updates', 'log_replica_updates', 'binlog_format',
  'gtid_mode', 'gtid_executed', 'gtid_binlog_pos', 'gtid_current_pos', 'gtid_slave_pos', 'gtid_strict_mode',
] as const;

export interface CollectSettings {
  readonly targets: readonly Target[];
  readonly credentials: Credentials;
  /** `db`.`table`, already validated and quoted. */
  readonly heartbeatTable?: string | undefined;
  readonly heartbeatUtc: boolean;
  readonly writeHeartbeat: boolean;
  /** Longest wait for this run's heartbeat to reach the peers (ms). */
  readonly heartbeatWaitMs: number;
  /** Minimum time between the first and the last sample (ms); 0 = one sample. */
  readonly progressIntervalMs: number;
}

interface Live {
  readonly target: Target;
  session?: Session;
  variables?: Record<string, string>;
  status?: Record<string, string>;
  samples: RawSample[];
  heartbeatWrite?: { ts?: number; error?: string; skipped?: string };
  error?: { kind: string; message: string; code?: string };
}

function flatten(rows: readonly RawRow[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows) {
    const name = r.Variable_name ?? r.VARIABLE_NAME;
    const value = r.Value ?? r.VARIABLE_VALUE;
    if (typeof name === 'string') out[name] = value === null || value === undefined ? '' : String(value);
  }
  return out;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

function fail(live: Live, e: unknown): void {
  const err = classifyError(e);
  live.error = { kind: err.kind, message: err.message, ...(err.code ? { code: err.code } : {}) };
  live.session?.close();
  live.session = undefined;
}

async function takeSample(ctx: PluginContext, live: Live, s: CollectSettings): Promise<void> {
  const db = live.session!;
  const version = live.variables?.version ?? '';
  const comment = live.variables?.version_comment ?? '';
  const t0 = Date.now();
  const nowRows = await db.query('SELECT UNIX_TIMESTAMP(NOW(6)) AS now', ctx.remainingMs());
  const clientTime = (t0 + Date.now()) / 2000;
  const replicaStatusStatement_ = replicaStatusStatement(version, comment);
  const replicaStatus = await db.query(replicaStatusStatement_, ctx.remainingMs());
  let binlogStatus: RawRow[] | undefined;
  let binlogStatusError: string | undefined;
  try {
    binlogStatus = await db.query(binlogStatusStatement(version, comment), ctx.remainingMs());
  } catch (e) {
    const err = classifyError(e);
    if (err.kind !== 'privilege' && err.kind !== 'query') throw err;
    binlogStatusError = err.message;
  }
  let heartbeat: RawRow[] | undefined;
  let heartbeatError: string | undefined;
  if (s.heartbeatTable) {
    try {
      heartbeat = await db.query(`SELECT server_id, UNIX_TIMESTAMP(ts) AS ts FROM ${s.heartbeatTable}`, ctx.remainingMs());
    } catch (e) {
      const err = classifyError(e);
      if (err.kind !== 'privilege' && err.kind !== 'query') throw err;
      heartbeatError = err.message;
    }
  }
  live.samples.push({
    clientTime,
    serverTime: Number(nowRows[0]?.now ?? clientTime),
    replicaStatusStatement: replicaStatusStatement_,
    replicaStatus,
    ...(binlogStatus ? { binlogStatus } : {}),
    ...(binlogStatusError ? { binlogStatusError } : {}),
    ...(heartbeat ? { heartbeat } : {}),
    ...(heartbeatError ? { heartbeatError } : {}),
  });
}

async function connectAndSample(ctx: PluginContext, live: Live, s: CollectSettings): Promise<void> {
  try {
    live.session = await openSession(live.target, s.credentials, ctx.remainingMs(), ctx.signal);
    // pt-heartbeat --utc writes UTC; the session zone decides how UNIX_TIMESTAMP(ts) reads it.
    if (s.heartbeatUtc) await live.session.query("SET time_zone = '+00:00'", ctx.remainingMs());
    const list = VARIABLES.map((v) => `'${v}'`).join(', ');
    live.variables = flatten(await live.session.query(`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${list})`, ctx.remainingMs()));
    live.status = flatten(await live.session.query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_running', 'Threads_connected', 'Uptime')", ctx.remainingMs()));
    await takeSample(ctx, live, s);
  } catch (e) {
    fail(live, e);
  }
}

async function writeHeartbeat(ctx: PluginContext, live: Live, table: string): Promise<void> {
  const v = live.variables ?? {};
  if (['ON', '1'].includes((v.read_only ?? '').toUpperCase()) || ['ON', '1'].includes((v.super_read_only ?? '').toUpperCase())) {
    live.heartbeatWrite = { skipped: 'read-only: heartbeat not written' };
    return;
  }
  try {
    await live.session!.query(`INSERT INTO ${table} (ts, server_id) VALUES (NOW(6), @@server_id) ON DUPLICATE KEY UPDATE ts = VALUES(ts)`, ctx.remainingMs());
    const rows = await live.session!.query(`SELECT UNIX_TIMESTAMP(ts) AS ts FROM ${table} WHERE server_id = @@server_id`, ctx.remainingMs());
    live.heartbeatWrite = { ts: Number(rows[0]?.ts) };
  } catch (e) {
    const err = classifyError(e);
    if (err.kind !== 'privilege' && err.kind !== 'query') { fail(live, err); return; }
    live.heartbeatWrite = { error: `heartbeat write failed: ${err.message}` };
  }
}

/** True when every channel on `live` whose source wrote a heartbeat this run has received it. */
async function freshHeartbeatsArrived(ctx: PluginContext, live: Live, all: readonly Live[], table: string): Promise<boolean> {
  const written = new Map<number, number>();
  for (const o of all) {
    const id = Number(o.variables?.server_id);
    if (o.heartbeatWrite?.ts !== undefined && Number.isFinite(id)) written.set(id, o.heartbeatWrite.ts);
  }
  const first = live.samples[0];
  if (!first || !live.session) return true;
  const wanted = first.replicaStatus.map(parseChannel).map((c) => c.sourceServerId).filter((id): id is number => id !== undefined && written.has(id));
  if (wanted.length === 0) return true;
  const rows = await live.session.query(`SELECT server_id, UNIX_TIMESTAMP(ts) AS ts FROM ${table}`, ctx.remainingMs());
  const seen = new Map(rows.map((r) => [Number(r.server_id), Number(r.ts)]));
  return wanted.every((id) => (seen.get(id) ?? -Infinity) >= written.get(id)!);
}

export async function collect(ctx: PluginContext, s: CollectSettings): Promise<Capture> {
  const lives: Live[] = s.targets.map((target) => ({ target, samples: [] }));
  const started = Date.now();
  await Promise.all(lives.map((l) => connectAndSample(ctx, l, s)));
  const up = (): Live[] => lives.filter((l) => l.session && !l.error);

  let second = s.progressIntervalMs > 0;
  if (s.writeHeartbeat && s.heartbeatTable) {
    const table = s.heartbeatTable;
    await Promise.all(up().map((l) => writeHeartbeat(ctx, l, table)));
    if (up().some((l) => l.heartbeatWrite?.ts !== undefined)) {
      second = true;
      // Poll until each peer has applied this run's heartbeat, or the wait is over.
      const until = Date.now() + Math.min(s.heartbeatWaitMs, Math.max(0, ctx.remainingMs() - 500));
      const pending = new Set(up());
      while (pending.size > 0 && Date.now() < until && !ctx.signal.aborted) {
        await Promise.all([...pending].map(async (l) => {
          try {
            if (await freshHeartbeatsArrived(ctx, l, lives, table)) pending.delete(l);
          } catch (e) {
            fail(l, e);
            pending.delete(l);
          }
        }));
        if (pending.size > 0) await sleep(Math.min(100, Math.max(0, until - Date.now())), ctx.signal);
      }
    }
  }
  if (second) {
    const wait = started + s.progressIntervalMs - Date.now();
    if (wait > 0) await sleep(Math.min(wait, Math.max(0, ctx.remainingMs() - 500)), ctx.signal);
    await Promise.all(up().map(async (l) => {
      try {
        await takeSample(ctx, l, s);
      } catch (e) {
        fail(l, e);
      }
    }));
  }
  for (const l of lives) l.session?.close();

  const servers: RawServer[] = lives.map((l) => ({
    target: l.target.label,
    address: l.target.socketPath ?? `${l.target.host}:${l.target.port}`,
    ...(l.variables ? { variables: l.variables } : {}),
    ...(l.status ? { status: l.status } : {}),
    ...(l.samples.length ? { samples: l.samples } : {}),
    ...(l.heartbeatWrite ? { heartbeatWrite: l.heartbeatWrite } : {}),
    ...(l.error ? { error: l.error } : {}),
  }));
  return { format: CAPTURE_FORMAT, ...(s.heartbeatTable ? { heartbeatTable: s.heartbeatTable } : {}), servers };
}
