import { PluginError, type PluginContext, type PluginDescriptor } from '../../nagios/plugin.ts';
import { readTextFile } from '../lib/files.ts';
import { parseFreeThreshold } from '../lib/host.ts';
import { DEFAULT_STATE_DIR } from '../lib/mountprobe.ts';
import { probeMount } from './collect.ts';
import { evaluateDisk, type DiskItem } from './evaluate.ts';
import { DEFAULT_EXCLUDED_TYPES, isRemote, parseDfOutput, parseMountinfo, type Mount } from './parse.ts';

const UNITS: Record<string, { bytes: number; name: string }> = {
  bytes: { bytes: 1, name: 'B' },
  kb: { bytes: 1024, name: 'KiB' },
  mb: { bytes: 1024 ** 2, name: 'MiB' },
  gb: { bytes: 1024 ** 3, name: 'GiB' },
  tb: { bytes: 1024 ** 4, name: 'TiB' },
};

function inodePct(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(text.trim());
  if (!m || Number(m[1]) > 100) throw new PluginError(`invalid ${option} ${text}: expected a percentage of free inodes, e.g. 10%`);
  return Number(m[1]);
}

/** The mount holding `path`: the longest mount point that is a prefix of it (by path components). */
function mountOf(path: string, mounts: readonly Mount[]): Mount | undefined {
  let best: Mount | undefined;
  for (const m of mounts) {
    const p = m.mountPoint;
    const under = p === '/' || path === p || path.startsWith(`${p}/`);
    if (under && (!best || p.length > best.mountPoint.length)) best = m;
  }
  return best;
}

function select(ctx: PluginContext, mounts: readonly Mount[]): { mount: Mount; path: string }[] {
  const paths = ctx.strings('path');
  if (paths.length > 0) {
    const out = new Map<string, { mount: Mount; path: string }>();
    for (const p of paths) {
      // A mount point, a device (as mount shows it), or with -E nothing else; otherwise the
      // filesystem holding the path, statfs'ed through the path so a missing one is reported.
      const m = mounts.find((x) => x.mountPoint === p) ?? mounts.find((x) => x.source === p) ?? (ctx.flag('exact-match') ? undefined : mountOf(p, mounts));
      if (!m) throw new PluginError(`${p} is not a mount point or a device of a mounted filesystem (-E asks for exact paths)`, 2);
      if (!out.has(m.mountPoint)) out.set(m.mountPoint, { mount: m, path: m.mountPoint === p || m.source === p ? m.mountPoint : p });
    }
    return [...out.values()];
  }
  const include = ctx.strings('include-type');
  const excluded = new Set(ctx.strings('exclude-type'));
  const wanted = (t: string): boolean => (include.length ? include.includes(t) : !DEFAULT_EXCLUDED_TYPES.includes(t)) && !excluded.has(t);
  const devices = new Set(ctx.strings('exclude-device'));
  return mounts
    .filter((m) => wanted(m.fsType))
    .filter((m) => !devices.has(m.source) && !devices.has(m.mountPoint))
    .filter((m) => !(ctx.flag('local') && isRemote(m)))
    .map((m) => ({ mount: m, path: m.mountPoint }));
}

/** A path that cannot be reached is named as given (check_disk: /x is not accessible), not by the mount holding it. */
async function labelled(ctx: PluginContext, c: { mount: Mount; path: string }, timeoutMs: number): Promise<Pick<DiskItem, 'label' | 'probe'>> {
  const probe = await probeMount(ctx, c.mount, c.path, timeoutMs, ctx.string('state-dir') ?? DEFAULT_STATE_DIR);
  const label = probe.kind === 'error' && c.path !== c.mount.mountPoint ? c.path : ctx.flag('mountpoint') ? c.mount.source : c.mount.mountPoint;
  return { label, probe };
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_disk',
  prefix: 'DISK',
  inputFile: true,
  description:
    "Checks free space and inodes of mounted filesystems with the options and output of monitoring-plugins' check_disk: " +
    '-w/-c a percentage of free space (20%) or a free size in units (default MiB), -W/-K free inodes in percent. ' +
    'Filesystems come from /proc/self/mountinfo; pseudo, image and overlay types are left out by default. A network or FUSE ' +
    'filesystem is statfs-ed in a disposable child process with a timeout, so a dead server gives a CRITICAL hung mount instead of a hung check.',
  options: [
    { name: 'warning', short: 'w', type: 'string', multiple: true, valueName: 'PERCENT%|UNITS', help: 'WARNING when free space is below this percentage or this many units (repeatable: both are checked).' },
    { name: 'critical', short: 'c', type: 'string', multiple: true, valueName: 'PERCENT%|UNITS', help: 'CRITICAL when free space is below this (repeatable).' },
    { name: 'iwarning', short: 'W', type: 'string', valueName: 'PERCENT%', help: 'WARNING when free inodes are below this percentage.' },
    { name: 'icritical', short: 'K', type: 'string', valueName: 'PERCENT%', help: 'CRITICAL when free inodes are below this percentage.' },
    { name: 'path', short: 'p', type: 'string', multiple: true, restricted: 'file', valueName: 'PATH', help: 'A mount point, a device, or a path (its filesystem is checked); repeatable. Given paths are checked whatever their type.' },
    { name: 'exact-match', short: 'E', type: 'boolean', help: 'With -p, only exact mount points or devices.' },
    { name: 'exclude-device', short: 'x', type: 'string', multiple: true, valueName: 'DEVICE', help: 'Leave out this device or mount point (without -p; repeatable).' },
    { name: 'exclude-type', short: 'X', type: 'string', multiple: true, valueName: 'TYPE', help: `Leave out this filesystem type too (repeatable). Always left out unless -N names them: ${DEFAULT_EXCLUDED_TYPES.join(', ')}.` },
    { name: 'include-type', short: 'N', type: 'string', multiple: true, valueName: 'TYPE', help: 'Only filesystems of this type (repeatable; overrides the default exclusions).' },
    { name: 'local', short: 'l', type: 'boolean', help: 'Only local filesystems (no network filesystem is touched at all).' },
    { name: 'errors-only', short: 'e', type: 'boolean', help: 'Name only the filesystems with a problem on the status line.' },
    { name: 'mountpoint', short: 'M', type: 'boolean', help: 'Name filesystems by their device instead of the mount point.' },
    { name: 'units', short: 'u', type: 'string', valueName: 'UNIT', help: 'Unit of sizes shown and of -w/-c without %: bytes, kB, MB, GB, TB (binary multiples, as check_disk; default MB).' },
    { name: 'kilobytes', short: 'k', type: 'boolean', help: 'Same as -u kB.' },
    { name: 'megabytes', short: 'm', type: 'boolean', help: 'Same as -u MB.' },
    { name: 'stat-timeout', type: 'string', valueName: 'SECONDS', default: '3', help: 'A filesystem whose statfs takes longer is reported as hung (CRITICAL).' },
    { name: 'state-dir', type: 'string', restricted: 'file', valueName: 'DIR', help: `Where the probe of a network or FUSE filesystem leaves its marker, so a probe still stuck from an earlier run is reported as hung instead of starting another (default ${DEFAULT_STATE_DIR}; not writable: no such guard).` },
  ],
  notes: 'Privileges: none (statfs needs no rights on the mount point itself; a path given with -p must be reachable by the user).\nExample (the stock nrpe.cfg): check_ha_disk -w 20% -c 10% -p /dev/hda1',
  async run(ctx) {
    const unitName = ctx.flag('kilobytes') ? 'kb' : ctx.flag('megabytes') ? 'mb' : (ctx.string('units') ?? 'MB').toLowerCase();
    const unit = UNITS[unitName];
    if (!unit) throw new PluginError(`invalid -u ${ctx.string('units')}: expected bytes, kB, MB, GB or TB`);
    const warning = ctx.strings('warning').map((t) => parseFreeThreshold(t, unit.bytes, '-w'));
    const critical = ctx.strings('critical').map((t) => parseFreeThreshold(t, unit.bytes, '-c'));
    const statTimeout = Number(ctx.string('stat-timeout') ?? '3');
    if (!(statTimeout > 0)) throw new PluginError(`invalid --stat-timeout ${ctx.string('stat-timeout')}: expected seconds above 0`);
    // --input-file: saved `df -B1 --output=source,fstype,itotal,iused,iavail,size,used,avail,target`.
    const input = await ctx.readInput();
    const saved = input === undefined ? undefined : parseDfOutput(input);
    const mounts = saved ? saved.map((x) => x.mount) : parseMountinfo(await readTextFile('/proc/self/mountinfo', undefined, { signal: ctx.signal }));
    const chosen = select(ctx, mounts);
    // Every mount probed at once: a hung one costs its timeout, not the sum of them. The
    // timeout leaves time to answer before -t.
    const timeoutMs = Math.max(100, Math.min(statTimeout * 1000, ctx.remainingMs() - 600));
    const items: DiskItem[] = await Promise.all(
      chosen.map(async (c) => {
        const known = saved?.find((x) => x.mount === c.mount);
        if (known) return { mount: c.mount, label: ctx.flag('mountpoint') ? c.mount.source : c.mount.mountPoint, probe: { kind: 'ok' as const, stats: known.stats, ms: 0 } };
        return { mount: c.mount, ...(await labelled(ctx, c, timeoutMs)) };
      }),
    );
    // check_disk leaves out filesystems with no blocks (pseudo filesystems of unknown types) unless named.
    const shown = ctx.strings('path').length ? items : items.filter((i) => i.probe.kind !== 'ok' || i.probe.stats.blocks > 0);
    return evaluateDisk({ items: shown, warning, critical, inodeWarning: inodePct(ctx.string('iwarning'), '-W'), inodeCritical: inodePct(ctx.string('icritical'), '-K'), unit, errorsOnly: ctx.flag('errors-only') });
  },
};

export default descriptor;
