import { PluginError, type PluginContext, type PluginDescriptor } from '../../nagios/plugin.ts';
import type { CheckResult } from '../../nagios/result.ts';
import { DEFAULT_STATE_DIR } from '../lib/mountprobe.ts';
import { SUDOERS_RULE, collectExports, collectMounts, collectRpc, collectThreads, parseMountSpec } from './collect.ts';
import { evaluate, type ExpectedExport } from './evaluate.ts';
import { parseSaved } from './parse.ts';

/** Registered by the kernel server and by nfs-ganesha alike: NFSv3 and v4, MOUNT v3, NLM v4. */
export const DEFAULT_RPC_VERSIONS: ReadonlyMap<string, readonly number[]> = new Map([
  ['nfs', [3, 4]],
  ['mountd', [3]],
  ['nlockmgr', [4]],
]);
export const DEFAULT_MOUNT_TYPES = ['nfs', 'nfs4'];
const DEFAULT_PROBE_TIMEOUT_S = 5;

/** The values of a repeatable option as given: ctx.strings splits at commas, which these values hold. */
function raw(ctx: PluginContext, name: string): string[] {
  const v = ctx.options[name];
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string');
}

function rpcExpected(specs: readonly string[]): Map<string, readonly number[]> {
  const out = new Map(DEFAULT_RPC_VERSIONS);
  for (const s of specs) {
    const m = /^([A-Za-z0-9_]+)=([\d,]*)$/.exec(s.trim());
    if (!m) throw new PluginError(`invalid --rpc-version ${s}: expected PROGRAM=VERSIONS such as nfs=3,4 (or mountd= to not check it)`);
    const versions = m[2]!.split(',').filter((v) => v !== '').map(Number);
    if (versions.length === 0) out.delete(m[1]!);
    else out.set(m[1]!, versions);
  }
  return out;
}

function expectedExports(specs: readonly string[]): ExpectedExport[] {
  return specs.map((s) => {
    const i = s.indexOf(':');
    const path = i === -1 ? s : s.slice(0, i);
    if (!path.startsWith('/')) throw new PluginError(`invalid --export ${s}: expected an absolute path, optionally :CLIENT,CLIENT`);
    return { path, clients: i === -1 ? [] : s.slice(i + 1).split(',').filter((c) => c !== '') };
  });
}

async function run(ctx: PluginContext): Promise<CheckResult> {
  const input = await ctx.readInput();
  const saved = input === undefined ? undefined : parseSaved(input);
  const mountSpecs = ctx.strings('mount').map(parseMountSpec);
  const exportSpecs = expectedExports(raw(ctx, 'export'));
  const server = ctx.flag('server') || exportSpecs.length > 0 || ctx.string('exports-file') !== undefined || mountSpecs.length === 0;
  const stateDir = ctx.string('state-dir') ?? DEFAULT_STATE_DIR;
  const probeTimeout = Number(ctx.string('probe-timeout') ?? DEFAULT_PROBE_TIMEOUT_S);
  if (!(probeTimeout > 0)) throw new PluginError(`invalid --probe-timeout ${ctx.string('probe-timeout')}: expected seconds above 0`);
  // The probe's kill grace and the answer must fit before -t.
  const timeoutMs = Math.max(100, Math.min(probeTimeout * 1000, ctx.remainingMs() - 700));
  const types = ctx.strings('mount-type').length ? ctx.strings('mount-type') : DEFAULT_MOUNT_TYPES;

  const [exportsF, rpc, threads, mounts] = await Promise.all([
    server && !ctx.flag('no-exports') ? collectExports(ctx, saved) : undefined,
    server && !ctx.flag('no-rpc') ? collectRpc(ctx, saved, rpcExpected(raw(ctx, 'rpc-version'))) : undefined,
    server && !ctx.flag('no-threads') ? collectThreads(ctx, saved, stateDir) : undefined,
    collectMounts(ctx, saved, mountSpecs, types, { timeoutMs, read: ctx.flag('read'), stateDir }),
  ]);
  return evaluate({ exports: exportsF, expectedExports: exportSpecs, rpc, threads, mounts, mountTypes: types, probeThresholds: ctx.thresholds });
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_nfs',
  prefix: 'NFS',
  description:
    'Checks an NFS server and its clients. Server side (default, or with --server/--export): the exports (exportfs -v, ' +
    '/etc/exports, or the nfs-ganesha configuration) against the expected list, the RPC programs registered with rpcbind ' +
    'per version (rpcinfo -p), and nfsd threads all busy since the last run (/proc/net/rpc/nfsd). Client side (--mount): ' +
    'each mount present, of an NFS type, read-write or read-only as expected, and probed in a disposable child process with ' +
    'its own timeout, one probe in flight per mount: a hung hard mount is HUNG (CRITICAL) without hanging the check, a ' +
    'stale file handle is STALE (CRITICAL), the probe time is perfdata.',
  inputFile: true,
  thresholds: { subject: 'the probe time of a mount in seconds' },
  options: [
    { name: 'server', type: 'boolean', help: 'Check the server side also when --mount is given.' },
    { name: 'export', type: 'string', multiple: true, valueName: 'PATH[:CLIENT,...]', help: 'An export that must be there (its path, or its ganesha Pseudo path), exported to these clients as written in the exports (repeatable). Without it, at least one export must be there.' },
    { name: 'exports-file', type: 'string', restricted: 'file', valueName: 'FILE', help: 'Read the exports from FILE (exports(5) format, or an nfs-ganesha configuration with EXPORT blocks) instead of exportfs -v or /etc/exports.' },
    { name: 'sudo', type: 'boolean', help: `Run exportfs -v through sudo -n (sudoers: ${SUDOERS_RULE}).` },
    { name: 'no-exports', type: 'boolean', help: 'Do not check the exports.' },
    { name: 'rpc-version', type: 'string', multiple: true, valueName: 'PROGRAM=V[,V]', help: `Versions that must be registered with rpcbind (repeatable; PROGRAM= drops one). Default: ${[...DEFAULT_RPC_VERSIONS].map(([k, v]) => `${k}=${v.join(',')}`).join(' ')}. For an NFSv4-only server: mountd= nlockmgr= nfs=4.` },
    { name: 'rpc-host', type: 'string', valueName: 'HOST', help: 'Ask rpcbind on HOST (default: this node).' },
    { name: 'no-rpc', type: 'boolean', help: 'Do not check the rpcbind registrations.' },
    { name: 'no-rpc-ping', type: 'boolean', help: 'Do not call each expected program version (rpcinfo -t HOST PROG VERS): a crashed server leaves registrations that only such a call finds dead.' },
    { name: 'no-threads', type: 'boolean', help: 'Do not judge nfsd threads.' },
    { name: 'mount', type: 'string', multiple: true, valueName: 'PATH[:ro|:rw]', help: 'A mount that must be there, of an NFS type, read-write (:rw) or read-only (:ro) when said, and answering its probe (repeatable).' },
    { name: 'mount-type', type: 'string', multiple: true, valueName: 'TYPE', help: `Filesystem types a --mount may have (repeatable; default ${DEFAULT_MOUNT_TYPES.join(', ')}).` },
    { name: 'read', type: 'boolean', help: 'The probe also reads the directory (statfs alone, the default, already goes to the server).' },
    { name: 'probe-timeout', type: 'string', valueName: 'SECONDS', default: String(DEFAULT_PROBE_TIMEOUT_S), help: 'A mount whose probe takes longer is HUNG (CRITICAL); kept within -t.' },
    { name: 'state-dir', type: 'string', restricted: 'file', valueName: 'DIR', help: `Where the busy count of nfsd and the markers of probes in flight are kept between runs (default ${DEFAULT_STATE_DIR}).` },
  ],
  notes: [
    'Examples:',
    '  check_ha_nfs --export /srv/web:192.0.2.0/24',
    '  check_ha_nfs --exports-file /etc/ganesha/ganesha.conf --export /export --rpc-version nlockmgr=',
    '  check_ha_nfs --mount /var/www:ro --mount /srv/data -w 1 -c 3',
    `Privileges: none for rpcinfo, /proc/net/rpc/nfsd and the probes; exportfs -v takes a lock in /var/lib/nfs: --sudo with ${SUDOERS_RULE}.`,
    'A probe stuck in an uninterruptible wait cannot be killed: the check answers anyway and does not wait for it.',
  ].join('\n'),
  run,
};

export default descriptor;
