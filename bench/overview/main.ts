/**
 * Issue 15 item 6: the server's event-loop delay while the overview loads 10,000 services.
 * The server runs in this process (monitorEventLoopDelay watches its loop); the page runs in
 * headless Chromium, so the browser's work is not counted. Two ways of loading, each run
 * ROUNDS times, alternating:
 *   baseline: one GET /api/v1/status with every object (what the page did before);
 *   paged:    the overview page itself (pages of 500: GET /api/v1/status?limit=500&offset=N).
 * Prints the max and p99 delay of each, their ratio, and the page's load time; the page's time
 * to first render and to fully interactive; and an update of 100 changed objects: the time until
 * the page shows them, its longest task meanwhile and the server's event-loop delay.
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
// A new page for each load, the previous one closed: navigating away from a page busy
// rendering 10,000 rows (the page before the window) could take longer than 30 s on a loaded machine.
let page = await browser.newPage();
async function freshPage() {
  await page.close();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error' && !/404/.test(m.text())) console.error('page:', m.text()); });
  page.on('pageerror', (e) => console.error('page:', e.message));
}
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
// Page times, in ms from the navigation start, read in the page on animation frames (a frame
// runs only when the main thread is free, so a long render delays them as a person would see):
// first render: the first row is in the table; interactive: every object is loaded and shown
// as the page shows it (the windowed page marks #objects[data-complete]; the page before it
// rendered every row once all pages were in).
const TOTAL = SERVICES + HOSTS;
let pageTimes: { firstMs: number; interactiveMs: number }[] = [];
const paged = async () => {
  await freshPage();
  await page.goto(`${base}/`);
  const firstMs = await (await page.waitForFunction(() => document.querySelector('#objects tbody tr') ? performance.now() : 0, undefined, { timeout: 600_000, polling: 'raf' })).jsonValue();
  const interactiveMs = await (await page.waitForFunction((total) => (document.querySelector('#objects[data-complete]') || document.querySelectorAll('#objects tbody tr').length >= total) ? performance.now() : 0, TOTAL, { timeout: 600_000, polling: 'raf' })).jsonValue();
  pageTimes.push({ firstMs, interactiveMs });
  console.log(`  (load: first render ${firstMs.toFixed(0)} ms, interactive ${interactiveMs.toFixed(0)} ms)`);
};
// An update of UPDATE changed objects: OK services far down the list become WARNING (so they
// come first, where both pages show them), then back. Timed from the results to the last of
// them shown, with the page's longest task meanwhile (PerformanceObserver longtask).
const UPDATE = 100;
const keys = Array.from({ length: UPDATE }, (_, i) => `${hosts[HOSTS - 1 - (i % HOSTS)]}/svc${PER_HOST - 1 - Math.floor(i / HOSTS)}`);
const updateRuns: { ms: number; longestTaskMs: number; applyMs: number | null; loopMaxMs: number }[] = [];
async function update(round: number) {
  await page.evaluate(() => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((l) => w.longTasks.push(...l.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
  });
  const state = round % 2 === 0 ? 1 : 0;
  h.reset();
  h.enable();
  const t0 = performance.now();
  for (const k of keys) rt.monitor.submitResult(k, { state, output: `SVC ${state ? 'WARNING' : 'OK'} - update ${round}`, longOutput: '', perfdataText: 'lag=1s;5;30;0', executedAt: Date.now(), durationMs: 1 });
  await page.waitForFunction(({ keys, text, shown }) => keys.every((k) => {
    const tr = document.querySelector(`#objects tr[data-key="${k}"]`);
    return shown ? tr?.textContent?.includes(text) : !tr || tr.textContent?.includes(text);
  }), { keys, text: `update ${round}`, shown: state === 1 }, { timeout: 600_000, polling: 'raf' });
  const ms = performance.now() - t0;
  h.disable();
  const r = await page.evaluate(() => ({ longest: Math.max(0, ...(window as unknown as { longTasks: number[] }).longTasks), apply: document.querySelector('#objects')?.getAttribute('data-apply-ms') ?? null }));
  updateRuns.push({ ms, longestTaskMs: r.longest, applyMs: r.apply === null ? null : Number(r.apply), loopMaxMs: h.max / 1e6 });
  console.log(`  (update ${round}: shown in ${ms.toFixed(0)} ms, longest page task ${r.longest.toFixed(0)} ms)`);
}
const runs: { baseline: Awaited<ReturnType<typeof measure>>[]; paged: Awaited<ReturnType<typeof measure>>[]; idle: Awaited<ReturnType<typeof measure>>[] } = { baseline: [], paged: [], idle: [] };
await paged(); // warm up both (JIT, caches)
await baseline();
pageTimes = [];
await freshPage(); // stop the overview's refreshes before the baseline
for (let r = 0; r < ROUNDS; r++) {
  runs.baseline.push(await measure(baseline));
  runs.paged.push(await measure(paged));
  await page.waitForSelector('#live.on', { timeout: 300_000 });
  await new Promise((res) => setTimeout(res, 500));
  await update(2 * r);
  await update(2 * r + 1);
  await freshPage(); // stop the overview's refreshes before the next baseline
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
const firstMs = median(pageTimes.map((x) => x.firstMs));
const interactiveMs = median(pageTimes.map((x) => x.interactiveMs));
const upd = updateRuns.filter((_, i) => i % 2 === 0); // the rounds that make them WARNING
const u = { ms: median(upd.map((x) => x.ms)), longestTaskMs: median(upd.map((x) => x.longestTaskMs)), applyMs: upd[0]!.applyMs === null ? null : median(upd.map((x) => x.applyMs!)), loopMaxMs: median(upd.map((x) => x.loopMaxMs)) };
console.log(`overview bench: ${SERVICES} services on ${HOSTS} hosts, ${ROUNDS} rounds, medians`);
console.log(`  baseline, one GET /api/v1/status: event-loop delay max ${b.maxMs.toFixed(1)} ms, p99 ${b.p99Ms.toFixed(1)} ms; fetch+parse in the page ${b.loadMs.toFixed(0)} ms`);
console.log(`  paged, the overview page (pages of 500): event-loop delay max ${p.maxMs.toFixed(1)} ms, p99 ${p.p99Ms.toFixed(1)} ms; page loaded and rendered in ${p.loadMs.toFixed(0)} ms`);
console.log(`  server CPU time of the longest request: baseline ${b.cpuMaxMs.toFixed(1)} ms, paged ${p.cpuMaxMs.toFixed(1)} ms (not counting waits for a core)`);
console.log(`  idle, nothing asked for as long: event-loop delay max ${idle.maxMs.toFixed(1)} ms, p99 ${idle.p99Ms.toFixed(1)} ms (the machine's noise floor)`);
console.log(`  ratio paged/baseline of the max delay: ${(p.maxMs / b.maxMs).toFixed(2)}; paged/idle: ${(p.maxMs / idle.maxMs).toFixed(2)}`);
console.log(`  page: first render ${firstMs.toFixed(0)} ms, fully interactive ${interactiveMs.toFixed(0)} ms after navigation start`);
console.log(`  update of ${UPDATE} changed objects: shown ${u.ms.toFixed(0)} ms after the results (with the server's 200 ms batching and the page's 250 ms pause), longest page task ${u.longestTaskMs.toFixed(0)} ms${u.applyMs === null ? '' : `, sort and patch ${u.applyMs} ms`}; server event-loop delay max ${u.loopMaxMs.toFixed(1)} ms`);
console.log(JSON.stringify({ services: SERVICES, baseline: b, paged: p, idle, ratioMax: p.maxMs / b.maxMs, ratioIdle: p.maxMs / idle.maxMs, page: { firstMs, interactiveMs }, update: { objects: UPDATE, ...u } }));
await browser.close();
await rt.stop();
