/// <reference lib="dom" />
// Issue 15 item 2: the service view in real headless Chromium. A day of stored history
// (10,000 raw points), thresholds that changed once, a state change, an acknowledgement and
// a downtime; the graph canvas is drawn (pixels checked), the thresholds are series of the
// chart, the marks are on the time axis, the event history is listed; at 1400 px and 390 px
// wide with no horizontal scroll at 390. Measures page weight and render time; saves
// screenshots in the test's temp dir (and in screens/ of the checkout when that exists).
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { DAY } from '../../server/store/perfdata.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { FakeExecutors } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const OUT = tempDir('hawatch-view-');
const SCREENS = join(process.cwd(), 'screens');

const INVENTORY = `
server: { title: hawatch view test }
defaults: { check_interval: 1m, max_check_attempts: 1, notification_interval: 0 }
hosts:
  db1: { address: 192.0.2.11, passive: true, freshness: false }
services:
  - { name: pgsql, host: db1, passive: true, freshness: false }
`;
const POINTS = 10_000;

/** A copy for people to look at, in screens/ of the checkout (not committed). */
function keep(name: string): void {
  if (!existsSync(join(process.cwd(), '.git'))) return;
  mkdirSync(SCREENS, { recursive: true });
  copyFileSync(join(OUT, name), join(SCREENS, name));
}

describe('service view in headless Chromium', () => {
  let rt: Runtime;
  let browser: Browser;
  let base: string;
  const clock = new FakeClock(Date.now() - DAY);
  const key = 'db1/pgsql';
  const at = { crit: 0, ack: 0, downtime: 0, ok: 0 };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    rt = await createRuntime({ inventory: loadInventory(INVENTORY), executorFactory: new FakeExecutors().factory, database: ':memory:', clock, autoStart: false, apiToken: () => 't' });
    const submit = (state: 0 | 2, lag: number, warn: number) =>
      rt.monitor.submitResult(key, { state, output: `PGSQL ${state ? 'CRITICAL' : 'OK'} - replay lag ${lag.toFixed(1)} s`, longOutput: '', perfdataText: `lag=${lag.toFixed(2)}s;${warn};30;0 connections=${40 + (lag | 0)};80;95;0`, executedAt: clock.now(), durationMs: 1 });
    // A day of results, one every 8.64 s: a daily wave, a spike to critical in the afternoon.
    const stepMs = DAY / POINTS;
    for (let i = 0; i < POINTS; i++) {
      const x = i / POINTS;
      const spike = x > 0.62 && x < 0.66;
      const lag = spike ? 32 + 4 * Math.sin(i / 7) : 6 + 5 * Math.sin(x * 2 * Math.PI * 3) + 1.5 * Math.sin(i / 3);
      const warn = x < 0.5 ? 10 : 12; // raised at noon: the line steps
      if (spike && !at.crit) at.crit = clock.now();
      if (!spike && at.crit && !at.ok) at.ok = clock.now();
      submit(spike ? 2 : 0, Math.max(0, lag), warn);
      if (spike && at.crit && !at.ack && clock.now() - at.crit > 10 * 60_000) {
        rt.monitor.acknowledge(key, { sticky: false, notify: false, author: 'alice', comment: 'replica catching up' });
        at.ack = clock.now();
      }
      if (x > 0.8 && !at.downtime) {
        rt.monitor.scheduleDowntime({ key, includeServices: false, fixed: true, start: clock.now(), end: clock.now() + 3_600_000, durationMs: 3_600_000, author: 'bob', comment: 'vacuum full' });
        at.downtime = clock.now();
      }
      clock.advance(stepMs);
    }
    base = await rt.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await rt?.stop();
    removeDir(OUT);
  });

  async function open(width: number): Promise<{ page: Page; errors: string[]; ms: number }> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    const t0 = Date.now();
    await page.goto(`${base}/view?key=${encodeURIComponent(key)}&range=1d&step=raw`);
    await page.waitForSelector('body[data-drawn]', { timeout: 20_000 });
    return { page, errors, ms: Date.now() - t0 };
  }

  /** Non-background pixels of a chart's canvas, and how many are threshold-coloured. */
  const canvasInk = (page: Page, label: string) =>
    page.evaluate((l) => {
      const c = document.querySelector(`section.chart[data-label="${l}"] canvas`) as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let ink = 0, red = 0, yellow = 0, blue = 0;
      for (let i = 0; i < d.length; i += 4) {
        const [r, g, b, a] = [d[i]!, d[i + 1]!, d[i + 2]!, d[i + 3]!];
        if (a === 0) continue;
        ink++;
        if (r > 190 && g < 80 && b < 80) red++;
        if (r > 200 && g > 140 && g < 190 && b < 60) yellow++;
        if (r < 40 && g > 80 && g < 120 && b > 170) blue++;
      }
      return { ink, red, yellow, blue, width: c.width, height: c.height };
    }, label);

  it('draws each series with its thresholds and marks at 1400 px, measured', async () => {
    const { page, errors, ms } = await open(1400);
    expect(await page.locator('section.chart').count()).toBe(2);
    // the range ends at the server's now, a moment after the last result: a point or two of the first seconds fall out
    expect(Number(await page.getAttribute('body', 'data-points'))).toBeGreaterThan(2 * POINTS - 10);
    const lag = await canvasInk(page, 'lag');
    expect(lag.blue).toBeGreaterThan(2000); // the value line
    expect(lag.red).toBeGreaterThan(300); // the critical line at 30
    expect(lag.yellow).toBeGreaterThan(300); // the warning line (10, then 12)
    // warning and critical are chart series (in the legend), one bound each
    expect(await page.getAttribute('section.chart[data-label="lag"]', 'data-thresholds')).toBe('2');
    const legend = await page.locator('section.chart[data-label="lag"] .u-legend').innerText();
    expect(legend).toContain('warning');
    expect(legend).toContain('critical');
    expect(await page.locator('#resolution').innerText()).toBe('every result');
    // The event history: the state changes, the acknowledgement, the downtime.
    const types = await page.locator('#events li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.type));
    expect(types).toEqual(expect.arrayContaining(['STATE', 'ACK', 'DOWNTIME']));
    expect(await page.locator('#events li[data-type=ACK]').first().innerText()).toContain('replica catching up');
    expect(await page.locator('#state').innerText()).toMatch(/OK|CRITICAL/);
    // Marks drawn: a STATE mark is a purple vertical line across the plot at the spike.
    const purple = await page.evaluate(() => {
      const c = document.querySelector('section.chart[data-label="lag"] canvas') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i]! > 100 && d[i]! < 140 && d[i + 1]! < 50 && d[i + 2]! > 140) n++;
      return n;
    });
    await page.screenshot({ path: join(OUT, 'service-view-1400.png'), fullPage: true });
    keep('service-view-1400.png');
    console.log(`purple mark pixels: ${purple}`);
    expect(purple).toBeGreaterThan(200);

    // Page weight (HTML + JS + CSS as sent) and render time for 10,000 points per chart.
    const weight = await page.evaluate(async () => {
      let total = 0;
      for (const u of [location.href, '/view.js', '/view.css', '/live-view.js', '/vendor/uPlot.iife.min.js', '/vendor/uPlot.min.css']) total += (await (await fetch(u)).arrayBuffer()).byteLength;
      return total;
    });
    const renderMs = Number(await page.getAttribute('body', 'data-render-ms'));
    console.log(`service view: page weight ${weight} bytes (HTML+JS+CSS, uncompressed); 2 charts x ${POINTS} points rendered in ${renderMs} ms; load to drawn ${ms} ms`);
    expect(weight).toBeLessThan(100_000);
    expect(renderMs).toBeGreaterThan(0);
    await page.screenshot({ path: join(OUT, 'service-view-1400.png'), fullPage: true });
    keep('service-view-1400.png');
    expect(errors).toEqual([]);
  }, 60_000);

  it('fits a 390 px phone without sideways scrolling, and the range buttons switch resolution', async () => {
    const { page, errors } = await open(390);
    const lag = await canvasInk(page, 'lag');
    expect(lag.blue).toBeGreaterThan(300);
    expect(lag.red).toBeGreaterThan(50);
    const overflow = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, inner: window.innerWidth }));
    expect(overflow.doc).toBeLessThanOrEqual(overflow.inner);
    expect(overflow.body).toBeLessThanOrEqual(overflow.inner);
    const canvasCss = await page.evaluate(() => (document.querySelector('section.chart canvas') as HTMLCanvasElement).getBoundingClientRect().right);
    expect(canvasCss).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(OUT, 'service-view-390.png'), fullPage: true });
    keep('service-view-390.png');

    // 1 week: minute aggregates (step from the URL is raw; the buttons keep it, so drop it)
    await page.goto(`${base}/view?key=${encodeURIComponent(key)}&range=1h`);
    await page.waitForSelector('body[data-drawn]');
    expect(await page.locator('#resolution').innerText()).toBe('every result');
    await page.evaluate(() => delete document.body.dataset.drawn);
    await page.click('#ranges button[data-range="1w"]');
    await page.waitForSelector('body[data-drawn]');
    expect(await page.locator('#resolution').innerText()).toContain('per minute');
    expect(page.url()).toContain('range=1w');
    await page.evaluate(() => delete document.body.dataset.drawn);
    await page.click('#ranges button[data-range="1y"]');
    await page.waitForSelector('body[data-drawn]');
    expect(await page.locator('#resolution').innerText()).toContain('per hour');
    expect(errors).toEqual([]);
  }, 60_000);

  it('keeps the strict CSP (no inline script, the library from this server) and answers an unknown key with 404', async () => {
    const r = await fetch(`${base}/view?key=${encodeURIComponent(key)}`);
    expect(r.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await r.text();
    expect(html).not.toMatch(/<script>(?!<)/);
    expect(html).toContain('<script src="/vendor/uPlot.iife.min.js"></script>');
    const js = await fetch(`${base}/vendor/uPlot.iife.min.js`);
    expect(js.status).toBe(200);
    expect(await js.text()).toContain('uPlot');
    // The status page links each service to its view.
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.locator('tr[data-key="db1/pgsql"] td.service a').click();
    await page.waitForSelector('body[data-drawn]', { timeout: 20_000 });
    expect(await page.locator('h1').innerText()).toBe('db1/pgsql');
    const bad = await fetch(`${base}/view?key=db9%2Fnope`);
    expect(bad.status).toBe(404);
    expect(await bad.text()).toBe('no host or service db9/nope in the inventory\n');
  });

  it('follows the object live: a new result changes the state, the graphs and the events without a reload; a zoomed graph is left alone', async () => {
    const { page, errors } = await open(1400);
    await page.waitForSelector('#live.on', { timeout: 15_000 });
    const before = { drawn: await page.getAttribute('body', 'data-drawn'), state: await page.locator('#state').innerText() };
    expect(before.state).toBe('OK');
    // Only a live refresh moves these: a reload would reset the marker set here.
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
    rt.monitor.submitResult(key, { state: 2, output: 'PGSQL CRITICAL - replay lag 44.0 s', longOutput: '', perfdataText: 'lag=44s;12;30;0 connections=90;80;95;0', executedAt: clock.now(), durationMs: 1 });
    await page.waitForFunction(() => document.getElementById('state')!.textContent === 'CRITICAL', null, { timeout: 15_000 });
    await page.waitForFunction((d) => document.body.dataset.drawn !== d, before.drawn, { timeout: 15_000 });
    expect(await page.locator('#output').innerText()).toBe('PGSQL CRITICAL - replay lag 44.0 s');
    // the new point is the last of each series (the range ends at the server's time now)
    expect(await page.getAttribute('section.chart[data-label="lag"]', 'data-last')).toBe('44');
    expect(await page.getAttribute('section.chart[data-label="connections"]', 'data-last')).toBe('90');
    await page.waitForFunction(() => /CRITICAL - replay lag 44/.test(document.querySelector('#events li')?.textContent ?? ''), null, { timeout: 15_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);

    // Zoom the lag graph (drag across it): the next change updates the state and events, not the graphs.
    const box = (await page.locator('section.chart[data-label="lag"] .u-over').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const drawn = await page.getAttribute('body', 'data-drawn');
    const refreshed = Number(await page.getAttribute('body', 'data-refreshed'));
    rt.monitor.submitResult(key, { state: 0, output: 'PGSQL OK - replay lag 3.0 s', longOutput: '', perfdataText: 'lag=3s;12;30;0 connections=41;80;95;0', executedAt: clock.now(), durationMs: 1 });
    await page.waitForFunction(() => document.getElementById('state')!.textContent === 'OK', null, { timeout: 15_000 });
    await page.waitForFunction((n) => Number(document.body.dataset.refreshed) > n, refreshed, { timeout: 15_000 });
    expect(await page.getAttribute('body', 'data-drawn')).toBe(drawn);
    await page.screenshot({ path: join(OUT, 'service-view-live-1400.png'), fullPage: true });
    keep('service-view-live-1400.png');
    expect(errors).toEqual([]);
  }, 60_000);
});
