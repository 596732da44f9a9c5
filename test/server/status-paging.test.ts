/// <reference lib="dom" />
// Issue 15 item 6: /api/v1/status and /api/v1/services in pages (limit, offset), and the
// overview loading more than one page in real headless Chromium (every object once, problems
// first). The event-loop figures are in bench/overview.mjs (no absolute times in tests).
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { pageOf } from '../../server/http/routes.ts';
import { FakeExecutors } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const HOSTS = 30;
const PER_HOST = 40; // 1,200 services: three pages of the overview's 500
const hosts = Array.from({ length: HOSTS }, (_, i) => `h${i}`);
const INVENTORY = [
  'server: { title: paging test }',
  'defaults: { check_interval: 1m, max_check_attempts: 1, notification_interval: 0 }',
  'hosts:',
  ...hosts.map((h, i) => `  ${h}: { address: 192.0.2.${i + 1}, passive: true, freshness: false }`),
  'services:',
  ...Array.from({ length: PER_HOST }, (_, j) => `  - { name: s${j}, hosts: [${hosts.join(', ')}], passive: true, freshness: false }`),
].join('\n');

describe('paged status', () => {
  let rt: Runtime;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    rt = await createRuntime({ inventory: loadInventory(INVENTORY), executorFactory: new FakeExecutors().factory, database: ':memory:', autoStart: false, apiToken: () => 't' });
    let n = 0;
    for (const h of hosts) for (let j = 0; j < PER_HOST; j++) {
      const state = n % 50 === 7 ? 2 : 0;
      rt.monitor.submitResult(`${h}/s${j}`, { state, output: state ? 'CRIT' : 'OK', longOutput: '', perfdataText: `v=${n}B;;;0`, executedAt: Date.now(), durationMs: 1 });
      n++;
    }
    base = await rt.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await rt?.stop();
  });

  it('pageOf slices and says where the next page starts', () => {
    expect(pageOf([1, 2, 3, 4, 5], { limit: 2, offset: 0 })).toEqual({ items: [1, 2], total: 5, nextOffset: 2 });
    expect(pageOf([1, 2, 3, 4, 5], { limit: 2, offset: 4 })).toEqual({ items: [5], total: 5, nextOffset: null });
    expect(pageOf([1, 2, 3], {})).toEqual({ items: [1, 2, 3], total: 3, nextOffset: null });
  });

  it('walks /api/v1/status page by page: every object once, in the problems-first order of the full list', async () => {
    const full = (await (await fetch(`${base}/api/v1/status`)).json()) as { objects: { key: string }[]; total: number; nextOffset: number | null };
    expect(full.total).toBe(HOSTS * PER_HOST + HOSTS);
    expect(full.nextOffset).toBeNull();
    const keys: string[] = [];
    let offset: number | null = 0;
    let pages = 0;
    while (offset !== null) {
      const p = (await (await fetch(`${base}/api/v1/status?limit=500&offset=${offset}`)).json()) as typeof full;
      expect(p.objects.length).toBeLessThanOrEqual(500);
      keys.push(...p.objects.map((o) => o.key));
      offset = p.nextOffset;
      pages++;
    }
    expect(pages).toBe(3);
    expect(keys).toEqual(full.objects.map((o) => o.key));
    const services = (await (await fetch(`${base}/api/v1/services?limit=10&offset=20`)).json()) as { services: unknown[]; total: number; nextOffset: number };
    expect(services.services).toHaveLength(10);
    expect(services.total).toBe(HOSTS * PER_HOST);
    expect(services.nextOffset).toBe(30);
    expect((await fetch(`${base}/api/v1/status?limit=0`)).status).toBe(400);
  });

  it('a state changed between two pages shows its current state on the later page', async () => {
    const first = (await (await fetch(`${base}/api/v1/status?limit=500&offset=0`)).json()) as { objects: { key: string }[] };
    const lastOk = 'h29/s39';
    expect(first.objects.some((o) => o.key === lastOk)).toBe(false);
    rt.monitor.submitResult(lastOk, { state: 1, output: 'WARN now', longOutput: '', perfdataText: '', executedAt: Date.now(), durationMs: 1 });
    const rest = [];
    for (let off = 500; off < 1230; off += 500) rest.push(...((await (await fetch(`${base}/api/v1/status?limit=500&offset=${off}`)).json()) as { objects: { key: string; stateName: string }[] }).objects);
    expect(rest.find((o) => o.key === lastOk)?.stateName).toBe('WARNING');
  });

  it('the overview loads every page: all objects, problems first, a window of rows; then fetches only what changed', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${base}/`);
    await page.waitForSelector('#objects[data-complete]', { timeout: 30_000 });
    const all = HOSTS * PER_HOST + HOSTS;
    expect(await page.getAttribute('#objects', 'data-total')).toBe(String(all));
    // a window: the problems and 300 more, not 1,230 rows
    const problems = ((await (await fetch(`${base}/api/v1/status`)).json()) as { objects: { stateName: string }[] }).objects.filter((o) => /CRITICAL|WARNING/.test(o.stateName)).length;
    expect(await page.locator('#objects tbody tr').count()).toBe(problems + 300);
    expect(await page.locator('#more .what').innerText()).toContain(`of ${all}`);
    expect(await page.locator('#objects tbody tr').first().locator('td.state').innerText()).toMatch(/CRITICAL|WARNING/);
    // Show more, by keyboard, until every row is there: each object once, in the server's order
    while (await page.locator('#more button').isVisible()) {
      await page.locator('#more button').focus();
      await page.keyboard.press('Enter');
    }
    expect(await page.locator('#objects tbody tr').count()).toBe(all);
    const keys = await page.locator('#objects tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.key));
    expect(new Set(keys).size).toBe(keys.length);

    // A change: the page fetches only the changed object (?keys=), not the three pages again,
    // and puts it where problems-first says (a new CRITICAL after the older ones).
    await page.waitForSelector('#live.on');
    const asked: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/v1/status')) asked.push(new URL(r.url()).search);
    });
    rt.monitor.submitResult('h3/s3', { state: 2, output: 'CRIT just now', longOutput: '', perfdataText: 'v=2048B;;;0', executedAt: Date.now(), durationMs: 1 });
    await page.locator('tr[data-key="h3/s3"] td.state', { hasText: 'CRITICAL' }).waitFor({ timeout: 10_000 });
    // the first request after the change (a 30 s full refresh may follow on a slow machine)
    expect(asked[0]).toBe(`?keys=${encodeURIComponent('h3/s3')}`);
    expect(await page.locator('tr[data-key="h3/s3"] td.perf').innerText()).toBe('v 2.00 KiB');
    const order = await page.locator('#objects tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.key));
    const server = ((await (await fetch(`${base}/api/v1/status`)).json()) as { objects: { key: string }[] }).objects.map((o) => o.key);
    expect(order).toEqual(server);
    expect(order.length).toBe(all);
    await page.close();
  }, 60_000);
});
