/**
 * Pure: nginx configuration text (an `nginx -T` dump, or files read for --config) in, upstream
 * groups out; error log lines in, upstream events out; stub_status text in, counters out.
 *
 * The configuration is tokenised like ngx_conf_file.c does (words, quoted strings, `;`, `{`,
 * `}`, `#` comments at the start of a token, `${var}` inside a word) and `include` directives
 * are expanded in place, so an `upstream` block in a file included from `stream {}` is known to
 * be a stream upstream (TCP only) and one included from `http {}` an HTTP one.
 */
import { PluginError } from '../../nagios/plugin.ts';
import { globToRegExp } from '../lib/glob.ts';

export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  readonly block?: readonly Directive[] | undefined;
  readonly file: string;
  readonly line: number;
}

interface Token {
  readonly text: string;
  /** `;`, `{` or `}` outside quotes; words and quoted strings are 'word'. */
  readonly kind: 'word' | ';' | '{' | '}';
  readonly line: number;
}

export function tokenize(text: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === ';' || c === '{' || c === '}') {
      out.push({ text: c, kind: c, line });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const start = line;
      let s = '';
      i++;
      while (i < n && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < n) {
          const e = text[i + 1]!;
          // ngx_conf_read_token keeps the backslash except before a quote or a backslash.
          s += e === '"' || e === "'" || e === '\\' ? e : e === 't' ? '\t' : e === 'r' ? '\r' : e === 'n' ? '\n' : `\\${e}`;
          i += 2;
          continue;
        }
        if (text[i] === '\n') line++;
        s += text[i];
        i++;
      }
      if (i >= n) throw new PluginError(`unclosed quote in ${file} line ${start}`);
      i++;
      out.push({ text: s, kind: 'word', line: start });
      continue;
    }
    let s = '';
    while (i < n) {
      const d = text[i]!;
      if (d === '{' && s.endsWith('$')) {
        // ${var}: the braces belong to the word.
        const end = text.indexOf('}', i);
        if (end === -1) break;
        s += text.slice(i, end + 1);
        i = end + 1;
        continue;
      }
      if (/[\s;{}]/.test(d) || ((d === '"' || d === "'") && s === '')) break;
      if (d === '\\' && i + 1 < n) {
        s += d + text[i + 1];
        i += 2;
        continue;
      }
      s += d;
      i++;
    }
    out.push({ text: s, kind: 'word', line });
  }
  return out;
}

/** One file's directives; include is not expanded here. */
export function parseFile(text: string, file: string): Directive[] {
  const tokens = tokenize(text, file);
  let pos = 0;
  const parseBlock = (depth: number): Directive[] => {
    const list: Directive[] = [];
    let words: Token[] = [];
    while (pos < tokens.length) {
      const t = tokens[pos++]!;
      if (t.kind === 'word') {
        words.push(t);
        continue;
      }
      if (t.kind === '}') {
        if (depth === 0) throw new PluginError(`unexpected } in ${file} line ${t.line}`);
        if (words.length) throw new PluginError(`unexpected } after ${words[0]!.text} in ${file} line ${t.line}`);
        return list;
      }
      if (words.length === 0) {
        if (t.kind === ';') continue;
        throw new PluginError(`a block without a directive name in ${file} line ${t.line}`);
      }
      const [head, ...rest] = words;
      if (t.kind === ';') list.push({ name: head!.text, args: rest.map((w) => w.text), file, line: head!.line });
      else list.push({ name: head!.text, args: rest.map((w) => w.text), block: parseBlock(depth + 1), file, line: head!.line });
      words = [];
    }
    if (depth > 0) throw new PluginError(`unexpected end of ${file}: a block is not closed`);
    if (words.length) throw new PluginError(`unexpected end of ${file}: ${words[0]!.text} lacks its ;`);
    return list;
  };
  return parseBlock(0);
}

export interface ConfigFiles {
  /** The main configuration file (the first one of an nginx -T dump). */
  readonly main: string;
  /** Every file by absolute path, in the order nginx dumped (or we read) them. */
  readonly files: ReadonlyMap<string, string>;
}

const DUMP_HEADER = /^# configuration file (.+):$/;

/** Splits `nginx -T` output into its files. Status lines of nginx on stdout are ignored. */
export function splitDump(text: string): ConfigFiles {
  const files = new Map<string, string>();
  let current: string | undefined;
  let buf: string[] = [];
  const flush = () => {
    if (current !== undefined && !files.has(current)) files.set(current, buf.join('\n'));
  };
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    const m = DUMP_HEADER.exec(line);
    if (m) {
      flush();
      current = m[1]!;
      buf = [];
    } else if (current !== undefined) buf.push(line);
  }
  flush();
  const main = files.keys().next().value;
  if (main === undefined) {
    const first = text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
    throw new PluginError(`no '# configuration file PATH:' line: not the output of nginx -T${first ? `; it starts with ${first.slice(0, 80)}` : ''}`);
  }
  return { main, files };
}

export function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** A path of the configuration made absolute as nginx does: relative to the conf prefix (the main file's directory). */
export function absolute(path: string, confDir: string): string {
  return path.startsWith('/') ? path : `${confDir}/${path}`.replace(/\/\.\//g, '/');
}

/** The files an include pattern names among those known, sorted as glob(3) sorts them. */
export function matchInclude(pattern: string, known: Iterable<string>): string[] {
  if (!/[*?[]/.test(pattern)) return [...known].filter((p) => p === pattern);
  const re = globToRegExp(pattern);
  return [...known].filter((p) => re.test(p) && !p.slice(pattern.lastIndexOf('/') + 1).includes('/')).sort();
}

/** The main file's directives with every include replaced by the included files' directives. */
export function expandConfig(cfg: ConfigFiles): Directive[] {
  const confDir = dirOf(cfg.main);
  const expand = (list: readonly Directive[], depth: number): Directive[] => {
    if (depth > 20) throw new PluginError('include nesting deeper than 20 levels (an include loop?)');
    const out: Directive[] = [];
    for (const d of list) {
      if (d.name === 'include' && !d.block && d.args.length === 1) {
        for (const f of matchInclude(absolute(d.args[0]!, confDir), cfg.files.keys())) out.push(...expand(parseFile(cfg.files.get(f)!, f), depth + 1));
        continue;
      }
      out.push(d.block ? { ...d, block: expand(d.block, depth) } : d);
    }
    return out;
  };
  return expand(parseFile(cfg.files.get(cfg.main) ?? '', cfg.main), 0);
}

/** Include patterns of one file, for reading --config files from disk before expanding. */
export function includePatterns(text: string, file: string, confDir: string): string[] {
  const out: string[] = [];
  const walk = (list: readonly Directive[]) => {
    for (const d of list) {
      if (d.name === 'include' && d.args.length === 1) out.push(absolute(d.args[0]!, confDir));
      if (d.block) walk(d.block);
    }
  };
  walk(parseFile(text, file));
  return out;
}

/** nginx time syntax: 10s, 1m30s, 500ms, a bare number of seconds. In seconds. */
export function parseTime(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, M: 2592000, y: 31536000 };
  let total = 0;
  let rest = text;
  while (rest !== '') {
    const m = /^(\d+)(ms|s|m|h|d|w|M|y)/.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}

export interface UpstreamServer {
  /** As written: `127.0.0.1:8080`, `app1.example:8080`, `unix:/run/app.sock`. */
  readonly address: string;
  /** `unix:/path` or host and port (port 80 when left out in http). */
  readonly target: { readonly path: string } | { readonly host: string; readonly port: number };
  readonly weight: number;
  readonly maxFails: number;
  readonly failTimeout: number;
  readonly backup: boolean;
  readonly down: boolean;
}

export interface Upstream {
  readonly name: string;
  readonly context: 'http' | 'stream';
  /** Schemes of the proxy_pass (etc.) that use it: http, https, grpc, fastcgi, uwsgi, scgi, memcached, stream. */
  readonly schemes: readonly string[];
  readonly servers: readonly UpstreamServer[];
  readonly file: string;
  readonly line: number;
}

export interface NginxConfig {
  readonly main: string;
  readonly upstreams: readonly Upstream[];
  /** Files named by error_log (not stderr, syslog: or memory:), absolute. */
  readonly errorLogs: readonly string[];
  readonly pidFile: string | undefined;
}

function splitHostPort(addr: string, defaultPort: number | undefined): { host: string; port: number } | undefined {
  let host: string;
  let port: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr);
  if (v6) [host, port] = [v6[1]!, v6[2]];
  else {
    const i = addr.lastIndexOf(':');
    if (i !== -1 && addr.indexOf(':') === i) [host, port] = [addr.slice(0, i), addr.slice(i + 1)];
    else host = addr;
  }
  const p = port === undefined ? defaultPort : /^\d+$/.test(port) ? Number(port) : NaN;
  if (p === undefined || !(p > 0 && p < 65536) || host === '') return undefined;
  return { host, port: p };
}

function parseServer(d: Directive, context: 'http' | 'stream', upstream: string): UpstreamServer {
  const [address = '', ...params] = d.args;
  const where = `upstream ${upstream} (${d.file} line ${d.line})`;
  let target: UpstreamServer['target'] | undefined;
  if (address.startsWith('unix:')) target = { path: address.slice(5) };
  else target = splitHostPort(address, context === 'http' ? 80 : undefined);
  if (!target) throw new PluginError(`cannot read the server address ${address} in ${where}`);
  let weight = 1;
  let maxFails = 1;
  let failTimeout = 10;
  let backup = false;
  let down = false;
  for (const p of params) {
    const [k, v = ''] = p.split('=', 2) as [string, string?];
    if (k === 'weight' && /^\d+$/.test(v)) weight = Number(v);
    else if (k === 'max_fails' && /^\d+$/.test(v)) maxFails = Number(v);
    else if (k === 'fail_timeout') failTimeout = parseTime(v) ?? failTimeout;
    else if (p === 'backup') backup = true;
    else if (p === 'down') down = true;
  }
  return { address, target, weight, maxFails, failTimeout, backup, down };
}

const PASS = new Set(['proxy_pass', 'fastcgi_pass', 'uwsgi_pass', 'scgi_pass', 'grpc_pass', 'memcached_pass']);

/** The upstream groups, error logs and pid file of an expanded configuration. */
export function readConfig(cfg: ConfigFiles): NginxConfig {
  const top = expandConfig(cfg);
  const confDir = dirOf(cfg.main);
  const upstreams: { u: Omit<Upstream, 'schemes'>; schemes: Set<string> }[] = [];
  const uses: { name: string; scheme: string; context: 'http' | 'stream' }[] = [];
  const errorLogs = new Set<string>();
  let pidFile: string | undefined;
  const walk = (list: readonly Directive[], context: 'main' | 'http' | 'stream' | 'other') => {
    for (const d of list) {
      if (d.name === 'error_log' && d.args[0] && !/^(stderr|syslog:|memory:)/.test(d.args[0]) && d.args[0] !== '/dev/null') errorLogs.add(absolute(d.args[0], confDir));
      if (d.name === 'pid' && context === 'main' && d.args[0]) pidFile = absolute(d.args[0], confDir);
      if (d.name === 'upstream' && d.block && (context === 'http' || context === 'stream')) {
        const name = d.args[0] ?? '';
        const servers = d.block.filter((s) => s.name === 'server').map((s) => parseServer(s, context, name));
        upstreams.push({ u: { name, context, servers, file: d.file, line: d.line }, schemes: new Set() });
        continue;
      }
      if (PASS.has(d.name) && d.args[0] && (context === 'http' || context === 'stream' || context === 'other')) {
        const arg = d.args[0];
        const m = /^([a-z]+):\/\/([^/:]+)/.exec(arg);
        if (m) uses.push({ name: m[2]!, scheme: d.name === 'proxy_pass' ? m[1]! : d.name.replace(/_pass$/, ''), context: 'http' });
        else if (d.name === 'proxy_pass' && !arg.includes('/')) uses.push({ name: arg.split(':')[0]!, scheme: 'stream', context: 'stream' });
        else uses.push({ name: arg.split(':')[0]!, scheme: d.name.replace(/_pass$/, ''), context: 'http' });
      }
      if (d.block) {
        const next = context === 'main' ? (d.name === 'http' ? 'http' : d.name === 'stream' ? 'stream' : 'other') : context;
        walk(d.block, next === 'other' && context !== 'main' ? context : next);
      }
    }
  };
  walk(top, 'main');
  for (const use of uses) {
    for (const u of upstreams) if (u.u.name === use.name) u.schemes.add(use.scheme);
  }
  return {
    main: cfg.main,
    upstreams: upstreams.map(({ u, schemes }) => ({ ...u, schemes: [...schemes].sort() })),
    errorLogs: [...errorLogs],
    pidFile,
  };
}

/** What one error log line says about upstreams. */
export interface LogEvent {
  /** Epoch seconds, from the line's local time. */
  readonly time: number;
  readonly kind: 'no-live' | 'disabled' | 'connect' | 'other';
  /** For no-live: the upstream group's name. Otherwise the peer: `127.0.0.1:8081`, `unix:/path`. */
  readonly upstream: string;
}

const LOG_LINE = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d) \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$/;

/** The group (no live upstreams) or peer named by `upstream: "..."`: the scheme and the URI are cut off. */
export function upstreamOf(field: string): string {
  let s = field.replace(/^[a-z]+:\/\//, '');
  if (s.startsWith('unix:')) {
    const end = s.indexOf(':', 5);
    return end === -1 ? s : s.slice(0, end);
  }
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    const rest = s.slice(end + 1);
    const port = /^:\d+/.exec(rest)?.[0] ?? '';
    return s.slice(0, end + 1) + port;
  }
  const slash = s.indexOf('/');
  if (slash !== -1) s = s.slice(0, slash);
  return s;
}

export function parseLogLine(line: string): LogEvent | undefined {
  const m = LOG_LINE.exec(line);
  if (!m) return undefined;
  const msg = m[8]!;
  const f = /, upstream: "([^"]*)"/.exec(msg);
  if (!f) return undefined;
  const time = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])).getTime() / 1000;
  const upstream = upstreamOf(f[1]!);
  if (msg.startsWith('no live upstreams')) return { time, kind: 'no-live', upstream };
  if (msg.startsWith('upstream server temporarily disabled')) return { time, kind: 'disabled', upstream };
  if (/while connecting to upstream/.test(msg)) return { time, kind: 'connect', upstream };
  return { time, kind: 'other', upstream };
}

export function parseLog(text: string): LogEvent[] {
  const out: LogEvent[] = [];
  for (const line of text.split('\n')) {
    const e = parseLogLine(line);
    if (e) out.push(e);
  }
  return out;
}

export interface StubStatus {
  readonly active: number;
  readonly accepts: number;
  readonly handled: number;
  readonly requests: number;
  readonly reading: number;
  readonly writing: number;
  readonly waiting: number;
}

export function parseStubStatus(text: string): StubStatus {
  const a = /Active connections:\s*(\d+)/.exec(text);
  const c = /server accepts handled requests\s*\n\s*(\d+)\s+(\d+)\s+(\d+)/.exec(text);
  const r = /Reading:\s*(\d+)\s+Writing:\s*(\d+)\s+Waiting:\s*(\d+)/.exec(text);
  if (!a || !c || !r) throw new PluginError(`not a stub_status page: it starts with ${text.trim().split('\n')[0]?.slice(0, 60) ?? 'nothing'}`);
  return { active: Number(a[1]), accepts: Number(c[1]), handled: Number(c[2]), requests: Number(c[3]), reading: Number(r[1]), writing: Number(r[2]), waiting: Number(r[3]) };
}
