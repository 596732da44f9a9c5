#!/usr/bin/env node
// Start-up cost of a check against bare Node, measured in the same run.
//
//   node bench/plugin-startup.mjs [--runs 30] [--bin dist/bin/check_ha_drbd.cjs] [--sample FILE]
//
// Runs `node <bin> --input-file <sample>` and `node -e 0` alternately (so drift in machine load
// hits both alike), each under /usr/bin/time (Debian package `time`), which reports the child's
// peak RSS (%M, from wait4). Wall time is taken around each spawn; the small cost of the
// /usr/bin/time wrapper is in both series. Prints medians and the ratios against the targets:
// wall <= 1.2x and peak RSS <= 1.3x bare Node. Exits 1 when a target is missed.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    bin: { type: 'string', default: join(root, 'dist', 'bin', 'check_ha_drbd.cjs') },
    sample: { type: 'string', default: join(root, 'plugins', 'drbd', 'fixtures', 'status-9-multi-volume-multi-peer.json') },
  },
});
const runs = Number(values.runs);
const TIME = '/usr/bin/time';
const TARGET = { wall: 1.2, rss: 1.3 };

function fail(message) {
  console.error(`bench/plugin-startup: ${message}`);
  process.exit(2);
}
if (!Number.isInteger(runs) || runs < 20) fail(`--runs must be an integer >= 20 (got ${values.runs})`);
if (!existsSync(TIME)) fail(`${TIME} is missing: install the Debian package 'time' (apt-get install time)`);
if (!existsSync(values.bin)) fail(`${values.bin} is missing: run 'npm run build' first`);
if (!existsSync(values.sample)) fail(`${values.sample} is missing`);

/** One run: wall milliseconds and peak RSS in KiB of `node ...args`. */
function measure(args) {
  const started = process.hrtime.bigint();
  const r = spawnSync(TIME, ['-f', 'maxrss_kib=%M', process.execPath, ...args], { encoding: 'utf8' });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const m = /maxrss_kib=(\d+)/.exec(r.stderr);
  if (!m) fail(`no peak RSS from ${TIME}: ${r.stderr.trim()}`);
  return { wallMs, rssKiB: Number(m[1]), status: r.status };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

const check = [values.bin, '--input-file', values.sample, '-w', '5', '-c', '30'];
const bare = ['-e', '0'];
// Warm the page cache and check that the plugin runs at all.
const first = measure(check);
if (first.status === null || first.status > 3) fail(`the check did not run (status ${first.status})`);
measure(bare);

const series = { check: [], bare: [] };
for (let i = 0; i < runs; i++) {
  series.check.push(measure(check));
  series.bare.push(measure(bare));
}

const result = {
  check: { wall: median(series.check.map((r) => r.wallMs)), rss: median(series.check.map((r) => r.rssKiB)) },
  bare: { wall: median(series.bare.map((r) => r.wallMs)), rss: median(series.bare.map((r) => r.rssKiB)) },
};
const ratio = { wall: result.check.wall / result.bare.wall, rss: result.check.rss / result.bare.rss };
const ok = { wall: ratio.wall <= TARGET.wall, rss: ratio.rss <= TARGET.rss };

const bundleKiB = statSync(values.bin).size / 1024;
console.log(`plugin start-up: ${relative(root, values.bin)} (${bundleKiB.toFixed(1)} KiB) vs node -e 0, ${runs} runs each, alternating, node ${process.version}`);
console.log(`sample: ${relative(root, values.sample)}`);
console.log('');
console.log('                 median wall   median peak RSS');
console.log(`  node -e 0      ${result.bare.wall.toFixed(1).padStart(8)} ms   ${(result.bare.rss / 1024).toFixed(1).padStart(8)} MiB`);
console.log(`  check_ha_drbd  ${result.check.wall.toFixed(1).padStart(8)} ms   ${(result.check.rss / 1024).toFixed(1).padStart(8)} MiB`);
console.log(`  ratio          ${ratio.wall.toFixed(3).padStart(8)} x    ${ratio.rss.toFixed(3).padStart(8)} x`);
console.log(`  target         ${`<= ${TARGET.wall}`.padStart(8)} x    ${`<= ${TARGET.rss}`.padStart(8)} x`);
console.log(`  verdict        ${(ok.wall ? 'met' : 'MISSED').padStart(8)}      ${(ok.rss ? 'met' : 'MISSED').padStart(8)}`);
process.exit(ok.wall && ok.rss ? 0 : 1);
