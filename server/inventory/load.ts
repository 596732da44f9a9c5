/**
 * Loads and validates the inventory YAML. Every problem names the file, line and column of
 * the offending node and says what is expected, so `hawatch-server check` can list them all
 * at once instead of failing on the first.
 */
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import cron from 'node-cron';
import { isIP } from 'node:net';
import { isAbsolute } from 'node:path';
import { parseStateName, type StateCode } from '../../nagios/states.ts';
import type { NrpeTransport, SshTransport, Transport } from '../executors/types.ts';
import type { CheckPolicy, NotificationOption } from '../state/types.ts';
import { CommandLineError, splitCommandLine } from '../../nagios/commandline.ts';
import { readClusterRules, warnNobodyNotified } from './rules.ts';
import { readDependencies, readParents } from './deps.ts';
import { injectHaObjects, readHa } from '../ha/config.ts';
import { defaultHostCheck, noCheckText } from './hostcheck.ts';
import { CONTACT_PERIOD_KEYS, readContactPeriods, readObjectTiming, readTimePeriods, readTopLevelEscalations, TIMING_KEYS } from './timing.ts';
import {
  serviceKey,
  type CommandSpec,
  type ContactConfig,
  type HostConfig,
  type HttpSmsConfig,
  type Inventory,
  type NotifierConfig,
  type RecurringDowntime,
  type ServerSettings,
  type ServiceConfig,
  type SmsRoute,
  type SmtpConfig,
} from './types.ts';

export type Path = readonly (string | number)[];

export class InventoryError extends Error {
  override name = 'InventoryError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`inventory has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.join('\n')}`);
    this.problems = problems;
  }
}

/** The inventory file cannot be read at all (missing, no permission): a reload changes nothing. */
export class InventoryUnreadableError extends Error {
  override name = 'InventoryUnreadableError';
}

type Json = unknown;

export class Checker {
  readonly problems: string[] = [];
  readonly warnings: string[] = [];
  readonly doc: Document;
  readonly lc: LineCounter;
  readonly file: string;
  constructor(doc: Document, lc: LineCounter, file: string) {
    this.doc = doc;
    this.lc = lc;
    this.file = file;
  }

  where(path: Path, onKey = false): string {
    let node: unknown = this.doc.contents;
    let best: { range?: [number, number, number] | null } | null = node as YamlNode;
    for (let i = 0; i < path.length; i++) {
      const k = path[i];
      if (isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === k);
        if (!pair) break;
        if (onKey && i === path.length - 1) {
          best = pair.key as YamlNode;
          break;
        }
        node = pair.value;
      } else if (isSeq(node) && typeof k === 'number') {
        node = node.items[k];
      } else break;
      if (node && typeof node === 'object' && 'range' in node) best = node as YamlNode;
    }
    const offset = best?.range?.[0] ?? 0;
    const pos = this.lc.linePos(offset);
    return `${this.file}:${pos.line}:${pos.col}`;
  }

  fail(path: Path, message: string, onKey = false): void {
    // defaults are read twice (host and service policies): report each problem once
    const line = `${this.where(path, onKey)}: ${pathText(path)}: ${message}`;
    if (!this.problems.includes(line)) this.problems.push(line);
  }

  warn(path: Path, message: string): void {
    const line = `${this.where(path)}: ${pathText(path)}: ${message}`;
    if (!this.warnings.includes(line)) this.warnings.push(line);
  }
}

function pathText(path: Path): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

type Obj = Record<string, Json>;
const isObj = (v: Json): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads typed values out of one mapping, reporting problems against its path. */
/** What Nagios gives its plugins (plus its NAGIOS_ macros, which hawatch passes as arguments). */
export const DEFAULT_CHECK_ENVIRONMENT: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C',
  LC_ALL: 'C',
};

export class Section {
  readonly c: Checker;
  readonly path: Path;
  readonly value: Obj;
  constructor(c: Checker, path: Path, value: Obj) {
    this.c = c;
    this.path = path;
    this.value = value;
  }

  static of(c: Checker, path: Path, v: Json, required = false): Section | null {
    if (v === undefined || v === null) {
      if (required) c.fail(path, 'is required (a mapping)');
      return null;
    }
    if (!isObj(v)) {
      c.fail(path, `must be a mapping (key: value lines), not ${describe(v)}`);
      return null;
    }
    return new Section(c, path, v);
  }

  keys(allowed: readonly string[]): void {
    for (const k of Object.keys(this.value)) {
      if (!allowed.includes(k)) this.c.fail([...this.path, k], `unknown key; expected one of: ${allowed.join(', ')}`, true);
    }
  }
  has(k: string): boolean {
    return this.value[k] !== undefined && this.value[k] !== null;
  }
  raw(k: string): Json {
    return this.value[k];
  }
  sub(k: string, required = false): Section | null {
    return Section.of(this.c, [...this.path, k], this.value[k], required);
  }
  str(k: string, required: true): string;
  str(k: string, required?: false): string | null;
  str(k: string, required = false): string | null {
    const v = this.value[k];
    if (v === undefined || v === null) {
      if (required) this.c.fail([...this.path, k], 'is required');
      return required ? '' : null;
    }
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (typeof v !== 'string' || v.trim() === '') {
      this.c.fail([...this.path, k], `must be a non-empty string, not ${describe(v)}`);
      return required ? '' : null;
    }
    return v;
  }
  int(k: string, def: number, min: number, max: number): number {
    const v = this.value[k];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.c.fail([...this.path, k], `must be an integer from ${min} to ${max}, not ${describe(v)}`);
      return def;
    }
    return v;
  }
  num(k: string, def: number, min: number, max: number): number {
    const v = this.value[k];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || v < min || v > max) {
      this.c.fail([...this.path, k], `must be a number from ${min} to ${max}, not ${describe(v)}`);
      return def;
    }
    return v;
  }
  bool(k: string, def: boolean): boolean {
    const v = this.value[k];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') {
      this.c.fail([...this.path, k], `must be true or false, not ${describe(v)}`);
      return def;
    }
    return v;
  }
  duration(k: string, def: number, minMs = 0): number {
    const v = this.value[k];
    if (v === undefined || v === null) return def;
    const ms = parseDuration(v);
    if (ms === null || ms < minMs) {
      this.c.fail([...this.path, k], `must be a duration like 30s, 5m, 1h, 1d or a number of seconds${minMs ? ` (at least ${minMs / 1000} s)` : ''}, not ${describe(v)}`);
      return def;
    }
    return ms;
  }
  state(k: string, def: StateCode): StateCode {
    const v = this.value[k];
    if (v === undefined || v === null) return def;
    const s = typeof v === 'string' || typeof v === 'number' ? parseStateName(String(v)) : undefined;
    if (s === undefined) {
      this.c.fail([...this.path, k], `must be ok, warning, critical or unknown, not ${describe(v)}`);
      return def;
    }
    return s;
  }
  strList(k: string): string[] {
    const v = this.value[k];
    if (v === undefined || v === null) return [];
    if (typeof v === 'string') return [v];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' || typeof x === 'number')) {
      this.c.fail([...this.path, k], `must be a list of names, not ${describe(v)}`);
      return [];
    }
    return v.map(String);
  }
}

function describe(v: Json): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Macro names used in a word ('' for the `$$` escape), as nagios/commandline.ts substitutes them. */
export function macrosIn(word: string): string[] {
  return [...word.matchAll(/\$([A-Za-z0-9_:-]*)\$/g)].map((m) => m[1] as string);
}

export function parseDuration(v: Json): number | null {
  if (typeof v === 'number') return v >= 0 && Number.isFinite(v) ? Math.round(v * 1000) : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(v);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 's'] ?? 1000;
  return Math.round(n * unit);
}

const HOST_OPTIONS: readonly NotificationOption[] = ['d', 'u', 'r', 'f', 's'];
const SERVICE_OPTIONS: readonly NotificationOption[] = ['w', 'u', 'c', 'r', 'f', 's'];
/** Hosts notify UNREACHABLE only when told (u): it is the state of every host behind a dead router. */
const HOST_DEFAULT_OPTIONS: readonly NotificationOption[] = ['d', 'r', 'f', 's'];
export const POLICY_KEYS = [
  'check_interval', 'retry_interval', 'max_check_attempts', 'notification_interval', 'first_notification_delay',
  'notifications_enabled', 'flap_detection', 'freshness', 'timeout',
] as const;

export interface PolicyDefaults {
  readonly policy: CheckPolicy;
  readonly timeoutMs: number;
}

function readOptions(sec: Section, key: string, allowed: readonly NotificationOption[], def: readonly NotificationOption[]): NotificationOption[] {
  if (!sec.has(key)) return [...def];
  const raw = sec.raw(key);
  const list = typeof raw === 'string' ? raw.split(/[\s,]+/).filter(Boolean) : sec.strList(key);
  if (list.length === 1 && list[0] === 'n') return [];
  const out: NotificationOption[] = [];
  for (const o of list) {
    if ((allowed as readonly string[]).includes(o)) out.push(o as NotificationOption);
    else sec.c.fail([...sec.path, key], `unknown option '${o}'; use ${allowed.join(', ')} (or n for none)`);
  }
  return out;
}

export function readPolicy(sec: Section | null, base: PolicyDefaults, kind: 'host' | 'service'): PolicyDefaults {
  if (!sec) return base;
  const b = base.policy;
  let flap = b.flap;
  if (sec.has('flap_detection')) {
    const raw = sec.raw('flap_detection');
    if (raw === false) flap = { ...flap, enabled: false };
    else if (raw === true) flap = { ...flap, enabled: true };
    else {
      const f = sec.sub('flap_detection');
      if (f) {
        f.keys(['enabled', 'low', 'high']);
        const low = f.num('low', flap.lowPercent, 0, 100);
        const high = f.num('high', flap.highPercent, 0, 100);
        if (low >= high) f.c.fail([...f.path], `low (${low}) must be below high (${high})`);
        flap = { enabled: f.bool('enabled', true), lowPercent: low, highPercent: high };
      }
    }
  }
  let freshness = b.freshness;
  if (sec.has('freshness')) {
    const raw = sec.raw('freshness');
    if (raw === false) freshness = { ...freshness, enabled: false };
    else if (raw === true) freshness = { ...freshness, enabled: true };
    else {
      const f = sec.sub('freshness');
      if (f) {
        f.keys(['enabled', 'threshold', 'state']);
        freshness = {
          enabled: f.bool('enabled', true),
          thresholdMs: f.has('threshold') ? f.duration('threshold', 0, 1000) : undefined,
          staleState: f.state('state', 3),
        };
      }
    }
  }
  const policy: CheckPolicy = {
    maxCheckAttempts: sec.int('max_check_attempts', b.maxCheckAttempts, 1, 100),
    checkIntervalMs: sec.duration('check_interval', b.checkIntervalMs, 1000),
    retryIntervalMs: sec.duration('retry_interval', b.retryIntervalMs, 1000),
    notificationIntervalMs: sec.duration('notification_interval', b.notificationIntervalMs),
    firstNotificationDelayMs: sec.duration('first_notification_delay', b.firstNotificationDelayMs),
    notificationOptions: readOptions(sec, 'notification_options', kind === 'host' ? HOST_OPTIONS : SERVICE_OPTIONS, kind === 'host' ? HOST_DEFAULT_OPTIONS : SERVICE_OPTIONS),
    notificationsEnabled: sec.bool('notifications_enabled', b.notificationsEnabled),
    flap,
    freshness,
  };
  return { policy, timeoutMs: sec.duration('timeout', base.timeoutMs, 100) };
}

function readCommand(c: Checker, path: Path, line: Json, args: Json, macros: ReadonlySet<string>): CommandSpec | null {
  if (typeof line !== 'string' || line.trim() === '') {
    c.fail(path, `must be a command line string, not ${describe(line)}`);
    return null;
  }
  let argv: string[];
  try {
    argv = splitCommandLine(line);
  } catch (e) {
    c.fail(path, (e as CommandLineError).message);
    return null;
  }
  if (argv.length === 0) {
    c.fail(path, 'is empty');
    return null;
  }
  let argList: string[] = [];
  if (args !== undefined && args !== null) {
    if (Array.isArray(args) && args.every((a) => typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean')) argList = args.map(String);
    else c.fail([...path.slice(0, -1), 'args'], 'must be a list of strings ($ARG1$, $ARG2$, ...)');
  }
  for (const tok of argv) {
    for (const m of macrosIn(tok)) {
      if (m === '') continue;
      const arg = /^ARG(\d+)$/.exec(m);
      if (arg) {
        const n = Number(arg[1]);
        if (n < 1 || n > argList.length) c.fail(path, `uses $${m}$ but only ${argList.length} args are given`);
      } else if (!macros.has(m)) {
        c.fail(path, `unknown macro $${m}$; known: $HOSTNAME$, $HOSTADDRESS$, $SERVICEDESC$, $ARGn$, $NODE$, $HAWATCH_SERVER$, $HAWATCH_BIN$, $$ and server.macros (${[...macros].filter((x) => !BUILTIN_MACROS.includes(x)).map((x) => `$${x}$`).join(', ') || 'none defined'})`);
      }
    }
  }
  return { line, argv: argv as [string, ...string[]], args: argList };
}

function readTransport(c: Checker, host: Section, name: string): Transport {
  const kinds = ['nrpe', 'ssh', 'local'].filter((k) => host.has(k));
  if (kinds.length > 1) c.fail([...host.path, kinds[1] as string], `a host is reached one way: choose one of ${kinds.join(', ')}`, true);
  if (host.has('nrpe')) {
    const raw = host.raw('nrpe');
    const n = raw === true ? new Section(c, [...host.path, 'nrpe'], {}) : host.sub('nrpe');
    if (!n) return { kind: 'local' };
    n.keys(['port', 'tls', 'packet_version', 'unreachable_state']);
    let tls: NrpeTransport['tls'] = { enabled: true, verify: false };
    const tlsRaw = n.raw('tls');
    if (tlsRaw === false) tls = { enabled: false, verify: false };
    else if (tlsRaw !== undefined && tlsRaw !== true) {
      const t = n.sub('tls');
      if (t) {
        t.keys(['enabled', 'verify', 'ca_file', 'cert_file', 'key_file', 'server_name', 'ciphers']);
        const caFile = t.str('ca_file');
        const verify = t.bool('verify', caFile !== null);
        if (verify && !caFile) t.c.fail([...t.path, 'verify'], 'verify: true needs ca_file (the CA that signed the agent certificate)');
        const certFile = t.str('cert_file');
        const keyFile = t.str('key_file');
        if ((certFile === null) !== (keyFile === null)) t.c.fail(t.path, 'cert_file and key_file go together (client certificate for ssl_client_certs)');
        tls = { enabled: t.bool('enabled', true), verify, caFile: caFile ?? undefined, certFile: certFile ?? undefined, keyFile: keyFile ?? undefined, serverName: t.str('server_name') ?? undefined, ciphers: t.str('ciphers') ?? undefined };
      }
    }
    if (tls.enabled && !tls.verify) c.warn([...host.path, 'nrpe'], `host ${name}: NRPE TLS without certificate verification (anonymous DH, like stock check_nrpe): set nrpe.tls.ca_file to authenticate the agent`);
    if (!tls.enabled) c.warn([...host.path, 'nrpe'], `host ${name}: NRPE in plain TCP: results can be read and forged on the way`);
    const pv = n.int('packet_version', 4, 2, 4) as 2 | 3 | 4;
    return { kind: 'nrpe', port: n.int('port', 5666, 1, 65535), tls, packetVersion: pv, unreachableState: n.state('unreachable_state', 2) };
  }
  if (host.has('ssh')) {
    const s = host.sub('ssh');
    if (!s) return { kind: 'local' };
    s.keys(['port', 'user', 'private_key_file', 'passphrase_file', 'host_key', 'unreachable_state']);
    const hostKey = s.str('host_key', true);
    if (hostKey && !/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(hostKey) && !/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-\S+)\s+[A-Za-z0-9+/=]+/.test(hostKey)) {
      s.c.fail([...s.path, 'host_key'], 'must be the pinned host key: "ssh-ed25519 AAAA..." (a known_hosts line without the name) or its fingerprint "SHA256:..." (ssh-keygen -lf)');
    }
    const t: SshTransport = {
      kind: 'ssh',
      port: s.int('port', 22, 1, 65535),
      user: s.str('user', true),
      privateKeyFile: s.str('private_key_file', true),
      passphraseFile: s.str('passphrase_file') ?? undefined,
      hostKey,
      unreachableState: s.state('unreachable_state', 2),
    };
    return t;
  }
  if (host.has('local') && host.raw('local') !== true) c.fail([...host.path, 'local'], 'must be true (checks run on the admin node itself)');
  return { kind: 'local' };
}

/** Per-object macros, and the run-time ones main.ts provides: the node binary, the server script and its folder (dist/bin). */
const BUILTIN_MACROS = ['HOSTNAME', 'HOSTADDRESS', 'SERVICEDESC', 'NODE', 'HAWATCH_SERVER', 'HAWATCH_BIN'];

export function loadInventory(text: string, file = 'inventory.yaml'): Inventory {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const c = new Checker(doc, lc, file);
  if (doc.errors.length) {
    throw new InventoryError(doc.errors.map((e) => {
      // prettyErrors is off, so linePos is not filled in: the line comes from the offset.
      const p = e.linePos?.[0] ?? (typeof e.pos?.[0] === 'number' ? lc.linePos(e.pos[0]) : undefined);
      return `${file}:${p?.line ?? 1}:${p?.col ?? 1}: YAML syntax: ${e.message.split('\n')[0]}`;
    }));
  }
  const rawDoc: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  injectHaObjects(rawDoc, (p, m) => c.fail(p, m));
  const top = Section.of(c, [], rawDoc as Json, true) ?? new Section(c, [], {});
  top.keys(['server', 'defaults', 'notifications', 'contacts', 'contact_groups', 'hosts', 'services', 'cluster_rules', 'downtimes', 'timeperiods', 'escalations', 'dependencies']);

  // server
  const srv = top.sub('server') ?? new Section(c, ['server'], {});
  srv.keys(['listen', 'database', 'database_password_file', 'api_token_env', 'api_token_file', 'max_concurrent_checks', 'timeout_state', 'macros', 'title', 'degraded_alert_after', 'sse_max_per_source', 'sse_max_total', 'metrics_max_labels_per_service', 'metrics_max_series', 'check_environment', 'passive_tokens', 'passive_tokens_file', 'timezone', 'tls', 'ha']);
  let listenHost = '127.0.0.1';
  let listenPort = 8080;
  const listen = srv.str('listen');
  if (listen !== null) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen) ?? (/^\d+$/.test(listen) ? [listen, undefined, '127.0.0.1', listen] : null);
    const port = m ? Number(m[3]) : NaN;
    if (!m || !(port >= 0 && port <= 65535)) c.fail(['server', 'listen'], `must be host:port, e.g. 127.0.0.1:8080 or [::1]:8080, not ${JSON.stringify(listen)}`);
    else {
      listenHost = (m[1] ?? m[2]) as string;
      listenPort = port;
    }
  }
  const macros: Record<string, string> = {};
  const mac = srv.sub('macros');
  if (mac) {
    for (const [k, v] of Object.entries(mac.value)) {
      if (!/^[A-Z][A-Z0-9_]*$/.test(k) || BUILTIN_MACROS.includes(k) || /^ARG\d+$/.test(k)) c.fail(['server', 'macros', k], `macro names are UPPER_CASE and not ${BUILTIN_MACROS.join(', ')} or ARGn`, true);
      else if (typeof v !== 'string' && typeof v !== 'number') c.fail(['server', 'macros', k], 'must be a string');
      else macros[k] = String(v);
    }
  }
  const checkEnvironment: Record<string, string> = { ...DEFAULT_CHECK_ENVIRONMENT };
  const envSec = srv.sub('check_environment');
  if (envSec) {
    for (const [k, v] of Object.entries(envSec.value)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) c.fail(['server', 'check_environment', k], 'variable names are letters, digits and _ (not starting with a digit)', true);
      else if (typeof v !== 'string' && typeof v !== 'number') c.fail(['server', 'check_environment', k], 'must be a string');
      else checkEnvironment[k] = String(v);
    }
  }
  const timing = readTimePeriods(c, top, srv);
  const server: ServerSettings = {
    timezone: timing.timezone,
    listenHost,
    listenPort,
    database: srv.str('database') ?? 'hawatch.db',
    databasePasswordFile: srv.str('database_password_file'),
    apiTokenEnv: srv.str('api_token_env') ?? 'HAWATCH_API_TOKEN',
    apiTokenFile: srv.str('api_token_file'),
    maxConcurrentChecks: srv.int('max_concurrent_checks', 16, 1, 10_000),
    timeoutState: srv.state('timeout_state', 2),
    macros,
    title: srv.str('title') ?? 'hawatch',
    degradedAlertAfterMs: srv.duration('degraded_alert_after', 60_000),
    sseMaxPerSource: srv.int('sse_max_per_source', 20, 1, 100_000),
    sseMaxTotal: srv.int('sse_max_total', 200, 1, 100_000),
    metricsMaxLabelsPerService: srv.int('metrics_max_labels_per_service', 20, 0, 1000),
    metricsMaxSeries: srv.int('metrics_max_series', 50_000, 0, 10_000_000),
    checkEnvironment,
    ...readPassiveTokens(c, srv),
    tls: readServerTls(c, srv),
    ha: readHa((p, m) => c.fail(p, m), srv, srv.str('database') ?? 'hawatch.db'),
  };
  const macroNames = new Set([...BUILTIN_MACROS, ...Object.keys(macros)]);

  // defaults
  const defSec = top.sub('defaults');
  defSec?.keys([...POLICY_KEYS, 'notification_options']);
  const nagiosDefaults: PolicyDefaults = {
    policy: {
      maxCheckAttempts: 3,
      checkIntervalMs: 5 * 60_000,
      retryIntervalMs: 60_000,
      notificationIntervalMs: 30 * 60_000,
      firstNotificationDelayMs: 0,
      notificationOptions: SERVICE_OPTIONS,
      notificationsEnabled: true,
      flap: { enabled: true, lowPercent: 20, highPercent: 30 },
      freshness: { enabled: true, staleState: 3 },
    },
    timeoutMs: 30_000,
  };
  const baseService = readPolicy(defSec, nagiosDefaults, 'service');
  const baseHost = readPolicy(defSec, { ...nagiosDefaults, policy: { ...nagiosDefaults.policy, notificationOptions: HOST_OPTIONS } }, 'host');

  // contacts and groups
  const notifSec = top.sub('notifications') ?? new Section(c, ['notifications'], {});
  const notifier = readNotifier(c, notifSec);
  const contacts = new Map<string, ContactConfig>();
  const contactsSec = top.sub('contacts');
  for (const [name, v] of Object.entries(contactsSec?.value ?? {})) {
    const s = Section.of(c, ['contacts', name], v, true);
    if (!s) continue;
    s.keys(['email', 'sms', 'sms_via', 'host_notification_options', 'service_notification_options', ...CONTACT_PERIOD_KEYS]);
    const email = s.str('email');
    if (email !== null && !/^[^\s@]+@[^\s@]+$/.test(email)) c.fail(['contacts', name, 'email'], `is not an email address: ${JSON.stringify(email)}`);
    const sms = s.str('sms');
    if (sms !== null && !/^\+?[0-9]{4,20}$/.test(sms.replace(/[\s-]/g, ''))) c.fail(['contacts', name, 'sms'], `must be a phone number like +4915112345678, not ${JSON.stringify(sms)}`);
    let smsVia = (s.str('sms_via') as SmsRoute | null) ?? null;
    if (smsVia !== null && !['gateway', 'http', 'smstools'].includes(smsVia)) {
      c.fail(['contacts', name, 'sms_via'], 'must be gateway, http or smstools');
      smsVia = null;
    }
    if (sms !== null && smsVia === null) smsVia = notifier.smsHttp ? 'http' : notifier.smstoolsSpool ? 'smstools' : notifier.smsGateway ? 'gateway' : null;
    if (sms !== null && smsVia === null) c.fail(['contacts', name, 'sms'], 'an SMS number needs an SMS route: configure notifications.sms (gateway, http or smstools)');
    if (smsVia === 'http' && !notifier.smsHttp) c.fail(['contacts', name, 'sms_via'], 'sms_via http needs notifications.sms.http');
    if (smsVia === 'smstools' && !notifier.smstoolsSpool) c.fail(['contacts', name, 'sms_via'], 'sms_via smstools needs notifications.sms.smstools.spool_dir');
    if (smsVia === 'gateway' && !notifier.smsGateway) c.fail(['contacts', name, 'sms_via'], 'sms_via gateway needs notifications.sms.gateway');
    if (smsVia === 'gateway' && !notifier.email) c.fail(['contacts', name, 'sms_via'], 'an email-to-SMS gateway needs notifications.email (SMTP)');
    if (email !== null && !notifier.email) c.fail(['contacts', name, 'email'], 'email contacts need notifications.email (the SMTP server)');
    if (email === null && sms === null) c.fail(['contacts', name], 'needs email or sms (or both)');
    contacts.set(name, {
      ...readContactPeriods(s, timing),
      name,
      email,
      sms: sms?.replace(/[\s-]/g, '') ?? null,
      smsVia: sms !== null ? smsVia : null,
      hostOptions: readOptions(s, 'host_notification_options', HOST_OPTIONS, HOST_OPTIONS),
      serviceOptions: readOptions(s, 'service_notification_options', SERVICE_OPTIONS, SERVICE_OPTIONS),
    });
  }
  const contactGroups = new Map<string, string[]>();
  const groupsSec = top.sub('contact_groups');
  for (const [name, v] of Object.entries(groupsSec?.value ?? {})) {
    const members = Array.isArray(v) || typeof v === 'string' ? groupsSec!.strList(name) : (Section.of(c, ['contact_groups', name], v, true)?.strList('members') ?? []);
    members.forEach((m, i) => {
      if (!contacts.has(m)) c.fail(['contact_groups', name, ...(Array.isArray(v) ? [i] : ['members', i])], `unknown contact '${m}'`);
    });
    contactGroups.set(name, members);
  }
  const resolveContacts = (s: Section): string[] => {
    const out = new Set<string>();
    for (const [i, n] of s.strList('contacts').entries()) {
      if (contacts.has(n)) out.add(n);
      else c.fail([...s.path, 'contacts', i], `unknown contact '${n}'`);
    }
    for (const [i, g] of s.strList('contact_groups').entries()) {
      const members = contactGroups.get(g);
      if (members) members.forEach((m) => out.add(m));
      else c.fail([...s.path, 'contact_groups', i], `unknown contact group '${g}'`);
    }
    return [...out];
  };

  // hosts
  const hosts = new Map<string, HostConfig>();
  const hostsSec = top.sub('hosts', true);
  for (const [name, v] of Object.entries(hostsSec?.value ?? {})) {
    const path = ['hosts', name];
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) c.fail(path, 'host names are letters, digits, _ . - (they appear in URLs and macros)', true);
    const s = Section.of(c, path, v ?? {}, true);
    if (!s) continue;
    s.keys(['address', 'nrpe', 'ssh', 'local', 'check', 'args', 'passive', 'push_token_file', 'contacts', 'contact_groups', 'notification_options', 'parents', ...POLICY_KEYS, ...TIMING_KEYS]);
    const address = s.str('address') ?? name;
    if (isIP(address) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(address)) c.fail([...path, 'address'], `is neither an IP address nor a DNS name: ${JSON.stringify(address)}`);
    const pol = readPolicy(s, baseHost, 'host');
    const transport = readTransport(c, s, name);
    // No check written: the transport's default (hostcheck.ts); `check: none` (or false) turns it off.
    const off = s.raw('check') === false || s.raw('check') === 'none';
    const passive = readPassive(c, s, 'check');
    const written = s.has('check') && !off ? readCommand(c, [...path, 'check'], s.raw('check'), s.raw('args'), macroNames) : null;
    // A passive host gets its state from results sent to the server: no default check either.
    const check = off || passive ? null : written ?? defaultHostCheck(transport);
    hosts.set(name, {
      ...readObjectTiming(s, 'host', timing, resolveContacts),
      name,
      address,
      transport,
      check,
      checkSource: written ? 'configured' : check ? 'default' : 'none',
      noCheckNote: check || passive ? null : noCheckText(off ? 'none' : s.has('local') ? 'local' : 'implicit'),
      policy: pol.policy,
      timeoutMs: pol.timeoutMs,
      contacts: resolveContacts(s),
      virtual: false,
      passive,
      ...(s.has('push_token_file') ? { pushTokenFile: s.str('push_token_file') } : {}),
    });
  }

  // services
  const services = new Map<string, ServiceConfig>();
  const svcRaw = top.raw('services');
  if (svcRaw !== undefined && svcRaw !== null && !Array.isArray(svcRaw)) c.fail(['services'], 'must be a list of services (- name: ...)');
  const svcList = Array.isArray(svcRaw) ? svcRaw : [];
  const servicePaths = new Map<string, Path>();
  svcList.forEach((v, i) => {
    const path = ['services', i];
    const s = Section.of(c, path, v, true);
    if (!s) return;
    s.keys(['name', 'host', 'hosts', 'command', 'args', 'passive', 'metrics', 'run_on', 'confirm', 'contacts', 'contact_groups', 'notification_options', 'dependencies', ...POLICY_KEYS, ...TIMING_KEYS]);
    const passive = readPassive(c, s, 'command');
    const metrics = s.bool('metrics', true);
    const runOnRaw = s.str('run_on') ?? 'host';
    if (runOnRaw !== 'host' && runOnRaw !== 'server') c.fail([...path, 'run_on'], `is ${runOnRaw}: write host (over the host's nrpe or ssh, the default) or server (on this admin node, against the host's address)`);
    const runOn = runOnRaw === 'server' ? 'server' : 'host';
    const name = s.str('name', true);
    if (name && !/^[A-Za-z0-9][A-Za-z0-9 _.:()-]*$/.test(name)) c.fail([...path, 'name'], 'service names are letters, digits, space and _ . : ( ) - (no /: it separates host and service)');
    const hostNames = [...s.strList('host'), ...s.strList('hosts')];
    const targets = hostNames.includes('*') ? [...hosts.keys()] : hostNames;
    if (targets.length === 0) c.fail(path, 'needs host: NAME or hosts: [NAMES] (or hosts: "*")');
    // A passive service gets its results from outside (API, NRDP) and runs nothing.
    const command = passive && !s.has('command') ? null : readCommand(c, [...path, 'command'], s.raw('command'), s.raw('args'), macroNames);
    const pol = readPolicy(s, baseService, 'service');
    const confirm = readConfirm(s);
    const svcContacts = resolveContacts(s);
    const svcTiming = readObjectTiming(s, 'service', timing, resolveContacts);
    targets.forEach((h, j) => {
      const hc = hosts.get(h);
      if (!hc) {
        c.fail([...path, s.has('hosts') ? 'hosts' : 'host', ...(Array.isArray(s.raw('hosts')) ? [j] : [])], `unknown host '${h}'`);
        return;
      }
      const key = serviceKey(h, name);
      if (services.has(key)) c.fail([...path, 'name'], `service '${name}' is defined twice on host ${h}`);
      if (command && runOn === 'host' && hc.transport.kind === 'nrpe' && command.argv.length - 1 > 16) c.fail([...path, 'command'], 'NRPE passes at most 16 arguments');
      servicePaths.set(key, path);
      services.set(key, { ...svcTiming, key, hostName: h, name, command: command ?? { line: '', argv: [''], args: [] }, policy: pol.policy, timeoutMs: pol.timeoutMs, contacts: svcContacts.length ? svcContacts : hc.contacts, passive, ...(metrics ? {} : { metrics: false }), ...(runOn === 'server' ? { runOn } : {}), ...(confirm ? { confirm } : {}) });
    });
  });

  // cluster rules (server/inventory/rules.ts), then who would be told about what
  const clusterRules = readClusterRules(c, top, { hosts, services, baseHost, baseService, resolveContacts, timing: (r) => readObjectTiming(r, 'service', timing, resolveContacts, false) });
  readTopLevelEscalations(c, top, timing, resolveContacts, { hosts, services, clusterRules });
  warnNobodyNotified(c, { hosts, services, clusterRules, contacts, servicePaths });
  // parents and dependencies (server/inventory/deps.ts): after the rules, a rule can be a master
  readParents(c, top, hosts);
  const dependencies = readDependencies(c, top, { hosts, services, clusterRules, servicePaths });

  // recurring downtimes
  const downtimes: RecurringDowntime[] = [];
  const dtRaw = top.raw('downtimes');
  (Array.isArray(dtRaw) ? dtRaw : []).forEach((v, i) => {
    const path = ['downtimes', i];
    const s = Section.of(c, path, v, true);
    if (!s) return;
    s.keys(['name', 'cron', 'duration', 'hosts', 'services', 'comment']);
    const expr = s.str('cron', true);
    if (expr) {
      const check = cron.validateDetailed(expr);
      if (!check.valid) c.fail([...path, 'cron'], `is not a cron expression (${check.errors.map((e) => e.message).join('; ')}); e.g. "0 3 * * 0" = Sundays 03:00`);
    }
    const keys = new Set<string>();
    s.strList('hosts').forEach((h, j) => {
      if (!hosts.has(h)) c.fail([...path, 'hosts', j], `unknown host '${h}'`);
      keys.add(h);
      for (const svc of services.values()) if (svc.hostName === h) keys.add(svc.key);
    });
    s.strList('services').forEach((k, j) => {
      if (!services.has(k)) c.fail([...path, 'services', j], `unknown service '${k}' (write host/service)`);
      keys.add(k);
    });
    if (keys.size === 0) c.fail(path, 'covers nothing: give hosts and/or services');
    downtimes.push({ name: s.str('name') ?? `downtime ${i + 1}`, cron: expr, durationMs: s.duration('duration', 3_600_000, 60_000), keys: [...keys], comment: s.str('comment') ?? 'recurring downtime' });
  });
  if (notifier.dailySummary) {
    for (const n of notifier.dailySummary.contacts) if (!contacts.has(n) && !contactGroups.has(n)) c.fail(['notifications', 'daily_summary', 'contacts'], `unknown contact or group '${n}'`);
  }
  const dailySummary = notifier.dailySummary
    ? { ...notifier.dailySummary, contacts: [...new Set(notifier.dailySummary.contacts.flatMap((n) => contactGroups.get(n) ?? [n]))] }
    : null;

  if (c.problems.length) throw new InventoryError(c.problems);
  return {
    source: file,
    server,
    notifier: { ...notifier, dailySummary },
    hosts,
    services,
    contacts,
    contactGroups,
    clusterRules,
    downtimes,
    timeperiods: timing.periods,
    dependencies,
    warnings: c.warnings,
  };
}

function readNotifier(c: Checker, n: Section): NotifierConfig & { dailySummary: { cron: string; contacts: string[] } | null } {
  n.keys(['email', 'sms', 'group_window', 'group_threshold', 'retry', 'daily_summary']);
  let email: SmtpConfig | null = null;
  const e = n.sub('email');
  if (e) {
    e.keys(['smtp', 'from']);
    const s = e.sub('smtp', true);
    if (s) {
      s.keys(['host', 'port', 'security', 'user', 'password_env', 'password_file', 'ca_file', 'timeout']);
      const security = (s.str('security') ?? 'starttls') as SmtpConfig['security'];
      if (!['tls', 'starttls', 'none'].includes(security)) c.fail([...s.path, 'security'], 'must be tls (port 465), starttls (587/25) or none (a local relay)');
      const host = s.str('host', true);
      if (security === 'none' && host && !['127.0.0.1', '::1', 'localhost'].includes(host)) c.warn([...s.path, 'security'], `SMTP without TLS to ${host}: mail and password travel in clear`);
      if (s.has('password_env') && s.has('password_file')) c.fail(s.path, 'give password_env or password_file, not both');
      email = {
        host,
        port: s.int('port', security === 'tls' ? 465 : 587, 1, 65535),
        security,
        user: s.str('user'),
        passwordEnv: s.str('password_env'),
        passwordFile: s.str('password_file'),
        caFile: s.str('ca_file'),
        from: e.str('from') ?? 'hawatch@localhost',
        timeoutMs: s.duration('timeout', 15_000, 1000),
      };
    }
  }
  let smsGateway: string | null = null;
  let smsHttp: HttpSmsConfig | null = null;
  let smstoolsSpool: string | null = null;
  let smsMaxLength = 160;
  let smsMaxParts = 1;
  const sms = n.sub('sms');
  if (sms) {
    sms.keys(['gateway', 'http', 'smstools', 'max_length', 'max_parts']);
    // One SMS unless told otherwise: parts are billed one by one and may arrive out of order.
    smsMaxParts = sms.int('max_parts', 1, 1, 10);
    const capacity = smsMaxParts === 1 ? 160 : smsMaxParts * 153;
    smsMaxLength = sms.int('max_length', capacity, 40, 10_000);
    if (smsMaxLength > capacity) c.warn([...sms.path, 'max_length'], `${smsMaxLength} characters do not fit in ${smsMaxParts} SMS (${capacity} GSM characters): bodies are cut to ${capacity}; raise max_parts to allow longer ones`);
    smsGateway = sms.str('gateway');
    if (smsGateway !== null && !/\{number\}@[^\s@]+$/.test(smsGateway)) c.fail([...sms.path, 'gateway'], 'must be an address pattern with {number}, e.g. "{number}@sms.example.net"');
    const h = sms.sub('http');
    if (h) {
      h.keys(['preset', 'url', 'method', 'auth_header_env', 'auth_header_file', 'body', 'content_type', 'from', 'timeout']);
      const preset = h.str('preset');
      if (preset !== null && preset !== 'twilio' && preset !== 'generic') c.fail([...h.path, 'preset'], 'must be twilio or generic');
      const url = h.str('url', true);
      try {
        const u = new URL(url);
        if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('not http(s)');
        if (u.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) c.warn([...h.path, 'url'], 'SMS provider over plain http: the auth header travels in clear');
        if (u.username || u.password) c.fail([...h.path, 'url'], 'no credentials in the URL: use auth_header_env or auth_header_file');
      } catch {
        if (url) c.fail([...h.path, 'url'], `is not an http(s) URL: ${JSON.stringify(url)}`);
      }
      if (h.has('auth_header_env') && h.has('auth_header_file')) c.fail(h.path, 'give auth_header_env or auth_header_file, not both');
      const twilio = preset === 'twilio';
      const body = h.str('body') ?? (twilio ? 'To={{number}}&From={{from}}&Body={{message}}' : '{"to": {{number}}, "text": {{message}}}');
      const contentType = h.str('content_type') ?? (twilio ? 'application/x-www-form-urlencoded' : 'application/json');
      if (contentType === 'application/json') {
        try {
          JSON.parse(body.replace(/\{\{(number|message|from)\}\}/g, '"x"'));
        } catch {
          c.fail([...h.path, 'body'], 'the JSON body template must be valid JSON once {{number}}, {{message}} and {{from}} are filled in (they are inserted as JSON strings, so write them without quotes)');
        }
      }
      if (twilio && !h.has('from')) c.fail(h.path, 'the twilio preset needs from: (your Twilio number)');
      const method = (h.str('method') ?? 'POST').toUpperCase();
      if (method !== 'POST' && method !== 'PUT') c.fail([...h.path, 'method'], 'must be POST or PUT');
      smsHttp = {
        url,
        method: method as 'POST' | 'PUT',
        authHeaderEnv: h.str('auth_header_env'),
        authHeaderFile: h.str('auth_header_file'),
        bodyTemplate: body,
        contentType,
        from: h.str('from'),
        timeoutMs: h.duration('timeout', 10_000, 500),
      };
    }
    const t = sms.sub('smstools');
    if (t) {
      t.keys(['spool_dir']);
      smstoolsSpool = t.str('spool_dir', true);
    }
  }
  const retry = n.sub('retry');
  retry?.keys(['initial', 'max']);
  const ds = n.sub('daily_summary');
  let dailySummary: { cron: string; contacts: string[] } | null = null;
  if (ds) {
    ds.keys(['cron', 'contacts']);
    const expr = ds.str('cron') ?? '0 8 * * *';
    if (!cron.validate(expr)) c.fail([...ds.path, 'cron'], `is not a cron expression: ${JSON.stringify(expr)}`);
    dailySummary = { cron: expr, contacts: ds.strList('contacts') };
  }
  return {
    email,
    smsGateway,
    smsHttp,
    smstoolsSpool,
    smsMaxLength,
    smsMaxParts,
    groupWindowMs: n.duration('group_window', 10_000),
    groupThreshold: n.int('group_threshold', 3, 1, 10_000),
    retryInitialMs: retry?.duration('initial', 15_000, 100) ?? 15_000,
    retryMaxMs: retry?.duration('max', 15 * 60_000, 100) ?? 15 * 60_000,
    dailySummary,
  };
}

/** `passive: true` on a host or service; a passive object runs no check of its own. */
/** confirm: { results: 2, within: 5s }: see server/state/confirm.ts. */
function readConfirm(s: Section): { results: number; withinMs: number } | undefined {
  if (!s.has('confirm')) return undefined;
  const sub = s.sub('confirm', true);
  if (!sub) return undefined;
  sub.keys(['results', 'within']);
  return { results: sub.int('results', 2, 2, 10), withinMs: sub.duration('within', 5000, 1000) };
}

function readPassive(c: Checker, s: Section, commandKey: 'check' | 'command'): boolean {
  if (!s.has('passive')) return false;
  const raw = s.raw('passive');
  if (typeof raw !== 'boolean') {
    c.fail([...s.path, 'passive'], 'must be true or false');
    return false;
  }
  if (raw && commandKey === 'check' && s.has('check')) c.fail([...s.path, 'check'], 'a passive host runs no check: remove check, or passive');
  if (raw && commandKey === 'command' && s.has('command')) c.warn([...s.path, 'command'], 'a passive service runs no command: it is ignored (results come from POST /api/v1/results or NRDP)');
  return raw;
}

/** server.tls: the listener speaks HTTPS with this certificate and key (pushes need https). */
function readServerTls(c: Checker, srv: Section): { certFile: string; keyFile: string } | null {
  const t = srv.sub('tls');
  if (!t) return null;
  t.keys(['cert_file', 'key_file']);
  const certFile = t.str('cert_file', true);
  const keyFile = t.str('key_file', true);
  if (!certFile || !keyFile) return null; // reported as required
  if (!isAbsolute(certFile)) c.fail(['server', 'tls', 'cert_file'], 'must be an absolute path');
  if (!isAbsolute(keyFile)) c.fail(['server', 'tls', 'key_file'], 'must be an absolute path');
  return { certFile, keyFile };
}

/** NRDP tokens for passive results: listed, or one per line in a file (read when used, # comments). */
function readPassiveTokens(c: Checker, srv: Section): { passiveTokens: string[]; passiveTokensFile: string | null } {
  const tokens = srv.strList('passive_tokens');
  tokens.forEach((t, i) => {
    if (t.length < 16 || /\s/.test(t)) c.fail(['server', 'passive_tokens', i], 'a token is at least 16 characters without blanks (e.g. openssl rand -hex 16)');
  });
  if (tokens.length) c.warn(['server', 'passive_tokens'], 'tokens written in the inventory are read by whoever reads it: prefer server.passive_tokens_file');
  return { passiveTokens: tokens, passiveTokensFile: srv.str('passive_tokens_file') };
}
