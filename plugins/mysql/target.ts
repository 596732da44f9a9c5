/**
 * Server addresses as given on the command line: `host`, `host:port`, `[v6addr]:port`,
 * `v6addr` (more than one colon, no brackets) or a Unix socket path (`/run/mysqld/mysqld.sock`).
 */
import { PluginError } from '../../nagios/plugin.ts';
import { parsePort, splitAddress } from '../lib/address.ts';

export interface Target {
  /** How the server is named in output and perfdata: what the user typed. */
  readonly label: string;
  readonly host?: string;
  readonly port?: number;
  readonly socketPath?: string;
}

export function parseTarget(text: string, defaultPort: number): Target {
  const t = text.trim();
  if (t === '') throw new PluginError('empty server address: give -H HOST[:PORT] or a socket path');
  const a = splitAddress(t);
  if ('path' in a) return { label: t, socketPath: a.path };
  if (a.host === '') throw new PluginError(`invalid server address '${t}': the host is missing`);
  // A name must look like one; an IPv6 address (it has colons) is left to the resolver.
  if (a.port === undefined && !a.host.includes(':') && !/^[A-Za-z0-9._-]+$/.test(a.host)) {
    throw new PluginError(`invalid server address '${t}': expected HOST, HOST:PORT, [IPV6]:PORT or /path/to/socket`);
  }
  if (a.port === undefined) return { label: t, host: a.host, port: defaultPort };
  const port = parsePort(a.port);
  if (port === undefined) throw new PluginError(`invalid server address '${t}': port '${a.port}' is not a number from 1 to 65535`);
  return { label: t, host: a.host, port };
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
