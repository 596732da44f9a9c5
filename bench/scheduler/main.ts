/**
 * Scheduler benchmark: N services (default 10,000) every INTERVAL seconds (default 60)
 * against one NRPE agent on loopback, measured over a steady-state window after the first
 * round has spread the checks over the interval.
 *
 * Phases (same agent, same inventory, one after the other):
 *   server    hawatch-server (dist/bin/hawatch-server.cjs) with a generated inventory;
 *             achieved checks from /metrics, latency per check from /api/v1/services
 *             (lastCheck minus the nextCheck seen before), CPU/RSS of its process.
 *   nagios    Debian's nagios4 with a generated config (nagios/config.ts) running
 *             check_nrpe per check; latency per check from status.dat (check_latency),
 *             CPU/RSS of nagios and its workers (check_nrpe's CPU included: reaped
 *             children are counted in their parent).
 *   executor  the raw NRPE executor under a minimal in-process scheduler: what the
 *             transport alone sustains, without the server's state machine and store.
 * The agent: hawatch-agent (dist/bin/hawatch-agent.cjs) when built, else stock nrpe
 * (--target nrpe|agent forces one). Its CPU is reported too: it shares the 2 cores.
 *
 * Usage: npm run bench:scheduler -- [--services 10000] [--hosts 100] [--interval 60]
 *          [--warmup 20] [--measure 180] [--phases server,nagios,executor]
 *          [--target auto|agent|nrpe] [--concurrency 64] [--json FILE] [--keep]
 *          [--server-bin dist/bin/hawatch-server.cjs] [--nagios-max-concurrent 0]
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { baseObjects, renderNagiosMainConfig, renderNagiosObjects } from '../../nagios/config.ts';
import { State } from '../../nagios/states.ts';
import { ExecutorPool } from '../../server/executors/index.ts';
import type { CheckRequest } from '../../server/executors/types.ts';
import { TreeMeter } from './proc.ts';
import { freePort, killAllStarted, log, metric, PLUGINS, requireFile, sleep, startAgent as startNrpeAgent, startDetached, summarize, waitForPort, type Agent, type ServiceView } from './run.ts';

// Bundled to dist/bench/scheduler.cjs: the repository is two levels up.
const root = resolve(__dirname, '..', '..');
const { values: argv } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    hosts: { type: 'string', default: '100' },
    interval: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '20' },
    measure: { type: 'string', default: '180' },
    phases: { type: 'string', default: 'server,nagios,executor' },
    target: { type: 'string', default: 'auto' },
    concurrency: { type: 'string', default: '64' },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'server-bin': { type: 'string' },
    'nagios-max-concurrent': { type: 'string', default: '0' },
  },
  strict: true,
});
const N = Number(argv.services);
const HOSTS = Math.min(Number(argv.hosts), N);
const INTERVAL_S = Number(argv.interval);
const WARMUP_S = Number(argv.warmup);
const MEASURE_S = Number(argv.measure);
const CONCURRENCY = Number(argv.concurrency);
const PHASES = argv.phases!.split(',').map((s) => s.trim()).filter(Boolean);

const AGENT_BIN = join(root, 'dist', 'bin', 'hawatch-agent.cjs');
const SERVER_BIN = argv['server-bin'] ? resolve(argv['server-bin']) : join(root, 'dist', 'bin', 'hawatch-server.cjs');
const BENCH_COMMAND = 'check_bench';

function nagiosIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nagios:'));
  if (!line) throw new Error('no nagios user: install nagios4-core');
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

// ---------------------------------------------------------------------------------------
// Results

interface PhaseResult {
  readonly phase: string;
  readonly services: number;
  readonly intervalS: number;
  readonly windowS: number;
  readonly checks: number;
  readonly checksPerSecond: number;
  readonly targetPerSecond: number;
  readonly latencyMs: { p50: number; p99: number; max: number; samples: number };
  readonly failedChecks: number;
  readonly cpuPercent: number;
  readonly rssMB: number;
  readonly peakRssMB: number;
  readonly agentCpuPercent: number;
  /** Whole machine, all CPUs: other processes (other test runs) show up here. */
  readonly machineBusyPercent: number;
  readonly loadAverage: number;
  readonly notes: string[];
}

interface Usage {
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  readonly peakRssBytes: number;
}

/** The figures every phase reports, computed one way for all of them. */
function phaseResult(o: {
  phase: string;
  checks: number;
  latencies: number[];
  failed: number;
  usage: Usage;
  agentUsage: { readonly cpuSeconds: number };
  agent: Agent;
  notes: string[];
}): PhaseResult {
  const windowS = MEASURE_S;
  return {
    phase: o.phase,
    services: N,
    intervalS: INTERVAL_S,
    windowS,
    checks: o.checks,
    checksPerSecond: o.checks / windowS,
    targetPerSecond: targetRate,
    latencyMs: summarize(o.latencies),
    failedChecks: o.failed,
    cpuPercent: (o.usage.cpuSeconds / windowS) * 100,
    rssMB: o.usage.rssBytes / 2 ** 20,
    peakRssMB: o.usage.peakRssBytes / 2 ** 20,
    agentCpuPercent: (o.agentUsage.cpuSeconds / windowS) * 100,
    machineBusyPercent: o.agent.machine.end(),
    loadAverage: loadavg()[0]!,
    notes: o.notes,
  };
}


const targetRate = N / INTERVAL_S;
const windowStartDelayMs = (INTERVAL_S + WARMUP_S) * 1000;

// ---------------------------------------------------------------------------------------
// Phase: the raw executor under a minimal scheduler

async function executorPhase(agent: Agent): Promise<PhaseResult> {
  const pool = new ExecutorPool();
  const hostOf = (i: number): string => `node${String(i % HOSTS).padStart(3, '0')}`;
  const request = (i: number): CheckRequest => ({
    hostName: hostOf(i),
    address: '127.0.0.1',
    transport: { kind: 'nrpe', port: agent.port, tls: { enabled: true, verify: false }, packetVersion: 4, unreachableState: State.CRITICAL },
    command: { kind: 'nrpe', command: BENCH_COMMAND, args: [] },
    timeoutMs: 30_000,
    timeoutState: State.CRITICAL,
  });
  const t0 = performance.now() + 100;
  const slot = (INTERVAL_S * 1000) / N;
  const measureFrom = t0 + windowStartDelayMs;
  const measureTo = measureFrom + MEASURE_S * 1000;
  const latencies: number[] = [];
  let checks = 0;
  let failed = 0;
  let running = 0;
  const queue: { i: number; planned: number }[] = [];
  let nextIndex = 0; // the n-th planned start overall: service n % N, round floor(n / N)
  let stopped = false;
  let firstFailure = '';
  // This process only: the agent is our child, so a tree meter would count it too.
  let cpuStart = process.cpuUsage();
  let peakRss = 0;
  const meterStarted = { self: false };

  // Counted: checks that STARTED inside the window (latency = start - planned) and checks
  // that ENDED inside it (throughput). Checks still queued at the end are dropped.
  let completedInWindow = 0;
  const launch = (job: { i: number; planned: number }): void => {
    running++;
    const started = performance.now();
    const startedInWindow = started >= measureFrom && started < measureTo;
    if (startedInWindow) latencies.push(started - job.planned);
    void pool.run(request(job.i)).then((r) => {
      running--;
      const ended = performance.now();
      if (ended >= measureFrom && ended < measureTo) completedInWindow++;
      if (startedInWindow) {
        checks++;
        if (r.state !== State.OK) {
          failed++;
          firstFailure ||= r.output;
        }
      }
      if (stopped) return;
      const next = queue.shift();
      if (next) launch(next);
    });
  };
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = performance.now();
      if (!meterStarted.self && now >= measureFrom) {
        meterStarted.self = true;
        cpuStart = process.cpuUsage();
        agent.meter.begin();
        agent.machine.begin();
      }
      if (now >= measureTo) {
        stopped = true;
        return done();
      }
      if (meterStarted.self) peakRss = Math.max(peakRss, process.memoryUsage.rss());
      for (;;) {
        const planned = t0 + nextIndex * slot;
        if (planned > now) break;
        const job = { i: nextIndex % N, planned };
        nextIndex++;
        if (running < CONCURRENCY) launch(job);
        else queue.push(job);
      }
      const wait = Math.max(0, t0 + nextIndex * slot - performance.now());
      setTimeout(tick, Math.min(wait, 50));
    };
    tick();
  });
  const cpu = process.cpuUsage(cpuStart);
  const rss = process.memoryUsage.rss();
  const usage = { cpuSeconds: (cpu.user + cpu.system) / 1e6, rssBytes: rss, peakRssBytes: Math.max(peakRss, rss) };
  const agentUsage = agent.meter.end();
  const backlog = queue.length;
  queue.length = 0;
  while (running > 0) await sleep(50);
  await pool.close();
  return phaseResult({
    phase: 'executor (raw NRPE executor + minimal scheduler)',
    checks: completedInWindow,
    latencies,
    failed,
    usage,
    agentUsage,
    agent,
    notes: [`${backlog} checks were still waiting for a free slot (of ${CONCURRENCY}) at the end`, ...(firstFailure ? [`first failure: ${firstFailure}`] : [])],
  });
}

// ---------------------------------------------------------------------------------------
// Phase: nagios4 + check_nrpe

async function nagiosPhase(agent: Agent, base: string): Promise<PhaseResult> {
  requireFile('/usr/sbin/nagios4', 'nagios4-core');
  requireFile(`${PLUGINS}/check_nrpe`, 'nagios-nrpe-plugin');
  const dir = join(base, 'nagios');
  mkdirSync(join(dir, 'checkresults'), { recursive: true });
  const { uid, gid } = nagiosIds();
  chmodSync(dir, 0o755);
  chownSync(dir, uid, gid);
  chownSync(join(dir, 'checkresults'), uid, gid);
  const hosts = Array.from({ length: HOSTS }, (_, h) => ({ name: `node${String(h).padStart(3, '0')}`, address: '127.0.0.1', use: 'hawatch-host' }));
  const services = Array.from({ length: N }, (_, i) => ({
    hostName: hosts[i % HOSTS]!.name,
    description: `svc${String(i).padStart(5, '0')}`,
    use: 'hawatch-service',
    checkCommand: 'check_nrpe_bench',
    checkInterval: INTERVAL_S / 60,
    retryInterval: INTERVAL_S / 60,
  }));
  writeFileSync(
    join(dir, 'objects.cfg'),
    renderNagiosObjects({
      objects: baseObjects(),
      commands: [{ name: 'check_nrpe_bench', line: `${PLUGINS}/check_nrpe -H $HOSTADDRESS$ -p ${agent.port} -t 30 -c ${BENCH_COMMAND}` }],
      hosts,
      services,
    }),
  );
  writeFileSync(
    join(dir, 'nagios.cfg'),
    renderNagiosMainConfig({
      varDir: dir,
      cfgFiles: [join(dir, 'objects.cfg')],
      statusUpdateInterval: 5,
      // Spread the first round over one interval (the default is 30 minutes), like hawatch
      // does. max_concurrent_checks: Nagios' default is 0 (unlimited), kept by default. With
      // a cap, Nagios "nudges" checks that find no free slot by a few seconds and measures
      // latency from the nudged time, so its latency looks better than the schedule it keeps.
      // Every processed result is appended to a perfdata file: the exact count and
      // Nagios' own latency per check, independent of status.dat writes.
      extra: {
        max_service_check_spread: Math.max(1, Math.round(INTERVAL_S / 60)),
        max_concurrent_checks: Number(argv['nagios-max-concurrent']),
        process_performance_data: true,
        service_perfdata_file: join(dir, 'service-perfdata.tsv'),
        service_perfdata_file_template: '$TIMET$\\t$LASTSERVICECHECK$\\t$SERVICELATENCY$\\t$SERVICESTATEID$\\t$SERVICEOUTPUT$',
        service_perfdata_file_mode: 'a',
        service_perfdata_file_processing_interval: 0,
      },
    }),
  );
  for (const f of ['objects.cfg', 'nagios.cfg']) chmodSync(join(dir, f), 0o644);
  const verify = spawnSync('/usr/sbin/nagios4', ['-v', join(dir, 'nagios.cfg')], { encoding: 'utf8' });
  if (verify.status !== 0) throw new Error(`nagios4 -v refused the generated config:\n${verify.stdout.slice(-1500)}`);
  const nagios = startDetached('/usr/sbin/nagios4', [join(dir, 'nagios.cfg')], join(base, 'nagios.out'));
  const meter = new TreeMeter(nagios.child.pid!);
  const perfFile = join(dir, 'service-perfdata.tsv');
  const t0 = Date.now();
  const measureFrom = t0 + windowStartDelayMs;
  const measureTo = measureFrom + MEASURE_S * 1000;
  const latencies: number[] = [];
  let checks = 0;
  let failed = 0;
  let firstFailure = '';
  let began = false;
  let offset = 0;
  let partial = '';
  const readNewResults = (): void => {
    let buf: Buffer;
    try {
      buf = readFileSync(perfFile);
    } catch {
      return;
    }
    const text = partial + buf.subarray(offset).toString('utf8');
    offset = buf.length;
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const [processedAt, startedAt, latency, state, ...output] = line.split('\t');
      const done = Number(processedAt) * 1000;
      const start = Number(startedAt) * 1000;
      if (done >= measureFrom && done < measureTo) checks++;
      if (start >= measureFrom && start < measureTo) {
        latencies.push(Number(latency) * 1000);
        if (state !== '0') {
          failed++;
          firstFailure ||= output.join(' ');
        }
      }
    }
  };
  try {
    for (;;) {
      await sleep(2000);
      if (nagios.child.exitCode !== null) throw new Error(`nagios4 exited (${nagios.child.exitCode}); see ${join(dir, 'nagios.log')}`);
      const now = Date.now();
      if (!began && now >= measureFrom) {
        began = true;
        meter.begin();
        agent.meter.begin();
        agent.machine.begin();
      } else if (began && now < measureTo) {
        meter.sample();
      }
      readNewResults();
      if (began && now >= measureTo) break;
    }
    const usage = meter.end();
    const agentUsage = agent.meter.end();
    const stats = spawnSync('/usr/sbin/nagios4stats', ['-c', join(dir, 'nagios.cfg'), '-m', '-d', 'NUMSVCACTCHK1M,AVGACTSVCLAT,MAXACTSVCLAT'], { encoding: 'utf8' });
    const [chk1m, avgLat, maxLat] = stats.stdout.trim().split('\n');
    return phaseResult({
      phase: 'nagios4 4.4.6 + check_nrpe (baseline)',
      checks,
      latencies,
      failed,
      usage,
      agentUsage,
      agent,
      notes: [
        `max_concurrent_checks=${argv['nagios-max-concurrent']}`,
        `nagios4stats at the end: active service checks in the last minute ${chk1m}, latency avg ${avgLat} ms, max ${maxLat} ms`,
        ...(firstFailure ? [`first failure: ${firstFailure}`] : []),
      ],
    });
  } finally {
    await nagios.stop();
  }
}

// ---------------------------------------------------------------------------------------
// Phase: hawatch-server

function inventoryYaml(agent: Agent, listenPort: number): string {
  const lines = [
    '# Generated by bench/scheduler: one NRPE agent on loopback, many services.',
    'server:',
    `  listen: 127.0.0.1:${listenPort}`,
    '  database: ":memory:"',
    `  max_concurrent_checks: ${CONCURRENCY}`,
    'defaults:',
    `  check_interval: ${INTERVAL_S}s`,
    `  retry_interval: ${INTERVAL_S}s`,
    '  max_check_attempts: 3',
    '  timeout: 30s',
    'hosts:',
  ];
  for (let h = 0; h < HOSTS; h++) {
    lines.push(`  node${String(h).padStart(3, '0')}:`, '    address: 127.0.0.1', '    nrpe:', `      port: ${agent.port}`);
  }
  lines.push('services:');
  for (let i = 0; i < N; i++) {
    lines.push(`  - name: svc${String(i).padStart(5, '0')}`, `    host: node${String(i % HOSTS).padStart(3, '0')}`, `    command: ${BENCH_COMMAND}`);
  }
  return lines.join('\n') + '\n';
}



async function serverPhase(agent: Agent, base: string): Promise<PhaseResult> {
  if (!existsSync(SERVER_BIN)) throw new Error(`${SERVER_BIN} is not built: the server has not landed on this branch yet (npm run build)`);
  const port = await freePort();
  const inv = join(base, 'inventory.yaml');
  writeFileSync(inv, inventoryYaml(agent, port));
  const server = startDetached(process.execPath, [SERVER_BIN, '--config', inv], join(base, 'server.log'));
  const url = `http://127.0.0.1:${port}`;
  const get = async (path: string): Promise<string> => {
    const r = await fetch(url + path);
    if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status}`);
    return r.text();
  };
  try {
    await waitForPort(port, 60_000);
    const meter = new TreeMeter(server.child.pid!);
    const t0 = Date.now();
    const measureFrom = t0 + windowStartDelayMs;
    const measureTo = measureFrom + MEASURE_S * 1000;
    const plannedBefore = new Map<string, number | null>();
    const lastSeen = new Map<string, number | null>();
    const latencies: number[] = [];
    let failed = 0;
    let firstFailure = '';
    let executedAtStart = NaN;
    let began = false;
    let executedAtEnd = NaN;
    // Read the services one host at a time (GET /api/v1/services?host=...), all hosts
    // every 30 s: each check is seen once (30 s < the interval), and no single request
    // serializes all 10,000 statuses at once (that would stall the event loop for the
    // checks due meanwhile and measure our polling instead of the scheduler).
    const cycleMs = Math.min(30_000, (INTERVAL_S * 1000) / 2);
    const perHostMs = cycleMs / HOSTS;
    const hostNames = Array.from({ length: HOSTS }, (_, h) => `node${String(h).padStart(3, '0')}`);
    let h = 0;
    while (true) {
      await sleep(perHostMs);
      if (server.child.exitCode !== null) throw new Error(`hawatch-server exited (${server.child.exitCode}); see ${join(base, 'server.log')}`);
      const now = Date.now();
      if (!began && now >= measureFrom) {
        began = true;
        meter.begin();
        agent.meter.begin();
        agent.machine.begin();
        executedAtStart = metric(await get('/metrics'), 'hawatch_checks_executed_total');
      } else if (began && now < measureTo && h % HOSTS === 0) {
        meter.sample();
      }
      const endNow = began && now >= measureTo;
      if (endNow) {
        executedAtEnd = metric(await get('/metrics'), 'hawatch_checks_executed_total');
        break;
      }
      const host = hostNames[h++ % HOSTS]!;
      const body = JSON.parse(await get(`/api/v1/services?host=${host}`)) as ServiceView[] | { items?: ServiceView[]; services?: ServiceView[] };
      const list = Array.isArray(body) ? body : (body.items ?? body.services ?? []);
      for (const s of list) {
        const prevLast = lastSeen.get(s.key);
        const planned = plannedBefore.get(s.key);
        lastSeen.set(s.key, s.lastCheck);
        plannedBefore.set(s.key, s.nextCheck);
        if (!s.checked || s.lastCheck === null || prevLast === undefined || s.lastCheck === prevLast || planned == null) continue;
        if (s.lastCheck < measureFrom || s.lastCheck >= measureTo) continue;
        latencies.push(Math.max(0, s.lastCheck - planned));
        if (s.state !== 0) {
          failed++;
          firstFailure ||= s.output;
        }
      }
    }
    const usage = meter.end();
    const agentUsage = agent.meter.end();
    const checks = executedAtEnd - executedAtStart;
    return phaseResult({
      phase: 'hawatch-server',
      checks,
      latencies,
      failed,
      usage,
      agentUsage,
      agent,
      notes: [
        `latency per check = lastCheck minus the nextCheck read before it (GET /api/v1/services?host=, one host every ${Math.round(perHostMs)} ms; that polling is included in the CPU figure)`,
        ...(firstFailure ? [`first failure: ${firstFailure}`] : []),
      ],
    });
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------

function table(results: readonly PhaseResult[]): string {
  const f = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
  const rows = results.map((r) => [
    r.phase,
    `${f(r.checksPerSecond)} / ${f(r.targetPerSecond)}`,
    f(r.latencyMs.p50),
    f(r.latencyMs.p99),
    f(r.latencyMs.max),
    String(r.failedChecks),
    f(r.cpuPercent, 0),
    f(r.rssMB, 0),
    f(r.agentCpuPercent, 0),
    `${f(r.machineBusyPercent, 0)} / ${f(r.loadAverage, 1)}`,
  ]);
  const head = ['phase', 'checks/s (achieved / planned)', 'p50 ms', 'p99 ms', 'max ms', 'failed', 'CPU %', 'RSS MB', 'agent CPU %', 'machine busy % / load'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: nrpe and nagios4 drop privileges to the nagios user');
  const base = mkdtempSync(join(tmpdir(), 'hawatch-bench-'));
  chmodSync(base, 0o755);
  log(`${N} services on ${HOSTS} hosts every ${INTERVAL_S} s (${targetRate.toFixed(1)} checks/s planned); window ${MEASURE_S} s after ${INTERVAL_S + WARMUP_S} s of spread and warm-up; work dir ${base}`);
  const agent = await startNrpeAgent(base, { target: argv.target!, agentBin: AGENT_BIN, commands: { [BENCH_COMMAND]: `${PLUGINS}/check_dummy 0 "bench OK"` } });
  log(`agent: ${agent.kind} on 127.0.0.1:${agent.port}`);
  const results: PhaseResult[] = [];
  const skipped: string[] = [];
  const cleanup = async (): Promise<void> => {
    await agent.stop();
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      killAllStarted();
      process.exit(130);
    });
  }
  try {
    for (const phase of PHASES) {
      log(`phase ${phase}: starting`);
      try {
        const r = phase === 'server' ? await serverPhase(agent, base) : phase === 'nagios' ? await nagiosPhase(agent, base) : phase === 'executor' ? await executorPhase(agent) : undefined;
        if (!r) throw new Error(`unknown phase '${phase}' (server, nagios, executor)`);
        results.push(r);
        log(`phase ${phase}: ${r.checksPerSecond.toFixed(1)} checks/s, p50 ${r.latencyMs.p50.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms, CPU ${r.cpuPercent.toFixed(0)} %, RSS ${r.rssMB.toFixed(0)} MB`);
      } catch (e) {
        skipped.push(`${phase}: ${(e as Error).message}`);
        log(`phase ${phase}: NOT MEASURED: ${(e as Error).message}`);
      }
      await sleep(3000);
    }
  } finally {
    await cleanup();
  }
  const out = [
    '',
    `Scheduler benchmark: ${N} services every ${INTERVAL_S} s, agent ${agent.kind}, window ${MEASURE_S} s, ${cpus().length} CPUs`,
    table(results),
    ...results.flatMap((r) => r.notes.map((n) => `  ${r.phase}: ${n}`)),
    ...skipped.map((s) => `  not measured: ${s}`),
    '  CPU % is of one CPU (100 = one core busy); agent CPU counts reaped children only; machine busy % is of all CPUs, everything running.',
  ];
  const server = results.find((r) => r.phase === 'hawatch-server');
  const nagios = results.find((r) => r.phase.startsWith('nagios4'));
  if (server && nagios) {
    out.push(
      `  hawatch-server vs nagios4: checks/s ${(server.checksPerSecond / nagios.checksPerSecond).toFixed(2)}x, p99 latency ${(server.latencyMs.p99 / nagios.latencyMs.p99).toFixed(2)}x, CPU ${(server.cpuPercent / nagios.cpuPercent).toFixed(2)}x, RSS ${(server.rssMB / nagios.rssMB).toFixed(1)}x (below 1 = hawatch lower)`,
    );
  }
  process.stdout.write(out.join('\n') + '\n');
  if (argv.json) writeFileSync(argv.json, JSON.stringify({ services: N, intervalS: INTERVAL_S, agent: agent.kind, results, skipped }, null, 2));
  if (argv.keep) log(`work dir kept: ${base}`);
  else rmSync(base, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:scheduler: ${(e as Error).message}\n`);
  process.exit(1);
});
