/**
 * check_ha_drbd: DRBD 8.x and 9.x replication health, one subcheck per resource, volume and peer.
 */
import { PluginError, type PluginDescriptor } from '../../nagios/plugin.ts';
import { collect, DEFAULT_PROC_FILE, SOURCES, type DrbdSource } from './collect.ts';
import { evaluate, SIZE_UNITS, type SizeUnit } from './evaluate.ts';
import { DrbdParseError, parseDrbd } from './parse.ts';

const ROLES = { primary: 'Primary', secondary: 'Secondary' } as const;

function oneOf<T extends string>(value: string, allowed: readonly T[], option: string): T {
  const hit = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (hit === undefined) throw new PluginError(`invalid ${option} '${value}': expected ${allowed.join(', ')}`);
  return hit;
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_drbd',
  prefix: 'DRBD',
  description:
    'Checks DRBD replication: connection, roles, local and peer disk states, resync progress and the amount of ' +
    'out-of-sync data (what would be lost if this node died now) for every resource, volume and peer. Reads ' +
    '/proc/drbd on DRBD 8.x and `drbdsetup status --json` on DRBD 9 (or `drbdsetup events2 --now --statistics`).',
  inputFile: true,
  thresholds: {
    subject: 'out-of-sync data per volume and peer, in --unit',
    warning: '0',
  },
  options: [
    { name: 'resource', short: 'r', type: 'string', multiple: true, valueName: 'NAME[,NAME]', help: 'Check only these resources (repeatable). With /proc/drbd (8.x, no names) use the minor: 0, drbd0 or /dev/drbd0. A selected resource that is missing is CRITICAL.' },
    { name: 'role', type: 'string', valueName: 'ROLE', help: 'Expect this role (primary or secondary) on every checked resource; any other role is CRITICAL.' },
    { name: 'unit', type: 'string', valueName: 'UNIT', default: 'MiB', help: 'Unit of the -w/-c ranges: KiB, MiB or GiB.' },
    { name: 'source', type: 'string', valueName: 'SOURCE', default: 'auto', help: "Where to read: auto (/proc/drbd on 8.x, 'drbdsetup status --json' on 9.x), proc, status-json or events2. With --input-file: the format of the file (auto detects it)." },
    { name: 'proc-file', type: 'string', restricted: 'file', valueName: 'PATH', default: DEFAULT_PROC_FILE, help: 'The /proc/drbd file to read.' },
    { name: 'drbdsetup', type: 'string', restricted: 'program', valueName: 'PATH', default: 'drbdsetup', help: 'The drbdsetup program (looked up in PATH; with --sudo a bare name means /usr/sbin/drbdsetup, the path of the sudoers rule).' },
    { name: 'sudo', type: 'boolean', help: "Run drbdsetup through 'sudo -n' (see the README for the sudoers rule)." },
  ],
  notes: [
    'Examples:',
    '  check_ha_drbd -w 5 -c 30            warn above 5 MiB out of sync, critical above 30 MiB',
    '  check_ha_drbd -r r0 --role primary  only r0, which must be Primary here',
    '  check_ha_drbd --sudo                DRBD 9 as the nagios user (drbdsetup needs root)',
    '',
    'States: a running resync is WARNING (with progress and ETA); StandAlone (split brain suspected), any',
    'connecting or lost connection, Diskless, Outdated, Failed, Inconsistent outside a resync and an unknown',
    'peer disk are CRITICAL. No configured resource at all is UNKNOWN. Sizes in DRBD output are KiB;',
    'perfdata is in bytes.',
  ].join('\n'),
  async run(ctx) {
    const source: DrbdSource = oneOf(ctx.string('source') ?? 'auto', SOURCES, '--source');
    const unit: SizeUnit = oneOf(ctx.string('unit') ?? 'MiB', Object.keys(SIZE_UNITS) as SizeUnit[], '--unit');
    const roleText = ctx.string('role');
    const role = roleText === undefined ? undefined : ROLES[oneOf(roleText, ['primary', 'secondary'] as const, '--role')];
    const collected = await collect(ctx, source);
    let status;
    try {
      status = parseDrbd(collected.text, collected.format);
    } catch (e) {
      if (e instanceof DrbdParseError) throw new PluginError(`cannot read the DRBD status from ${collected.origin}: ${e.message}`);
      throw e;
    }
    return evaluate(status, { thresholds: ctx.thresholds, unit, resources: ctx.strings('resource'), role });
  },
};

export default descriptor;
