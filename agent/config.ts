/**
 * nrpe.cfg syntax: `key=value` lines, `#` comments, `command[name]=command line`,
 * `include=FILE`, `include_dir=DIR` (every *.cfg below it, recursively). An existing
 * nrpe.cfg works as it is: keys NRPE knows that the agent does not need are accepted and
 * ignored, unknown keys give a warning, never a failure. Invalid values of keys that matter
 * are errors naming the file and line.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_NASTY_METACHARS } from '../nagios/nrpe.ts';
import { parseWatchSpec, type WatchDef } from './watch.ts';

export const SslVersions = ['TLSv1', 'TLSv1+', 'TLSv1.1', 'TLSv1.1+', 'TLSv1.2', 'TLSv1.2+', 'TLSv1.3', 'TLSv1.3+'] as const;
export type SslVersion = (typeof SslVersions)[number];

export interface SslConfig {
  /** ssl_version: TLSv1+ by default, as NRPE. SSLv2/SSLv3 settings fall back to TLSv1+ with a warning. */
  readonly version: SslVersion;
  /** ssl_use_adh: 0 never, 1 allow (default), 2 anonymous DH only. */
  readonly useAdh: 0 | 1 | 2;
  readonly cipherList: string;
  readonly cacertFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly privatekeyFile?: string | undefined;
  /** ssl_client_certs: 0 do not ask, 1 ask (verify if given), 2 require. */
  readonly clientCerts: 0 | 1 | 2;
  /** ssl_logging bit mask (NRPE's): 0x04 version, 0x08 cipher, 0x10 client cert, 0x20 cert details. */
  readonly logging: number;
  /** hawatch_dh_params: `2048` (default, as NRPE), `auto` (OpenSSL picks by cipher strength: 3072 for AES-256) or a PEM file. */
  readonly dhParams: string;
  /** hawatch_anon_ecdh: without a certificate, prefer anonymous ECDH (X25519) over 2048-bit DH when offered (default 1). */
  readonly anonEcdh: boolean;
}

/** auto: when the monitoring-plugins program is missing; always: 1; never: 0. */
export type BuiltinBasics = 'auto' | 'always' | 'never';

export interface AgentConfig {
  readonly serverPort: number;
  readonly serverAddress?: string | undefined;
  readonly listenQueueSize: number;
  readonly allowedHosts: readonly string[];
  readonly commands: ReadonlyMap<string, string>;
  readonly commandTimeoutS: number;
  readonly connectionTimeoutS: number;
  readonly dontBlameNrpe: boolean;
  readonly nastyMetachars: string;
  readonly commandPrefix?: string | undefined;
  readonly maxCommands: number;
  readonly keepEnvVars: readonly string[];
  readonly nrpeUser?: string | undefined;
  readonly nrpeGroup?: string | undefined;
  readonly pidFile?: string | undefined;
  readonly logFile?: string | undefined;
  readonly debug: boolean;
  /** hawatch_max_connections: connections open at once; more are closed at accept. */
  readonly maxConnections: number;
  /** hawatch_max_connections_per_host: connections one source address may hold at once. */
  readonly maxConnectionsPerHost: number;
  /** hawatch_handshake_timeout: seconds from accept to a complete request (TLS handshake included). */
  readonly handshakeTimeoutS: number;
  /** hawatch_builtin_basics: when stock check_users/load/disk/procs/swap lines run built in (see agent/commands.ts). */
  readonly builtinBasics: BuiltinBasics;
  readonly ssl: SslConfig;
  /** hawatch_watch[COMMAND]: watchers, by the command they re-run (see agent/watch.ts). */
  readonly watches: ReadonlyMap<string, WatchDef>;
  /** hawatch_watch_backoff_max: seconds; a dead watcher is restarted after 1, 2, 4 ... s up to this. */
  readonly watchBackoffMaxS: number;
  /** hawatch_watch_min_interval: seconds between the starts of two runs of one watched command. */
  readonly watchMinIntervalS: number;
  /** hawatch_watch_stat_interval: seconds between the stat polls of file and tail watchers. */
  readonly watchStatIntervalS: number;
  readonly push: PushConfig;
  /** Where the config came from (the main file, then includes), for messages. */
  readonly files: readonly string[];
  readonly warnings: readonly string[];
}

export interface PushConfig {
  /** hawatch_push_url: https://ADMIN:PORT/api/v1/results */
  readonly url?: string | undefined;
  readonly caFile?: string | undefined;
  readonly fingerprint?: string | undefined;
  readonly tokenFile?: string | undefined;
  /** hawatch_push_host: this node's name in the inventory (default: the system host name). */
  readonly host?: string | undefined;
  /** hawatch_push_service[COMMAND]=SERVICE: the service name a command's results go to. */
  readonly services: ReadonlyMap<string, string>;
  readonly queueSize: number;
  readonly retryMaxS: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULT_CIPHER_LIST = 'ALL:!MD5:@STRENGTH:@SECLEVEL=0';
export const DEFAULT_PORT = 5666;

/** Keys NRPE 4.1 knows that the agent accepts without using them. */
const IGNORED_NRPE_KEYS = new Set(['log_facility', 'disable_syslog', 'allow_weak_random_seed', 'ssl_shutdown_timeout', 'allow_bash_command_substitution', 'command_file', 'sasl_enabled']);

interface Mutable {
  serverPort: number;
  serverAddress?: string;
  listenQueueSize: number;
  allowedHosts: string[];
  commands: Map<string, string>;
  commandTimeoutS: number;
  connectionTimeoutS: number;
  dontBlameNrpe: boolean;
  nastyMetachars: string;
  commandPrefix?: string;
  maxCommands: number;
  keepEnvVars: string[];
  nrpeUser?: string;
  nrpeGroup?: string;
  pidFile?: string;
  logFile?: string;
  debug: boolean;
  maxConnections: number;
  maxConnectionsPerHost: number;
  handshakeTimeoutS: number;
  builtinBasics: BuiltinBasics;
  watches: Map<string, WatchDef>;
  watchMatches: Map<string, { re: RegExp; where: string }>;
  watchBackoffMaxS: number;
  watchMinIntervalS: number;
  watchStatIntervalS: number;
  push: { url?: string; caFile?: string; fingerprint?: string; tokenFile?: string; host?: string; services: Map<string, string>; queueSize: number; retryMaxS: number };
  ssl: {
    version: SslVersion;
    useAdh: 0 | 1 | 2;
    cipherList: string;
    cacertFile?: string;
    certFile?: string;
    privatekeyFile?: string;
    clientCerts: 0 | 1 | 2;
    logging: number;
    dhParams: string;
    anonEcdh: boolean;
  };
  files: string[];
  warnings: string[];
}

function defaults(): Mutable {
  return {
    serverPort: DEFAULT_PORT,
    listenQueueSize: 128,
    allowedHosts: ['127.0.0.1', '::1'],
    commands: new Map(),
    commandTimeoutS: 60,
    connectionTimeoutS: 300,
    dontBlameNrpe: false,
    nastyMetachars: DEFAULT_NASTY_METACHARS,
    maxCommands: 0,
    keepEnvVars: [],
    debug: false,
    maxConnections: 1024,
    // A monitoring server rarely runs more than a few dozen checks on one node at once; far
    // below the global cap, so one source (or a few) cannot take every slot.
    maxConnectionsPerHost: 64,
    // check_nrpe sends its query right after the handshake: a few seconds is ample, and idle
    // or half-dead connections free their slot quickly.
    handshakeTimeoutS: 5,
    builtinBasics: 'auto',
    watches: new Map(),
    watchMatches: new Map(),
    watchBackoffMaxS: 60,
    // Fast enough for seconds-level detection, slow enough that a source printing without
    // pause cannot keep a check running back to back.
    watchMinIntervalS: 0.25,
    watchStatIntervalS: 1,
    push: { services: new Map(), queueSize: 1000, retryMaxS: 60 },
    ssl: { version: 'TLSv1+', useAdh: 1, cipherList: DEFAULT_CIPHER_LIST, clientCerts: 0, logging: 0, dhParams: '2048', anonEcdh: true },
    files: [],
    warnings: [],
  };
}

/** Reads a config file with its includes. Throws ConfigError with file:line on bad values. */
export async function loadConfig(path: string): Promise<AgentConfig> {
  const cfg = defaults();
  await readInto(cfg, resolve(path), 0);
  return finish(cfg);
}

/** Joins hawatch_watch_match lines to their watchers (they may come in any order, in any file). */
function finish(cfg: Mutable): AgentConfig {
  for (const [name, m] of cfg.watchMatches) {
    const w = cfg.watches.get(name);
    if (!w) {
      cfg.warnings.push(`${m.where}: hawatch_watch_match[${name}] has no hawatch_watch[${name}]; ignored`);
      continue;
    }
    if (w.spec.kind === 'file' || w.spec.kind === 'poll') {
      cfg.warnings.push(`${m.where}: hawatch_watch_match[${name}] is ignored: only command and tail watchers read lines`);
      continue;
    }
    cfg.watches.set(name, { ...w, match: m.re });
  }
  const { watchMatches: _m, ...rest } = cfg;
  return rest;
}

/** Parses config text (includes are resolved relative to `path`'s folder). */
export async function parseConfigText(text: string, path = 'agent.cfg'): Promise<AgentConfig> {
  const cfg = defaults();
  cfg.files.push(path);
  await parseInto(cfg, text, resolve(path), 0);
  return finish(cfg);
}

async function readInto(cfg: Mutable, path: string, depth: number): Promise<void> {
  if (depth > 8) throw new ConfigError(`${path}: includes nested more than 8 deep (an include loop?)`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new ConfigError(`cannot read config file '${path}': ${why}`);
  }
  cfg.files.push(path);
  await parseInto(cfg, text, path, depth);
}

async function cfgFilesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new ConfigError(`cannot read include_dir '${dir}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (e as Error).message}`);
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await cfgFilesBelow(p)));
    else if (e.name.endsWith('.cfg') && (e.isFile() || (e.isSymbolicLink() && (await stat(p).then((s) => s.isFile(), () => false))))) out.push(p);
  }
  return out;
}

function intIn(where: string, key: string, value: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(value)) throw new ConfigError(`${where}: ${key} must be a whole number, not '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(`${where}: ${key} must be between ${min} and ${max}, not ${n}`);
  return n;
}

function secondsIn(where: string, key: string, value: string, min: number, max: number): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new ConfigError(`${where}: ${key} must be a number of seconds, not '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(`${where}: ${key} must be between ${min} and ${max} seconds, not ${n}`);
  return n;
}

function bool01(where: string, key: string, value: string): boolean {
  if (value === '0' || value === '1') return value === '1';
  throw new ConfigError(`${where}: ${key} must be 0 or 1${key === 'hawatch_builtin_basics' ? ' or auto' : ''}, not '${value}'`);
}

async function parseInto(cfg: Mutable, text: string, path: string, depth: number): Promise<void> {
  const base = dirname(path);
  const abs = (p: string): string => (isAbsolute(p) ? p : join(base, p));
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${path}:${n + 1}`;
    const eq = line.indexOf('=');
    if (eq === -1) {
      cfg.warnings.push(`${where}: ignoring a line without '=': ${line.slice(0, 60)}`);
      continue;
    }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const cmd = /^command\[(.*)\]$/.exec(key);
    if (cmd) {
      const name = cmd[1]!;
      if (name === '' || /[\s!]/.test(name)) throw new ConfigError(`${where}: invalid command name '${name}' (no spaces or '!')`);
      if (value === '') throw new ConfigError(`${where}: command[${name}] has an empty command line`);
      if (cfg.commands.has(name)) cfg.warnings.push(`${where}: command[${name}] is defined again; the last definition wins (as in NRPE)`);
      cfg.commands.set(name, value);
      continue;
    }
    const watch = /^hawatch_(watch|watch_match|push_service)\[(.*)\]$/.exec(key);
    if (watch) {
      const [, what, name] = watch as unknown as [string, string, string];
      if (name === '' || /[\s!]/.test(name)) throw new ConfigError(`${where}: invalid command name '${name}' in ${key} (no spaces or '!')`);
      if (what === 'watch') {
        const spec = parseWatchSpec(value);
        if (typeof spec === 'string') throw new ConfigError(`${where}: hawatch_watch[${name}] ${spec}`);
        if (cfg.watches.has(name)) cfg.warnings.push(`${where}: hawatch_watch[${name}] is defined again; the last definition wins`);
        cfg.watches.set(name, { command: name, spec, where });
      } else if (what === 'watch_match') {
        let re: RegExp;
        try {
          re = new RegExp(value);
        } catch (e) {
          throw new ConfigError(`${where}: hawatch_watch_match[${name}] is not a valid regular expression: ${(e as Error).message}`);
        }
        cfg.watchMatches.set(name, { re, where });
      } else {
        if (value === '') throw new ConfigError(`${where}: hawatch_push_service[${name}] needs the service name of the inventory`);
        cfg.push.services.set(name, value);
      }
      continue;
    }
    switch (key) {
      case 'hawatch_watch_backoff_max':
        cfg.watchBackoffMaxS = intIn(where, key, value, 1, 3600);
        break;
      case 'hawatch_watch_min_interval':
        cfg.watchMinIntervalS = secondsIn(where, key, value, 0, 3600);
        break;
      case 'hawatch_watch_stat_interval':
        cfg.watchStatIntervalS = secondsIn(where, key, value, 0.1, 3600);
        break;
      case 'hawatch_push_url': {
        if (value === '') break;
        let u: URL;
        try {
          u = new URL(value);
        } catch {
          throw new ConfigError(`${where}: hawatch_push_url is not a URL: give https://ADMIN:PORT/api/v1/results`);
        }
        if (u.protocol !== 'https:') throw new ConfigError(`${where}: hawatch_push_url must be https (the token and results travel in it)`);
        if (u.username || u.password) throw new ConfigError(`${where}: hawatch_push_url must not carry credentials: use hawatch_push_token_file`);
        cfg.push.url = value;
        break;
      }
      case 'hawatch_push_ca_file':
        if (value !== '') cfg.push.caFile = abs(value);
        break;
      case 'hawatch_push_fingerprint':
        if (value === '') break;
        if (!/^(sha256[:/]?)?([0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$/.test(value.replace(/\s/g, ''))) throw new ConfigError(`${where}: hawatch_push_fingerprint must be a SHA-256 fingerprint (64 hex digits, colons allowed), as openssl x509 -noout -fingerprint -sha256 prints it`);
        cfg.push.fingerprint = value;
        break;
      case 'hawatch_push_token_file':
        if (value !== '') cfg.push.tokenFile = abs(value);
        break;
      case 'hawatch_push_host':
        if (value !== '') cfg.push.host = value;
        break;
      case 'hawatch_push_queue_size':
        cfg.push.queueSize = intIn(where, key, value, 1, 1_000_000);
        break;
      case 'hawatch_push_retry_max':
        cfg.push.retryMaxS = intIn(where, key, value, 1, 3600);
        break;
      case 'server_port':
        cfg.serverPort = intIn(where, key, value, 0, 65535);
        break;
      case 'server_address':
        if (value !== '') cfg.serverAddress = value;
        break;
      case 'listen_queue_size':
        cfg.listenQueueSize = intIn(where, key, value, 1, 65535);
        break;
      case 'allowed_hosts':
        cfg.allowedHosts = value.split(/[\s,]+/).filter((h) => h !== '');
        break;
      case 'command_timeout':
        cfg.commandTimeoutS = intIn(where, key, value, 1, 86400);
        break;
      case 'connection_timeout':
        cfg.connectionTimeoutS = intIn(where, key, value, 1, 86400);
        break;
      case 'dont_blame_nrpe':
        cfg.dontBlameNrpe = bool01(where, key, value);
        break;
      case 'nasty_metachars':
        // NRPE takes the value as it is; C-style escapes are the only way to write CR/LF there.
        cfg.nastyMetachars = value.replace(/\\([nrt\\])/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : '\\'));
        if (cfg.nastyMetachars === '') cfg.warnings.push(`${where}: an empty nasty_metachars lets every character through to commands`);
        break;
      case 'command_prefix':
        if (value !== '') cfg.commandPrefix = value;
        break;
      case 'max_commands':
        cfg.maxCommands = intIn(where, key, value, 0, 100000);
        break;
      case 'keep_env_vars':
        cfg.keepEnvVars = value.split(/[\s,]+/).filter((v) => v !== '');
        break;
      case 'nrpe_user':
        if (value !== '') cfg.nrpeUser = value;
        break;
      case 'nrpe_group':
        if (value !== '') cfg.nrpeGroup = value;
        break;
      case 'pid_file':
        if (value !== '') cfg.pidFile = value;
        break;
      case 'log_file':
        if (value !== '') cfg.logFile = value;
        break;
      case 'debug':
        cfg.debug = bool01(where, key, value);
        break;
      case 'hawatch_max_connections':
        cfg.maxConnections = intIn(where, key, value, 1, 1_000_000);
        break;
      case 'hawatch_max_connections_per_host':
        cfg.maxConnectionsPerHost = intIn(where, key, value, 1, 1_000_000);
        break;
      case 'hawatch_handshake_timeout':
        cfg.handshakeTimeoutS = intIn(where, key, value, 1, 3600);
        break;
      case 'hawatch_builtin_basics':
        if (value === 'auto' || value === '') cfg.builtinBasics = 'auto';
        else cfg.builtinBasics = bool01(where, key, value) ? 'always' : 'never';
        break;
      case 'hawatch_dh_params':
        if (value !== 'auto' && value !== '2048' && value !== '') cfg.ssl.dhParams = abs(value);
        else if (value !== '') cfg.ssl.dhParams = value;
        break;
      case 'hawatch_anon_ecdh':
        cfg.ssl.anonEcdh = bool01(where, key, value);
        break;
      case 'ssl_version': {
        if ((SslVersions as readonly string[]).includes(value)) cfg.ssl.version = value as SslVersion;
        else if (/^SSLv[23]\+?$/.test(value)) cfg.warnings.push(`${where}: ssl_version=${value} is not offered (SSL 2/3 are broken); using TLSv1+`);
        else throw new ConfigError(`${where}: ssl_version must be one of ${SslVersions.join(', ')}, not '${value}'`);
        break;
      }
      case 'ssl_use_adh': {
        const v = intIn(where, key, value, 0, 2);
        cfg.ssl.useAdh = v as 0 | 1 | 2;
        break;
      }
      case 'ssl_cipher_list':
        if (value !== '') cfg.ssl.cipherList = value;
        break;
      case 'ssl_cacert_file':
        if (value !== '') cfg.ssl.cacertFile = abs(value);
        break;
      case 'ssl_cert_file':
        if (value !== '') cfg.ssl.certFile = abs(value);
        break;
      case 'ssl_privatekey_file':
        if (value !== '') cfg.ssl.privatekeyFile = abs(value);
        break;
      case 'ssl_client_certs': {
        const v = intIn(where, key, value, 0, 2);
        cfg.ssl.clientCerts = v as 0 | 1 | 2;
        break;
      }
      case 'ssl_logging':
        if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(value)) throw new ConfigError(`${where}: ssl_logging must be a number (e.g. 0x0c), not '${value}'`);
        cfg.ssl.logging = Number(value);
        break;
      case 'include':
        await readInto(cfg, abs(value), depth + 1);
        break;
      case 'include_dir':
        for (const f of await cfgFilesBelow(abs(value))) await readInto(cfg, f, depth + 1);
        break;
      default:
        if (IGNORED_NRPE_KEYS.has(key)) {
          if (key === 'allow_bash_command_substitution' && value === '1') cfg.warnings.push(`${where}: allow_bash_command_substitution=1 is not honoured: '$(' in arguments is always refused`);
        } else {
          cfg.warnings.push(`${where}: unknown key '${key}' ignored`);
        }
    }
  }
}

/** Checks that the settings fit together; returns the problems (empty when fine). */
export function configProblems(cfg: AgentConfig, useTls: boolean): string[] {
  const p: string[] = [];
  const s = cfg.ssl;
  if (useTls) {
    if (s.certFile && !s.privatekeyFile) p.push('ssl_cert_file is set but ssl_privatekey_file is not');
    if (!s.certFile && s.privatekeyFile) p.push('ssl_privatekey_file is set but ssl_cert_file is not');
    if (!s.certFile && s.useAdh === 0) p.push('ssl_use_adh=0 needs a certificate (ssl_cert_file, ssl_privatekey_file): without one no cipher is left');
    if (s.clientCerts > 0 && !s.cacertFile) p.push(`ssl_client_certs=${s.clientCerts} needs ssl_cacert_file (the CA that signs the client certificates)`);
    if (s.clientCerts > 0 && !s.certFile) p.push(`ssl_client_certs=${s.clientCerts} needs a server certificate (ssl_cert_file): anonymous ciphers cannot ask for client certificates`);
    if (s.clientCerts > 0 && s.useAdh === 2) p.push('ssl_client_certs and ssl_use_adh=2 exclude each other');
  }
  for (const w of cfg.watches.values()) {
    if (!cfg.commands.has(w.command)) p.push(`${w.where}: hawatch_watch[${w.command}] watches for a command that is not defined: add command[${w.command}]`);
  }
  const push = cfg.push;
  if (push.url) {
    if (!push.tokenFile) p.push('hawatch_push_url needs hawatch_push_token_file (the per-host token the server knows as push_token_file)');
    if (!push.caFile && !push.fingerprint) p.push('hawatch_push_url needs hawatch_push_ca_file or hawatch_push_fingerprint: the server is never trusted unpinned');
    if (push.caFile && push.fingerprint) p.push('hawatch_push_ca_file and hawatch_push_fingerprint exclude each other: pin one way');
  } else if (push.tokenFile || push.caFile || push.fingerprint) {
    p.push('hawatch_push_token_file, hawatch_push_ca_file and hawatch_push_fingerprint need hawatch_push_url');
  }
  for (const name of push.services.keys()) if (!cfg.watches.has(name)) p.push(`hawatch_push_service[${name}] names a command without hawatch_watch[${name}]: only watched commands are pushed`);
  return p;
}
