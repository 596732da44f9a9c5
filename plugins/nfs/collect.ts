/**
 * Gathering the NFS facts: exportfs -v or the exports/ganesha file, rpcinfo, the nfsd
 * statistics, /proc/self/mountinfo and a probe per expected mount (plugins/lib/mountprobe.ts).
 * Every file is read bounded (nagios/input.ts, plugins/lib/files.ts), every program runs through
 * ctx.runCommand with a timeout.
 */
import { join } from 'node:path';
import { CommandError } from '../../nagios/exec.ts';
import { InputError, readBoundedFile } from '../../nagios/input.ts';
import { PluginError, type PluginContext } from '../../nagios/plugin.ts';
import { State } from '../../nagios/states.ts';
import { readTextFile, replaceFile } from '../lib/files.ts';
import { probeMountPath } from '../lib/mountprobe.ts';
import { sudoCommand } from '../lib/sudo.ts';
import { parseMountinfo } from '../disk/parse.ts';
import type { ExportsFacts, MountFacts, RpcFacts, RpcPing, ThreadsFacts } from './evaluate.ts';
import { looksLikeGanesha, parseExportfs, parseExportsFile, parseGaneshaConfig, parseNfsdTh, parsePoolStats, parseRpcinfo, type Registration, type Section } from './parse.ts';

export const DEFAULT_EXPORTS = '/etc/exports';
/** exportfs takes a lock in /var/lib/nfs (root's) even to list: run by another user it needs sudo. */
export const SUDOERS_RULE = 'nagios ALL=(root) NOPASSWD: /usr/sbin/exportfs -v';
export const NFSD_STATS = '/proc/net/rpc/nfsd';
export const POOL_STATS = '/proc/fs/nfsd/pool_stats';

function firstLine(s: string): string {
  return (s.trim().split('\n').find((l) => l.trim() !== '') ?? '').trim().replace(/[;`~$&|'"<>]/g, '');
}

function exportsOf(text: string, source: string): ExportsFacts {
  if (looksLikeGanesha(text)) {
    const note = /^\s*%include/m.test(text) ? '%include files not followed: name the file with the EXPORT blocks' : undefined;
    return { source, exports: parseGaneshaConfig(text), note };
  }
  return { source, exports: parseExportsFile(text) };
}

/** Exports from a saved input, --exports-file, `exportfs -v`, or /etc/exports, in that order. */
export async function collectExports(ctx: PluginContext, saved: Map<Section, string> | undefined): Promise<ExportsFacts | undefined> {
  if (saved) {
    const e = saved.get('exportfs');
    if (e !== undefined) return { source: 'exportfs -v', exports: parseExportfs(e) };
    const g = saved.get('ganesha') ?? saved.get('exports');
    return g === undefined ? undefined : exportsOf(g, saved.has('ganesha') ? 'the ganesha configuration' : DEFAULT_EXPORTS);
  }
  const file = ctx.string('exports-file');
  if (file !== undefined) return exportsOf(await readTextFile(file, 'exports file', { signal: ctx.signal }), file);
  let why = 'exportfs is not installed';
  try {
    const cmd = ctx.flag('sudo') ? sudoCommand('exportfs', ['-v']) : { file: 'exportfs', args: ['-v'] };
    const r = await ctx.runCommand(cmd.file, cmd.args, { timeoutMs: Math.min(5000, ctx.remainingMs()), signal: ctx.signal, env: { LC_ALL: 'C' } });
    // Run by another user than root, exportfs (nfs-utils 2.6.2, measured) prints `could not open
    // /var/lib/nfs/.etab.lock for locking: errno 13 (Permission denied)` and exits 0 with an
    // empty list: not an answer.
    const unread = r.stdout.trim() === '' && /could not open .* for locking|can.t open .*etab/.test(r.stderr);
    if (r.exitCode === 0 && !unread) return { source: 'exportfs -v', exports: parseExportfs(r.stdout) };
    const hint = ctx.flag('sudo') ? `, add the sudoers rule ${SUDOERS_RULE}` : process.getuid?.() === 0 ? '' : ', give --sudo';
    why = unread ? `exportfs -v could not read its table (${firstLine(r.stderr)}${hint})` : `exportfs -v failed (exit ${r.exitCode ?? 'by signal'}: ${firstLine(r.stderr) || 'no message'}${hint})`;
  } catch (e) {
    if (!(e instanceof CommandError) || e.kind !== 'not-found') throw e;
  }
  try {
    const { text } = await readBoundedFile(DEFAULT_EXPORTS, { signal: ctx.signal });
    return { ...exportsOf(text, DEFAULT_EXPORTS), note: why };
  } catch (e) {
    if (e instanceof InputError && e.kind === 'not-found') {
      throw new PluginError(`${why} and there is no ${DEFAULT_EXPORTS}: install nfs-kernel-server, or give --exports-file (the ganesha configuration for nfs-ganesha)`);
    }
    throw e;
  }
}

/** `rpcinfo -p [HOST]`; rpcbind not answering is a fact (CRITICAL), not an error. */
export async function collectRpc(ctx: PluginContext, saved: Map<Section, string> | undefined, expected: ReadonlyMap<string, readonly number[]>): Promise<RpcFacts | undefined> {
  if (saved) {
    const t = saved.get('rpcinfo');
    return t === undefined ? undefined : { registrations: parseRpcinfo(t), expected };
  }
  const host = ctx.string('rpc-host');
  try {
    const r = await ctx.runCommand('rpcinfo', host === undefined ? ['-p'] : ['-p', host], { timeoutMs: Math.min(5000, ctx.remainingMs()), signal: ctx.signal, env: { LC_ALL: 'C' } });
    if (r.exitCode !== 0) return { error: `rpcbind${host ? ` on ${host}` : ''} does not answer: ${firstLine(r.stderr) || firstLine(r.stdout) || `rpcinfo exit ${r.exitCode ?? 'by signal'}`}`, expected };
    const registrations = parseRpcinfo(r.stdout);
    if (ctx.flag('no-rpc-ping')) return { registrations, expected };
    return { registrations, expected, pings: await pingAll(ctx, host ?? '127.0.0.1', registrations, expected) };
  } catch (e) {
    if (e instanceof CommandError && e.kind === 'not-found') throw new PluginError('rpcinfo was not found: install rpcbind (Debian) or rpcbind/libtirpc (RHEL), or give --no-rpc');
    if (e instanceof CommandError && e.kind === 'timeout') return { error: `rpcbind${host ? ` on ${host}` : ''} gave no answer within ${Math.round(Math.min(5000, ctx.remainingMs()) / 1000)} s`, expected };
    throw e;
  }
}

/**
 * A NULL call to each expected program and version that rpcbind lists (`rpcinfo -t HOST PROG
 * VERS`): a server that crashed leaves its registrations behind, so a listing alone reads OK
 * while nothing answers.
 */
async function pingAll(ctx: PluginContext, host: string, regs: readonly Registration[], expected: ReadonlyMap<string, readonly number[]>): Promise<RpcPing[]> {
  const jobs: Promise<RpcPing>[] = [];
  for (const [name, versions] of expected) {
    const program = regs.find((r) => r.name === name || String(r.program) === name)?.program;
    if (program === undefined) continue;
    for (const version of versions) {
      if (!regs.some((r) => r.program === program && r.version === version)) continue;
      const transport = regs.some((r) => r.program === program && r.version === version && r.protos.some((p) => p.startsWith('tcp'))) ? '-t' : '-u';
      jobs.push(
        ctx.runCommand('rpcinfo', [transport, host, String(program), String(version)], { timeoutMs: Math.min(3000, ctx.remainingMs()), signal: ctx.signal, env: { LC_ALL: 'C' } }).then(
          (r): RpcPing => (r.exitCode === 0 ? { name, version, ok: true } : { name, version, ok: false, error: firstLine(r.stderr) || firstLine(r.stdout) || `exit ${r.exitCode ?? 'by signal'}` }),
          (e: unknown): RpcPing => {
            if (e instanceof CommandError && e.kind === 'timeout') return { name, version, ok: false, error: 'no answer within 3 s' };
            throw e;
          },
        ),
      );
    }
  }
  return Promise.all(jobs);
}

async function readOptional(path: string, signal: AbortSignal): Promise<string | undefined> {
  try {
    return (await readBoundedFile(path, { signal, maxBytes: 1024 * 1024 })).text;
  } catch (e) {
    if (e instanceof InputError && (e.kind === 'not-found' || e.kind === 'permission')) return undefined;
    throw e;
  }
}

/**
 * Busy events since the last run's count, or undefined when there is nothing to compare: no
 * earlier count, another source, or a smaller count (the server or the machine restarted and
 * the counters began again).
 */
export function busyDelta(last: unknown, source: string, total: number): number | undefined {
  const l = last as { source?: unknown; total?: unknown } | null;
  if (!l || l.source !== source || typeof l.total !== 'number' || total < l.total) return undefined;
  return total - l.total;
}

/** The nfsd thread count and busy count, compared with the last run's (kept in the state directory). */
export async function collectThreads(ctx: PluginContext, saved: Map<Section, string> | undefined, stateDir: string): Promise<ThreadsFacts> {
  const nfsd = saved ? saved.get('nfsd') : await readOptional(NFSD_STATS, ctx.signal);
  if (nfsd === undefined) return { note: `no kernel nfsd here (no ${NFSD_STATS}: a user-space server such as nfs-ganesha, or nfsd not loaded)` };
  const th = parseNfsdTh(nfsd);
  if (!th) throw new PluginError(`${NFSD_STATS} has no th line: not the nfsd statistics format`, State.UNKNOWN);
  let busySource: ThreadsFacts['busySource'];
  let busyTotal: number | undefined;
  let note: string | undefined;
  if (th.fullcnt !== undefined) {
    busySource = 'fullcnt';
    busyTotal = th.fullcnt;
  } else {
    const pool = parsePoolStats((saved ? saved.get('pool_stats') : await readOptional(POOL_STATS, ctx.signal)) ?? '');
    if (pool) {
      busySource = 'pool_stats';
      busyTotal = pool.enqueued;
      note = `this kernel prints a th line of zeros, busy threads judged from ${POOL_STATS}`;
    } else note = `this kernel prints a th line of zeros and ${POOL_STATS} is not readable: busy threads are not judged`;
  }
  if (saved || busyTotal === undefined) return { th, busySource, busyTotal, note };
  const file = join(stateDir, 'nfs-nfsd-busy.json');
  let busySinceLast: number | undefined;
  try {
    busySinceLast = busyDelta(JSON.parse(await readTextFile(file, undefined, { signal: ctx.signal, maxBytes: 4096 })), busySource ?? '', busyTotal);
  } catch {
    /* first run, or an unreadable state: compared from the next run on */
  }
  try {
    await replaceFile(file, JSON.stringify({ source: busySource, total: busyTotal }), 0o644);
  } catch (e) {
    note = [note, `cannot keep the busy count in ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (give --state-dir)`].filter(Boolean).join(', ');
  }
  return { th, busySource, busyTotal, busySinceLast, note };
}

export interface MountSpec {
  readonly path: string;
  readonly expectRo: boolean | undefined;
}

/** `--mount PATH[:ro|:rw]`. */
export function parseMountSpec(text: string): MountSpec {
  const m = /^(\/.*?)(?::(ro|rw))?$/.exec(text);
  if (!m) throw new PluginError(`invalid --mount ${text}: expected an absolute path, optionally followed by :ro or :rw`);
  const path = m[1]!.length > 1 ? m[1]!.replace(/\/+$/, '') : m[1]!;
  return { path, expectRo: m[2] === undefined ? undefined : m[2] === 'ro' };
}

/** Each expected mount looked up in mountinfo and, when it is of an expected type, probed. */
export async function collectMounts(
  ctx: PluginContext,
  saved: Map<Section, string> | undefined,
  specs: readonly MountSpec[],
  types: readonly string[],
  o: { timeoutMs: number; read: boolean; stateDir: string },
): Promise<MountFacts[]> {
  const text = saved ? (saved.get('mountinfo') ?? '') : await readTextFile('/proc/self/mountinfo', undefined, { signal: ctx.signal });
  const mounts = parseMountinfo(text);
  return Promise.all(
    specs.map(async (s): Promise<MountFacts> => {
      const m = mounts.find((x) => x.mountPoint === s.path);
      if (!m) return { path: s.path, expectRo: s.expectRo };
      const found = { fsType: m.fsType, source: m.source, ro: m.options.split(',').includes('ro') };
      if (!types.includes(m.fsType)) return { path: s.path, expectRo: s.expectRo, found };
      if (saved) return { path: s.path, expectRo: s.expectRo, found, notProbed: 'not probed (saved input)' };
      const probe = await probeMountPath(ctx.runCommand, s.path, { timeoutMs: o.timeoutMs, read: o.read, markerDir: o.stateDir, signal: ctx.signal });
      return { path: s.path, expectRo: s.expectRo, found, probe };
    }),
  );
}
