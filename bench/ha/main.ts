/**
 * HA benchmark (issue 14): the inventory of bench:scheduler (N services every INTERVAL
 * seconds against one NRPE agent on loopback) on hawatch-server instances sharing one
 * PostgreSQL, against the same inventory on one server with SQLite, then a kill -9 failover.
 *
 * Phases (one run, one agent, one inventory):
 *   sqlite    one server, SQLite file database (the embedded default): the baseline for
 *             CPU per check.
 *   pg        1, 2, 3 instances on one PostgreSQL (started here: initdb as the postgres user
 *             in a temp dir on a free port, durable settings), added one at a time to the
 *             running cluster (the shards rebalance): per instance checks, CPU % and CPU ms
 *             per check; PostgreSQL's process tree likewise.
 *   failover  on the last cluster: part of the services switched to CRITICAL (their
 *             notifications go to an SMTP sink run here), half an interval later kill -9 of
 *             the instance holding the most shards; measured: kill to the first check of a
 *             service of its shards on another instance, checks missed (a gap above
 *             interval + lease + slack), notifications lost and duplicated.
 * Latency per check = lastCheck minus the nextCheck read before it, polled one host at a
 * time (GET /api/v1/services?host=) from the instance that owns the host's shard.
 *
 * Usage: npm run bench:ha -- [--services 10000] [--hosts 100] [--interval 60] [--warmup 20]
 *          [--window 180] [--instances 1,2,3] [--shards 64] [--lease 10] [--flip 100]
 *          [--phases sqlite,pg,failover] [--concurrency 64] [--target auto|agent|nrpe]
 *          [--check inproc|spawn] [--server-node-args='--cpu-prof --cpu-prof-dir=DIR']
 *          [--rounds 1] [--json FILE] [--keep]
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { shardOf } from '../../server/ha/leases.ts';
import { createPrimary, SUPERUSER_PASSWORD, type PgServer } from '../../test/plugins/pgsql/pgcluster.ts';
import { startSmtpSink, type SmtpSink } from '../../test/support/smtp.ts';
import { MachineMeter, TreeMeter } from '../scheduler/proc.ts';
import { freePort, killAllStarted, log, metric, PLUGINS, sleep, startAgent, startDetached, summarize, waitForPort, type Agent, type LatencySummary, type ServiceView, type Started } from '../scheduler/run.ts';
import { analyseMails, firstCheckAfter, missedChecks, serviceSubjects, Timeline, type Gap, type Mail, type MailReport } from './analysis.ts';

// Bundled to dist/bench/ha.cjs: the repository is two levels up.
const root = resolve(__dirname, '..', '..');
const { values: argv } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    hosts: { type: 'string', default: '100' },
    interval: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '20' },
    window: { type: 'string', default: '180' },
    instances: { type: 'string', default: '1,2,3' },
    shards: { type: 'string', default: '64' },
    lease: { type: 'string', default: '10' },
    flip: { type: 'string' },
    phases: { type: 'string', default: 'sqlite,pg,failover' },
    concurrency: { type: 'string', default: '64' },
    target: { type: 'string', default: 'auto' },
    check: { type: 'string', default: 'inproc' },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'server-node-args': { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
  strict: true,
});
const N = Number(argv.services);
const HOSTS = Math.min(Number(argv.hosts), N);
const INTERVAL_S = Number(argv.interval);
const WARMUP_S = Number(argv.warmup);
const WINDOW_S = Number(argv.window);
const COUNTS = argv.instances!.split(',').map(Number).filter((n) => n >= 1);
const SHARDS = Number(argv.shards);
const LEASE_S = Number(argv.lease);
/** Services switched to CRITICAL for the failover: one per host by default (so the killed instance has some), at least 1 %. */
const FLIP = Math.max(1, Math.min(N, argv.flip ? Number(argv.flip) : Math.max(HOSTS, Math.round(N / 100))));
const FLIP_STEP = Math.max(1, Math.floor(N / FLIP));
/** The j-th switched service is j * step + (j mod hosts): a different host each (service i is on host i mod hosts). */
const FLIP_SET = new Set(Array.from({ length: FLIP }, (_, j) => Math.min(N - 1, j * FLIP_STEP + (j % HOSTS))));
const RETRY_S = Math.max(2, Math.min(10, Math.round(INTERVAL_S / 6)));
const PHASES = new Set(argv.phases!.split(',').map((s) => s.trim()));
/**
 * Rounds of the steady phases (SQLite, then PostgreSQL with each instance count), run
 * alternately: round r runs `sqlite` then `pg` or `pg` then `sqlite` (the last round always
 * ends with `pg`, whose cluster the failover uses), so a drift of the machine over the run
 * falls on both sides. With several rounds the CPU goal is judged on the median over the
 * rounds of the ratio busiest instance / SQLite server of the same round.
 */
const ROUNDS = Number(argv.rounds);
const CONCURRENCY = Number(argv.concurrency);
/** Beyond interval + lease: a check's own time, the scheduler's spread and the take-over's reads. */
const SLACK_S = 5;
const TARGET_RATE = N / INTERVAL_S;
/** Every host's services are read once per cycle: each 60 s check seen once, no request for all. */
const CYCLE_MS = Math.min(30_000, (INTERVAL_S * 1000) / 2);

const SERVER_BIN = join(root, 'dist', 'bin', 'hawatch-server.cjs');
/** Node options for the servers only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (written when a server stops cleanly). */
const SERVER_NODE_ARGS = argv['server-node-args'] ? argv['server-node-args'].split(' ').filter(Boolean) : [];
/**
 * What the agent runs per check. `inproc` (default): hawatch's check_ha_load in the agent's
 * process (no fork); `spawn`: monitoring-plugins' check_dummy, a fork and exec per check as
 * bench:scheduler does. Measured on this 2-core machine (2026-11-29, /work/agentcost): the
 * agent spends 25 ms of CPU per request with a spawned check_dummy (own 15 ms, of which a
 * bare Node spawn is about 8 ms, plus 10 ms in the child) against 2.5 ms in-process, so
 * 166.7 checks/s spawned would need 4 cores for the agent alone: the one agent, not the
 * servers under test, set the pace of every phase. The servers' work is the same either way.
 */
const BENCH_CHECK = argv.check === 'spawn' ? `${PLUGINS}/check_dummy 0 "bench OK"` : argv.check === 'inproc' ? `${PLUGINS}/check_ha_load -w 1000,1000,1000 -c 2000,2000,2000` : (() => {
  throw new Error(`--check is inproc or spawn, not ${argv.check}`);
})();
const AGENT_BIN = join(root, 'dist', 'bin', 'hawatch-agent.cjs');
const hostName = (h: number): string => `node${String(h).padStart(3, '0')}`;
const serviceName = (i: number): string => `svc${String(i).padStart(5, '0')}`;
const isFlip = (i: number): boolean => FLIP_SET.has(i);
const HOST_NAMES = Array.from({ length: HOSTS }, (_, h) => hostName(h));
const FLIP_KEYS = Array.from({ length: N }, (_, i) => i).filter(isFlip).map((i) => `${hostName(i % HOSTS)}/${serviceName(i)}`);

// ---------------------------------------------------------------------------------------
// Inventory

function inventoryYaml(o: { database: string; ha: boolean; agentPort: number; smtpPort: number; flipScript: string }): string {
  const lines = [
    '# Generated by bench/ha: the inventory of bench:scheduler, with some services that can be switched to CRITICAL.',
    'server:',
    `  database: ${JSON.stringify(o.database)}`,
    `  max_concurrent_checks: ${CONCURRENCY}`,
    ...(o.ha ? [`  ha: { shards: ${SHARDS}, lease: ${LEASE_S}s, contacts: [admin] }`] : []),
    'defaults:',
    `  check_interval: ${INTERVAL_S}s`,
    `  retry_interval: ${INTERVAL_S}s`,
    '  max_check_attempts: 3',
    '  notification_interval: 0',
    '  timeout: 30s',
    'notifications:',
    `  email: { smtp: { host: 127.0.0.1, port: ${o.smtpPort}, security: none, timeout: 5s }, from: hawatch@bench.invalid }`,
    // One mail per notification, so each is counted on its own.
    '  group_window: 0s',
    '  group_threshold: 10000',
    '  retry: { initial: 1s, max: 5s }',
    'contacts:',
    '  ops: { email: ops@bench.invalid }',
    '  admin: { email: admin@bench.invalid }',
    'hosts:',
  ];
  for (let h = 0; h < HOSTS; h++) lines.push(`  ${hostName(h)}:`, '    address: 127.0.0.1', '    nrpe:', `      port: ${o.agentPort}`);
  lines.push('services:');
  for (let i = 0; i < N; i++) {
    const head = `  - { name: ${serviceName(i)}, host: ${hostName(i % HOSTS)}`;
    lines.push(isFlip(i) ? `${head}, command: check_bench_flip, max_check_attempts: 2, retry_interval: ${RETRY_S}s, contacts: [ops] }` : `${head}, command: check_bench }`);
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------
// Servers

interface Instance {
  readonly name: string;
  readonly started: Started;
  readonly url: string;
  readonly meter: TreeMeter;
  id: string;
  owned: number[];
  alive: boolean;
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

async function getText(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return r.text();
}

async function startServer(name: string, inventory: string, base: string): Promise<Instance> {
  const port = await freePort();
  const logFile = join(base, `${name}.log`);
  const started = startDetached(process.execPath, [...SERVER_NODE_ARGS, SERVER_BIN, '--config', inventory, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], logFile, { ...process.env, PGPASSWORD: SUPERUSER_PASSWORD });
  const url = `http://127.0.0.1:${port}`;
  await waitForPort(port, 120_000);
  const until = Date.now() + 120_000;
  for (;;) {
    if (started.child.exitCode !== null) throw new Error(`${name} exited (${started.child.exitCode}): see ${logFile}`);
    try {
      if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) })).ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) throw new Error(`${name} is not healthy after 120 s: see ${logFile}`);
    await sleep(500);
  }
  return { name, started, url, meter: new TreeMeter(started.child.pid!), id: name, owned: [], alive: true };
}

interface HaView {
  instance: string;
  owned: number[];
  instances: { id: string; alive: boolean; shards: number }[];
}

/** Each live instance's own shards (GET /api/v1/ha); an instance that does not answer keeps its last list. */
async function refreshOwners(list: readonly Instance[]): Promise<void> {
  await Promise.all(
    list.filter((i) => i.alive).map(async (i) => {
      try {
        const v = await getJson<HaView>(`${i.url}/api/v1/ha`);
        i.id = v.instance;
        i.owned = v.owned;
      } catch {
        /* keeps the last view */
      }
    }),
  );
}

/** Polls every host's services once per cycle from the owner of its shard (any live instance otherwise). */
class Poller {
  readonly timeline = new Timeline();
  readonly states = new Map<string, { state: number; stateType: string }>();
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly servers: () => readonly Instance[];
  constructor(servers: () => readonly Instance[]) {
    this.servers = servers;
  }

  private urlFor(host: string): string | null {
    const live = this.servers().filter((i) => i.alive);
    if (live.length === 0) return null;
    const shard = shardOf(host, SHARDS);
    return (live.find((i) => i.owned.includes(shard)) ?? live[0]!).url;
  }

  start(): void {
    this.loop = (async () => {
      const t0 = Date.now();
      const perHost = CYCLE_MS / HOSTS;
      for (let n = 0; !this.stopped; n++) {
        const wait = t0 + n * perHost - Date.now();
        if (wait > 0) await sleep(wait);
        const host = HOST_NAMES[n % HOSTS]!;
        const url = this.urlFor(host);
        if (!url) continue;
        try {
          const body = await getJson<ServiceView[] | { items?: ServiceView[]; services?: ServiceView[] }>(`${url}/api/v1/services?host=${host}`);
          const list = Array.isArray(body) ? body : (body.items ?? body.services ?? []);
          for (const s of list as (ServiceView & { stateType: string })[]) {
            this.timeline.record(s.key, s.checked ? s.lastCheck : null, s.nextCheck);
            if (s.checked) this.states.set(s.key, { state: s.state, stateType: s.stateType });
          }
        } catch {
          /* a killed instance or a slow answer: the next cycle reads the host again */
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

// ---------------------------------------------------------------------------------------
// Measurement

interface ProcessFigures {
  readonly process: string;
  readonly checks: number;
  readonly cpuPercent: number;
  /** CPU time per check it ran (PostgreSQL: per check of all instances). */
  readonly cpuMsPerCheck: number;
  readonly rssMB: number;
}

interface PhaseResult {
  readonly phase: string;
  /** 1-based round (--rounds). */
  readonly round: number;
  readonly instances: number;
  readonly windowS: number;
  readonly checksPerSecond: number;
  readonly targetPerSecond: number;
  latencyMs: LatencySummary;
  readonly processes: ProcessFigures[];
  readonly agentCpuPercent: number;
  readonly machineBusyPercent: number;
  readonly loadAverage: number;
  /** Filled in at the end from the timeline (checks of the window's tail are polled later). */
  readonly latencyRange: { from: number; to: number; timeline: Timeline };
}

async function executed(i: Instance): Promise<number> {
  return metric(await getText(`${i.url}/metrics`), 'hawatch_checks_executed_total');
}

/** One window of WINDOW_S from `from`: per instance checks and CPU, PostgreSQL's CPU. */
async function measureWindow(phase: string, round: number, list: readonly Instance[], pg: TreeMeter | null, agent: Agent, from: number, timeline: Timeline): Promise<PhaseResult> {
  const live = list.filter((i) => i.alive);
  if (from > Date.now()) await sleep(from - Date.now());
  const machine = new MachineMeter();
  const start = await Promise.all(live.map(executed));
  const t0 = Date.now();
  for (const i of live) i.meter.begin();
  pg?.begin();
  agent.meter.begin();
  machine.begin();
  while (Date.now() < t0 + WINDOW_S * 1000) {
    await sleep(Math.min(5000, t0 + WINDOW_S * 1000 - Date.now()));
    for (const i of live) i.meter.sample();
    pg?.sample();
  }
  const windowS = (Date.now() - t0) / 1000;
  const usage = live.map((i) => i.meter.end());
  const pgUsage = pg?.end();
  const agentUsage = agent.meter.end();
  const busy = machine.end();
  const end = await Promise.all(live.map(executed));
  const checks = live.map((_, k) => end[k]! - start[k]!);
  const total = checks.reduce((a, b) => a + b, 0);
  const processes: ProcessFigures[] = live.map((i, k) => ({
    process: i.name === 'sqlite' ? 'server (SQLite)' : `instance ${i.name} (${i.owned.length} shards)`,
    checks: checks[k]!,
    cpuPercent: (usage[k]!.cpuSeconds / windowS) * 100,
    cpuMsPerCheck: (usage[k]!.cpuSeconds * 1000) / Math.max(1, checks[k]!),
    rssMB: usage[k]!.rssBytes / 2 ** 20,
  }));
  if (pgUsage) processes.push({ process: 'postgresql (all backends)', checks: total, cpuPercent: (pgUsage.cpuSeconds / windowS) * 100, cpuMsPerCheck: (pgUsage.cpuSeconds * 1000) / Math.max(1, total), rssMB: pgUsage.rssBytes / 2 ** 20 });
  return {
    phase,
    round,
    instances: live.length,
    windowS,
    checksPerSecond: total / windowS,
    targetPerSecond: TARGET_RATE,
    latencyMs: summarize([]),
    processes,
    agentCpuPercent: (agentUsage.cpuSeconds / windowS) * 100,
    machineBusyPercent: busy,
    loadAverage: loadavg()[0]!,
    latencyRange: { from: t0, to: t0 + windowS * 1000, timeline },
  };
}

async function waitUntil(what: string, ms: number, test: () => boolean | Promise<boolean>): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await test()) return true;
    await sleep(1000);
  }
  log(`${what}: not reached within ${Math.round(ms / 1000)} s`);
  return false;
}

// ---------------------------------------------------------------------------------------
// Failover

interface FailoverResult {
  readonly victim: string;
  readonly movedShards: number;
  readonly movedServices: number;
  /** Kill to the first check of a service of the victim's shards on another instance. */
  readonly failoverS: number | null;
  /** Kill to the first check of the last of those services. */
  readonly allMovedCheckedS: number | null;
  readonly maxGapAllowedS: number;
  readonly missed: Gap[];
  readonly missedServices: number;
  readonly flipped: number;
  readonly mails: MailReport;
  readonly instanceMails: { problems: number; duplicated: string[] };
}

function splitMails(mails: readonly (Mail & { to: string })[]): { service: Mail[]; instance: Mail[] } {
  return { service: mails.filter((m) => !m.subject.includes('hawatch/instances')), instance: mails.filter((m) => m.subject.includes('hawatch/instances')) };
}

async function failover(cluster: Instance[], poller: Poller, flipFile: string, mails: readonly (Mail & { to: string })[]): Promise<FailoverResult> {
  const flipped = FLIP_KEYS.length;
  const settle = (INTERVAL_S * 3 + LEASE_S + 60) * 1000;
  log(`failover: ${flipped} services switched to CRITICAL (HARD after 2 results, retry ${RETRY_S} s); kill -9 in ${INTERVAL_S / 2} s`);
  writeFileSync(flipFile, '2');
  await sleep((INTERVAL_S * 1000) / 2);
  await refreshOwners(cluster);
  const victim = cluster.filter((i) => i.alive).sort((a, b) => b.owned.length - a.owned.length)[0]!;
  const victimShards = new Set(victim.owned);
  const movedKeys: string[] = [];
  for (let i = 0; i < N; i++) if (victimShards.has(shardOf(hostName(i % HOSTS), SHARDS))) movedKeys.push(`${hostName(i % HOSTS)}/${serviceName(i)}`);
  const inFlight = FLIP_KEYS.filter((k) => victimShards.has(shardOf(k.split('/')[0]!, SHARDS)));
  const hardBefore = inFlight.filter((k) => poller.states.get(k)?.stateType === 'HARD' && poller.states.get(k)?.state === 2).length;
  const killedAt = Date.now();
  process.kill(-victim.started.child.pid!, 'SIGKILL');
  victim.alive = false;
  log(`failover: kill -9 of instance ${victim.name} (${victim.id}, ${victimShards.size} shards, ${movedKeys.length} services, ${inFlight.length} of them switched to CRITICAL, ${hardBefore} already HARD as last seen)`);
  const refresher = setInterval(() => void refreshOwners(cluster), 2000);
  try {
    await waitUntil('a moved service checked on another instance', settle, () => firstCheckAfter(poller.timeline, movedKeys, killedAt) !== null);
    const subjects = FLIP_KEYS.map((k) => serviceSubjects(k));
    const got = (s: string): boolean => mails.some((m) => m.subject === s || m.subject === `[possible duplicate] ${s}`);
    const problems = await waitUntil('every switched service HARD CRITICAL and notified', settle, () => subjects.every((s) => got(s.problem)));
    log(`failover: ${problems ? 'every PROBLEM received' : 'PROBLEMs missing'}; switching the services back to OK`);
    writeFileSync(flipFile, '0');
    await waitUntil('every RECOVERY received', settle, () => subjects.every((s) => got(s.recovery)));
    // Long enough after the kill for a missed check to show as a gap, plus one poll cycle.
    const maxGapMs = (INTERVAL_S + LEASE_S + SLACK_S) * 1000;
    const readyAt = killedAt + maxGapMs + CYCLE_MS + 5000;
    if (readyAt > Date.now()) await sleep(readyAt - Date.now());
    await sleep(3000); // late copies
    const end = Date.now() - CYCLE_MS;
    const allKeys = poller.timeline.keys().filter((k) => !k.startsWith('hawatch/') && k.includes('/'));
    // A gap may hide checks the 30 s poll could not see (a SOFT result and its retry 10 s
    // later show as one lastCheck): the server's history has a STATE event at each state
    // change, i.e. at a check; those are added and the gaps judged again.
    const seen = missedChecks(poller.timeline, allKeys, killedAt, end, maxGapMs);
    const reader = cluster.find((i) => i.alive);
    for (const key of new Set(seen.map((g) => g.key))) {
      if (!reader) break;
      const h = await getJson<{ events: { at: number; type: string }[] }>(`${reader.url}/api/v1/history?key=${encodeURIComponent(key)}&limit=100`).catch(() => ({ events: [] }));
      poller.timeline.addChecks(key, h.events.filter((e) => e.type === 'STATE').map((e) => e.at));
    }
    const missed = missedChecks(poller.timeline, allKeys, killedAt, end, maxGapMs);
    if (seen.length !== missed.length) log(`failover: ${seen.length - missed.length} of ${seen.length} gaps seen by the poll had checks between them in the servers' history (state changes)`);
    const first = firstCheckAfter(poller.timeline, movedKeys, killedAt);
    const lastFirst = Math.max(...movedKeys.map((k) => poller.timeline.checkTimes(k).find((t) => t > killedAt) ?? Infinity));
    const split = splitMails(mails);
    const expected = FLIP_KEYS.flatMap((k) => [serviceSubjects(k).problem, serviceSubjects(k).recovery]);
    const inst = analyseMails(split.instance, []);
    return {
      victim: `${victim.name} (${victim.id})`,
      movedShards: victimShards.size,
      movedServices: movedKeys.length,
      failoverS: first ? (first.at - killedAt) / 1000 : null,
      allMovedCheckedS: Number.isFinite(lastFirst) ? (lastFirst - killedAt) / 1000 : null,
      maxGapAllowedS: maxGapMs / 1000,
      missed,
      missedServices: new Set(missed.map((g) => g.key)).size,
      flipped,
      mails: analyseMails(split.service, expected),
      instanceMails: { problems: split.instance.filter((m) => m.subject.startsWith('** PROBLEM')).length, duplicated: inst.duplicated },
    };
  } finally {
    clearInterval(refresher);
  }
}

// ---------------------------------------------------------------------------------------
// Output

const f = (n: number | null | undefined, d = 1): string => (n !== null && n !== undefined && Number.isFinite(n) ? n.toFixed(d) : 'n/a');

function renderTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

function phaseTable(results: readonly PhaseResult[]): string {
  const rows: string[][] = [];
  for (const r of results) {
    rows.push([ROUNDS > 1 ? `${r.phase} #${r.round}` : r.phase, 'all', `${f(r.checksPerSecond)} / ${f(r.targetPerSecond)}`, f(r.latencyMs.p50), f(r.latencyMs.p99), f(r.latencyMs.max), '', '', '', `${f(r.agentCpuPercent, 0)}`, `${f(r.machineBusyPercent, 0)} / ${f(r.loadAverage, 1)}`]);
    for (const p of r.processes) rows.push(['', p.process, f(p.checks / r.windowS), '', '', '', f(p.cpuPercent, 0), f(p.cpuMsPerCheck, 2), f(p.rssMB, 0), '', '']);
  }
  return renderTable(['phase', 'process', 'checks/s (achieved / planned)', 'p50 ms', 'p99 ms', 'max ms', 'CPU %', 'CPU ms/check', 'RSS MB', 'agent CPU %', 'machine busy % / load'], rows);
}

const median = (xs: readonly number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? (v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2) : NaN;
};
const busiest = (r: PhaseResult): number => Math.max(...r.processes.filter((p) => p.process.startsWith('instance')).map((p) => p.cpuMsPerCheck));
const sqliteOf = (results: readonly PhaseResult[], r: PhaseResult): PhaseResult | undefined => results.find((b) => b.phase.startsWith('sqlite') && b.round === r.round) ?? results.find((b) => b.phase.startsWith('sqlite'));

/**
 * Per instance count over the rounds: the SQLite server's and the busiest instance's CPU ms
 * per check, and the ratio of the two within each round (paired: the same stretch of the
 * machine's time), as medians with their range.
 */
interface RoundSummary {
  readonly instances: number;
  readonly rounds: number;
  readonly sqliteMs: number;
  readonly busiestMs: number;
  readonly ratioMedian: number;
  readonly ratioMin: number;
  readonly ratioMax: number;
  readonly checksPerSecond: number;
}

function roundSummaries(results: readonly PhaseResult[]): RoundSummary[] {
  const pg = results.filter((r) => r.phase.startsWith('postgresql'));
  const out: RoundSummary[] = [];
  for (const k of [...new Set(pg.map((r) => r.instances))].sort((a, b) => a - b)) {
    const rs = pg.filter((r) => r.instances === k);
    const pairs = rs.flatMap((r) => {
      const b = results.find((x) => x.phase.startsWith('sqlite') && x.round === r.round);
      return b ? [{ r, b }] : [];
    });
    const ratios = pairs.map(({ r, b }) => busiest(r) / b.processes[0]!.cpuMsPerCheck);
    out.push({
      instances: k,
      rounds: rs.length,
      sqliteMs: median(pairs.map(({ b }) => b.processes[0]!.cpuMsPerCheck)),
      busiestMs: median(rs.map(busiest)),
      ratioMedian: median(ratios),
      ratioMin: ratios.length ? Math.min(...ratios) : NaN,
      ratioMax: ratios.length ? Math.max(...ratios) : NaN,
      checksPerSecond: median(rs.map((r) => r.checksPerSecond)),
    });
  }
  return out;
}

function roundsTable(results: readonly PhaseResult[]): string[] {
  if (ROUNDS <= 1) return [];
  const rows = roundSummaries(results).map((s) => [String(s.instances), String(s.rounds), f(s.sqliteMs, 2), f(s.busiestMs, 2), `${f(s.ratioMedian, 2)}x`, `${f(s.ratioMin, 2)}x to ${f(s.ratioMax, 2)}x`, f(s.checksPerSecond)]);
  return ['', `Over ${ROUNDS} rounds (SQLite and PostgreSQL phases alternately; medians):`, renderTable(['instances', 'rounds', 'SQLite ms/check', 'busiest instance ms/check', 'busiest / SQLite, same round', 'range', 'checks/s'], rows)];
}

/** The issue's goals for the steady phases: CPU per check per instance, throughput as instances are added. */
function goalLines(results: readonly PhaseResult[]): string[] {
  const base = results.find((r) => r.phase.startsWith('sqlite'));
  const pg = results.filter((r) => r.phase.startsWith('postgresql'));
  if (!pg.length) return [];
  const out: string[] = [];
  if (ROUNDS > 1 && base) {
    const sums = roundSummaries(results);
    const worst = Math.max(...sums.map((s) => s.ratioMedian));
    out.push(`CPU per check per instance not above the SQLite server (median over ${ROUNDS} rounds of busiest / SQLite in the same round): ${worst <= 1 ? 'met' : 'NOT met'} (${sums.map((s) => `${s.instances}: ${f(s.ratioMedian, 2)}x`).join(', ')})`);
    const tp = sums.map((s) => s.checksPerSecond);
    const falls = tp.some((v, k) => k > 0 && v < Math.min(tp[k - 1]!, TARGET_RATE) * 0.99);
    out.push(`throughput does not fall as instances are added: ${falls ? 'NOT met' : 'met'} (medians ${sums.map((s) => `${s.instances}: ${f(s.checksPerSecond)}`).join(', ')} checks/s)`);
    return [`  goals: ${out.join('; ')}`];
  }
  if (base) {
    const worst = Math.max(...pg.map(busiest));
    out.push(`CPU per check per instance not above the SQLite server: ${worst <= base.processes[0]!.cpuMsPerCheck ? 'met' : 'NOT met'} (worst ${f(worst, 2)} ms, SQLite ${f(base.processes[0]!.cpuMsPerCheck, 2)} ms)`);
  }
  // Achieved against planned: 1 % below plan is the window's edge effects, not a fall.
  const falls = pg.some((r, k) => k > 0 && r.checksPerSecond < Math.min(pg[k - 1]!.checksPerSecond, r.targetPerSecond) * 0.99);
  out.push(`throughput does not fall as instances are added: ${falls ? 'NOT met' : 'met'} (${pg.map((r) => `${r.instances}: ${f(r.checksPerSecond)}`).join(', ')} checks/s)`);
  return [`  goals: ${out.join('; ')}`];
}

function ratioLines(results: readonly PhaseResult[]): string[] {
  return results
    .filter((r) => r.phase.startsWith('postgresql'))
    .flatMap((r) => {
      const base = sqliteOf(results, r);
      if (!base) return [];
      const baseMs = base.processes[0]!.cpuMsPerCheck;
      const inst = r.processes.filter((p) => p.process.startsWith('instance'));
      const pg = r.processes.find((p) => p.process.startsWith('postgresql'));
      const all = (inst.reduce((a, p) => a + p.cpuPercent, 0) + (pg?.cpuPercent ?? 0)) / 100 * r.windowS * 1000 / Math.max(1, r.checksPerSecond * r.windowS);
      return [`  ${r.phase}${ROUNDS > 1 ? ` #${r.round}` : ''} vs SQLite${ROUNDS > 1 ? ` #${base.round}` : ''}: checks/s ${f(r.checksPerSecond / base.checksPerSecond, 2)}x, p99 ${f(r.latencyMs.p99 / base.latencyMs.p99, 2)}x, CPU per check of the busiest instance ${f(busiest(r) / baseMs, 2)}x, of instances plus PostgreSQL ${f(all / baseMs, 2)}x (below 1 = lower than SQLite)`];
    });
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the agent drops to the nagios user and PostgreSQL runs as the postgres user');
  if (!COUNTS.length || ![N, HOSTS, INTERVAL_S, WINDOW_S, SHARDS, LEASE_S, ROUNDS].every((n) => Number.isFinite(n) && n > 0) || !Number.isInteger(ROUNDS)) throw new Error('--services, --hosts, --interval, --window, --shards, --lease, --rounds must be positive numbers and --instances a list like 1,2,3');
  const base = mkdtempSync(join(tmpdir(), 'hawatch-bench-ha-'));
  chmodSync(base, 0o755);
  const cluster: Instance[] = [];
  let pgs: PgServer | null = null;
  let smtp: SmtpSink | null = null;
  let poller = null as Poller | null;
  const emergency = (): void => {
    killAllStarted();
    pgs?.cleanup();
    if (!argv.keep) for (const d of [base, pgs?.dir]) if (d) rmSync(d, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      log(`${sig}: stopping everything this run started`);
      emergency();
      process.exit(130);
    });
  }
  log(`${N} services on ${HOSTS} hosts every ${INTERVAL_S} s (${TARGET_RATE.toFixed(1)} checks/s planned); ${FLIP} of them can be switched to CRITICAL; window ${WINDOW_S} s; ${SHARDS} shards, lease ${LEASE_S} s; work dir ${base}`);
  const flipFile = join(base, 'flip.state');
  writeFileSync(flipFile, '0', { mode: 0o644 });
  const flipScript = join(base, 'flip.sh');
  writeFileSync(flipScript, `#!/bin/sh\ns=$(cat ${flipFile})\necho "bench flip state $s"\nexit "$s"\n`, { mode: 0o755 });
  const agent = await startAgent(base, { target: argv.target!, agentBin: AGENT_BIN, commands: { check_bench: BENCH_CHECK, check_bench_flip: `/bin/sh ${flipScript}` },
    // Every instance connects from 127.0.0.1 (on real hosts each has its own address): the
    // agent's per-source limit (64) must hold all instances' concurrent checks, or a take-over's
    // burst is refused (seen: an UNKNOWN in a failover run).
    agentExtra: { hawatch_max_connections_per_host: String(Math.max(64, CONCURRENCY * Math.max(...COUNTS, 1) + 16)) } });
  log(`agent: ${agent.kind} on 127.0.0.1:${agent.port}`);
  if (agent.kind !== 'hawatch-agent' && argv.check !== 'spawn') throw new Error('--check inproc needs hawatch-agent (stock nrpe runs no in-process checks): add --check spawn');
  const mails: (Mail & { to: string; info?: string })[] = [];
  smtp = await startSmtpSink({
    onMail: (m) => {
      const when = /^Date\/Time: (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC\r?$/m.exec(m.raw);
      // The plugin output (after Additional Info), to say why a mail nobody expected came.
      const info = /Additional Info:\r?\n\r?\n(.*)/.exec(m.text)?.[1]?.trim() ?? '';
      mails.push({ subject: m.subject, messageId: m.messageId, to: m.rcptTo.join(','), info, ...(when ? { at: Date.parse(`${when[1]}T${when[2]}Z`) } : {}) });
    },
  });
  const smtpPort = smtp.port;
  const results: PhaseResult[] = [];
  let fo: FailoverResult | null = null;
  const notes: string[] = [];
  const sqliteDb = join(base, 'hawatch.db');
  const runSqlite = async (round: number): Promise<void> => {
    log(`round ${round}, phase sqlite: one server, SQLite file database`);
    const inv = join(base, 'sqlite.yaml');
    writeFileSync(inv, inventoryYaml({ database: sqliteDb, ha: false, agentPort: agent.port, smtpPort, flipScript }));
    const server = await startServer('sqlite', inv, base);
    const list = [server];
    const p = new Poller(() => list);
    p.start();
    try {
      const r = await measureWindow('sqlite, 1 server', round, list, null, agent, Date.now() + (INTERVAL_S + WARMUP_S) * 1000, p.timeline);
      results.push(r);
      await sleep(CYCLE_MS); // the window's last checks are polled after it
    } finally {
      await p.stop();
      await server.started.stop();
    }
    log(`round ${round}, phase sqlite: ${results.at(-1)!.checksPerSecond.toFixed(1)} checks/s, ${results.at(-1)!.processes[0]!.cpuMsPerCheck.toFixed(2)} ms/check`);
  };
  /** Instances added one at a time up to each count, measured at each; left running when `keep` (the failover's cluster). */
  const runPg = async (round: number, inv: string, pgMeter: TreeMeter, keep: boolean): Promise<void> => {
    const p = new Poller(() => cluster);
    poller = p;
    const counts = PHASES.has('pg') ? COUNTS : [Math.max(...COUNTS)];
    try {
      for (const k of counts) {
        while (cluster.filter((i) => i.alive).length < k) {
          const name = String.fromCharCode(97 + cluster.length);
          cluster.push(await startServer(name, inv, base));
          log(`instance ${name} started`);
        }
        if (!p.timeline.keys().length) p.start();
        const first = k === counts[0];
        // A new instance claims its share; the others give theirs up: wait until every
        // instance holds about SHARDS/k and each shard is held once.
        await waitUntil(`${k} instances sharing the shards`, 120_000, async () => {
          await refreshOwners(cluster);
          const live = cluster.filter((i) => i.alive);
          const held = live.flatMap((i) => i.owned);
          return held.length === SHARDS && new Set(held).size === SHARDS && live.every((i) => i.owned.length >= Math.floor(SHARDS / k) - 1);
        });
        const from = Date.now() + (first ? INTERVAL_S + WARMUP_S : WARMUP_S) * 1000;
        if (!PHASES.has('pg')) {
          await sleep(from - Date.now());
          continue;
        }
        log(`round ${round}, phase pg x${k}: measuring from ${new Date(from).toISOString().slice(11, 19)}`);
        const r = await measureWindow(`postgresql, ${k} instance${k > 1 ? 's' : ''}`, round, cluster, pgMeter, agent, from, p.timeline);
        results.push(r);
        log(`round ${round}, phase pg x${k}: ${r.checksPerSecond.toFixed(1)} checks/s; ${r.processes.map((q) => `${q.process} ${q.cpuMsPerCheck.toFixed(2)} ms/check`).join(', ')}`);
      }
    } finally {
      if (!keep) {
        await sleep(CYCLE_MS); // the last window's checks are polled after it
        await p.stop();
        // A clean stop hands the shards back: the next round's instances start as after a rolling restart.
        for (const i of cluster.filter((x) => x.alive)) {
          await i.started.stop();
          i.alive = false;
        }
      }
    }
  };
  try {
    const wantPg = PHASES.has('pg') || PHASES.has('failover');
    let pgMeter: TreeMeter | null = null;
    const inv = join(base, 'ha.yaml');
    if (wantPg) {
      pgs = await createPrimary('bench-ha');
      // Durable as in production (the test helper turns fsync off), room for the instances' sessions.
      writeFileSync(join(pgs.dataDir, 'postgresql.conf'), '\n# bench:ha\nfsync = on\nsynchronous_commit = on\nfull_page_writes = on\nshared_buffers = 128MB\nmax_connections = 100\n', { flag: 'a' });
      pgs.stop();
      pgs.start();
      pgMeter = new TreeMeter(pgs.postmasterPid());
      log(`postgresql on 127.0.0.1:${pgs.port} (${pgs.dir})`);
      writeFileSync(inv, inventoryYaml({ database: `postgres://postgres@127.0.0.1:${pgs.port}/postgres`, ha: true, agentPort: agent.port, smtpPort, flipScript }));
    }
    mails.length = 0;
    const refresher = setInterval(() => void refreshOwners(cluster), 2000);
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const last = round === ROUNDS;
        // The last round ends with pg (the failover needs its cluster); the rounds before alternate.
        const order = (ROUNDS - round) % 2 === 0 ? ['sqlite', 'pg'] : ['pg', 'sqlite'];
        for (const step of order) {
          if (step === 'sqlite' && PHASES.has('sqlite')) await runSqlite(round);
          if (step === 'pg' && wantPg && (last || PHASES.has('pg'))) await runPg(round, inv, pgMeter!, last);
        }
      }
      if (mails.length) notes.push(`${mails.length} mails before the failover (none expected): ${[...new Set(mails.map((m) => m.subject))].slice(0, 3).join(' / ')}`);
      if (PHASES.has('failover')) {
        if (cluster.filter((i) => i.alive).length < 2) throw new Error('the failover needs at least 2 instances (--instances ...,3)');
        fo = await failover(cluster, poller!, flipFile, mails);
      }
    } finally {
      clearInterval(refresher);
      await poller?.stop();
    }
  } finally {
    for (const i of cluster) await i.started.stop();
    await agent.stop();
    await smtp?.close();
    pgs?.cleanup();
    if (pgs && !argv.keep) rmSync(pgs.dir, { recursive: true, force: true });
  }
  for (const r of results) r.latencyMs = summarize(r.latencyRange.timeline.latencies(r.latencyRange.from, r.latencyRange.to));
  const out = [
    '',
    `HA benchmark: ${N} services on ${HOSTS} hosts every ${INTERVAL_S} s, agent ${agent.kind} (${argv.check === 'spawn' ? 'check_dummy spawned per check' : 'check_ha_load in-process'}), window ${WINDOW_S} s, ${SHARDS} shards, lease ${LEASE_S} s, ${cpus().length} CPUs`,
    phaseTable(results),
    ...ratioLines(results),
    ...roundsTable(results),
    ...goalLines(results),
    '  CPU % is of one CPU (100 = one core busy); CPU ms/check: the process CPU over the window divided by the checks it ran (PostgreSQL: by all checks); latency polled from the owner of each host (its polling is in the instance CPU, as in bench:scheduler).',
    ...notes.map((n) => `  ${n}`),
  ];
  if (fo) {
    out.push(
      '',
      `Failover: kill -9 of instance ${fo.victim} holding ${fo.movedShards} of ${SHARDS} shards (${fo.movedServices} services), ${fo.flipped} services switched to CRITICAL half an interval before`,
      renderTable(
        ['kill to first check elsewhere s', 'kill to all moved checked s', `checks missed (gap above ${fo.maxGapAllowedS} s)`, 'notifications expected', 'received', 'lost', 'duplicated', 'same Message-ID twice', 'marked possible duplicate', 'unexpected', 'instance PROBLEM mails'],
        [[f(fo.failoverS, 2), f(fo.allMovedCheckedS, 1), String(fo.missedServices), String(fo.mails.expected), String(fo.mails.received), String(fo.mails.lost.length), String(fo.mails.duplicated.length + fo.instanceMails.duplicated.length), String(fo.mails.duplicateMessageIds.length), String(fo.mails.markedPossibleDuplicate), String(fo.mails.unexpected.length), String(fo.instanceMails.problems)]],
      ),
      ...fo.missed.slice(0, 5).map((g) => `  missed: ${g.key} no check for ${f(g.gapMs / 1000)} s after ${new Date(g.after).toISOString().slice(11, 23)}`),
      ...fo.mails.lost.slice(0, 5).map((s) => `  lost: ${s}`),
      ...fo.mails.duplicated.slice(0, 5).map((s) => `  duplicated: ${s}`),
      ...fo.mails.unexpected.slice(0, 5).map((s) => `  unexpected (a state change the bench did not make, e.g. the agent timing out under load): ${s}: ${mails.find((m) => m.subject === s)?.info ?? ''}`),
    );
    // The subject rule (same state twice with nothing between) holds only when the bench made
    // every state change: a change the server did not notify (flapping) makes two real problems
    // look like one sent twice. Then only the Message-ID (one per outbox row) tells.
    if (fo.mails.unexpected.length) out.push('  state changes the bench did not make: the duplicated column is not reliable in this run, read same Message-ID twice');
    const goals = [
      `failover under 15 s: ${fo.failoverS !== null && fo.failoverS < 15 ? 'met' : 'NOT met'}`,
      `notifications lost 0 and duplicated 0: ${fo.mails.lost.length === 0 && (fo.mails.unexpected.length ? 0 : fo.mails.duplicated.length + fo.instanceMails.duplicated.length) + fo.mails.duplicateMessageIds.length === 0 ? 'met' : 'NOT met'}`,
      `no check missed: ${fo.missedServices === 0 ? 'met' : 'NOT met'}`,
    ];
    out.push(`  goals: ${goals.join('; ')}`);
  }
  process.stdout.write(out.join('\n') + '\n');
  if (argv.json) {
    const plain = results.map(({ latencyRange: _l, ...r }) => r);
    writeFileSync(argv.json, JSON.stringify({ services: N, hosts: HOSTS, intervalS: INTERVAL_S, windowS: WINDOW_S, shards: SHARDS, leaseS: LEASE_S, agent: agent.kind, rounds: ROUNDS, results: plain, roundSummaries: roundSummaries(results), failover: fo, notes }, null, 2));
  }
  if (argv.keep) log(`work dir kept: ${base}`);
  else rmSync(base, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:ha: ${(e as Error).message}\n`);
  killAllStarted();
  process.exit(1);
});
