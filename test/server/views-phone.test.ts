/// <reference lib="dom" />
// Issue 15 items 3 and 4 in real headless Chromium: the cluster view (members side by side with
// the roles read from their perfdata, the rule's judgement, both members' replication lag on one
// graph), the host view, readable perfdata on the overview; at 390 px wide no sideways scrolling
// on any of the three, problems first with a thumb-sized acknowledge button; and the overview's
// live updates coming back after the event stream was cut and its reconnect refused.
// Screenshots at 1400 and 390 px go to the temp dir and to screens/ of the checkout.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { FakeExecutors } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const OUT = tempDir('hawatch-views-');
const SCREENS = join(process.cwd(), 'screens');
const GiB = 1024 ** 3;

// Two event streams per client address (the host and cluster views are live too, and a page
// that navigates may hold its old stream a moment): the test takes both slots to make the
// page's reconnect fail.
const INVENTORY = `
server: { title: hawatch views test, sse_max_per_source: 2 }
defaults: { check_interval: 1m, max_check_attempts: 1, notification_interval: 0 }
hosts:
  db1: { address: 192.0.2.11, passive: true, freshness: false }
  db2: { address: 192.0.2.12, passive: true, freshness: false }
services:
  - { name: pgsql, hosts: [db1, db2], passive: true, freshness: false }
  - { name: drbd, hosts: [db1, db2], passive: true, freshness: false }
cluster_rules:
  - { name: one primary, service: pgsql, hosts: [db1, db2], kind: exactly_one, role: is_primary }
`;

function keep(name: string): void {
  if (!existsSync(join(process.cwd(), '.git'))) return;
  mkdirSync(SCREENS, { recursive: true });
  copyFileSync(join(OUT, name), join(SCREENS, name));
}

describe('host and cluster views, phone layout, reconnect', () => {
  let rt: Runtime;
  let browser: Browser;
  let base: string;
  const clock = new FakeClock(Date.now() - 2 * 3_600_000);
  const submit = (key: string, state: 0 | 1 | 2, output: string, perf: string) =>
    rt.monitor.submitResult(key, { state, output, longOutput: '', perfdataText: perf, executedAt: clock.now(), durationMs: 1 });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    rt = await createRuntime({ inventory: loadInventory(INVENTORY), executorFactory: new FakeExecutors().factory, database: ':memory:', clock, autoStart: false, apiToken: () => 't' });
    // Two hours of results a minute apart: db1 primary with the VIP, db2 standby; each reports
    // the lag of what it receives from the other (both directions), db2's with a bump.
    for (let i = 0; i < 120; i++) {
      const l1 = 0.2 + 0.1 * Math.sin(i / 5);
      const l2 = 2 + 1.5 * Math.sin(i / 9) + (i > 80 && i < 95 ? 8 : 0);
      submit('db1/pgsql', 0, 'PGSQL OK - primary', `is_primary=1;;;0;1 vip_owned=1;;;0;1 repl_lag=${l1.toFixed(2)}s;5;30;0 connections=${40 + (i % 7)};80;95;0`);
      submit('db2/pgsql', 0, `PGSQL OK - standby, lag ${l2.toFixed(1)} s`, `is_primary=0;;;0;1 vip_owned=0;;;0;1 repl_lag=${l2.toFixed(2)}s;5;30;0 connections=${12 + (i % 3)};80;95;0`);
      submit('db1/drbd', 0, 'DRBD OK - r0 UpToDate', "'r0/0 out_of_sync'=0B;;;0");
      submit('db2/drbd', 2, 'DRBD CRITICAL - r0/0 Inconsistent, resync 37.5%', `'r0/0 out_of_sync'=${7 * GiB}B;${GiB};;0 sync=37.5%;;;0;100`);
      clock.advance(60_000);
    }
    base = await rt.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rt?.stop();
    removeDir(OUT);
  });

  async function open(path: string, width: number): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width, height: 860 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(base + path);
    return { page, errors };
  }
  const scrollWidth = (page: Page) => page.evaluate(() => document.scrollingElement!.scrollWidth);
  async function shot(page: Page, name: string) {
    await page.screenshot({ path: join(OUT, name), fullPage: true });
    keep(name);
  }
  const CLUSTER = `/cluster?key=${encodeURIComponent('cluster/one primary')}`;

  it('cluster view: members side by side with their roles, the judgement, both lags on one graph', async () => {
    const { page, errors } = await open(CLUSTER, 1400);
    await page.waitForSelector('#lag[data-drawn]', { timeout: 20_000 });
    const m1 = page.locator('section.member[data-key="db1/pgsql"]');
    const m2 = page.locator('section.member[data-key="db2/pgsql"]');
    expect(await m1.locator('.roles').innerText()).toMatch(/primary[\s\S]*holds the VIP|holds the VIP[\s\S]*primary/);
    expect(await m2.locator('.roles').innerText()).toContain('standby');
    expect(await m2.locator('.roles').innerText()).toContain('no VIP');
    // side by side at 1400: same top, db2 to the right
    const [b1, b2] = [await m1.boundingBox(), await m2.boundingBox()];
    expect(b2!.y).toBe(b1!.y);
    expect(b2!.x).toBeGreaterThan(b1!.x + b1!.width - 1);
    // the rule's judgement line, as the rule said it
    const judgement = rt.monitor.status('cluster/one primary')!.output;
    expect(judgement.length).toBeGreaterThan(0);
    expect(await page.locator('#judgement').innerText()).toBe(judgement);
    // readable values with units, not raw perfdata
    expect(await m2.locator('ul.perf').innerText()).toContain('repl_lag');
    expect(await m2.locator('ul.perf').innerText()).toMatch(/repl_lag [\d.]+ s \(warn 5 s, crit 30 s\)/);
    // one graph, one series per member
    expect(await page.getAttribute('#lag', 'data-drawn')).toBe('2');
    const legend = await page.locator('#lag .u-legend').innerText();
    expect(legend).toContain('db1 repl_lag');
    expect(legend).toContain('db2 repl_lag');
    const ink = await page.evaluate(() => {
      const c = document.querySelector('#lag canvas') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let blue = 0, red = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] === 0) continue;
        if (d[i]! < 40 && d[i + 1]! > 80 && d[i + 1]! < 120 && d[i + 2]! > 170) blue++;
        if (d[i]! > 170 && d[i + 1]! < 80 && d[i + 2]! < 80) red++;
      }
      return { blue, red };
    });
    expect(ink.blue).toBeGreaterThan(100); // db1's line
    expect(ink.red).toBeGreaterThan(100); // db2's line
    // the strict CSP holds: no inline script
    const r = await fetch(base + CLUSTER);
    expect(r.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await r.text()).not.toMatch(/<script>/);
    await shot(page, 'cluster-view-1400.png');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('host view: the host, its services problems first with readable values, linked from the overview', async () => {
    const { page, errors } = await open('/', 1400);
    await page.waitForSelector('tr[data-key="db2/drbd"]', { timeout: 15_000 });
    // overview: problems first, readable perfdata
    expect(await page.locator('#objects tbody tr').first().getAttribute('data-key')).toBe('db2/drbd');
    expect(await page.locator('tr[data-key="db2/drbd"] td.perf').innerText()).toContain('r0/0 out_of_sync 7.00 GiB (warn 1.00 GiB)');
    expect(await page.locator('tr[data-key="cluster/one primary"] td.service a').getAttribute('href')).toBe(CLUSTER);
    await shot(page, 'overview-1400.png');
    await page.locator('tr[data-key="db2/drbd"] td.host a').click();
    await page.waitForSelector('#services');
    expect(page.url()).toBe(`${base}/host?name=db2`);
    expect(await page.locator('h1').innerText()).toBe('db2');
    const items = page.locator('#services > li');
    expect(await items.first().getAttribute('data-key')).toBe('db2/drbd');
    expect(await items.first().innerText()).toContain('7.00 GiB');
    expect(await items.first().innerText()).toContain('sync 37.5%');
    expect(await page.locator('li[data-key="db2/pgsql"] a').getAttribute('href')).toBe('/view?key=db2%2Fpgsql');
    expect(await page.locator('.rules a').getAttribute('href')).toBe(CLUSTER);
    await shot(page, 'host-view-1400.png');
    expect((await fetch(`${base}/host?name=nope`)).status).toBe(404);
    expect((await fetch(`${base}/cluster?key=nope`)).status).toBe(404);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('at 390 px: no sideways scrolling on the overview, the host view and the cluster view; problems first, a 44 px acknowledge button', async () => {
    const { page, errors } = await open('/', 390);
    await page.waitForSelector('tr[data-key="db2/drbd"]', { timeout: 15_000 });
    expect(await scrollWidth(page)).toBeLessThanOrEqual(390);
    const first = page.locator('#objects tbody tr').first();
    expect(await first.getAttribute('data-key')).toBe('db2/drbd');
    const ack = first.locator('button', { hasText: 'Ack' });
    const box = await ack.boundingBox();
    expect(box!.height).toBeGreaterThanOrEqual(44);
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    // the problem and its button are on the first screen, no scrolling needed
    expect(box!.y + box!.height).toBeLessThanOrEqual(860);
    await shot(page, 'overview-390.png');
    await page.close();
    for (const [path, name] of [['/host?name=db2', 'host-view-390.png'], [CLUSTER, 'cluster-view-390.png']] as const) {
      const v = await open(path, 390);
      if (path === CLUSTER) await v.page.waitForSelector('#lag[data-drawn]', { timeout: 20_000 });
      expect(await scrollWidth(v.page), path).toBeLessThanOrEqual(390);
      await shot(v.page, name);
      expect(v.errors).toEqual([]);
      await v.page.close();
    }
    expect(errors).toEqual([]);
  }, 60_000);

  it('catches up after the event stream is cut and its reconnect refused', async () => {
    const { page } = await open('/', 390);
    await page.waitForSelector('#live.on', { timeout: 10_000 });
    await page.waitForSelector('tr[data-key="db1/drbd"]');
    // Cut every connection server-side (as a phone's sleep or a proxy restart does), and take
    // the only event-stream slot of this address so the browser's own reconnect gets 429:
    // EventSource then gives up for good.
    rt.app.server.closeAllConnections();
    const hold = new AbortController();
    const t0 = Date.now();
    for (let held = 0; held < 2;) {
      const r = await fetch(`${base}/api/v1/events`, { signal: hold.signal }).catch(() => null);
      if (r?.status === 200) {
        held++;
        continue;
      }
      await r?.body?.cancel();
      if (Date.now() - t0 > 5000) throw new Error('could not take both event-stream slots in 5 s');
      await new Promise((res) => setTimeout(res, 50));
    }
    await page.waitForSelector('#live:not(.on)', { timeout: 5000 });
    await new Promise((res) => setTimeout(res, 3000)); // the browser's reconnect (retry 2 s) is refused
    submit('db1/drbd', 2, 'DRBD CRITICAL - r0 StandAlone', "'r0/0 out_of_sync'=2048B;;;0");
    hold.abort();
    const changed = Date.now();
    // Shown within a few seconds (the 10 s polling fallback alone would be too late).
    await page.locator('tr[data-key="db1/drbd"] td.state', { hasText: 'CRITICAL' }).waitFor({ timeout: 6000 });
    console.log(`caught up ${Date.now() - changed} ms after the change`);
    // and live again: the next change arrives over the new stream
    await page.waitForSelector('#live.on', { timeout: 10_000 });
    submit('db1/drbd', 0, 'DRBD OK - r0 UpToDate again', "'r0/0 out_of_sync'=0B;;;0");
    await page.locator('tr[data-key="db1/drbd"] td.state', { hasText: 'OK' }).waitFor({ timeout: 5000 });
    await page.close();
  }, 60_000);
});
