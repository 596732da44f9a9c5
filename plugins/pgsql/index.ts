import { parseRange } from '../../nagios/range.ts';
import { PluginError, type PluginContext, type PluginDescriptor } from '../../nagios/plugin.ts';
import type { CheckResult } from '../../nagios/result.ts';
import { collectHost, parseTarget, readPasswordFile, type ConnectSettings, type SslMode } from './collect.ts';
import { DEFAULT_LAG_THRESHOLDS, evaluate, LAG_UNITS, ROLES, type LagUnit, type Role } from './evaluate.ts';
import { parseCapture, parseHost, type Capture } from './parse.ts';

const SSL_MODES: readonly SslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new PluginError(`invalid --${name} '${value}': expected one of ${allowed.join(', ')}`);
}

function count(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) throw new PluginError(`invalid --${name} '${value}': expected a whole number`);
  return Number(value);
}

function sslModeFromEnv(v: string | undefined): SslMode | undefined {
  // libpq's opportunistic modes (allow, prefer) cannot be done by the driver: no TLS then.
  if (v === undefined || v === '' || v === 'allow' || v === 'prefer') return undefined;
  return oneOf('sslmode (from PGSSLMODE)', v, SSL_MODES, 'disable');
}

async function collect(ctx: PluginContext, hosts: readonly string[]): Promise<Capture> {
  const env = ctx.env;
  const defaultPort = count('port', ctx.string('port') ?? env.PGPORT) ?? 5432;
  const targets = hosts.map((h) => parseTarget(h, defaultPort));
  const passwordFile = ctx.string('password-file');
  const settings: ConnectSettings = {
    user: ctx.string('user') ?? env.PGUSER,
    database: ctx.string('dbname') ?? env.PGDATABASE ?? 'postgres',
    defaultPort,
    password: passwordFile !== undefined ? await readPasswordFile(passwordFile) : env.PGPASSWORD,
    sslMode: oneOf('sslmode', ctx.string('sslmode'), SSL_MODES, sslModeFromEnv(env.PGSSLMODE) ?? 'disable'),
    sslRootCert: ctx.string('sslrootcert') ?? env.PGSSLROOTCERT,
  };
  const results = await Promise.all(targets.map((t) => collectHost(t, settings, () => ctx.remainingMs(), ctx.signal)));
  return { hosts: results };
}

async function run(ctx: PluginContext): Promise<CheckResult> {
  const lagUnit: LagUnit = oneOf('lag-unit', ctx.string('lag-unit'), LAG_UNITS, 'bytes');
  const role: Role = oneOf('role', ctx.string('role'), ROLES, 'auto');
  const defaults = DEFAULT_LAG_THRESHOLDS[lagUnit];
  const thresholds = {
    warning: ctx.options.warning === undefined ? parseRange(defaults.warning) : ctx.thresholds.warning,
    critical: ctx.options.critical === undefined ? parseRange(defaults.critical) : ctx.thresholds.critical,
  };
  const input = await ctx.readInput();
  let capture: Capture;
  if (input !== undefined) {
    capture = parseCapture(input);
  } else {
    const hosts = ctx.strings('hostname');
    capture = await collect(ctx, hosts.length ? hosts : [ctx.env.PGHOST ?? '/var/run/postgresql']);
  }
  const multiHost = capture.hosts.length > 1;
  if (multiHost && role !== 'auto') throw new PluginError('--role applies to a single host; with several -H each host is checked in the role it has');
  const expectedStandbys = ctx.strings('standby');
  const minStandbys = count('min-standbys', ctx.string('min-standbys')) ?? (expectedStandbys.length || (multiHost ? capture.hosts.length - 1 : 1));
  return evaluate(capture.hosts.map(parseHost), {
    role,
    expectedStandbys,
    minStandbys,
    expectSync: ctx.flag('expect-sync'),
    lagUnit,
    thresholds,
    multiHost,
  });
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_pgsql',
  prefix: 'PGSQL',
  description:
    'Checks PostgreSQL streaming replication. On a primary: the expected standbys are connected and streaming, ' +
    'their replay lag (pg_stat_replication) and sync state. On a standby: the WAL receiver streams and replay ' +
    'keeps up (a replay delay of 0 when everything received is applied, so an idle primary shows no lag). ' +
    'With several -H: exactly one primary (two = split brain, none = no writer), both CRITICAL.',
  thresholds: {
    subject: `replication lag in the --lag-unit (defaults: bytes ${DEFAULT_LAG_THRESHOLDS.bytes.warning} / ${DEFAULT_LAG_THRESHOLDS.bytes.critical}, seconds ${DEFAULT_LAG_THRESHOLDS.seconds.warning} / ${DEFAULT_LAG_THRESHOLDS.seconds.critical})`,
  },
  inputFile: true,
  options: [
    { name: 'hostname', short: 'H', type: 'string', multiple: true, valueName: 'HOST[:PORT]', help: 'Server to check; repeat for a cluster check (exactly one primary). A path is a socket directory. Default: PGHOST or /var/run/postgresql.' },
    { name: 'port', short: 'p', type: 'string', valueName: 'PORT', help: 'Port for hosts given without one (default: PGPORT or 5432).' },
    { name: 'user', short: 'u', type: 'string', valueName: 'USER', help: 'User name (default: PGUSER or the OS user). Give it the pg_monitor role.' },
    { name: 'dbname', short: 'd', type: 'string', valueName: 'DB', help: 'Database to connect to (default: PGDATABASE or postgres).' },
    { name: 'password-file', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Read the password from the first line of PATH. Otherwise PGPASSWORD, then PGPASSFILE or ~/.pgpass (mode 0600) are used. Never give a password on the command line.' },
    { name: 'sslmode', type: 'string', valueName: 'MODE', help: 'disable, require (encrypt, no verification), verify-ca or verify-full (default: PGSSLMODE or disable).' },
    { name: 'sslrootcert', type: 'string', restricted: 'file', valueName: 'PATH', help: 'CA certificate(s) for verify-ca / verify-full (default: PGSSLROOTCERT or the system CAs).' },
    { name: 'role', type: 'string', valueName: 'ROLE', default: 'auto', help: 'primary, standby or auto: CRITICAL when a single host is not in the expected role.' },
    { name: 'standby', type: 'string', multiple: true, valueName: 'NAME', help: 'application_name of a standby that must be streaming from the primary (repeatable, or comma separated).' },
    { name: 'min-standbys', type: 'string', valueName: 'N', help: 'Fewer streaming standbys on the primary is CRITICAL (default: the number of --standby names, else the number of other -H hosts, else 1; 0 turns it off).' },
    { name: 'expect-sync', type: 'boolean', help: 'CRITICAL unless at least one standby streams with sync_state sync or quorum.' },
    { name: 'lag-unit', type: 'string', valueName: 'UNIT', default: 'bytes', help: 'What -w/-c judge: bytes (WAL not yet replayed) or seconds (replay_lag on a primary, replay delay on a standby).' },
  ],
  notes: [
    'Examples:',
    '  check_ha_pgsql -H db1 --standby db2 -w 16777216 -c 134217728',
    '  check_ha_pgsql -H db2 --role standby --lag-unit seconds -w 30 -c 300',
    '  check_ha_pgsql -H db1 -H db2 -H db3          (exactly one primary, two streaming standbys)',
    'An unreachable, refusing or hung server is CRITICAL; refused credentials, a missing database or missing',
    'privileges are UNKNOWN. Privileges: a login role with pg_monitor (GRANT pg_monitor TO nagios).',
  ].join('\n'),
  run,
};

export default descriptor;
