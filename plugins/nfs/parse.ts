/**
 * Pure: what the NFS server's tools and files say, in typed facts.
 *
 * - `exportfs -v` (nfs-utils): `/path<TAB>client(opts)`, several clients per line, or, when the
 *   path is long, the path alone and each client on a following line indented by tabs;
 *   the client `*` prints as `<world>`.
 * - /etc/exports (exports(5)): `/path client(opts) client2(opts)`, `#` comments, a backslash
 *   continues a line, a path in double quotes may hold spaces, `\040`-style octal escapes.
 * - nfs-ganesha's configuration: `EXPORT { Path = /x; Pseudo = /y; CLIENT { Clients = a, b; } }`
 *   blocks (keys case-insensitive, values optionally quoted, `#` comments).
 * - `rpcinfo -p` (`program vers proto port service`) and `rpcinfo -s`
 *   (`program version(s) netid(s) service owner`), registrations by program number.
 * - /proc/net/rpc/nfsd, the `th` line (fs/nfsd/stats.c): `th <threads> <fullcnt> <10 histogram
 *   values>` where fullcnt counts the times all threads were busy; later kernels dropped that
 *   count and the histogram and print `th <threads> 0 0.000 ... 0.000`.
 * - /proc/fs/nfsd/pool_stats (net/sunrpc/svc_xprt.c): `# pool packets-arrived sockets-enqueued
 *   threads-woken threads-timedout`, one line per pool; sockets-enqueued grows when a request
 *   found no idle thread, what fullcnt used to say.
 */

export interface Export {
  readonly path: string;
  /** Pseudo path (NFSv4 of ganesha), when different. */
  readonly pseudo?: string | undefined;
  readonly clients: readonly string[];
}

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** A client spec `host(opts)` -> host; `<world>` -> `*`. */
function clientName(spec: string): string {
  const host = spec.replace(/\(.*$/, '');
  return host === '<world>' || host === '' ? '*' : host;
}

/** `exportfs -v` output. */
export function parseExportfs(text: string): Export[] {
  const out: { path: string; clients: string[] }[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    if (/^\s/.test(raw)) {
      const last = out[out.length - 1];
      if (last) last.clients.push(...raw.trim().split(/\s+/).map(clientName));
      continue;
    }
    const [path, ...clients] = raw.trim().split(/\s+/);
    out.push({ path: unescapeOctal(path!), clients: clients.map(clientName) });
  }
  return out;
}

/** Splits an exports(5) line into words: double quotes group, a backslash-octal escape stays. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) out.push(m[1] ?? m[2]!);
  return out;
}

/** /etc/exports (and /etc/exports.d/*.exports). */
export function parseExportsFile(text: string): Export[] {
  const out: Export[] = [];
  const joined = text.replace(/\\\n/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const [path, ...rest] = words(line);
    if (!path?.startsWith('/')) continue;
    // A bare `(opts)` word is the default for all hosts (exports(5): `/path (rw)` means `*`).
    out.push({ path: unescapeOctal(path), clients: rest.length ? rest.map(clientName) : ['*'] });
  }
  return out;
}

/** nfs-ganesha configuration text -> its EXPORT blocks. %include lines are not followed (said by the caller). */
export function parseGaneshaConfig(text: string): Export[] {
  const clean = text.split('\n').map((l) => l.replace(/#.*$/, '')).join('\n');
  const out: Export[] = [];
  const re = /(^|[\s;}])EXPORT\s*\{/gi;
  let m: RegExpExecArray | null;
  while ((m = re.exec(clean)) !== null) {
    // The block's body up to its matching brace.
    let depth = 1;
    let i = re.lastIndex;
    const start = i;
    for (; i < clean.length && depth > 0; i++) {
      if (clean[i] === '{') depth++;
      else if (clean[i] === '}') depth--;
    }
    const body = clean.slice(start, i - 1);
    re.lastIndex = i;
    const top = body.replace(/\{[^{}]*\}/g, ' ');
    const value = (key: string, from: string): string | undefined => {
      const v = new RegExp(`(?:^|[\\s;])${key}\\s*=\\s*("([^"]*)"|[^;]*)`, 'i').exec(from);
      return v ? (v[2] ?? v[1]!).trim() : undefined;
    };
    const path = value('Path', top);
    if (!path) continue;
    const clients: string[] = [];
    const cre = /CLIENT\s*\{([^{}]*)\}/gi;
    let c: RegExpExecArray | null;
    while ((c = cre.exec(body)) !== null) {
      const list = value('Clients', c[1]!);
      if (list) clients.push(...list.split(',').map((x) => x.trim().replace(/^"|"$/g, '')).filter((x) => x !== ''));
    }
    out.push({ path, pseudo: value('Pseudo', top), clients: clients.length ? clients : ['*'] });
  }
  return out;
}

/** Whether a text is a ganesha configuration (EXPORT blocks) rather than exports(5). */
export function looksLikeGanesha(text: string): boolean {
  return /(^|[\s;}])(EXPORT|NFS_CORE_PARAM|EXPORT_DEFAULTS)\s*\{/i.test(text);
}

/** RPC program numbers of the services judged, and how rpcinfo names them. */
export const PROGRAMS = { nfs: 100003, mountd: 100005, nlockmgr: 100021, status: 100024, rquotad: 100011, portmapper: 100000 } as const;
export type ProgramName = keyof typeof PROGRAMS;
const NAME_OF = new Map<number, string>(Object.entries(PROGRAMS).map(([k, v]) => [v, k]));

export interface Registration {
  readonly program: number;
  /** rpcinfo's name, or ours for a known number. */
  readonly name: string;
  readonly version: number;
  /** tcp, udp, tcp6...; `-s` lists several per line. */
  readonly protos: readonly string[];
}

/** `rpcinfo -p` or `rpcinfo -s` output (told apart by the header). */
export function parseRpcinfo(text: string): Registration[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const short = lines.some((l) => /^program\s+version\(s\)/.test(l));
  const out: Registration[] = [];
  for (const l of lines) {
    const f = l.split(/\s+/);
    if (!/^\d+$/.test(f[0] ?? '')) continue;
    const program = Number(f[0]);
    if (short) {
      const name = f[3] && f[3] !== '-' ? f[3] : (NAME_OF.get(program) ?? String(program));
      for (const v of (f[1] ?? '').split(',')) if (/^\d+$/.test(v)) out.push({ program, name, version: Number(v), protos: (f[2] ?? '').split(',') });
    } else {
      const name = f[4] ?? NAME_OF.get(program) ?? String(program);
      out.push({ program, name, version: Number(f[1]), protos: [f[2] ?? '?'] });
    }
  }
  return out;
}

export interface NfsdThreads {
  readonly threads: number;
  /** Times all threads were busy, since the server started; undefined when the kernel does not count it (zeros). */
  readonly fullcnt?: number | undefined;
  /** The kernel prints a th line of zeros after the thread count (no busy count kept). */
  readonly zeros: boolean;
}

/** The `th` line of /proc/net/rpc/nfsd; undefined when there is none. */
export function parseNfsdTh(text: string): NfsdThreads | undefined {
  const line = text.split('\n').find((l) => l.startsWith('th '));
  if (!line) return undefined;
  const f = line.trim().split(/\s+/).slice(1);
  const threads = Number(f[0]);
  if (!Number.isFinite(threads)) return undefined;
  const rest = f.slice(1).map(Number);
  const zeros = rest.every((x) => x === 0);
  return { threads, fullcnt: zeros ? undefined : rest[0], zeros };
}

/** /proc/fs/nfsd/pool_stats: sockets-enqueued summed over the pools (a request waited for a thread). */
export function parsePoolStats(text: string): { pools: number; enqueued: number } | undefined {
  let pools = 0;
  let enqueued = 0;
  for (const l of text.split('\n')) {
    const f = l.trim().split(/\s+/);
    if (l.startsWith('#') || f.length < 4 || !/^\d+$/.test(f[0] ?? '')) continue;
    pools++;
    enqueued += Number(f[2]);
  }
  return pools > 0 ? { pools, enqueued } : undefined;
}

/** The sections of a saved --input-file: `### exportfs -v`, `### rpcinfo -p`, `### /proc/net/rpc/nfsd`, ... */
export type Section = 'exportfs' | 'exports' | 'ganesha' | 'rpcinfo' | 'nfsd' | 'pool_stats' | 'mountinfo';

/**
 * A saved input: sections headed by `### ` and what they hold (`### exportfs -v`, `### /etc/exports`,
 * `### ganesha.conf`, `### rpcinfo -p`, `### /proc/net/rpc/nfsd`, `### /proc/fs/nfsd/pool_stats`,
 * `### /proc/self/mountinfo`); without a header, the kind is told from the content.
 */
export function parseSaved(text: string): Map<Section, string> {
  const out = new Map<Section, string>();
  const kindOf = (head: string): Section | undefined => {
    if (/exportfs/.test(head)) return 'exportfs';
    if (/ganesha/i.test(head)) return 'ganesha';
    if (/exports/.test(head)) return 'exports';
    if (/rpcinfo/.test(head)) return 'rpcinfo';
    if (/pool_stats/.test(head)) return 'pool_stats';
    if (/rpc\/nfsd/.test(head)) return 'nfsd';
    if (/mountinfo/.test(head)) return 'mountinfo';
    return undefined;
  };
  if (!/^### /m.test(text)) {
    const kind: Section | undefined = /^th \d/m.test(text) ? 'nfsd' : /^\s*program\s+vers/m.test(text) ? 'rpcinfo' : looksLikeGanesha(text) ? 'ganesha' : /^\d+ \d+ \d+:\d+ /m.test(text) ? 'mountinfo' : undefined;
    if (kind) out.set(kind, text);
    return out;
  }
  let current: Section | undefined;
  let buf: string[] = [];
  const flush = (): void => {
    if (current) out.set(current, buf.join('\n'));
    buf = [];
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('### ')) {
      flush();
      current = kindOf(line.slice(4));
    } else buf.push(line);
  }
  flush();
  return out;
}
