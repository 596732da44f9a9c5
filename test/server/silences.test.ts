// Issue 10 item 7, silences: matchers (host/service glob, states, rule), held problem
// notifications that are sent when the silence ends, storage across a restart, the API with
// its token and matcher checks, and where they show (status, page).
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { join } from 'node:path';
import { query } from '../../server/cli/query.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { matcherProblem, silenceMatches, silencesFor, type Silence, type SilenceTarget } from '../../server/notify/silences.ts';
import { MAX_SILENCES } from '../../server/http/routes.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { FakeExecutors , syncStore } from './helpers.ts';

const dir = tempDir('hawatch-silence-');
afterAll(() => removeDir(dir));

const INVENTORY = `
defaults: { max_check_attempts: 1, notification_interval: 0, check_interval: 1d }
notifications: { email: { smtp: { host: 127.0.0.1, port: 25, security: none } }, group_window: 0s }
contacts: { ops: { email: ops@test.invalid } }
hosts:
  web1: { local: true, contacts: [ops] }
  web2: { local: true, contacts: [ops] }
  db1: { local: true, contacts: [ops] }
services:
  - { name: http, hosts: [web1, web2], command: check_http }
  - { name: pgsql, host: db1, command: check_pgsql }
  - { name: vip, hosts: [web1, web2], command: check_vip }
cluster_rules:
  - { name: one vip, kind: exactly_one, role: vip_owned, service: vip, hosts: [web1, web2], hold_down: false }
`;

const MIN = 60_000;
const TOKEN = 'silence-token';

async function boot(db: string, clock: FakeClock, logs?: string[]): Promise<Runtime> {
  return createRuntime({
    inventory: loadInventory(INVENTORY), executorFactory: new FakeExecutors().factory, database: db, clock, autoStart: false, apiToken: () => TOKEN,
    ...(logs ? { logger: { level: 'info', stream: { write: (s: string) => void logs.push(JSON.parse(s).msg) } } } : {}),
  });
}

function helpers(rt: Runtime, clock: FakeClock) {
  const say = (key: string, state: number, perf = '') =>
    rt.monitor.submitResult(key, { state: state as 0 | 1 | 2 | 3, output: `${['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'][state]} - ${key}`, longOutput: '', perfdataText: perf, executedAt: clock.now(), durationMs: 1 });
  /** PROBLEM/RECOVERY notifications queued, as object:type:number (one row per contact and channel: one contact, email only). */
  const sent = () => syncStore(rt.store).recentOutbox(1000).reverse().map((r) => `${r.notification.key}:${r.notification.type}:${r.notification.number}`);
  const suppressed = (key: string) => syncStore(rt.store).history({ key, limit: 100 }).filter((e) => e.type === 'NOTIFICATION_SUPPRESSED').map((e) => e.detail);
  return { say, sent, suppressed };
}

const target = (over: Partial<SilenceTarget>): SilenceTarget => ({ key: 'web1/http', kind: 'service', hostName: 'web1', serviceName: 'http', state: 2, rules: [], ...over });
const silence = (over: Partial<Silence['matchers']>, win: { start?: number; end?: number } = {}): Silence => ({
  id: 's1', author: 'alice', comment: 'deploy', start: win.start ?? 0, end: win.end ?? 1000, createdAt: 0,
  matchers: { host: '*', service: null, states: null, rule: null, ...over },
});

describe('silence matching (pure)', () => {
  it('host and service globs, states, rule and the window', () => {
    expect(silenceMatches(silence({ host: 'web*' }), target({}), 10)).toBe(true);
    expect(silenceMatches(silence({ host: 'web?' }), target({ hostName: 'web10' }), 10)).toBe(false);
    expect(silenceMatches(silence({ host: 'db*' }), target({}), 10)).toBe(false);
    expect(silenceMatches(silence({ host: 'web1', service: 'ht*' }), target({}), 10)).toBe(true);
    expect(silenceMatches(silence({ host: 'web1', service: 'pg*' }), target({}), 10)).toBe(false);
    // No service glob: the host and its services; a service glob never matches the host itself.
    expect(silenceMatches(silence({ host: 'web1' }), target({ kind: 'host', serviceName: null, key: 'web1', state: 1 }), 10)).toBe(true);
    expect(silenceMatches(silence({ host: 'web1', service: '*' }), target({ kind: 'host', serviceName: null, key: 'web1', state: 1 }), 10)).toBe(false);
    expect(silenceMatches(silence({ states: ['CRITICAL'] }), target({ state: 2 }), 10)).toBe(true);
    expect(silenceMatches(silence({ states: ['CRITICAL'] }), target({ state: 1 }), 10)).toBe(false);
    expect(silenceMatches(silence({ states: ['DOWN'] }), target({ kind: 'host', serviceName: null, state: 1 }), 10)).toBe(true);
    expect(silenceMatches(silence({ rule: 'cluster/one vip' }), target({ rules: ['cluster/one vip'] }), 10)).toBe(true);
    expect(silenceMatches(silence({ rule: 'cluster/one vip' }), target({ rules: [] }), 10)).toBe(false);
    // active while start <= now < end
    expect(silenceMatches(silence({}, { start: 100, end: 200 }), target({}), 99)).toBe(false);
    expect(silenceMatches(silence({}, { start: 100, end: 200 }), target({}), 100)).toBe(true);
    expect(silenceMatches(silence({}, { start: 100, end: 200 }), target({}), 200)).toBe(false);
    const older = { ...silence({}), id: 'b', createdAt: 1 };
    const newer = { ...silence({}), id: 'a', createdAt: 2 };
    expect(silencesFor([newer, older], target({}), 10).map((s) => s.id)).toEqual(['b', 'a']);
  });

  it('bad matchers are named in one line', () => {
    const ok = () => true;
    expect(matcherProblem({ host: 'web*', service: null, states: null, rule: null }, ok)).toBeNull();
    expect(matcherProblem({ host: 'a;b', service: null, states: null, rule: null }, ok)).toMatch(/^host glob a;b is not a name glob/);
    expect(matcherProblem({ host: '*', service: '', states: null, rule: null }, ok)).toMatch(/service glob \(empty\)/);
    expect(matcherProblem({ host: '*', service: null, states: ['BROKEN'], rule: null }, ok)).toMatch(/^state BROKEN is not one of OK/);
    expect(matcherProblem({ host: '*', service: null, states: [], rule: null }, ok)).toMatch(/states is empty/);
    expect(matcherProblem({ host: '*', service: null, states: null, rule: 'cluster/x' }, () => false)).toMatch(/no cluster rule cluster\/x/);
  });
});

describe('silences in the monitor (fake clock, sqlite file)', () => {
  it('holds only matching problems, records why, and sends the held one when the silence expires', async () => {
    const clock = new FakeClock();
    const rt = await boot(join(dir, 'expiry.db'), clock);
    const { say, sent, suppressed } = helpers(rt, clock);
    const events: string[][] = [];
    rt.monitor.on((e) => void (e.type === 'status' && events.push([...e.keys].sort())));
    const sil = rt.monitor.addSilence({ matchers: { host: 'web*', service: 'http', states: ['CRITICAL'], rule: null }, author: 'alice', comment: 'deploy', start: clock.now(), end: clock.now() + 30 * MIN });
    expect(events).toEqual([['web1/http', 'web2/http']]); // open pages refresh the objects it covers
    say('web1/http', 2); // silenced
    say('web2/http', 1); // WARNING: not in the states of the silence
    say('db1/pgsql', 2); // other host
    expect(sent()).toEqual(['web2/http:PROBLEM:1', 'db1/pgsql:PROBLEM:1']);
    expect(suppressed('web1/http')).toEqual([`silenced by ${sil.id} alice`]);
    expect(rt.monitor.status('web1/http')!.notification.number).toBe(0);
    // Later results while silenced: nothing sent, no new history line.
    clock.advance(5 * MIN);
    say('web1/http', 2);
    expect(sent()).toHaveLength(2);
    expect(suppressed('web1/http')).toHaveLength(1);
    expect(rt.monitor.silencedBy('web1/http').map((s) => s.id)).toEqual([sil.id]);
    expect(rt.monitor.silencedBy('web2/http')).toEqual([]); // WARNING: not covered
    // The silence ends while web1/http is still CRITICAL: its notification goes out then.
    clock.advance(25 * MIN - 1);
    rt.monitor.tick();
    expect(sent()).toHaveLength(2);
    clock.advance(1);
    rt.monitor.tick();
    expect(sent()).toEqual(['web2/http:PROBLEM:1', 'db1/pgsql:PROBLEM:1', 'web1/http:PROBLEM:1']);
    expect(rt.monitor.silences()).toEqual([]);
    expect(syncStore(rt.store).loadSilences()).toEqual([]); // expired silences leave the store
    rt.monitor.tick();
    expect(sent()).toHaveLength(3); // once
    await rt.stop();
  });

  it('a problem that recovers under the silence sends nothing at all; a silenced recovery of a notified problem says why', async () => {
    const clock = new FakeClock();
    const rt = await boot(':memory:', clock);
    const { say, sent, suppressed } = helpers(rt, clock);
    say('db1/pgsql', 2);
    expect(sent()).toEqual(['db1/pgsql:PROBLEM:1']);
    const sil = rt.monitor.addSilence({ matchers: { host: '*', service: null, states: null, rule: null }, author: 'bob', comment: 'maintenance', start: clock.now(), end: clock.now() + 10 * MIN });
    say('web1/http', 2);
    say('web1/http', 0);
    say('db1/pgsql', 0);
    expect(suppressed('db1/pgsql')).toEqual([`recovery silenced by ${sil.id} bob`]);
    clock.advance(10 * MIN);
    rt.monitor.tick();
    expect(sent()).toEqual(['db1/pgsql:PROBLEM:1']);
    await rt.stop();
  });

  it('expiring a silence early (expireSilence) sends what it held; a rule matcher covers the rule and its members only', async () => {
    const clock = new FakeClock();
    const rt = await boot(':memory:', clock);
    const { say, sent } = helpers(rt, clock);
    say('web1/vip', 0, 'vip_owned=1');
    say('web2/vip', 0, 'vip_owned=0');
    const sil = rt.monitor.addSilence({ matchers: { host: '*', service: null, states: null, rule: 'cluster/one vip' }, author: 'carol', comment: 'failover test', start: clock.now(), end: clock.now() + 60 * MIN });
    say('web2/vip', 0, 'vip_owned=1'); // two owners: the rule goes CRITICAL, silenced
    say('web1/http', 2); // not a member of the rule
    expect(rt.monitor.status('cluster/one vip')).toMatchObject({ state: 2, stateType: 'HARD' });
    expect(sent()).toEqual(['web1/http:PROBLEM:1']);
    expect(rt.monitor.silencedBy('cluster/one vip').map((s) => s.id)).toEqual([sil.id]);
    rt.monitor.expireSilence(sil.id);
    expect(sent()).toEqual(['web1/http:PROBLEM:1', 'cluster/one vip:PROBLEM:1']);
    expect(() => rt.monitor.expireSilence(sil.id)).toThrow(/no active or pending silence/);
    await rt.stop();
  });

  it('survives a restart: the silence is read back from the store and the held problem is sent at its expiry', async () => {
    const db = join(dir, 'restart.db');
    const clock = new FakeClock();
    let rt = await boot(db, clock);
    let h = helpers(rt, clock);
    const sil = rt.monitor.addSilence({ matchers: { host: 'db1', service: 'pg*', states: null, rule: null }, author: 'dave', comment: 'upgrade', start: clock.now(), end: clock.now() + 20 * MIN });
    h.say('db1/pgsql', 2);
    expect(h.sent()).toEqual([]);
    await rt.stop();

    clock.advance(5 * MIN);
    rt = await boot(db, clock);
    h = helpers(rt, clock);
    expect(rt.monitor.silences().map((s) => ({ id: s.id, author: s.author, comment: s.comment }))).toEqual([{ id: sil.id, author: 'dave', comment: 'upgrade' }]);
    expect(rt.monitor.silencedBy('db1/pgsql').map((s) => s.id)).toEqual([sil.id]);
    rt.monitor.tick();
    expect(h.sent()).toEqual([]);
    clock.advance(15 * MIN);
    rt.monitor.tick();
    expect(h.sent()).toEqual(['db1/pgsql:PROBLEM:1']);
    await rt.stop();
  });
});

describe('silences and a damaged store', () => {
  it('an unreadable stored silence is left out with a log line naming the file; the others load and the server starts', async () => {
    const db = join(dir, 'damaged.db');
    const clock = new FakeClock();
    let rt = await boot(db, clock);
    const good = rt.monitor.addSilence({ matchers: { host: 'web1', service: null, states: null, rule: null }, author: 'fay', comment: 'ok', start: clock.now(), end: clock.now() + MIN });
    await rt.stop();
    const raw = new Database(db);
    raw.prepare('INSERT INTO silence (id, json) VALUES (?, ?)').run('broken', '{not json');
    raw.close();
    const logs: string[] = [];
    rt = await boot(db, clock, logs);
    expect(rt.monitor.silences().map((s) => s.id)).toEqual([good.id]);
    expect(logs.join('\n')).toMatch(/damaged\.db: stored silence row broken is unreadable .*: ignored/);
    await rt.stop();
  });
});

describe('silences through the API and the page', () => {
  it('create, list, show on the object, expire: token needed, bad matchers refused with 400', async () => {
    const clock = new FakeClock();
    const rt = await boot(':memory:', clock);
    const { say, sent } = helpers(rt, clock);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const body = { host: 'web1', service: 'http', states: ['critical'], author: 'erin', comment: 'new release', durationMs: 30 * MIN };

    const noToken = await rt.app.inject({ method: 'POST', url: '/api/v1/silences', payload: body });
    expect(noToken.statusCode).toBe(401);
    for (const [bad, msg] of [
      [{ ...body, states: ['BROKEN'] }, /state BROKEN is not one of/],
      [{ ...body, host: 'web1;reboot' }, /host glob web1.reboot is not a name glob/],
      [{ ...body, rule: 'cluster/nope' }, /no cluster rule cluster.nope/],
      [{ ...body, durationMs: undefined }, /needs end .* or durationMs/],
      [{ ...body, host: undefined }, /host/],
    ] as const) {
      const r = await rt.app.inject({ method: 'POST', url: '/api/v1/silences', headers: auth, payload: bad });
      expect(r.statusCode, JSON.stringify(bad)).toBe(400);
      expect(r.json().error).toBe('BAD_REQUEST');
      expect(r.json().message).toMatch(msg);
      expect(r.json().message).not.toContain('\n');
    }
    expect(rt.monitor.silences()).toEqual([]);

    const created = await rt.app.inject({ method: 'POST', url: '/api/v1/silences', headers: auth, payload: body });
    expect(created.statusCode).toBe(200);
    const sil = created.json().silence;
    expect(sil).toMatchObject({ author: 'erin', comment: 'new release', active: true, end: clock.now() + 30 * MIN, matchers: { host: 'web1', service: 'http', states: ['CRITICAL'], rule: null }, description: 'host web1 service http state CRITICAL' });

    say('web1/http', 2);
    expect(sent()).toEqual([]);
    const list = (await rt.app.inject({ method: 'GET', url: '/api/v1/silences' })).json().silences;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: sil.id, matches: 1 });
    const obj = (await rt.app.inject({ method: 'GET', url: '/api/v1/objects/web1/http' })).json().status;
    expect(obj.silencedBy).toEqual([{ id: sil.id, author: 'erin', comment: 'new release', end: sil.end }]);
    const status = (await rt.app.inject({ method: 'GET', url: '/api/v1/status' })).json();
    expect(status.objects.find((o: { key: string }) => o.key === 'web2/http').silencedBy).toEqual([]);
    const hist = (await rt.app.inject({ method: 'GET', url: '/api/v1/history?key=web1/http' })).json().events;
    expect(hist.find((e: { type: string }) => e.type === 'NOTIFICATION_SUPPRESSED').detail).toBe(`silenced by ${sil.id} erin`);

    expect((await rt.app.inject({ method: 'DELETE', url: `/api/v1/silences/${sil.id}` })).statusCode).toBe(401);
    const gone = await rt.app.inject({ method: 'DELETE', url: `/api/v1/silences/${sil.id}`, headers: auth });
    expect(gone.statusCode).toBe(200);
    expect(sent()).toEqual(['web1/http:PROBLEM:1']); // expired while CRITICAL: sent now
    expect((await rt.app.inject({ method: 'GET', url: '/api/v1/silences' })).json().silences).toEqual([]);
    expect((await rt.app.inject({ method: 'DELETE', url: `/api/v1/silences/${sil.id}`, headers: auth })).statusCode).toBe(404);

    // At most MAX_SILENCES not yet expired: each is matched against every object per status request.
    for (let i = 0; i < MAX_SILENCES; i++) rt.monitor.addSilence({ matchers: { host: `n${i}`, service: null, states: null, rule: null }, author: 'bulk', comment: 'x', start: clock.now(), end: clock.now() + MIN });
    const full = await rt.app.inject({ method: 'POST', url: '/api/v1/silences', headers: auth, payload: body });
    expect(full.statusCode).toBe(409);
    expect(full.json().message).toMatch(/already 1000 silences not yet expired: expire some/);
    await rt.stop();
  });

  it('hawatch-server query says in its long output that the object is silenced (Nagios has no silences)', async () => {
    const clock = new FakeClock();
    const rt = await boot(':memory:', clock);
    const { say } = helpers(rt, clock);
    const url = await rt.app.listen({ host: '127.0.0.1', port: 0 });
    say('db1/pgsql', 2);
    const sil = rt.monitor.addSilence({ matchers: { host: 'db1', service: null, states: null, rule: null }, author: 'gus', comment: 'vacuum full', start: clock.now(), end: clock.now() + MIN });
    const r = await query(url, 'db1/pgsql', 5);
    expect(r.code).toBe(2);
    expect(r.text).toBe(`CRITICAL - db1/pgsql\nSilenced in hawatch by ${sil.id} gus until ${new Date(sil.end).toISOString()}: vacuum full\n`);
    rt.monitor.expireSilence(sil.id);
    expect((await query(url, 'db1/pgsql', 5)).text).toBe('CRITICAL - db1/pgsql\n');
    await rt.stop();
  });

  it('the page has the silence list, the form and the badge, and its script reads what the API gives', async () => {
    const clock = new FakeClock();
    const rt = await boot(':memory:', clock);
    const html = (await rt.app.inject({ method: 'GET', url: '/' })).body;
    expect(html).toContain('id="silences"');
    expect(html).toContain('id="silenceForm"');
    const js = (await rt.app.inject({ method: 'GET', url: '/status.js' })).body;
    expect(js).toContain("'/api/v1/silences'");
    expect(js).toContain('o.silencedBy');
    expect(js).toContain("'flag silenced'");
    expect(js).not.toContain('innerHTML'); // text only, as the rest of the page
    await rt.stop();
  });

  it('in headless Chromium: the badge on the object, adding a silence from a row with the form, expiring it with the button', async () => {
    const CHROMIUM = '/usr/bin/chromium';
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
    const clock = new FakeClock(Date.now());
    const rt = await boot(':memory:', clock);
    const { say, sent } = helpers(rt, clock);
    say('web1/http', 0);
    const base = (await rt.app.listen({ host: '127.0.0.1', port: 0 })) + '/';
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(base);
      await page.waitForSelector('tr[data-key="web1/http"]', { timeout: 10_000 });
      expect(await page.locator('#silenceList tbody').innerText()).toContain('no silences');
      await page.fill('#token', TOKEN);
      await page.dispatchEvent('#token', 'change');
      await page.locator('tr[data-key="web1/http"] button', { hasText: 'Silence' }).click();
      expect(await page.inputValue('#silenceForm input[name=host]')).toBe('web1');
      expect(await page.inputValue('#silenceForm input[name=service]')).toBe('http');
      await page.fill('#silenceForm input[name=comment]', 'rolling <b>restart</b>');
      await page.fill('#silenceForm input[name=states]', 'critical');
      await page.click('#silenceForm button[type=submit]');
      const row = page.locator('#silenceList tbody tr.silence');
      await row.waitFor({ timeout: 10_000 });
      expect(await row.locator('td.matchers').innerText()).toBe('host web1 service http state CRITICAL');
      expect(await row.locator('td.comment').innerText()).toBe('rolling <b>restart</b>'); // text, not markup
      expect(await row.locator('td.matches').innerText()).toBe('0'); // OK now: not covered (states CRITICAL)
      say('web1/http', 2); // held by the silence; the page hears of it over SSE
      await page.waitForSelector('tr[data-key="web1/http"] .flag.silenced', { timeout: 10_000 });
      await row.locator('td.matches', { hasText: '1' }).waitFor({ timeout: 10_000 });
      expect(await page.locator('tr[data-key="web2/http"] .flag.silenced').count()).toBe(0);
      const [sil] = rt.monitor.silences();
      expect(sil).toMatchObject({ author: 'operator', comment: 'rolling <b>restart</b>', matchers: { host: 'web1', service: 'http', states: ['CRITICAL'], rule: null } });
      expect(sent()).toEqual([]);
      await row.locator('button', { hasText: 'Expire' }).click();
      await page.locator('#silenceList tbody', { hasText: 'no silences' }).waitFor({ timeout: 10_000 });
      await page.locator('tr[data-key="web1/http"] .flag.silenced').waitFor({ state: 'detached', timeout: 10_000 });
      expect(rt.monitor.silences()).toEqual([]);
      expect(sent()).toEqual(['web1/http:PROBLEM:1']); // expired while CRITICAL: sent then
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await rt.stop();
    }
  });
});
