/**
 * The only impure part of check_ha_haproxy: reads `show info` + `show stat` from the
 * stats socket, or the stats page CSV over HTTP(S) with basic auth. Failures are
 * PluginErrors: not reachable = CRITICAL (HAProxy is down for its users); refused
 * credentials, privileges, a wrong URL = UNKNOWN (our configuration).
 */
import { connect } from 'node:net';
import { PluginError } from '../../nagios/plugin.ts';
import { State } from '../../nagios/states.ts';
import { parsePort, splitAddress } from '../lib/address.ts';
import { readTextFile } from '../lib/files.ts';
import { HttpGetError, httpGet } from '../lib/http.ts';

const MAX_BYTES = 16 * 1024 * 1024;

function socketTarget(spec: string): { path: string } | { host: string; port: number } {
  if (spec.startsWith('.')) return { path: spec };
  const a = splitAddress(spec);
  if ('path' in a) return a;
  const port = a.port === undefined ? undefined : parsePort(a.port);
  if (a.host === '' || port === undefined) throw new PluginError(`invalid --socket '${spec}': expected a path (/run/haproxy/admin.sock) or HOST:PORT`);
  return { host: a.host, port };
}

/** Sends one command on a fresh connection (non-interactive mode) and reads to the end. */
export function socketCommand(spec: string, command: string, timeoutMs: number, signal: AbortSignal): Promise<string> {
  const target = socketTarget(spec);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const sock = connect(target);
    const fail = (e: Error) => {
      cleanup();
      sock.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new PluginError(`no answer from the stats socket ${spec} within ${(timeoutMs / 1000).toFixed(1)} s (HAProxy hung or overloaded?)`, State.CRITICAL)), timeoutMs);
    const onAbort = () => fail(new PluginError('stopped: the check timed out'));
    signal.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    sock.on('connect', () => sock.end(`${command}\n`));
    sock.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes > MAX_BYTES) return fail(new PluginError(`the stats socket sent more than ${MAX_BYTES} bytes`));
      chunks.push(c);
    });
    sock.on('end', () => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      switch (e.code) {
        case 'ENOENT':
          return fail(new PluginError(`stats socket ${spec} does not exist: HAProxy is not running, or the path differs from 'stats socket' in haproxy.cfg`, State.CRITICAL));
        case 'ECONNREFUSED':
          return fail(new PluginError(`stats socket ${spec} refused the connection: HAProxy is not running`, State.CRITICAL));
        case 'EACCES':
        case 'EPERM':
          return fail(new PluginError(`no permission to open the stats socket ${spec}: give the nagios user access (stats socket ... group nagios mode 660 level user)`));
        default:
          return fail(new PluginError(`stats socket ${spec}: ${e.message}`, State.CRITICAL));
      }
    });
  });
}

export async function readSocket(spec: string, timeoutMs: number, signal: AbortSignal): Promise<string> {
  // Two connections in parallel: each command gets its own non-interactive session.
  const [info, stat] = await Promise.all([socketCommand(spec, 'show info', timeoutMs, signal), socketCommand(spec, 'show stat', timeoutMs, signal)]);
  return `${info.trimEnd()}\n${stat}`;
}

/** The stats page gives CSV when `;csv` follows the stats uri (`/stats;csv`, `/haproxy?stats;csv`). */
export function csvUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new PluginError(`invalid --url '${text}': expected http(s)://HOST[:PORT]/STATS-URI`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PluginError(`invalid --url '${text}': only http and https are supported`);
  if (url.username || url.password) {
    throw new PluginError('credentials in --url would be visible in the process list: put user:password in --auth-file or HAPROXY_STATS_USER / HAPROXY_STATS_PASSWORD');
  }
  url.hash = '';
  const tail = `${url.pathname}${url.search}`;
  if (!/;csv(;|$)/.test(tail)) {
    if (url.search) url.search = `${url.search};csv`;
    else url.pathname = `${url.pathname};csv`;
  }
  return url;
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

export async function readAuthFile(path: string): Promise<Credentials> {
  const text = await readTextFile(path, '--auth-file');
  const line = text.split(/\r?\n/)[0] ?? '';
  const colon = line.indexOf(':');
  if (colon <= 0) throw new PluginError(`--auth-file '${path}': expected 'user:password' on the first line`);
  return { user: line.slice(0, colon), password: line.slice(colon + 1) };
}

export async function fetchStatsPage(url: URL, creds: Credentials | undefined, caFile: string | undefined, timeoutMs: number, signal: AbortSignal): Promise<string> {
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = await readTextFile(caFile, '--ca-file', { signal });
    } catch (e) {
      throw e instanceof PluginError ? e : new PluginError(`cannot read --ca-file '${caFile}': ${(e as Error).message}`);
    }
  }
  const headers: Record<string, string> = { 'user-agent': 'check_ha_haproxy', accept: 'text/plain' };
  if (creds) headers.authorization = `Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString('base64')}`;
  const shown = `${url.origin}${url.pathname}${url.search}`;
  let res;
  try {
    res = await httpGet(url, { headers, ca, timeoutMs, signal, maxBytes: MAX_BYTES });
  } catch (e) {
    if (!(e instanceof HttpGetError)) throw e;
    const f = e.failure;
    switch (f.kind) {
      case 'timeout':
        throw new PluginError(`no answer from ${shown} within ${(timeoutMs / 1000).toFixed(1)} s (HAProxy hung or overloaded?)`, State.CRITICAL);
      case 'aborted':
        throw new PluginError('stopped: the check timed out');
      case 'too-large':
        throw new PluginError(`${shown} sent more than ${MAX_BYTES} bytes`);
      case 'response':
        throw new PluginError(`${shown}: ${f.error.message}`, State.CRITICAL);
      case 'request': {
        const tls = /certificate|self[- ]signed|unable to verify|altnames/i.test(f.error.message);
        if (f.error.code === 'ECONNREFUSED') throw new PluginError(`${shown} refused the connection: HAProxy (or its stats listener) is not running`, State.CRITICAL);
        if (tls) throw new PluginError(`${shown}: TLS verification failed: ${f.error.message} (give the CA with --ca-file)`);
        throw new PluginError(`${shown}: ${f.error.message}`, State.CRITICAL);
      }
    }
  }
  if (res.status === 401 || res.status === 403) throw new PluginError(`${shown} answered ${res.status}: ${creds ? 'the credentials were refused' : 'it needs credentials'} (--auth-file or HAPROXY_STATS_USER / HAPROXY_STATS_PASSWORD)`);
  if (res.status !== 200) throw new PluginError(`${shown} answered HTTP ${res.status}: check --url (the 'stats uri' of haproxy.cfg)`);
  return res.body;
}
