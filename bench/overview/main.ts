/**
 * Issue 15 item 6: the server's event-loop delay while the overview loads 10,000 services.
 * The server runs in this process (monitorEventLoopDelay watches its loop); the page runs in
 * headless Chromium, so the browser's work is not counted. Two ways of loading, each run
 * ROUNDS times, alternating:
 *   baseline: one GET /api/v1/status with every object (what the page did before);
 *   paged:    the overview page itself (pages of 500: GET /api/v1/status?limit=500&offset=N).
 * Prints the max and p99 delay of each, their ratio, and the page's load time.
 * Usage: node bench/overview.mjs [--services 10000] [--rounds 5]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { createRuntime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeExecutors } from '../../test/server/helpers.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SERVICES = arg('services', 10_000);
const ROUNDS = arg('rounds', 5);
const HOSTS = 100;
const PER_HOST = Math.ceil(SERVICES / HOSTS);

const hosts = Array.from({ length: HOSTS }, (_, i) => `h${i}`);
const yaml = [
  'server: { title: overview bench, sse_max_per_source: 100 }',
  'defaults: { check_interval: 1m, max_check_attempts: 1, notification_interval: 0 }',
  'hosts:',
  ...hosts.map((h, i) => `  ${h}: { address: 192.0.2.${(i % 250) + 1}, passive: true, freshness: false }`),
  'services:',
  ...Array.from({ length: PER_HOST }, (_, j) => `  - { name: svc${j}, hosts: [${hosts.join(', ')}], passive: true, freshness: false }`),
].join('\n');

const rt = await createRuntime({ inventory: loadInventory(yaml), executorFactory: new FakeExecutors().factory, database: ':memory:', autoStart: false, apiToken: () => 'b' });
let n = 0;
for (const h of hosts) for (let j = 0; j < PER_HOST; j++) {
  const state = n % 97 === 0 ? 2 : n % 41 === 0 ? 1 : 0;
  rt.monitor.submitResult(`${h}/svc${j}`, { state: state as 0 | 1 | 2, output: `SVC ${['OK', 'WARNING', 'CRITICAL'][state]} - value ${n}`, longOutput: '', perfdataText: `lag=${(n % 30) / 10}s;5;30;0 'r0/0 out_of_sync'=${n * 1024}B;;;0 sessions=${n % 200};150;190;0`, executedAt: Date.now(), durationMs: 1 });
  n++;
}
// The server's own CPU time per request (process.cpuUsage from onRequest to onResponse: the
// pages come one after the other, so nothing else runs in between). Unlike the event-loop delay
// it does not count the time this process waited for a core on a loaded machine.
const cpu = { on: false, ms: [] as number[] };
const started = new WeakMap<object, NodeJS.CpuUsage>();
rt.app.addHook('onRequest', async (req) => {
  if (cpu.on) started.set(req, process.cpuUsage());
});
rt.app.addHook('onResponse', async (req) => {
  const c0 = started.get(req);
  if (!c0) return;
  const d = process.cpuUsage(c0);
  cpu.ms.push((d.user + d.system) / 1000);
});
const base = await rt.app.listen({ host: '127.0.0.1', port: 0 });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
page.on('console', (m) => { if (m.type() === 'error') console.error('page:', m.text()); });
page.on('pageerror', (e) => console.error('page:', e.message));
await page.goto(`${base}/healthz`);
// the baseline fetches from its own quiet page: the overview's timers must not run meanwhile
const quiet = await browser.newPage();
await quiet.goto(`${base}/healthz`);

const h = monitorEventLoopDelay({ resolution: 1 });
async function measure(what: () => Promise<unknown>) {
  await new Promise((r) => setTimeout(r, 200));
  h.reset();
  h.enable();
  cpu.ms = [];
  cpu.on = true;
  const t0 = performance.now();
  await what();
  const ms = performance.now() - t0;
  h.disable();
  cpu.on = false;
  return { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, ms, cpuMaxMs: Math.max(0, ...cpu.ms) };
}
const baseline = () => quiet.evaluate(async (u) => (await (await fetch(u, { cache: 'no-store' })).json()).objects.length, `${base}/api/v1/status`);
const paged = async () => {
  await page.goto(`${base}/`);
  await page.waitForFunction((total) => document.querySelectorAll('#objects tbody tr').length >= total, SERVICES + HOSTS, { timeout: 120_000, polling: 100 });
};
const runs: { baseline: Awaited<ReturnType<typeof measure>>[]; paged: Awaited<ReturnType<typeof measure>>[]; idle: Awaited<ReturnType<typeof measure>>[] } = { baseline: [], paged: [], idle: [] };
await paged(); // warm up both (JIT, caches)
await baseline();
await page.goto(`${base}/healthz`);
for (let r = 0; r < ROUNDS; r++) {
  runs.baseline.push(await measure(baseline));
  runs.paged.push(await measure(paged));
  await page.goto(`${base}/healthz`); // stop the overview's refreshes before the next baseline
  // The noise floor: the same time with the server idle. On a shared, loaded machine the
  // process waits for a core too, and that delay is not the server's doing.
  const ms = runs.paged.at(-1)!.ms;
  runs.idle.push(await measure(() => new Promise((r) => setTimeout(r, ms))));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = (k: 'baseline' | 'paged' | 'idle') => ({ maxMs: median(runs[k].map((x) => x.maxMs)), p99Ms: median(runs[k].map((x) => x.p99Ms)), loadMs: median(runs[k].map((x) => x.ms)), cpuMaxMs: median(runs[k].map((x) => x.cpuMaxMs)) });
const b = summary('baseline');
const p = summary('paged');
const idle = summary('idle');
console.log(`overview bench: ${SERVICES} services on ${HOSTS} hosts, ${ROUNDS} rounds, medians`);
console.log(`  baseline, one GET /api/v1/status: event-loop delay max ${b.maxMs.toFixed(1)} ms, p99 ${b.p99Ms.toFixed(1)} ms; fetch+parse in the page ${b.loadMs.toFixed(0)} ms`);
console.log(`  paged, the overview page (pages of 500): event-loop delay max ${p.maxMs.toFixed(1)} ms, p99 ${p.p99Ms.toFixed(1)} ms; page loaded and rendered in ${p.loadMs.toFixed(0)} ms`);
console.log(`  server CPU time of the longest request: baseline ${b.cpuMaxMs.toFixed(1)} ms, paged ${p.cpuMaxMs.toFixed(1)} ms (not counting waits for a core)`);
console.log(`  idle, nothing asked for as long: event-loop delay max ${idle.maxMs.toFixed(1)} ms, p99 ${idle.p99Ms.toFixed(1)} ms (the machine's noise floor)`);
console.log(`  ratio paged/baseline of the max delay: ${(p.maxMs / b.maxMs).toFixed(2)}; paged/idle: ${(p.maxMs / idle.maxMs).toFixed(2)}`);
console.log(JSON.stringify({ services: SERVICES, baseline: b, paged: p, idle, ratioMax: p.maxMs / b.maxMs, ratioIdle: p.maxMs / idle.maxMs }));
await browser.close();
await rt.stop();
