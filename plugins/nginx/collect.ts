/**
 * The impure part of check_ha_nginx: the configuration (`nginx -T`, or --config and its
 * includes), the probes of each upstream server, the error log since the last run (read
 * position kept in a state file, rotation seen by the inode), stub_status, the master process.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { join } from 'node:path';
import { InputError } from '../../nagios/input.ts';
import { PluginError, type PluginContext } from '../../nagios/plugin.ts';
import { State } from '../../nagios/states.ts';
import { readFileFrom, readTextFile, replaceFile } from '../lib/files.ts';
import { globToRegExp } from '../lib/glob.ts';
import { HttpGetError, httpGet } from '../lib/http.ts';
import { describeFailure, runPrivileged } from '../lib/privileged.ts';
import { absolute, dirOf, includePatterns, splitDump, type ConfigFiles, type UpstreamServer } from './parse.ts';

export const DEFAULT_STATE_DIR = '/var/lib/hawatch';
export const DEFAULT_ERROR_LOG = '/var/log/nginx/error.log';
export const DEFAULT_PID_FILE = '/run/nginx.pid';
export const SUDOERS_RULE = 'nagios ALL=(root) NOPASSWD: /usr/sbin/nginx -T';
/** The most of the error log read per run: beyond it the oldest part is skipped (and said). */
export const MAX_LOG_BYTES = 8 * 1024 * 1024;

export async function nginxDump(ctx: PluginContext, program: string, sudo: boolean): Promise<ConfigFiles> {
  const res = await runPrivileged(ctx, {
    file: program,
    args: ['-T'],
    debianPackage: 'nginx (or nginx-light, nginx-core)',
    sudoersRule: SUDOERS_RULE,
    privilegeHint: sudo
      ? `add the sudoers rule '${SUDOERS_RULE}' (visudo -f /etc/sudoers.d/hawatch)`
      : `nginx -T reads every configuration file and opens the logs: run as root, or pass --sudo and add the sudoers rule '${SUDOERS_RULE}'`,
    sudo,
    timeoutMs: 10_000,
  });
  if (res.exitCode !== 0) throw new PluginError(`${describeFailure('nginx -T', res)} (the configuration on disk does not pass nginx -t: the running nginx may differ, fix it before the next reload)`);
  return splitDump(res.stdout);
}

/** --config FILE and the files its include directives name (globs too), read from disk. */
export async function readConfigFiles(main: string, signal: AbortSignal): Promise<ConfigFiles> {
  const files = new Map<string, string>();
  const confDir = dirOf(main);
  const queue = [main];
  while (queue.length > 0) {
    const path = queue.shift()!;
    if (files.has(path)) continue;
    if (files.size > 500) throw new PluginError(`more than 500 configuration files under ${main}: an include loop?`);
    const text = await readTextFile(path, 'configuration file', { signal, permissionHint: 'give the nagios user read access, or use nginx -T with --sudo' });
    files.set(path, text);
    for (const pattern of includePatterns(text, path, confDir)) {
      if (!/[*?[]/.test(pattern)) {
        queue.push(pattern);
        continue;
      }
      const dir = dirOf(pattern);
      const re = globToRegExp(pattern.slice(dir.length + 1));
      let names: string[] = [];
      try {
        names = await readdir(dir);
      } catch {
        names = []; // a glob matching nothing is fine for nginx too
      }
      for (const n of names.filter((x) => re.test(x)).sort()) queue.push(`${dir}/${n}`);
    }
  }
  return { main, files };
}

export interface ProbeSpec {
  /** 'tcp', or 'http'/'https' with uri and the accepted statuses. */
  readonly kind: 'tcp' | 'http' | 'https';
  readonly uri: string;
  readonly hostHeader: string;
  readonly expect: (status: number) => boolean;
  readonly timeoutMs: number;
  /** Attempts before the server is judged down (nginx's max_fails, at most 3, at least 1). */
  readonly attempts: number;
}

export interface ProbeOutcome {
  /** The peer as nginx names it in its log: `127.0.0.1:8081`, `unix:/run/app.sock`. */
  readonly peer: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly ms: number;
  readonly attemptsMade: number;
}

/** The peers nginx made of a server line: a hostname resolves to every address it has. */
export async function peersOf(s: UpstreamServer): Promise<{ peer: string; host?: string; port?: number; path?: string; error?: string }[]> {
  if ('path' in s.target) return [{ peer: `unix:${s.target.path}`, path: s.target.path }];
  const { host, port } = s.target;
  if (isIP(host)) return [{ peer: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`, host, port }];
  try {
    // Loaded only for servers given by name: most upstreams name addresses.
    const { lookup } = await import('node:dns/promises');
    const addrs = await lookup(host, { all: true });
    return addrs.map((a) => ({ peer: a.family === 6 ? `[${a.address}]:${port}` : `${a.address}:${port}`, host: a.address, port }));
  } catch (e) {
    return [{ peer: `${host}:${port}`, error: `cannot resolve ${host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }];
  }
}

function errText(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ENOENT': return 'no such socket';
    case 'EHOSTUNREACH': return 'host unreachable';
    case 'ENETUNREACH': return 'network unreachable';
    case 'ECONNRESET': return 'connection reset';
    case 'EACCES': return 'permission denied';
    default: return (e.message || String(e)).replace(/["'`<>|;&$~]/g, '');
  }
}

function probeOnce(t: { host?: string; port?: number; path?: string }, spec: ProbeSpec, signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    let done = false;
    let sock: Socket | undefined;
    const finish = (ok: boolean, detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      sock?.destroy();
      resolve({ ok, detail });
    };
    const timer = setTimeout(() => finish(false, `no answer within ${(spec.timeoutMs / 1000).toFixed(1)} s`), spec.timeoutMs);
    const onAbort = () => finish(false, 'stopped: the check timed out');
    signal.addEventListener('abort', onAbort, { once: true });
    const start = async () => {
      if (spec.kind === 'https') {
        const tls = await import('node:tls');
        sock = tls.connect({ ...(t.path ? { path: t.path } : { host: t.host!, port: t.port! }), servername: isIP(spec.hostHeader) ? undefined : spec.hostHeader.replace(/:\d+$/, ''), rejectUnauthorized: false });
        sock.once('secureConnect', () => send());
      } else {
        sock = t.path ? netConnect({ path: t.path }) : netConnect({ host: t.host!, port: t.port! });
        sock.once('connect', () => (spec.kind === 'tcp' ? finish(true, 'connected') : send()));
      }
      sock.on('error', (e: NodeJS.ErrnoException) => finish(false, errText(e)));
      let head = '';
      sock.on('data', (c: Buffer) => {
        head += c.toString('latin1');
        const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(head);
        if (m) {
          const status = Number(m[1]);
          finish(spec.expect(status), `HTTP ${status}`);
        } else if (head.length > 1024 || head.includes('\r\n')) finish(false, 'not an HTTP answer');
      });
      sock.on('end', () => finish(false, 'connection closed without an HTTP answer'));
    };
    const send = () => sock?.write(`GET ${spec.uri} HTTP/1.0\r\nHost: ${spec.hostHeader}\r\nUser-Agent: check_ha_nginx\r\nConnection: close\r\n\r\n`);
    void start().catch((e: Error) => finish(false, e.message));
  });
}

export async function probePeer(t: { peer: string; host?: string; port?: number; path?: string; error?: string }, spec: ProbeSpec, signal: AbortSignal): Promise<ProbeOutcome> {
  if (t.error) return { peer: t.peer, ok: false, detail: t.error, ms: 0, attemptsMade: 0 };
  const started = Date.now();
  let last = { ok: false, detail: 'not probed' };
  let made = 0;
  // nginx takes a server out after max_fails failures: one failed attempt is not yet down.
  for (let i = 0; i < spec.attempts; i++) {
    made++;
    last = await probeOnce(t, spec, signal);
    if (last.ok || signal.aborted) break;
  }
  return { peer: t.peer, ok: last.ok, detail: last.detail, ms: Date.now() - started, attemptsMade: made };
}

/** The read position of one error log, kept between runs. */
interface LogState {
  readonly path: string;
  readonly ino: number;
  readonly dev: number;
  readonly offset: number;
}

export function logStatePath(stateDir: string, log: string): string {
  return join(stateDir, `nginx-errorlog-${createHash('sha256').update(log).digest('hex').slice(0, 12)}.json`);
}

async function loadLogState(path: string): Promise<LogState | undefined> {
  try {
    const data = JSON.parse(await readTextFile(path)) as Partial<LogState>;
    if (typeof data.ino === 'number' && typeof data.offset === 'number' && typeof data.dev === 'number') return data as LogState;
  } catch {
    /* first run, or a damaged file: start over from the end */
  }
  return undefined;
}

export interface LogRead {
  readonly path: string;
  /** New text since the last run (rotated file's rest first); '' on the first run. */
  readonly text: string;
  readonly firstRun: boolean;
  readonly rotated: boolean;
  /** Set when the rotated file could not be found to read its rest. */
  readonly lostRest?: string | undefined;
  readonly skippedBytes: number;
  /** A problem keeping the position: the passive view is then incomplete. */
  readonly stateError?: string | undefined;
}

/**
 * Reads the log from where the last run stopped. A different inode at the path (or a file
 * shorter than the position) is a rotation: the rest of the old file is read from PATH.1 when
 * it has the remembered inode (logrotate's default, delaycompress), then the new file from 0.
 */
export async function readLogSince(log: string, stateDir: string, signal: AbortSignal): Promise<LogRead> {
  const statePath = logStatePath(stateDir, log);
  const prev = await loadLogState(statePath);
  const read = async (path: string, from: number, maxBytes: number) => {
    try {
      return await readFileFrom(path, from, { maxBytes, signal });
    } catch (e) {
      const why = e instanceof InputError ? e.reason : (e as Error).message;
      const hint = e instanceof InputError && e.kind === 'permission' ? ' (Debian: add the nagios user to the adm group, the group of /var/log/nginx)' : '';
      throw new PluginError(`cannot read the error log ${path}: ${why}${hint}`);
    }
  };
  // Only the inode and size first: the first run reads nothing (old errors are not news).
  const head = await read(log, Number.MAX_SAFE_INTEGER, 0);
  let text = '';
  let rotated = false;
  let lostRest: string | undefined;
  let skipped = 0;
  let end = head.size;
  if (prev) {
    let from = 0;
    if (prev.ino === head.ino && prev.dev === head.dev && head.size >= prev.offset) from = prev.offset;
    else {
      rotated = true;
      try {
        const old = await readFileFrom(`${log}.1`, prev.offset, { maxBytes: MAX_LOG_BYTES, signal });
        if (old.ino === prev.ino && old.dev === prev.dev) {
          text = old.text;
          skipped += old.from - prev.offset;
        } else lostRest = `${log}.1 is not the file read last time`;
      } catch {
        lostRest = `${log}.1 cannot be read`;
      }
    }
    const now = await read(log, from, MAX_LOG_BYTES);
    skipped += now.from - from;
    text += now.text;
    end = now.size;
  }
  let stateError: string | undefined;
  try {
    await mkdir(stateDir, { recursive: true });
    await replaceFile(statePath, JSON.stringify({ path: log, ino: head.ino, dev: head.dev, offset: end } satisfies LogState), 0o644);
  } catch (e) {
    stateError = `cannot keep the read position in ${statePath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (give --state-dir)`;
  }
  return { path: log, text, firstRun: !prev, rotated, lostRest, skippedBytes: skipped, stateError };
}

/** Fetches a stub_status page over plain HTTP (it is served on loopback in practice). */
export async function fetchText(url: string, timeoutMs: number, signal: AbortSignal): Promise<string> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PluginError(`invalid --stub-status ${url}: expected http://HOST:PORT/PATH`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new PluginError(`invalid --stub-status ${url}: only http and https`);
  let res;
  try {
    res = await httpGet(u, { headers: { 'user-agent': 'check_ha_nginx' }, timeoutMs, signal, maxBytes: 65536 });
  } catch (e) {
    if (!(e instanceof HttpGetError)) throw e;
    const f = e.failure;
    switch (f.kind) {
      case 'timeout':
        throw new PluginError(`no answer from the stub_status page ${u.origin}${u.pathname} within ${(timeoutMs / 1000).toFixed(1)} s (nginx hung?)`, State.CRITICAL);
      case 'aborted':
        throw new PluginError('stopped: the check timed out');
      case 'too-large':
        throw new PluginError(`the stub_status page ${u.origin}${u.pathname} sent more than 64 KiB: is --stub-status the stub_status location?`);
      case 'response':
        throw new PluginError(`stub_status: ${f.error.message}`, State.CRITICAL);
      case 'request':
        throw new PluginError(f.error.code === 'ECONNREFUSED' ? `the stub_status page ${u.origin} refused the connection: nginx is not running or not listening there` : `stub_status: ${f.error.message}`, State.CRITICAL);
    }
  }
  if (res.status !== 200) throw new PluginError(`the stub_status page ${u.origin}${u.pathname} answered HTTP ${res.status}: check --stub-status and its allow rules`);
  return res.body;
}

/** Whether the master process named by the pid file runs: undefined when it does, else why not. */
export async function masterProblem(pidFile: string, signal: AbortSignal): Promise<string | undefined> {
  let text: string;
  try {
    text = await readTextFile(pidFile, 'pid file', { signal });
  } catch {
    return `no pid file ${pidFile}: nginx is not running`;
  }
  // nginx -t (and so -T) creates the pid file empty when it is missing: empty means not running.
  if (text.trim() === '') return `pid file ${pidFile} is empty: nginx is not running`;
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return `pid file ${pidFile} holds no pid`;
  let cmd: string;
  try {
    cmd = (await readTextFile(`/proc/${pid}/cmdline`, undefined, { signal })).replace(/\0/g, ' ');
  } catch {
    return `nginx is not running: no process ${pid} from ${pidFile}`;
  }
  if (!/nginx/.test(cmd)) return `process ${pid} from ${pidFile} is not nginx`;
  return undefined;
}

export { absolute };
