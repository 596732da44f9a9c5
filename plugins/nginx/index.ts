import { PluginError, type PluginContext, type PluginDescriptor } from '../../nagios/plugin.ts';
import { parseRange, type Range } from '../../nagios/range.ts';
import type { CheckResult } from '../../nagios/result.ts';
import { State } from '../../nagios/states.ts';
import {
  DEFAULT_ERROR_LOG, DEFAULT_PID_FILE, DEFAULT_STATE_DIR, SUDOERS_RULE, fetchText, masterProblem, nginxDump, peersOf, probePeer, readConfigFiles, readLogSince, type ProbeSpec,
} from './collect.ts';
import { DEFAULT_LOG_WARNING, evaluate, type LogNote, type PeerView, type UpstreamView } from './evaluate.ts';
import { parseLog, parseStubStatus, readConfig, splitDump, type LogEvent, type Upstream } from './parse.ts';

/** `200`, `200,301`, `200-399`, `2xx`: the statuses a probe accepts. */
export function parseExpect(text: string): (status: number) => boolean {
  const tests = text.split(',').map((part) => {
    const p = part.trim();
    let m = /^([1-5])xx$/i.exec(p);
    if (m) {
      const d = Number(m[1]);
      return (s: number) => Math.floor(s / 100) === d;
    }
    m = /^(\d{3})(?:-(\d{3}))?$/.exec(p);
    if (m) {
      const lo = Number(m[1]);
      const hi = m[2] ? Number(m[2]) : lo;
      return (s: number) => s >= lo && s <= hi;
    }
    throw new PluginError(`invalid --expect ${text}: give statuses like 200, 200-399, 2xx, separated by commas`);
  });
  return (s) => tests.some((t) => t(s));
}

function range(ctx: PluginContext, name: string, fallback?: string): Range | undefined {
  const v = ctx.string(name) ?? fallback;
  return v === undefined ? undefined : parseRange(v);
}

function probeSpec(ctx: PluginContext, u: Upstream, timeoutMs: number): Omit<ProbeSpec, 'attempts'> & { label: string } {
  const uri = ctx.string('uri');
  const expect = parseExpect(ctx.string('expect') ?? '200-399');
  // As nginx reaches it: stream and fastcgi/uwsgi/grpc upstreams by TCP, proxy_pass https:// with TLS.
  const httpish = u.context === 'http' && (u.schemes.length === 0 || u.schemes.every((s) => s === 'http' || s === 'https'));
  const kind = uri === undefined || !httpish ? 'tcp' : u.schemes.includes('https') && !u.schemes.includes('http') ? 'https' : 'http';
  // proxy_set_header Host defaults to $proxy_host: the upstream's name.
  const hostHeader = ctx.string('host') ?? u.name;
  const label = kind === 'tcp' ? 'TCP connect' : `${kind.toUpperCase()} GET ${uri}`;
  return { kind, uri: uri ?? '/', hostHeader, expect, timeoutMs, label };
}

async function run(ctx: PluginContext): Promise<CheckResult> {
  const input = await ctx.readInput();
  const configPath = ctx.string('config');
  const cfgFiles = input !== undefined ? splitDump(input) : configPath !== undefined ? await readConfigFiles(configPath, ctx.signal) : await nginxDump(ctx, ctx.string('nginx') ?? 'nginx', ctx.flag('sudo'));
  const config = readConfig(cfgFiles);
  const live = input === undefined;

  const probeSeconds = Number(ctx.string('probe-timeout') ?? '2');
  if (!(probeSeconds > 0)) throw new PluginError(`invalid --probe-timeout ${ctx.string('probe-timeout')}: give seconds above 0`);
  const timeoutMs = Math.min(probeSeconds * 1000, ctx.remainingMs());

  // Every server of every upstream probed at once: the check takes as long as the slowest one.
  const views: Promise<UpstreamView>[] = config.upstreams.map(async (u) => {
    const spec = probeSpec(ctx, u, timeoutMs);
    const peers = await Promise.all(
      u.servers.map(async (s) => {
        const targets = await peersOf(s);
        return Promise.all(
          targets.map(async (t): Promise<PeerView> => {
            if (s.down) return { server: s, peer: t.peer };
            const r = await probePeer(t, { ...spec, attempts: Math.min(3, Math.max(1, s.maxFails)) }, ctx.signal);
            return { server: s, peer: t.peer, ok: r.ok, detail: r.detail, ms: r.ms };
          }),
        );
      }),
    );
    return { upstream: u, probe: spec.label, peers: peers.flat() };
  });

  const logNotes: LogNote[] = [];
  let events: LogEvent[] | undefined;
  const logs = ctx.strings('error-log');
  if (!ctx.flag('no-error-log') && (live || logs.length > 0)) {
    const paths = logs.length > 0 ? logs : config.errorLogs.length > 0 ? config.errorLogs : [DEFAULT_ERROR_LOG];
    const stateDir = ctx.string('state-dir') ?? DEFAULT_STATE_DIR;
    events = [];
    for (const path of paths) {
      try {
        const r = await readLogSince(path, stateDir, ctx.signal);
        events.push(...parseLog(r.text));
        if (r.firstRun) logNotes.push({ state: State.OK, text: `${path}: first run, errors are counted from now on` });
        if (r.rotated) logNotes.push({ state: r.lostRest ? State.WARNING : State.OK, text: `${path} was rotated since the last run${r.lostRest ? `: the rest of the old file is lost, ${r.lostRest}` : ', the rest of the old file was read'}` });
        if (r.skippedBytes > 0) logNotes.push({ state: State.WARNING, text: `${path}: ${r.skippedBytes} bytes written since the last run were skipped, only the last part was read` });
        if (r.stateError) logNotes.push({ state: State.UNKNOWN, text: r.stateError });
      } catch (e) {
        if (!(e instanceof PluginError)) throw e;
        logNotes.push({ state: State.UNKNOWN, text: `${e.message}, or pass --no-error-log` });
      }
    }
  }

  let master: string | undefined;
  if (live && !ctx.flag('no-process-check')) master = (await masterProblem(ctx.string('pid-file') ?? config.pidFile ?? DEFAULT_PID_FILE, ctx.signal)) ?? '';
  const stubUrl = ctx.string('stub-status');
  const stub = stubUrl !== undefined ? parseStubStatus(await fetchText(stubUrl, Math.min(timeoutMs, ctx.remainingMs()), ctx.signal)) : undefined;

  return evaluate(
    { upstreams: await Promise.all(views), events, logNotes, stub, master, now: Date.now() / 1000 },
    {
      serverThresholds: ctx.thresholds,
      logThresholds: { warning: range(ctx, 'log-warning', DEFAULT_LOG_WARNING), critical: range(ctx, 'log-critical') },
      upstreams: ctx.strings('upstream'),
      excludeUpstreams: ctx.strings('exclude-upstream'),
    },
  );
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_nginx',
  prefix: 'NGINX',
  description:
    'Checks an nginx load balancer: the upstream groups and their servers from nginx -T (or --config), each server ' +
    'probed from this node as nginx reaches it (TCP connect, or HTTP with --uri), backup and down servers and ' +
    'max_fails/fail_timeout respected; the error log since the last run (no live upstreams, temporarily disabled, ' +
    'connect errors per upstream); the master process; stub_status connections with --stub-status.',
  thresholds: { subject: 'usable active servers per upstream (default per upstream: warning N: for N servers, critical 1:)' },
  inputFile: true,
  options: [
    { name: 'nginx', type: 'string', restricted: 'program', valueName: 'PATH', help: 'The nginx program run with -T (default: nginx, from PATH or /usr/sbin).' },
    { name: 'sudo', type: 'boolean', help: `Run nginx -T through sudo -n (sudoers: ${SUDOERS_RULE}).` },
    { name: 'config', type: 'string', restricted: 'file', valueName: 'FILE', help: 'Read this configuration file and its includes instead of running nginx -T (needs read access to them).' },
    { name: 'uri', short: 'u', type: 'string', valueName: 'URI', help: 'Probe HTTP upstreams with GET URI (Host: the upstream name, as nginx sends by default) instead of a TCP connect.' },
    { name: 'expect', short: 'e', type: 'string', valueName: 'STATUSES', help: 'HTTP statuses a probe accepts: 200, 200-399, 2xx, comma separated (default 200-399).' },
    { name: 'host', type: 'string', valueName: 'NAME', help: 'Host header of the HTTP probes (default: the upstream name).' },
    { name: 'probe-timeout', type: 'string', valueName: 'SECONDS', help: 'Time each probe attempt may take (default 2).' },
    { name: 'upstream', short: 'U', type: 'string', multiple: true, valueName: 'GLOB', help: 'Check only these upstreams (repeatable; globs).' },
    { name: 'exclude-upstream', type: 'string', multiple: true, valueName: 'GLOB', help: 'Leave these upstreams out (repeatable).' },
    { name: 'error-log', type: 'string', multiple: true, restricted: 'file', valueName: 'FILE', help: `Error log(s) to read (default: the error_log files of the configuration, else ${DEFAULT_ERROR_LOG}).` },
    { name: 'no-error-log', type: 'boolean', help: 'Do not read the error log.' },
    { name: 'state-dir', type: 'string', restricted: 'file', valueName: 'DIR', help: `Where the error log read position is kept between runs (default ${DEFAULT_STATE_DIR}).` },
    { name: 'log-warning', type: 'string', valueName: 'RANGE', help: `Warning range for connect errors plus temporarily disabled lines per upstream since the last run (default ${DEFAULT_LOG_WARNING}, i.e. any).` },
    { name: 'log-critical', type: 'string', valueName: 'RANGE', help: 'Critical range for the same (none by default; no live upstreams is always CRITICAL).' },
    { name: 'stub-status', type: 'string', valueName: 'URL', help: 'stub_status page for connection perfdata, e.g. http://127.0.0.1/nginx_status.' },
    { name: 'pid-file', type: 'string', restricted: 'file', valueName: 'FILE', help: `Pid file of the master process (default: pid of the configuration, else ${DEFAULT_PID_FILE}).` },
    { name: 'no-process-check', type: 'boolean', help: 'Do not check that the nginx master process runs.' },
  ],
  notes: [
    'Examples:',
    '  check_ha_nginx --sudo',
    '  check_ha_nginx --sudo -u /health -e 200 -U app_backend --stub-status http://127.0.0.1/nginx_status',
    '  check_ha_nginx --config /etc/nginx/nginx.conf --no-error-log',
    'With --input-file (a saved nginx -T output) the servers are still probed; the error log is read only when',
    '--error-log names it and the master process is not checked.',
  ].join('\n'),
  run,
};

export default descriptor;
