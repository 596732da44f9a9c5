/**
 * Pure: HAProxy `show info` and `show stat` (or the stats page `;csv`) text in, typed
 * proxies out. Columns are found by the header line (`# pxname,svname,...`): fields after
 * the static ones have no fixed order and more are appended in every version. Rows stored
 * without the header are read by the documented positions of the static fields.
 */
import { PluginError } from '../../nagios/plugin.ts';

export type StatRow = Readonly<Record<string, string>>;

/** Splits one CSV line; HAProxy quotes a field (csv_enc) only when it holds `,` or `"`. */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  let field = '';
  let quoted = false;
  while (i < line.length) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      out.push(field);
      field = '';
    } else field += ch;
    i++;
  }
  out.push(field);
  return out;
}

export interface RawStats {
  /** `show info` keys, when the input had them (socket, or a capture with both). */
  readonly info: Readonly<Record<string, string>> | undefined;
  readonly rows: readonly StatRow[];
}

/**
 * The static fields of the stats CSV in their documented order (management guide "9.1. CSV
 * format": "Please do not insert any column before these ones in order not to break tools
 * which use hard-coded column positions"; fields after `-` have no fixed order). Used only
 * when the header line is missing, as exporters that store the rows without it do.
 */
export const DOCUMENTED_COLUMNS: readonly string[] = (
  'pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,' +
  'chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,' +
  'check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,' +
  'cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,' +
  'agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,' +
  'addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,' +
  'srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,' +
  'uweight,agg_server_status,agg_server_check_status,agg_check_status'
).split(',');

const STATUS_COLUMN = DOCUMENTED_COLUMNS.indexOf('status');

/** A stats row without its header: pxname, svname ... status at their documented places. */
function looksLikeHeaderlessRow(fields: readonly string[]): boolean {
  if (fields.length <= STATUS_COLUMN) return false;
  const status = (fields[STATUS_COLUMN] ?? '').trim().toUpperCase();
  const known = /^(OPEN|FULL|STOP|PAUSED|UP|DOWN|MAINT|DRAIN|NOLB|NO CHECK)\b/.test(status);
  return fields[0] !== '' && fields[1] !== '' && known;
}

export interface RawStats {
  /** `show info` keys, when the input had them (socket, or a capture with both). */
  readonly info: Readonly<Record<string, string>> | undefined;
  readonly rows: readonly StatRow[];
  /** Set when the CSV had no header line and was read by the documented column positions. */
  readonly byPosition?: boolean | undefined;
}

function toRow(header: readonly string[], fields: readonly string[]): StatRow {
  const row: Record<string, string> = {};
  header.forEach((name, i) => {
    if (name !== '' && name !== '-') row[name] = fields[i] ?? '';
  });
  return row;
}

function infoLines(lines: readonly string[]): Record<string, string> | undefined {
  let info: Record<string, string> | undefined;
  for (const line of lines) {
    const m = /^([A-Za-z][\w -]*):\s?(.*)$/.exec(line);
    if (!m) continue;
    info ??= {};
    info[m[1]!] = m[2]!.trim();
  }
  return info;
}

/** Reads `show info` lines (optional) followed by the stats CSV. */
export function parseStatsText(text: string): RawStats {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const headerAt = lines.findIndex((l) => {
    if (!l.startsWith('#')) return false;
    const names = l.replace(/^#\s*/, '').split(',');
    return names.includes('pxname') && names.includes('svname');
  });
  if (headerAt === -1) {
    const first = lines.find((l) => l.trim() !== '')?.trim() ?? '';
    if (/^<!DOCTYPE|^<html/i.test(first)) throw new PluginError('got an HTML page instead of the stats CSV: check --url (the stats uri; ;csv is appended)');
    if (/permission denied/i.test(first)) throw new PluginError(`HAProxy refused the command: ${first} (the stats socket needs level user or higher)`);
    if (/unknown command/i.test(first)) throw new PluginError(`HAProxy refused the command: ${first.slice(0, 120)}`);
    // Rows stored without their header (exporters do): read them by the documented positions.
    // A stats row has at least the fields up to status; `show info` lines never do.
    const csvLines = lines.filter((l) => l.trim() !== '' && !l.startsWith('#') && splitCsvLine(l).length > STATUS_COLUMN);
    if (csvLines.length > 0 && csvLines.some((l) => looksLikeHeaderlessRow(splitCsvLine(l)))) {
      const rows = csvLines.map((l) => toRow(DOCUMENTED_COLUMNS, splitCsvLine(l)));
      return { info: infoLines(lines.filter((l) => !csvLines.includes(l))), rows, byPosition: true };
    }
    throw new PluginError(`no stats CSV header ('# pxname,svname,...') in the input, and its lines are not stats rows with a status in column ${STATUS_COLUMN + 1} either${first ? `; it starts with '${first.slice(0, 60)}'` : ''}`);
  }
  const header = splitCsvLine(lines[headerAt]!.replace(/^#\s*/, ''));
  const rows: StatRow[] = [];
  for (const line of lines.slice(headerAt + 1)) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) continue;
    rows.push(toRow(header, splitCsvLine(line)));
  }
  return { info: infoLines(lines.slice(0, headerAt)), rows };
}

export const SERVER_STATES = ['up', 'going-down', 'down', 'going-up', 'maint', 'drain', 'nolb', 'no-check', 'unknown'] as const;
export type ServerState = (typeof SERVER_STATES)[number];

/**
 * `UP 1/3` is a server still UP that failed 1 of the 3 checks it takes to go DOWN: it
 * still gets traffic, so it counts as usable. `DOWN 1/2` is still DOWN (1 of 2 good
 * checks to come back): not usable yet. `no check` gets traffic: usable.
 */
export function classifyStatus(status: string): ServerState {
  const s = status.trim().toUpperCase();
  if (/^UP \d+\/\d+/.test(s)) return 'going-down';
  if (s === 'UP' || s.startsWith('UP ')) return 'up';
  if (/^DOWN \d+\/\d+/.test(s)) return 'going-up';
  if (s.startsWith('DOWN')) return 'down';
  if (s.startsWith('MAINT')) return 'maint';
  if (s.startsWith('DRAIN')) return 'drain';
  if (s.startsWith('NOLB')) return 'nolb';
  if (s === 'NO CHECK') return 'no-check';
  return 'unknown';
}

export function isUsable(s: ServerState): boolean {
  return s === 'up' || s === 'going-down' || s === 'no-check';
}

export interface ServerView {
  readonly name: string;
  readonly status: string;
  readonly state: ServerState;
  readonly usable: boolean;
  readonly backup: boolean;
  readonly sessions: number | undefined;
  readonly queue: number | undefined;
  /** check_desc / check_status, for messages. */
  readonly check: string | undefined;
}

export interface BackendView {
  readonly name: string;
  readonly status: string;
  readonly servers: readonly ServerView[];
  readonly sessions: number | undefined;
  readonly queue: number | undefined;
}

export interface FrontendView {
  readonly name: string;
  /** OPEN; FULL, PAUSED (disable frontend) or STOP (shutdown frontend) otherwise. */
  readonly status: string;
  readonly sessions: number | undefined;
  readonly limit: number | undefined;
}

export interface ProcessView {
  readonly version: string | undefined;
  readonly uptimeSeconds: number | undefined;
  readonly connections: number | undefined;
  readonly maxConnections: number | undefined;
  readonly stopping: boolean;
}

export interface HaproxyStats {
  /** How the input was read, when it matters to the reader (headerless CSV). */
  readonly note?: string | undefined;
  readonly process: ProcessView | undefined;
  readonly frontends: readonly FrontendView[];
  readonly backends: readonly BackendView[];
}

function int(s: string | undefined): number | undefined {
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function rowType(r: StatRow): 'frontend' | 'backend' | 'server' | 'listener' | undefined {
  switch (r.type) {
    case '0': return 'frontend';
    case '1': return 'backend';
    case '2': return 'server';
    case '3': return 'listener';
    default:
      // Very old versions lack the type column; svname tells then.
      if (r.svname === 'FRONTEND') return 'frontend';
      if (r.svname === 'BACKEND') return 'backend';
      return r.svname ? 'server' : undefined;
  }
}

export function buildStats(raw: RawStats): HaproxyStats {
  const frontends: FrontendView[] = [];
  const backends = new Map<string, { row?: StatRow; servers: ServerView[] }>();
  const backendOf = (name: string) => {
    let b = backends.get(name);
    if (!b) backends.set(name, (b = { servers: [] }));
    return b;
  };
  for (const r of raw.rows) {
    const px = r.pxname ?? '';
    switch (rowType(r)) {
      case 'frontend':
        frontends.push({ name: px, status: r.status ?? '', sessions: int(r.scur), limit: int(r.slim) });
        break;
      case 'backend':
        backendOf(px).row = r;
        break;
      case 'server': {
        const state = classifyStatus(r.status ?? '');
        backendOf(px).servers.push({
          name: r.svname ?? '',
          status: r.status ?? '',
          state,
          usable: isUsable(state),
          backup: r.bck === '1',
          sessions: int(r.scur),
          queue: int(r.qcur),
          check: r.check_desc || r.check_status || undefined,
        });
        break;
      }
      default:
        break;
    }
  }
  const info = raw.info;
  const process: ProcessView | undefined = info
    ? {
        version: info.Version,
        uptimeSeconds: int(info.Uptime_sec),
        connections: int(info.CurrConns),
        maxConnections: int(info.Maxconn),
        stopping: info.Stopping === '1',
      }
    : undefined;
  return {
    note: raw.byPosition ? 'the stats CSV had no header line: its columns were read by the positions of HAProxy documented CSV layout (management guide 9.1)' : undefined,
    process,
    frontends,
    backends: [...backends.entries()].map(([name, b]) => ({
      name,
      status: b.row?.status ?? '',
      servers: b.servers,
      sessions: int(b.row?.scur),
      queue: int(b.row?.qcur),
    })),
  };
}

export function parseStats(text: string): HaproxyStats {
  return buildStats(parseStatsText(text));
}
