/**
 * Pure: `SHOW GLOBAL STATUS LIKE 'wsrep_%'` in, typed Galera node observations out.
 *
 * `--input-file` accepts this plugin's own JSON capture (several nodes), a JSON object or
 * array of {Variable_name, Value} rows, or the text the mysql/mariadb client prints:
 * tab-separated (`-N -e` or batch mode, with or without the header) or the boxed table.
 */
import { PluginError } from '../../nagios/plugin.ts';

export const CAPTURE_FORMAT = 'hawatch-galera/1';

export interface RawNode {
  readonly target: string;
  readonly address?: string;
  readonly variables?: Readonly<Record<string, string>>;
  readonly status?: Readonly<Record<string, string>>;
  readonly error?: { readonly kind: string; readonly message: string; readonly code?: string };
}

export interface GaleraCapture {
  readonly format: typeof CAPTURE_FORMAT;
  readonly nodes: readonly RawNode[];
}

/** wsrep_local_state numbers (Galera's own enum), used when the comment is missing. */
export const LOCAL_STATES: Readonly<Record<number, string>> = { 0: 'Initialized', 1: 'Joining', 2: 'Donor/Desynced', 3: 'Joined', 4: 'Synced' };

export interface NodeUp {
  readonly ok: true;
  readonly label: string;
  readonly providerLoaded: boolean;
  readonly wsrepOn: boolean | undefined;
  readonly clusterName: string | undefined;
  readonly nodeName: string | undefined;
  readonly clusterSize: number | undefined;
  readonly clusterStatus: string;
  readonly clusterStateUuid: string;
  readonly clusterConfId: number | undefined;
  readonly localState: number | undefined;
  readonly localStateComment: string;
  readonly ready: boolean;
  readonly connected: boolean;
  readonly flowControlPaused: number | undefined;
  readonly flowControlPausedNs: number | undefined;
  readonly localRecvQueueAvg: number | undefined;
  readonly localSendQueueAvg: number | undefined;
  readonly evsState: string | undefined;
  readonly providerVersion: string | undefined;
}

export interface NodeDown {
  readonly ok: false;
  readonly label: string;
  readonly kind: string;
  readonly message: string;
}

export type NodeObservation = NodeUp | NodeDown;

function num(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v.trim());
  return Number.isFinite(n) ? n : undefined;
}

function on(v: string | undefined): boolean {
  return ['ON', '1', 'YES', 'TRUE'].includes((v ?? '').trim().toUpperCase());
}

export function parseNode(n: RawNode): NodeObservation {
  const label = n.target || '?';
  if (n.error || !n.status) return { ok: false, label, kind: n.error?.kind ?? 'query', message: n.error?.message ?? 'no status captured' };
  const s = n.status;
  const v = n.variables ?? {};
  const localState = num(s.wsrep_local_state);
  return {
    ok: true,
    label,
    providerLoaded: (s.wsrep_provider_name ?? '') !== '',
    wsrepOn: v.wsrep_on === undefined ? undefined : on(v.wsrep_on),
    clusterName: v.wsrep_cluster_name,
    nodeName: v.wsrep_node_name,
    clusterSize: num(s.wsrep_cluster_size),
    clusterStatus: s.wsrep_cluster_status ?? '',
    clusterStateUuid: s.wsrep_cluster_state_uuid ?? '',
    clusterConfId: num(s.wsrep_cluster_conf_id),
    localState,
    localStateComment: s.wsrep_local_state_comment ?? (localState === undefined ? '' : LOCAL_STATES[localState] ?? String(localState)),
    ready: on(s.wsrep_ready),
    connected: on(s.wsrep_connected),
    flowControlPaused: num(s.wsrep_flow_control_paused),
    flowControlPausedNs: num(s.wsrep_flow_control_paused_ns),
    localRecvQueueAvg: num(s.wsrep_local_recv_queue_avg),
    localSendQueueAvg: num(s.wsrep_local_send_queue_avg),
    evsState: s.wsrep_evs_state,
    providerVersion: s.wsrep_provider_version,
  };
}

function rowsToMap(rows: readonly unknown[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows) {
    if (typeof r !== 'object' || r === null) continue;
    const o = r as Record<string, unknown>;
    const name = o.Variable_name ?? o.VARIABLE_NAME;
    const value = o.Value ?? o.VARIABLE_VALUE;
    if (typeof name === 'string') out[name.toLowerCase()] = value === null || value === undefined ? '' : String(value);
  }
  return out;
}

/** The mysql client's text: `name<TAB>value` lines, or `| name | value |` boxed rows. */
export function parseStatusText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    let line = raw;
    if (/^\s*\+[-+]+\+\s*$/.test(line)) continue;
    const boxed = /^\s*\|(.*)\|\s*$/.exec(line);
    let name: string;
    let value: string;
    if (boxed) {
      const cells = boxed[1]!.split('|');
      if (cells.length < 2) continue;
      name = cells[0]!.trim();
      value = cells.slice(1).join('|').trim();
    } else {
      line = line.replace(/\s+$/, '');
      const m = /^(\S+)(?:\t|\s+)?(.*)$/.exec(line);
      if (!m) continue;
      name = m[1]!;
      value = (m[2] ?? '').trim();
    }
    if (name === 'Variable_name' || !/^wsrep/i.test(name)) continue;
    out[name.toLowerCase()] = value;
  }
  return out;
}

export function parseInput(text: string): GaleraCapture {
  const t = text.trim();
  if (t.startsWith('{') || t.startsWith('[')) {
    let data: unknown;
    try {
      data = JSON.parse(t);
    } catch (e) {
      throw new PluginError(`input file looks like JSON but is not (${(e as Error).message.split('\n')[0]})`);
    }
    if (Array.isArray(data)) return { format: CAPTURE_FORMAT, nodes: [{ target: 'input', status: rowsToMap(data) }] };
    const o = data as Record<string, unknown>;
    if (Array.isArray(o.nodes)) {
      for (const [i, n] of o.nodes.entries()) {
        if (typeof n !== 'object' || n === null || typeof (n as RawNode).target !== 'string') throw new PluginError(`input file: nodes[${i}] has no "target" name`);
      }
      return { format: CAPTURE_FORMAT, nodes: o.nodes as RawNode[] };
    }
    const status: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) if (/^wsrep/i.test(k)) status[k.toLowerCase()] = v === null ? '' : String(v);
    if (Object.keys(status).length === 0) throw new PluginError('input file has no wsrep_* values: capture it with mysql -N -e "SHOW GLOBAL STATUS LIKE \'wsrep_%\'"');
    return { format: CAPTURE_FORMAT, nodes: [{ target: 'input', status }] };
  }
  const status = parseStatusText(t);
  if (Object.keys(status).length === 0) throw new PluginError('input file has no wsrep_* values: capture it with mysql -N -e "SHOW GLOBAL STATUS LIKE \'wsrep_%\'"');
  return { format: CAPTURE_FORMAT, nodes: [{ target: 'input', status }] };
}
