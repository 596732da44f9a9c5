import { parseRange, type Range, type Thresholds } from '../../nagios/range.ts';
import { PluginError, type PluginContext, type PluginDescriptor } from '../../nagios/plugin.ts';
import type { CheckResult } from '../../nagios/result.ts';
import { csvUrl, fetchStatsPage, readAuthFile, readSocket, type Credentials } from './collect.ts';
import { DEFAULT_SESSION_CRITICAL, DEFAULT_SESSION_WARNING, evaluate } from './evaluate.ts';
import { parseStats } from './parse.ts';

function range(ctx: PluginContext, name: string, fallback?: string): Range | undefined {
  const v = ctx.string(name) ?? fallback;
  return v === undefined ? undefined : parseRange(v);
}

async function credentials(ctx: PluginContext): Promise<Credentials | undefined> {
  const file = ctx.string('auth-file');
  if (file !== undefined) return readAuthFile(file);
  const user = ctx.env.HAPROXY_STATS_USER;
  if (user) return { user, password: ctx.env.HAPROXY_STATS_PASSWORD ?? '' };
  return undefined;
}

async function readText(ctx: PluginContext): Promise<string> {
  const input = await ctx.readInput();
  if (input !== undefined) return input;
  const socket = ctx.string('socket');
  const url = ctx.string('url');
  if (socket !== undefined && url !== undefined) throw new PluginError('give either --socket or --url, not both');
  if (url !== undefined) return fetchStatsPage(csvUrl(url), await credentials(ctx), ctx.string('ca-file'), ctx.remainingMs(), ctx.signal);
  return readSocket(socket ?? '/run/haproxy/admin.sock', ctx.remainingMs(), ctx.signal);
}

async function run(ctx: PluginContext): Promise<CheckResult> {
  const serverThresholds: Thresholds = ctx.thresholds;
  const policy = {
    serverThresholds,
    percent: ctx.flag('percent'),
    ignoreMaint: ctx.flag('ignore-maint'),
    sessionThresholds: { warning: range(ctx, 'sessions-warning', DEFAULT_SESSION_WARNING), critical: range(ctx, 'sessions-critical', DEFAULT_SESSION_CRITICAL) },
    queueThresholds: { warning: range(ctx, 'queue-warning'), critical: range(ctx, 'queue-critical') },
    backends: ctx.strings('backend'),
    excludeBackends: ctx.strings('exclude-backend'),
    frontends: ctx.strings('frontend'),
    excludeFrontends: ctx.strings('exclude-frontend'),
  };
  const text = await readText(ctx);
  return evaluate(parseStats(text), policy);
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_haproxy',
  prefix: 'HAPROXY',
  description:
    'Checks HAProxy from its stats socket (show info, show stat) or its stats page CSV: per backend the usable ' +
    'servers (UP, UP n/m going down, no check; not DOWN, DOWN n/m, MAINT, DRAIN, NOLB), backup servers apart, ' +
    'queued requests; frontends OPEN and their sessions against the limit.',
  thresholds: {
    subject: 'usable active servers per backend (count, or % with --percent; default per backend: warning N: for N servers, critical 1:)',
  },
  inputFile: true,
  options: [
    { name: 'socket', short: 'S', type: 'string', restricted: 'file', valueName: 'PATH|HOST:PORT', help: "HAProxy stats socket ('stats socket' in haproxy.cfg; level user is enough). Default: /run/haproxy/admin.sock." },
    { name: 'url', short: 'U', type: 'string', valueName: 'URL', help: "Stats page instead of the socket, e.g. http://lb1:8404/stats (';csv' is appended)." },
    { name: 'auth-file', type: 'string', restricted: 'file', valueName: 'PATH', help: "First line 'user:password' for the stats page (else HAPROXY_STATS_USER and HAPROXY_STATS_PASSWORD)." },
    { name: 'ca-file', type: 'string', restricted: 'file', valueName: 'PATH', help: 'CA certificate(s) to verify an https stats page (default: the system CAs).' },
    { name: 'backend', short: 'b', type: 'string', multiple: true, valueName: 'GLOB', help: 'Check only these backends (repeatable; globs * ? [..]); frontends are then left out unless --frontend names some.' },
    { name: 'exclude-backend', type: 'string', multiple: true, valueName: 'GLOB', help: 'Leave these backends out (repeatable).' },
    { name: 'frontend', type: 'string', multiple: true, valueName: 'GLOB', help: 'Check only these frontends (repeatable); backends are then left out unless --backend names some.' },
    { name: 'exclude-frontend', type: 'string', multiple: true, valueName: 'GLOB', help: 'Leave these frontends out (repeatable).' },
    { name: 'percent', type: 'boolean', help: '-w/-c are percentages of each backend\'s servers (defaults then 100: and @~:0).' },
    { name: 'ignore-maint', type: 'boolean', help: 'Servers put in MAINT or DRAIN by an admin are left out of the count instead of counting as unusable.' },
    { name: 'sessions-warning', type: 'string', valueName: 'RANGE', help: `Warning range for sessions in % of the limit (frontend slim, process Maxconn) (default ${DEFAULT_SESSION_WARNING}).` },
    { name: 'sessions-critical', type: 'string', valueName: 'RANGE', help: `Critical range for sessions in % of the limit (default ${DEFAULT_SESSION_CRITICAL}).` },
    { name: 'queue-warning', type: 'string', valueName: 'RANGE', help: 'Warning range for requests queued in a backend (qcur); none by default.' },
    { name: 'queue-critical', type: 'string', valueName: 'RANGE', help: 'Critical range for requests queued in a backend; none by default.' },
  ],
  notes: [
    'Examples:',
    '  check_ha_haproxy -S /run/haproxy/admin.sock',
    '  check_ha_haproxy -U http://127.0.0.1:8404/stats --auth-file /etc/nagios/haproxy-stats.auth -b "be_*"',
    '  check_ha_haproxy -S /run/haproxy/admin.sock -b be_web --percent -w 50: -c 25:',
    'When no active server of a backend is usable but a backup is, the backend is WARNING (served by backups).',
    'HAProxy unreachable (socket missing or refused, page refused or silent) is CRITICAL; refused credentials,',
    'permissions and wrong URLs are UNKNOWN.',
  ].join('\n'),
  run,
};

export default descriptor;
