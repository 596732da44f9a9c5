#!/usr/bin/env node
// systeminformation's calls a host check would use, against what the host basics do instead
// (reading /proc, utmp and statfs directly), measured in the same process, alternating:
//
//   node bench/host-basics/si-vs-proc.mjs [--runs 10]
//
// For each pair: median milliseconds per call, the ratio si / direct, and how many child
// processes systeminformation started per call (counted by wrapping child_process). Also the
// cost of loading the systeminformation module at all (time and RSS), which a check that
// imported it would pay on every run. Each si call comes 550 ms after the previous one, as in
// a check run (processes() otherwise answers from its 500 ms cache). systeminformation is a
// devDependency used only here (npm ci installs it). Prints ratios only: these machines are noisy.
import childProcess from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, readdir, statfs } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Number(values.runs);

// Count every child systeminformation starts: it uses exec, execSync, spawn and execFile.
let spawned = 0;
for (const name of ['spawn', 'exec', 'execFile', 'execSync', 'execFileSync', 'spawnSync']) {
  const orig = childProcess[name];
  childProcess[name] = function (...args) {
    spawned++;
    return orig.apply(this, args);
  };
}

const require = createRequire(import.meta.url);
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
let si;
try {
  si = require('systeminformation');
} catch {
  console.error('bench/host-basics: systeminformation is not installed (a devDependency): run npm ci');
  process.exit(2);
}
const loadMs = performance.now() - t0;
const rssAfter = process.memoryUsage().rss;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function time(fn) {
  const before = spawned;
  const t = performance.now();
  await fn();
  return { ms: performance.now() - t, spawned: spawned - before };
}

// The direct ways, as plugins/*/collect.ts and index.ts do them.
const direct = {
  async load() {
    return readFile('/proc/loadavg', 'utf8');
  },
  async mem() {
    return readFile('/proc/meminfo', 'utf8');
  },
  async users() {
    try {
      return await readFile('/var/run/utmp');
    } catch {
      return Buffer.alloc(0);
    }
  },
  async processes() {
    const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d));
    const out = [];
    for (let i = 0; i < pids.length; i += 64) {
      out.push(...(await Promise.all(pids.slice(i, i + 64).map((p) => readFile(`/proc/${p}/stat`, 'utf8').catch(() => undefined)))));
    }
    return out;
  },
  async fsSize() {
    const points = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 9 && !['proc', 'sysfs', 'devtmpfs', 'devpts', 'tmpfs', 'cgroup', 'cgroup2', 'overlay', 'squashfs'].includes(f[f.indexOf('-', 6) + 1]))
      .map((f) => f[4]);
    return Promise.all(points.map((p) => statfs(p)));
  },
};

const pairs = [
  ['currentLoad()  vs /proc/loadavg', () => si.currentLoad(), direct.load],
  ['mem()          vs /proc/meminfo', () => si.mem(), direct.mem],
  ['users()        vs utmp', () => si.users(), direct.users],
  ['processes()    vs /proc/<pid>/stat', () => si.processes(), direct.processes],
  ['fsSize()       vs mountinfo + statfs', () => si.fsSize(), direct.fsSize],
];

console.log(`systeminformation ${si.version()}, node ${process.version}, ${os.cpus().length} CPUs, ${runs} runs each (medians)`);
console.log(`loading the module: ${loadMs.toFixed(1)} ms, RSS +${((rssAfter - rssBefore) / 1024 / 1024).toFixed(1)} MiB`);
console.log('');
console.log('call                                   si ms  direct ms   ratio  children started by si per call');
for (const [label, siFn, directFn] of pairs) {
  await siFn(); // warm: first calls fill caches on both sides
  await directFn();
  const a = [];
  const b = [];
  const kids = [];
  for (let i = 0; i < runs; i++) {
    // processes() answers from a cache for 500 ms after a call, currentLoad() measures since
    // the last call: a check calls each once per run, so each call here comes after a pause.
    await new Promise((r) => setTimeout(r, 550));
    const x = await time(siFn);
    a.push(x.ms);
    kids.push(x.spawned);
    b.push((await time(directFn)).ms);
  }
  const sa = median(a);
  const sb = median(b);
  console.log(`${label.padEnd(36)} ${sa.toFixed(2).padStart(7)} ${sb.toFixed(2).padStart(9)} ${(sa / sb).toFixed(1).padStart(7)}x  ${median(kids)}`);
}
