/**
 * The address syntax every check accepts for a server: `host`, `host:port`, `[v6addr]`,
 * `[v6addr]:port`, a bare IPv6 address (more than one colon, no port) or an absolute path
 * (a Unix socket or socket directory). Only the split is shared; each check words its own
 * errors and decides what a path means.
 */

export type Address =
  | { readonly path: string }
  /** `port` is the text after the colon as given (undefined when there is none); `host` may be ''. */
  | { readonly host: string; readonly port?: string | undefined };

export function splitAddress(text: string): Address {
  if (text.startsWith('/')) return { path: text };
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracket) return { host: bracket[1]!, port: bracket[2] };
  const colons = text.split(':').length - 1;
  if (colons === 1) {
    const [host = '', port = ''] = text.split(':');
    return { host, port };
  }
  return { host: text };
}

/** A TCP port: decimal digits, 1 to 65535; undefined otherwise. */
export function parsePort(text: string): number | undefined {
  const n = Number(text);
  return /^\d+$/.test(text) && n >= 1 && n <= 65535 ? n : undefined;
}
