#!/usr/bin/env node
// NRPE benchmark, measured in one run on this machine:
//   stock nrpe 4.1 (Debian) running the Perl check_drbd (nagios-plugins-contrib) on a sample
//   /proc/drbd (-p FILE), versus hawatch-agent running check_ha_drbd in-process on the same
//   sample (--input-file), both asked by the stock check_nrpe over TLS in the default
//   anonymous-DH mode. Also shown: hawatch-agent running the same Perl check_drbd as a child
//   process, to separate the daemon's own cost from in-process execution.
//
// Figures: median round trip (one client), throughput with 1 and 4 concurrent clients, and
// the agent's RSS sampled while it serves 10,000 requests (trend over time).
//
//   npm run build && npm run bench:nrpe [-- --requests 10000 --rt 300 --seconds 8]
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = new URL('..', import.meta.url).pathname;
const CHECK_NRPE = '/usr/lib/nagios/plugins/check_nrpe';
const NRPE = '/usr/sbin/nrpe';
const CHECK_DRBD = '/usr/lib/nagios/plugins/check_drbd';
const AGENT = join(ROOT, 'dist/bin/hawatch-agent.cjs');
const HA_DRBD = join(ROOT, 'dist/bin/check_ha_drbd.cjs');
const SAMPLE = join(ROOT, 'bench/fixtures/proc-drbd-8.4.txt');

const { values: opt } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    rt: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '8' },
    'skip-rss': { type: 'boolean', default: false },
  },
});
const RSS_REQUESTS = Number(opt.requests);
const RT_SAMPLES = Number(opt.rt);
const TP_SECONDS = Number(opt.seconds);

for (const [file, what] of [
  [CHECK_NRPE, 'Debian package nagios-nrpe-plugin'],
  [NRPE, 'Debian package nagios-nrpe-server'],
  [CHECK_DRBD, 'Debian package nagios-plugins-contrib'],
  [AGENT, "the build: run 'npm run build'"],
]) {
  if (!existsSync(file)) {
    console.error(`bench/nrpe: ${file} is missing (${what})`);
    process.exit(2);
  }
}
const haveInproc = existsSync(HA_DRBD);
if (!haveInproc) console.error('bench/nrpe: dist/bin/check_ha_drbd.cjs is missing (plugins/drbd not built): the in-process contender is skipped');
if (process.getuid?.() !== 0) {
  console.error('bench/nrpe: run as root (the stock nrpe must start as root to drop to nagios)');
  process.exit(2);
}

const children = [];
const dirs = [];
async function cleanupAll() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}
process.on('SIGINT', () => void cleanupAll().then(() => process.exit(130)));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port, proc) {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = new Socket();
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (proc.exitCode !== null) throw new Error(`daemon exited with ${proc.exitCode}`);
    if (Date.now() - t0 > 10000) throw new Error(`port ${port} did not open`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function checkNrpe(port, command) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    execFile(CHECK_NRPE, ['-H', '127.0.0.1', '-p', String(port), '-t', '30', '-c', command], (err, stdout) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      resolve({ ms, code: err ? err.code : 0, stdout });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

/** Sequential round trips, contenders interleaved in small blocks so load drift hits all alike. */
async function roundTrips(contenders, samples) {
  const res = Object.fromEntries(contenders.map((c) => [c.name, []]));
  const block = 10;
  for (let i = 0; i < samples; i += block) {
    for (const c of contenders) {
      for (let j = 0; j < block && i + j < samples; j++) {
        const r = await checkNrpe(c.port, c.command);
        if (r.code !== 0) throw new Error(`${c.name}: check failed (${r.code}): ${r.stdout}`);
        res[c.name].push(r.ms);
      }
    }
  }
  return res;
}

/** Checks per second with `clients` concurrent check_nrpe loops for `seconds`. */
async function throughput(c, clients, seconds) {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) {
        const r = await checkNrpe(c.port, c.command);
        if (r.code === 0) done++;
        else failed++;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return { perSec: done / secs, failed };
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'hawatch-bench-nrpe-'));
  dirs.push(dir);
  await chmod(dir, 0o755);
  const sample = join(dir, 'proc-drbd');
  await copyFile(SAMPLE, sample);
  await chmod(sample, 0o644);

  // stock nrpe: TLS with its built-in 2048-bit DH parameters, forks per connection
  const nrpePort = await freePort();
  const nrpeCfg = join(dir, 'nrpe.cfg');
  await writeFile(
    nrpeCfg,
    [`server_port=${nrpePort}`, 'server_address=127.0.0.1', 'nrpe_user=nagios', 'nrpe_group=nagios', 'allowed_hosts=127.0.0.1', 'disable_syslog=1', 'command_timeout=30', `command[check_drbd]=${CHECK_DRBD} -p ${sample} -d All`].join('\n') + '\n',
  );
  const nrpe = spawn(NRPE, ['-c', nrpeCfg, '-f'], { stdio: 'ignore' });
  children.push(nrpe);

  // hawatch-agent: TLS anonymous DH (default), check_ha_drbd in-process, Perl check_drbd as a child
  const agentPort = await freePort();
  const agentCfg = join(dir, 'agent.cfg');
  const agentLog = join(dir, 'agent.log');
  await writeFile(
    agentCfg,
    [
      `server_port=${agentPort}`,
      'server_address=127.0.0.1',
      'nrpe_user=nagios',
      'nrpe_group=nagios',
      'allowed_hosts=127.0.0.1',
      'command_timeout=30',
      `log_file=${agentLog}`,
      `command[check_drbd]=/usr/local/bin/check_ha_drbd --input-file ${sample}`,
      `command[check_drbd_perl]=${CHECK_DRBD} -p ${sample} -d All`,
    ].join('\n') + '\n',
  );
  await writeFile(agentLog, '');
  await chmod(agentLog, 0o666);
  const agent = spawn(process.execPath, [AGENT, '-c', agentCfg], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(agent);
  // A second agent negotiating exactly like nrpe (ADH-AES256-GCM-SHA384, 2048-bit DH), to show
  // what the daemon gains without the faster anonymous key exchange.
  const adhPort = await freePort();
  const adhCfg = join(dir, 'agent-adh.cfg');
  await writeFile(adhCfg, readFileSync(agentCfg, 'utf8').replace(`server_port=${agentPort}`, `server_port=${adhPort}`) + 'hawatch_anon_ecdh=0\n');
  const adhAgent = spawn(process.execPath, [AGENT, '-c', adhCfg], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(adhAgent);
  await Promise.all([waitPort(nrpePort, nrpe), waitPort(agentPort, agent), waitPort(adhPort, adhAgent)]);

  const contenders = [
    { name: 'stock nrpe + Perl check_drbd', port: nrpePort, command: 'check_drbd' },
    { name: 'hawatch-agent + Perl check_drbd (child)', port: agentPort, command: 'check_drbd_perl' },
  ];
  if (haveInproc) {
    contenders.push({ name: 'hawatch-agent, ADH like nrpe + check_ha_drbd', port: adhPort, command: 'check_drbd' });
    contenders.push({ name: 'hawatch-agent + check_ha_drbd (in-process)', port: agentPort, command: 'check_drbd' });
  }

  console.log(`bench/nrpe: ${new Date().toISOString()}, node ${process.version}, ${(await import('node:os')).cpus().length} CPUs, load ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  for (const c of contenders) {
    const r = await checkNrpe(c.port, c.command);
    console.log(`  ${c.name}: exit ${r.code}: ${r.stdout.split('\n')[0]}`);
    if (r.code !== 0) throw new Error(`${c.name} does not answer OK`);
  }
  // warm-up
  await roundTrips(contenders, 20);

  console.log(`\nround trip, 1 client, ${RT_SAMPLES} sequential check_nrpe runs each (interleaved):`);
  const rt = await roundTrips(contenders, RT_SAMPLES);
  const base = median(rt[contenders[0].name]);
  for (const c of contenders) {
    const xs = rt[c.name];
    console.log(`  ${c.name.padEnd(46)} median ${median(xs).toFixed(1).padStart(6)} ms  p90 ${pct(xs, 90).toFixed(1).padStart(6)} ms  ratio ${(median(xs) / base).toFixed(2)}x`);
  }

  console.log(`\nthroughput, ${TP_SECONDS} s per run, two rounds interleaved:`);
  const tp = {};
  for (const clients of [1, 4]) {
    for (const c of contenders) tp[`${c.name}|${clients}`] = [];
    for (let round = 0; round < 2; round++) {
      for (const c of contenders) tp[`${c.name}|${clients}`].push(await throughput(c, clients, TP_SECONDS / 2));
    }
  }
  for (const clients of [1, 4]) {
    const baseTp = tp[`${contenders[0].name}|${clients}`].reduce((a, r) => a + r.perSec, 0) / 2;
    for (const c of contenders) {
      const runs = tp[`${c.name}|${clients}`];
      const avg = runs.reduce((a, r) => a + r.perSec, 0) / runs.length;
      const failed = runs.reduce((a, r) => a + r.failed, 0);
      console.log(`  ${clients} client${clients > 1 ? 's' : ' '} ${c.name.padEnd(46)} ${avg.toFixed(1).padStart(7)} checks/s  ratio ${(avg / baseTp).toFixed(2)}x${failed ? `  (${failed} failed)` : ''}`);
    }
  }

  let rssSummary;
  if (!opt['skip-rss']) {
    const target = contenders[contenders.length - 1];
    console.log(`\nagent RSS while serving ${RSS_REQUESTS} requests (${target.name}, 4 clients):`);
    const samples = [];
    let served = 0;
    const t0 = performance.now();
    samples.push([0, rssKiB(agent.pid)]);
    const sampler = setInterval(() => samples.push([served, rssKiB(agent.pid)]), 500);
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < RSS_REQUESTS) {
          next++;
          const r = await checkNrpe(target.port, target.command);
          if (r.code !== 0) failed++;
          served++;
        }
      }),
    );
    clearInterval(sampler);
    samples.push([served, rssKiB(agent.pid)]);
    const secs = (performance.now() - t0) / 1000;
    // Warm-up (first 10% of the requests) aside, fit a line through all samples, and compare
    // the high-water marks of the two halves: V8's collector makes RSS a saw-tooth, a leak
    // makes both the line and the peaks climb.
    const steady = samples.filter(([n]) => n >= served * 0.1);
    const perThousand = slope(steady) * 1000;
    const mid = served * 0.55;
    const peakFirst = Math.max(...steady.filter(([n]) => n < mid).map((x) => x[1]));
    const peakSecond = Math.max(...steady.filter(([n]) => n >= mid).map((x) => x[1]));
    const points = [];
    for (let i = 0; i <= 10; i++) points.push(samples[Math.min(samples.length - 1, Math.round((i * (samples.length - 1)) / 10))]);
    console.log(`  ${served} requests in ${secs.toFixed(1)} s (${(served / secs).toFixed(1)}/s), ${failed} failed, ${samples.length} RSS samples`);
    console.log(`  RSS (MiB) at requests: ${points.map(([n, k]) => `${n}:${(k / 1024).toFixed(1)}`).join('  ')}`);
    console.log(`  after warm-up: slope ${(perThousand / 1024).toFixed(3)} MiB per 1000 requests; peak ${(peakFirst / 1024).toFixed(1)} MiB in the first half, ${(peakSecond / 1024).toFixed(1)} MiB in the second`);
    rssSummary = { perThousand, peakFirst, peakSecond };
  }

  const inName = contenders[contenders.length - 1].name;
  const rtRatio = median(rt[inName]) / base;
  const tpRatio = tp[`${inName}|4`].reduce((a, r) => a + r.perSec, 0) / tp[`${contenders[0].name}|4`].reduce((a, r) => a + r.perSec, 0);
  console.log(`\nsummary (${inName} vs stock nrpe):`);
  console.log(`  round-trip median ratio ${rtRatio.toFixed(2)}x (target <= 0.30x) ${rtRatio <= 0.3 ? 'met' : 'NOT met'}`);
  console.log(`  throughput ratio, 4 clients ${tpRatio.toFixed(2)}x (target >= 2.2x) ${tpRatio >= 2.2 ? 'met' : 'NOT met'}`);
  if (rssSummary) {
    const growth = rssSummary.peakSecond - rssSummary.peakFirst;
    const stable = rssSummary.perThousand < 512 && growth < 10 * 1024;
    console.log(`  RSS ${stable ? 'stable' : 'GROWING'}: slope ${(rssSummary.perThousand / 1024).toFixed(3)} MiB/1000 requests, peaks ${growth >= 0 ? '+' : ''}${(growth / 1024).toFixed(1)} MiB from the first half to the second`);
  }
  if (!haveInproc) console.log('  (check_ha_drbd not built: the last contender is the agent running the Perl check as a child)');
}

main()
  .catch((e) => {
    console.error(`bench/nrpe: ${e.message}`);
    process.exitCode = 1;
  })
  .finally(cleanupAll);
