// The status page in real headless Chromium: problems first, live update over SSE,
// acknowledging from the page with the token. Saves test-output/status-page.png.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeExecutors } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const OUT = join(process.cwd(), 'test-output');

const INVENTORY = `
server: { title: hawatch test cluster }
defaults: { check_interval: 2s, retry_interval: 1s, max_check_attempts: 1, notification_interval: 0 }
hosts:
  db1: { address: 192.0.2.11 }
  db2: { address: 192.0.2.12 }
services:
  - { name: drbd, hosts: [db1, db2], command: check_ha_drbd }
  - { name: pgsql, hosts: [db1, db2], command: check_pgsql }
cluster_rules:
  - { name: one primary, service: pgsql, hosts: [db1, db2], match: { perfdata: is_primary, equals: 1 }, expect: { exactly: 1 } }
`;

describe('status page in headless Chromium', () => {
  let rt: Runtime;
  let browser: Browser;
  let base: string;
  const fx = new FakeExecutors();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    fx.set('db1 check_ha_drbd', 2, "DRBD CRITICAL - r0/0 peer db2: disk Inconsistent, 37.5% synced|'r0/0 out_of_sync'=1048576B;;;0");
    fx.set('db1 check_pgsql', 0, 'PGSQL OK - primary|is_primary=1;;;0;1 connections=12;80;95;0');
    fx.set('db2 check_pgsql', 0, 'PGSQL OK - standby, replay lag 0.2 s|is_primary=0;;;0;1 lag=0.2s;5;30;0');
    rt = await createRuntime({ inventory: loadInventory(INVENTORY), executorFactory: fx.factory, database: ':memory:', apiToken: () => 'page-token' });
    base = (await rt.app.listen({ host: '127.0.0.1', port: 0 })) + '/';
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await rt?.stop();
  });

  it('shows problems first, updates live and acknowledges from the page', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 700 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(base);
    await page.waitForSelector('#live.on', { timeout: 10_000 });
    // 3 hosts (one virtual), 4 services and the cluster rule, all checked (the first round is spread over 2 s)
    await expect.poll(async () => [await page.locator('#objects tbody tr').count(), await page.locator('td.s-PENDING').count()], { timeout: 15_000 }).toEqual([8, 0]);
    const first = page.locator('#objects tbody tr').first();
    await expect.poll(() => first.getAttribute('data-key')).toBe('db1/drbd');
    expect(await first.locator('td.state').innerText()).toContain('CRITICAL');
    // readable with its unit; the raw string on hover
    expect(await first.locator('td.perf').innerText()).toContain('r0/0 out_of_sync 1.00 MiB');
    expect(await first.locator('td.perf').getAttribute('title')).toBe("'r0/0 out_of_sync'=1048576B;;;0");
    expect(await page.locator('tr[data-key="cluster/one primary"] td.state').innerText()).toContain('OK');
    // db1 has no host check (no transport, no check:): the page says so instead of a silent UP.
    expect(await page.locator('tr[data-key="db1"] td.state').innerText()).toContain('NO HOST CHECK');
    expect(await page.locator('tr[data-key="db1"] td.output').innerText()).toContain('No host check');

    // A change on the server reaches the page without reload: db2 becomes primary too.
    fx.set('db2 check_pgsql', 0, 'PGSQL OK - primary|is_primary=1;;;0;1');
    await page.locator('tr[data-key="cluster/one primary"] td.state', { hasText: 'CRITICAL' }).waitFor({ timeout: 15_000 });

    // Acknowledge the DRBD problem from the page.
    await page.fill('#token', 'page-token');
    await page.dispatchEvent('#token', 'change');
    await first.locator('button', { hasText: 'Ack' }).click();
    await page.fill('#ackDialog input[name=comment]', 'resync after disk swap');
    await page.check('#ackDialog input[name=sticky]');
    await page.click('#ackDialog button[value=ok]');
    await page.waitForSelector('tr[data-key="db1/drbd"] .flag.ack', { timeout: 10_000 });
    expect(rt.monitor.status('db1/drbd')?.ack).toMatchObject({ sticky: true, comment: 'resync after disk swap' });
    // Unhandled problems come before acknowledged ones now.
    await expect.poll(() => page.locator('#objects tbody tr').first().getAttribute('data-key')).toBe('cluster/one primary');

    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, 'status-page.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('refuses an acknowledgement with a wrong token and says why', async () => {
    const page = await browser.newPage();
    await page.goto(base);
    await page.waitForSelector('tr[data-key="db2/drbd"]');
    await page.fill('#token', 'wrong');
    await page.dispatchEvent('#token', 'change');
    await page.locator('tr[data-key="db2/drbd"] button', { hasText: 'Downtime' }).click();
    await page.fill('#downtimeDialog input[name=comment]', 'maintenance');
    await page.click('#downtimeDialog button[value=ok]');
    await page.waitForSelector('#message.error');
    expect(await page.locator('#message').innerText()).toMatch(/missing or wrong bearer token/);
    expect(rt.monitor.downtimes()).toEqual([]);
  });

  it('shows a degraded banner while the store cannot be written, and removes it after', async () => {
    const page = await browser.newPage();
    await page.goto(base);
    await page.waitForSelector('tr[data-key="db2/drbd"]');
    expect(await page.locator('#degraded').isHidden()).toBe(true);
    await rt.scheduler.stop(); // a successful write would end the degraded state at once
    rt.health.fail('writing state changes', Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }));
    await page.reload();
    await page.locator('#degraded', { hasText: 'DEGRADED since' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#degraded').innerText()).toMatch(/cannot be written \(writing state changes: SQLITE_FULL database or disk is full\), free space on its filesystem/);
    rt.health.ok();
    await page.reload();
    await page.waitForSelector('tr[data-key="db2/drbd"]');
    expect(await page.locator('#degraded').isHidden()).toBe(true);
  });
});
