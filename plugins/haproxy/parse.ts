/**
 * Pure: HAProxy `show info` and `show stat` (or the stats page `;csv`) text in, typed
 * proxies out. Columns are found by the header line (`# pxname,svname,...`): their
 * positions changed between releases and more are appended in every version.
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
    throw new PluginError(`no stats CSV header ('# pxname,svname,...') in the input${first ? `; it starts with '${first.slice(0, 60)}'` : ''}`);
  }
  const header = splitCsvLine(lines[headerAt]!.replace(/^#\s*/, ''));
  const rows: StatRow[] = [];
  for (const line of lines.slice(headerAt + 1)) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) continue;
    const fields = splitCsvLine(line);
    const row: Record<string, string> = {};
    header.forEach((name, i) => {
      if (name !== '' && name !== '-') row[name] = fields[i] ?? '';
    });
    rows.push(row);
  }
  let info: Record<string, string> | undefined;
  for (const line of lines.slice(0, headerAt)) {
    const m = /^([A-Za-z][\w -]*):\s?(.*)$/.exec(line);
    if (!m) continue;
    info ??= {};
    info[m[1]!] = m[2]!.trim();
  }
  return { info, rows };
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
