/**
 * Pure parsers for keepalived's own state output:
 *  - the JSON dump (`kill -s $(keepalived --signum=JSON)`, written to $TMPDIR/keepalived.json;
 *    needs a keepalived built with --enable-json, as Debian's is),
 *  - the data dump (`--signum=DATA`, $TMPDIR/keepalived.data; "the format is not
 *    guaranteed" says keepalived.conf(5), so only a few stable lines are read),
 *  - notify lines: our notify script's state log (`<epoch> INSTANCE "VI_1" MASTER 100`)
 *    and vrrp_notify_fifo lines (`INSTANCE "VI_1" MASTER 100`).
 */
import { canonicalAddr } from '../lib/addr.ts';

export const VRRP_STATES = ['INIT', 'BACKUP', 'MASTER', 'FAULT', 'STOP', 'DELETED'] as const;
export type VrrpState = (typeof VRRP_STATES)[number];

/** keepalived's vrrp.h: VRRP_STATE_INIT 0, _BACK 1, _MAST 2, _FAULT 3, _DELETED 97, _STOP 98. */
const STATE_NUMBERS: Record<number, VrrpState> = { 0: 'INIT', 1: 'BACKUP', 2: 'MASTER', 3: 'FAULT', 97: 'DELETED', 98: 'STOP' };

export interface VirtualAddress {
  readonly address: string;
  readonly device?: string | undefined;
}

export interface VrrpStats {
  readonly advertReceived?: number | undefined;
  readonly advertSent?: number | undefined;
  readonly becameMaster?: number | undefined;
  readonly releasedMaster?: number | undefined;
}

export interface TrackedScript {
  /** The vrrp_script name (data dump), or its command when the JSON dump gives only that. */
  readonly name: string;
  readonly weight?: number | undefined;
  /** GOOD, BAD, INIT ... as the data dump says; undefined when the dump does not say (JSON). */
  readonly status?: string | undefined;
}

export interface VrrpInstance {
  readonly name: string;
  readonly state: VrrpState | string;
  readonly wantState?: VrrpState | string | undefined;
  readonly vrid?: number | undefined;
  readonly interface?: string | undefined;
  readonly priority?: number | undefined;
  readonly effectivePriority?: number | undefined;
  /** Epoch seconds of the last state change, as keepalived or the notify log says. */
  readonly lastTransition?: number | undefined;
  readonly vips: readonly VirtualAddress[];
  readonly stats?: VrrpStats | undefined;
  /** The instance's track_script entries, when the source lists them. */
  readonly trackedScripts?: readonly TrackedScript[] | undefined;
}

export interface NotifyEvent {
  /** Epoch seconds; absent for raw FIFO lines. */
  readonly time?: number | undefined;
  readonly type: 'INSTANCE' | 'GROUP';
  readonly name: string;
  readonly state: string;
  readonly priority?: number | undefined;
}

export class KeepalivedParseError extends Error {
  override name = 'KeepalivedParseError';
}

export type DumpFormat = 'json' | 'data' | 'notify';

export function detectFormat(text: string): DumpFormat {
  const t = text.trimStart();
  if (t.startsWith('[') || t.startsWith('{')) return 'json';
  if (/------< (VRRP Topology|Global definitions) >------/.test(text)) return 'data';
  return 'notify';
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function parseVipText(text: string): VirtualAddress | undefined {
  // "192.0.2.100/24 dev eth0 scope global set" (JSON and data dump alike)
  const parts = text.trim().split(/\s+/);
  const addr = canonicalAddr((parts[0] ?? '').replace(/\/\d+$/, ''));
  if (!addr) return undefined;
  const devAt = parts.indexOf('dev');
  return { address: addr, device: devAt !== -1 ? parts[devAt + 1] : undefined };
}

function stateFromNumber(n: unknown): VrrpState | string {
  if (typeof n === 'number') return STATE_NUMBERS[n] ?? `state ${n}`;
  if (typeof n === 'string') return n.toUpperCase();
  return 'UNKNOWN';
}

interface JsonEntry {
  data?: Record<string, unknown>;
  stats?: Record<string, unknown>;
}

/**
 * keepalived 2.2's JSON lists only each tracked script's command (`"'/usr/bin/false'"`), not
 * its result; objects with a name and status (if a version writes them) are read as such.
 */
function jsonTrackedScripts(v: unknown): TrackedScript[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: TrackedScript[] = [];
  for (const e of v) {
    if (typeof e === 'string') out.push({ name: e.replace(/^'(.*)'$/, '$1') });
    else if (e && typeof e === 'object') {
      const o = e as Record<string, unknown>;
      const name = typeof o.name === 'string' ? o.name : typeof o.sname === 'string' ? o.sname : undefined;
      if (!name) continue;
      const status = typeof o.status === 'string' ? o.status.toUpperCase() : typeof o.result === 'string' ? o.result.toUpperCase() : undefined;
      out.push({ name, weight: num(o.weight), status });
    }
  }
  return out;
}

export function parseJsonDump(text: string): VrrpInstance[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new KeepalivedParseError(`keepalived JSON dump is not valid JSON (${(e as Error).message}); was it read while keepalived was still writing it?`);
  }
  if (!Array.isArray(data)) throw new KeepalivedParseError('keepalived JSON dump is not an array of VRRP instances');
  const out: VrrpInstance[] = [];
  for (const entry of data as JsonEntry[]) {
    const d = entry?.data;
    if (!d || typeof d.iname !== 'string') continue;
    const s = entry.stats ?? {};
    const vips = (Array.isArray(d.vips) ? d.vips : []).filter((v): v is string => typeof v === 'string').map(parseVipText).filter((v): v is VirtualAddress => v !== undefined);
    out.push({
      name: d.iname,
      state: stateFromNumber(d.state),
      wantState: d.wantstate === undefined ? undefined : stateFromNumber(d.wantstate),
      vrid: num(d.vrid),
      interface: typeof d.ifp_ifname === 'string' && d.ifp_ifname !== '' ? d.ifp_ifname : undefined,
      priority: num(d.base_priority),
      effectivePriority: num(d.effective_priority),
      lastTransition: num(d.last_transition),
      vips,
      trackedScripts: jsonTrackedScripts(d.track_script),
      stats: {
        advertReceived: num(s.advert_rcvd),
        advertSent: num(s.advert_sent),
        becameMaster: num(s.become_master),
        releasedMaster: num(s.release_master),
      },
    });
  }
  return out;
}

export function parseDataDump(text: string): VrrpInstance[] {
  const lines = text.split('\n');
  const out: VrrpInstance[] = [];
  let inTopology = false;
  let inScriptsSection = false;
  let cur: { -readonly [K in keyof VrrpInstance]: VrrpInstance[K] } | undefined;
  let vips: VirtualAddress[] = [];
  let scripts: TrackedScript[] | undefined;
  let inVips = false;
  let inTracked = false;
  // "------< VRRP Scripts >------": " VRRP Script = chk_web" then "   Status = BAD".
  const scriptStatus = new Map<string, string>();
  let script: string | undefined;
  const flush = (): void => {
    if (cur) out.push({ ...cur, vips, ...(scripts ? { trackedScripts: scripts } : {}) });
    cur = undefined;
    vips = [];
    scripts = undefined;
    inVips = false;
    inTracked = false;
  };
  for (const line of lines) {
    const section = /^------< (.+) >------/.exec(line);
    if (section) {
      flush();
      inTopology = section[1] === 'VRRP Topology';
      inScriptsSection = section[1] === 'VRRP Scripts';
      script = undefined;
      continue;
    }
    if (inScriptsSection) {
      const name = /^ VRRP Script = (\S+)/.exec(line);
      if (name) script = name[1];
      const st = /^ {3}Status = (\S+)/.exec(line);
      if (st && script) scriptStatus.set(script, st[1]!.toUpperCase());
      continue;
    }
    if (!inTopology) continue;
    const inst = /^ VRRP Instance = (.+)$/.exec(line);
    if (inst) {
      flush();
      cur = { name: inst[1]!.trim(), state: 'UNKNOWN', vips: [] };
      continue;
    }
    if (!cur) continue;
    // "   Tracked scripts :" then "     chk_web weight -20" per script.
    if (/^ {3}Tracked scripts\b/.test(line)) {
      inTracked = true;
      inVips = false;
      scripts = [];
      continue;
    }
    if (inTracked) {
      const t = /^ {5}(\S+)(?: weight (-?\d+))?/.exec(line);
      if (t) {
        scripts!.push({ name: t[1]!, weight: t[2] === undefined ? undefined : Number(t[2]) });
        continue;
      }
      inTracked = false;
    }
    const kv = /^ {3}([A-Za-z][A-Za-z _]*?) = (.*)$/.exec(line);
    if (kv) {
      inVips = false;
      const key = kv[1]!;
      const value = kv[2]!.trim();
      switch (key) {
        case 'State': cur.state = value.toUpperCase(); break;
        case 'Wantstate': cur.wantState = value.toUpperCase(); break;
        case 'Virtual Router ID': cur.vrid = Number(value); break;
        case 'Interface': cur.interface = value.split(/\s+/)[0]; break;
        case 'Priority': cur.priority = Number(value); break;
        case 'Effective priority': cur.effectivePriority = Number(value); break;
        case 'Last transition': {
          const t = Number(value.split(/\s+/)[0]);
          if (Number.isFinite(t)) cur.lastTransition = t;
          break;
        }
      }
      continue;
    }
    if (/^ {3}Virtual IP( \(\d+\))?:/.test(line)) {
      inVips = true;
      continue;
    }
    if (inVips && /^ {5}\S/.test(line)) {
      const v = parseVipText(line);
      if (v) vips.push(v);
      continue;
    }
    if (/^ {3}\S/.test(line)) inVips = false;
  }
  flush();
  // The script results come after the topology: attach them to each instance's tracked scripts.
  return out.map((i) => (i.trackedScripts ? { ...i, trackedScripts: i.trackedScripts.map((t) => ({ ...t, status: scriptStatus.get(t.name) })) } : i));
}

export interface NotifyLog {
  readonly events: readonly NotifyEvent[];
  /** Lines that could not be read: { line number, text }. */
  readonly bad: readonly { line: number; text: string }[];
}

const NOTIFY_LINE = /^(?:(\d+(?:\.\d+)?)\s+)?(INSTANCE|GROUP)\s+(?:"([^"]*)"|(\S+))\s+([A-Za-z_]+)(?:\s+(\d+))?\s*$/;

export function parseNotifyLog(text: string): NotifyLog {
  const events: NotifyEvent[] = [];
  const bad: { line: number; text: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = NOTIFY_LINE.exec(line);
    if (!m) {
      bad.push({ line: i + 1, text: line });
      return;
    }
    events.push({
      time: m[1] === undefined ? undefined : Number(m[1]),
      type: m[2] as 'INSTANCE' | 'GROUP',
      name: m[3] ?? m[4]!,
      state: m[5]!.toUpperCase(),
      priority: m[6] === undefined ? undefined : Number(m[6]),
    });
  });
  return { events, bad };
}

/** The current state per instance: the last event for each INSTANCE. */
export function instancesFromEvents(events: readonly NotifyEvent[]): VrrpInstance[] {
  const last = new Map<string, NotifyEvent>();
  for (const e of events) if (e.type === 'INSTANCE') last.set(e.name, e);
  return [...last.values()].map((e) => ({ name: e.name, state: e.state, priority: e.priority, lastTransition: e.time, vips: [] }));
}

/** Parses any of the three formats. */
export function parseKeepalivedState(text: string): { format: DumpFormat; instances: VrrpInstance[]; events: readonly NotifyEvent[]; bad: NotifyLog['bad'] } {
  const format = detectFormat(text);
  if (format === 'json') return { format, instances: parseJsonDump(text), events: [], bad: [] };
  if (format === 'data') return { format, instances: parseDataDump(text), events: [], bad: [] };
  const log = parseNotifyLog(text);
  return { format, instances: instancesFromEvents(log.events), events: log.events, bad: log.bad };
}

/** Parses `--expect VI_1=MASTER` (also `VI_1=MASTER|BACKUP`, `VI_1:MASTER`). */
export function parseExpectation(text: string): { instance: string; states: VrrpState[] } | undefined {
  const m = /^\s*([^=:\s]+)\s*[=:]\s*([A-Za-z|/]+)\s*$/.exec(text);
  if (!m) return undefined;
  const states = m[2]!.toUpperCase().split(/[|/]/).filter((s) => s !== '');
  if (states.length === 0 || !states.every((s) => (VRRP_STATES as readonly string[]).includes(s))) return undefined;
  return { instance: m[1]!, states: states as VrrpState[] };
}
