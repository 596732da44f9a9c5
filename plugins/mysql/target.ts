/**
 * Server addresses as given on the command line: `host`, `host:port`, `[v6addr]:port`,
 * `v6addr` (more than one colon, no brackets) or a Unix socket path (`/run/mysqld/mysqld.sock`).
 */
import { PluginError } from '../../nagios/plugin.ts';

export interface Target {
  /** How the server is named in output and perfdata: what the user typed. */
  readonly label: string;
  readonly host?: string;
  readonly port?: number;
  readonly socketPath?: string;
}

function port(text: string, whole: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new PluginError(`invalid server address '${whole}': port '${text}' is not a number from 1 to 65535`);
  return n;
}

export function parseTarget(text: string, defaultPort: number): Target {
  const t = text.trim();
  if (t === '') throw new PluginError('empty server address: give -H HOST[:PORT] or a socket path');
  if (t.startsWith('/')) return { label: t, socketPath: t };
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(t);
  if (bracket) return { label: t, host: bracket[1]!, port: bracket[2] === undefined ? defaultPort : port(bracket[2], t) };
  const colons = t.split(':').length - 1;
  if (colons === 1) {
    const [h = '', p = ''] = t.split(':');
    if (h === '') throw new PluginError(`invalid server address '${t}': the host is missing`);
    return { label: t, host: h, port: port(p, t) };
  }
  if (colons > 1) return { label: t, host: t, port: defaultPort }; // a bare IPv6 address
  if (!/^[A-Za-z0-9._-]+$/.test(t)) throw new PluginError(`invalid server address '${t}': expected HOST, HOST:PORT, [IPV6]:PORT or /path/to/socket`);
  return { label: t, host: t, port: defaultPort };
}

/** `-H` values: `[NAME=]HOST[:PORT]` or `[NAME=]/socket`; NAME labels the server in output. */
export function parseTargets(list: readonly string[], defaultPort: number): Target[] {
  const targets = list.map((item) => {
    const eq = item.indexOf('=');
    if (eq > 0 && !item.startsWith('/')) {
      const name = item.slice(0, eq).trim();
      if (!/^[A-Za-z0-9._:-]+$/.test(name)) throw new PluginError(`invalid server name '${name}' in '${item}': use letters, digits, '.', '_', ':' or '-'`);
      return { ...parseTarget(item.slice(eq + 1), defaultPort), label: name };
    }
    return parseTarget(item, defaultPort);
  });
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.label)) throw new PluginError(`server '${t.label}' is given twice`);
    seen.add(t.label);
  }
  return targets;
}
