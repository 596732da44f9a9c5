/// <reference lib="dom" />
// Issue 15 item 6 and the live views, in real headless Chromium: an overview of 10,000 services
// shows a window of rows with the one problem (last in key order) at the top, the filter box
// finds any service; a status event patches only the rows that changed (the other rows are the
// same DOM nodes after the update); the host view and the cluster view update in place when a
// state changes, and catch up after their connection was cut; at 390 px no sideways scrolling.
// Screenshots go to the temp dir and to screens/ of the checkout. Times are in
// bench/overview.mjs, not asserted here.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { FakeExecutors } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const OUT = tempDir('hawatch-overview-live-');
const SCREENS = join(process.cwd(), 'screens');
const HOSTS = 100;
const PER_HOST = 100; // 10,000 services
const hosts = Array.from({ length: HOSTS }, (_, i) => `h${String(i).padStart(2, '0')}`);
const INVENTORY = [
  'server: { title: overview live test, sse_max_per_source: 20 }',
  'defaults: { check_interval: 1m, max_check_attempts: 1, notification_interval: 0 }',
  'hosts:',
  ...hosts.map((h, i) => `  ${h}: { address: 192.0.2.${i + 1}, passive: true, freshness: false }`),
  '  db1: { address: 198.51.100.11, passive: true, freshness: false }',
  '  db2: { address: 198.51.100.12, passive: true, freshness: false }',
  'services:',
  ...Array.from({ length: PER_HOST }, (_, j) => `  - { name: svc${String(j).padStart(2, '0')}, hosts: [${hosts.join(', ')}], passive: true, freshness: false }`),
  '  - { name: pgsql, hosts: [db1, db2], passive: true, freshness: false }',
  '  - { name: drbd, hosts: [db1, db2], passive: true, freshness: false }',
  'cluster_rules:',
  '  - { name: one primary, service: pgsql, hosts: [db1, db2], kind: exactly_one, role: is_primary }',
].join('\n');
const FAR = 'h99/svc99'; // last in key order: its problem must still be at the top
const CLUSTER = `/cluster?key=${encodeURIComponent('cluster/one primary')}`;

function keep(name: string): void {
  if (!existsSync(join(process.cwd(), '.git'))) return;
  mkdirSync(SCREENS, { recursive: true });
  copyFileSync(join(OUT, name), join(SCREENS, name));
}

describe('overview of 10,000 services and live views', () => {
  let rt: Runtime;
  let browser: Browser;
  let base: string;
  const submit = (key: string, state: 0 | 1 | 2, output: string, perf = '') =>
    rt.monitor.submitResult(key, { state, output, longOutput: '', perfdataText: perf, executedAt: Date.now(), durationMs: 1 });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    rt = await createRuntime({ inventory: loadInventory(INVENTORY), executorFactory: new FakeExecutors().factory, database: ':memory:', autoStart: false, apiToken: () => 't' });
    let n = 0;
    for (const h of hosts) for (let j = 0; j < PER_HOST; j++) submit(`${h}/svc${String(j).padStart(2, '0')}`, 0, `SVC OK - value ${n++}`, `v=${n}B;;;0`);
    submit(FAR, 2, 'SVC CRITICAL - far down the list');
    submit('db1/pgsql', 0, 'PGSQL OK - primary', 'is_primary=1;;;0;1 vip_owned=1;;;0;1 repl_lag=0.2s;5;30;0');
    submit('db2/pgsql', 0, 'PGSQL OK - standby', 'is_primary=0;;;0;1 vip_owned=0;;;0;1 repl_lag=1.5s;5;30;0');
    submit('db1/drbd', 0, 'DRBD OK - r0 UpToDate', "'r0/0 out_of_sync'=0B;;;0");
    submit('db2/drbd', 0, 'DRBD OK - r0 UpToDate', "'r0/0 out_of_sync'=0B;;;0");
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
  async function shot(page: Page, name: string, fullPage = false) {
    await page.screenshot({ path: join(OUT, name), fullPage });
    keep(name);
  }
  /** Marks every element matching sel with its index; returns a function listing the marks still there, in order. */
  async function markNodes(page: Page, sel: string) {
    await page.locator(sel).evaluateAll((els) => els.forEach((e, i) => ((e as unknown as { mark: number }).mark = i)));
    return () => page.locator(sel).evaluateAll((els) => els.map((e) => ({ key: (e as HTMLElement).dataset.key, mark: (e as unknown as { mark?: number }).mark ?? null })));
  }

  it('10,000 services: a window of rows, the problem far down the list at the top, the filter finds any service', async () => {
    const { page, errors } = await open('/', 1400);
    await page.waitForSelector('#objects[data-complete]', { timeout: 30_000 });
    const total = ((await (await fetch(`${base}/api/v1/status?limit=1`)).json()) as { total: number }).total;
    expect(total).toBeGreaterThan(HOSTS * PER_HOST);
    expect(await page.getAttribute('#objects', 'data-total')).toBe(String(total));
    const rows = page.locator('#objects tbody tr');
    // the one problem first, then a window, not 10,107 rows
    expect(await rows.first().getAttribute('data-key')).toBe(FAR);
    expect(await rows.count()).toBe(301);
    const box = await rows.first().locator('button', { hasText: 'Ack' }).boundingBox();
    expect(box!.y + box!.height).toBeLessThanOrEqual(860);
    expect(await page.locator('#more .what').innerText()).toContain(`Showing 301 of ${total}`);
    await shot(page, 'overview-10k-1400.png');
    // a service far outside the window: the filter box searches the whole list
    await page.fill('#search', 'h98/svc97');
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.key))).toEqual(['h98/svc97']);
    await page.fill('#search', '');
    await expect.poll(() => rows.count()).toBe(301);
    // the end of the window is reachable by keyboard: Show more
    await page.locator('#more button').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(801);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('an update of one service changes only its row: every other row is the same DOM node', async () => {
    const { page, errors } = await open('/', 1400);
    await page.waitForSelector('#objects[data-complete]', { timeout: 30_000 });
    await page.waitForSelector('#live.on');
    const marks = await markNodes(page, '#objects tbody tr');
    const before = await marks();
    // an OK service in the window (after the problem and the pending hosts) whose output changes (same place)
    const target = before.find((r, i) => i > 0 && /^h\d+\/svc/.test(r.key!))!.key!;
    submit(target, 0, 'SVC OK - a new value');
    await page.locator(`tr[data-key="${target}"] td.output`, { hasText: 'a new value' }).waitFor({ timeout: 10_000 });
    const after = await marks();
    expect(after.map((r) => r.key)).toEqual(before.map((r) => r.key));
    expect(after.filter((r) => r.mark === null).map((r) => r.key)).toEqual([target]);
    expect(after.filter((r) => r.key !== target)).toEqual(before.filter((r) => r.key !== target));
    // an OK row becomes CRITICAL: it moves up among the problems, the others stay the same nodes
    const mover = before[250]!.key!;
    expect(mover).toMatch(/^h\d+\/svc/);
    submit(mover, 2, 'SVC CRITICAL - just now');
    await expect.poll(async () => (await marks()).slice(0, 2).map((r) => r.key), { timeout: 10_000 }).toEqual([FAR, mover]);
    const moved = await marks();
    // new nodes: the two changed rows, and the row the window gained at its end (one more problem)
    const had = new Set(before.map((r) => r.key));
    const entered = moved.filter((r) => !had.has(r.key));
    expect(entered.map((r) => r.key)).toEqual(moved.slice(moved.length - entered.length).map((r) => r.key));
    expect(moved.filter((r) => r.mark === null && had.has(r.key)).map((r) => r.key).sort()).toEqual([mover, target].sort());
    const kept = moved.filter((r) => r.mark !== null);
    expect(kept.length).toBe(before.length - 2);
    expect(kept.map((r) => r.mark)).toEqual([...kept.map((r) => r.mark)].sort((a, b) => a! - b!));
    submit(mover, 0, 'SVC OK - back');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('acknowledging from the page fetches that one object again, not the 10,000', async () => {
    const { page, errors } = await open('/', 1400);
    await page.waitForSelector('#objects[data-complete]', { timeout: 30_000 });
    await page.waitForSelector('#live.on');
    const full: string[] = [];
    page.on('request', (r) => {
      if (/\/api\/v1\/status\?limit=/.test(r.url())) full.push(r.url());
    });
    const marks = await markNodes(page, '#objects tbody tr');
    await page.fill('#token', 't');
    await page.dispatchEvent('#token', 'change');
    const row = page.locator(`tr[data-key="${FAR}"]`);
    await row.locator('button', { hasText: 'Ack' }).click();
    await page.fill('#ackDialog input[name=comment]', 'looking');
    await page.click('#ackDialog button[value=ok]');
    await row.locator('.flag.ack').waitFor({ timeout: 10_000 });
    expect(rt.monitor.status(FAR)?.ack).toMatchObject({ comment: 'looking' });
    // and back: Unack from the same row
    await row.locator('button', { hasText: 'Unack' }).click();
    await row.locator('button', { hasText: 'Ack' }).waitFor({ timeout: 10_000 });
    expect(rt.monitor.status(FAR)?.ack).toBeNull();
    expect(full).toEqual([]);
    // every other row kept its DOM node
    expect((await marks()).filter((r) => r.mark === null).map((r) => r.key)).toEqual([FAR]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('host view: a state change updates the service in place, problems first, the others keep their nodes', async () => {
    const { page, errors } = await open('/host?name=db1', 1400);
    await page.waitForSelector('#live.on', { timeout: 10_000 });
    const marks = await markNodes(page, '#services > li');
    expect((await marks()).map((r) => r.key)).toEqual(['db1/drbd', 'db1/pgsql']);
    submit('db1/drbd', 2, 'DRBD CRITICAL - r0 StandAlone', "'r0/0 out_of_sync'=2147483648B;;;0");
    const li = page.locator('li[data-key="db1/drbd"]');
    await li.locator('.pill', { hasText: 'CRITICAL' }).waitFor({ timeout: 10_000 });
    expect(await li.innerText()).toContain('2.00 GiB');
    expect(await li.getAttribute('class')).toContain('problem');
    const after = await marks();
    expect(after.find((r) => r.key === 'db1/pgsql')!.mark).toBe(1); // unchanged: same node
    expect(after.find((r) => r.key === 'db1/drbd')!.mark).toBeNull();
    await shot(page, 'host-view-live-1400.png', true);
    // the host itself going down changes the header
    submit('db1/pgsql', 2, 'PGSQL CRITICAL - no answer');
    await expect.poll(() => page.locator('#services > li').evaluateAll((ls) => ls.map((l) => (l as HTMLElement).dataset.key))).toEqual(['db1/drbd', 'db1/pgsql']);
    submit('db1/pgsql', 0, 'PGSQL OK - primary', 'is_primary=1;;;0;1 vip_owned=1;;;0;1 repl_lag=0.2s;5;30;0');
    submit('db1/drbd', 0, 'DRBD OK - r0 UpToDate', "'r0/0 out_of_sync'=0B;;;0");
    await page.locator('li[data-key="db1/drbd"] .pill', { hasText: 'OK' }).waitFor({ timeout: 10_000 });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('cluster view: two primaries turn the rule CRITICAL in place; after a cut connection it catches up', async () => {
    const { page, errors } = await open(CLUSTER, 1400);
    await page.waitForSelector('#live.on', { timeout: 10_000 });
    const marks = await markNodes(page, '#members > section.member');
    expect(await page.locator('header .pill').innerText()).toBe('OK');
    expect(await page.locator('#judgement').getAttribute('class')).toContain('j-OK');
    await page.waitForSelector('#lag[data-drawn]', { timeout: 10_000 });
    // series: db1 repl_lag, db2 repl_lag (a day in minute averages: the newest is this minute's)
    const lastLag = async () => JSON.parse((await page.locator('#lag').getAttribute('data-last'))!) as (number | null)[];
    const before = await lastLag();
    expect(before[1]).toBeLessThan(40);
    submit('db2/pgsql', 0, 'PGSQL OK - promoted', 'is_primary=1;;;0;1 vip_owned=0;;;0;1 repl_lag=40s;5;30;0');
    await page.locator('header .pill', { hasText: 'CRITICAL' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#judgement').innerText()).toBe(rt.monitor.status('cluster/one primary')!.output);
    // the judgement's bar takes the state's colour; the lag graph takes the new value in place
    expect(await page.locator('#judgement').getAttribute('class')).toContain('j-CRITICAL');
    await page.waitForSelector('#lag[data-redrawn]', { timeout: 10_000 });
    await expect.poll(async () => (await lastLag())[1], { timeout: 10_000 }).toBeGreaterThan(before[1]!);
    expect(await page.locator('section.member[data-key="db2/pgsql"] .roles').innerText()).toContain('primary');
    const after = await marks();
    expect(after.find((r) => r.key === 'db1/pgsql')!.mark).toBe(0);
    expect(after.find((r) => r.key === 'db2/pgsql')!.mark).toBeNull();
    await shot(page, 'cluster-view-live-1400.png', true);
    // Cut every connection (a phone's sleep, a proxy restart) and change the state meanwhile:
    // the view reconnects and catches up without a reload.
    const updates = Number(await page.locator('main').getAttribute('data-updates'));
    rt.app.server.closeAllConnections();
    submit('db2/pgsql', 0, 'PGSQL OK - standby again', 'is_primary=0;;;0;1 vip_owned=0;;;0;1 repl_lag=0.4s;5;30;0');
    await page.locator('header .pill', { hasText: 'OK' }).waitFor({ timeout: 10_000 });
    expect(Number(await page.locator('main').getAttribute('data-updates'))).toBeGreaterThan(updates);
    expect(await page.locator('section.member[data-key="db2/pgsql"] .roles').innerText()).toContain('standby');
    await page.waitForSelector('#live.on', { timeout: 10_000 });
    expect(errors.filter((e) => !/ERR_CONNECTION|net::/.test(e))).toEqual([]);
    await page.close();
  }, 60_000);

  it('at 390 px with 10,000 services: no sideways scrolling, the problem and its Ack button on the first screen', async () => {
    const { page, errors } = await open('/', 390);
    await page.waitForSelector('#objects[data-complete]', { timeout: 30_000 });
    expect(await page.evaluate(() => document.scrollingElement!.scrollWidth)).toBeLessThanOrEqual(390);
    const first = page.locator('#objects tbody tr').first();
    expect(await first.getAttribute('data-key')).toBe(FAR);
    const box = await first.locator('button', { hasText: 'Ack' }).boundingBox();
    expect(box!.height).toBeGreaterThanOrEqual(44);
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    expect(box!.y + box!.height).toBeLessThanOrEqual(860);
    await shot(page, 'overview-10k-390.png');
    // the end of the window (the Show more bar) fits too
    await page.locator('#more').scrollIntoViewIfNeeded();
    expect(await page.evaluate(() => document.scrollingElement!.scrollWidth)).toBeLessThanOrEqual(390);
    for (const [path, name] of [['/host?name=db2', 'host-view-live-390.png'], [CLUSTER, 'cluster-view-live-390.png']] as const) {
      const v = await open(path, 390);
      await v.page.waitForSelector('#live.on', { timeout: 10_000 });
      expect(await v.page.evaluate(() => document.scrollingElement!.scrollWidth), path).toBeLessThanOrEqual(390);
      await shot(v.page, name, true);
      expect(v.errors).toEqual([]);
      await v.page.close();
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
