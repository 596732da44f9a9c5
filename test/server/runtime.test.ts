// The server wired together with a fake clock, fake executors and a recording mail sender:
// scheduler spreading and concurrency, host-down suppression, cluster rules, grouping,
// retry with backoff, restart without loss or duplicates, and the HTTP API via inject().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import type { MailMessage, MailSender } from '../../server/notify/channels.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { FakeExecutors, settle , syncStore } from './helpers.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'hawatch-rt-'));
  dirs.push(d);
  return d;
};

class Mailbox implements MailSender {
  readonly sent: MailMessage[] = [];
  down = false;
  async sendMail(m: MailMessage): Promise<void> {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:25');
    this.sent.push(m);
  }
  close(): void {}
  subjects(): string[] {
    return this.sent.map((m) => m.subject);
  }
}

const INVENTORY = (extra = '') => `
server: { max_concurrent_checks: 2 }
defaults: { check_interval: 60s, retry_interval: 10s, max_check_attempts: 2, notification_interval: 0 }
notifications:
  email: { smtp: { host: 127.0.0.1, port: 25, security: none } }
  group_window: 2s
  group_threshold: 3
  retry: { initial: 5s, max: 60s }
contacts:
  ops: { email: ops@example.org }
hosts:
  web1: { address: 192.0.2.1, check: check_host, contacts: [ops] }
  web2: { address: 192.0.2.2, contacts: [ops] }
services:
  - { name: http, hosts: [web1, web2], command: check_http -H $HOSTADDRESS$ }
  - { name: disk, hosts: [web1, web2], command: check_disk }
  - { name: load, hosts: [web1, web2], command: check_load }
cluster_rules:
  - { name: web pool, service: http, hosts: [web1, web2], expect: { at_least: 1 }, contacts: [ops], description: at least one web server }
${extra}`;

async function boot(opts: { db?: string; clock?: FakeClock; fx?: FakeExecutors; mail?: Mailbox; token?: string } = {}) {
  const clock = opts.clock ?? new FakeClock();
  const fx = opts.fx ?? new FakeExecutors();
  const mail = opts.mail ?? new Mailbox();
  const rt = await createRuntime({
    inventory: loadInventory(INVENTORY()),
    executorFactory: fx.factory,
    database: opts.db ?? ':memory:',
    clock,
    mailSender: mail,
    apiToken: () => opts.token ?? 'secret-token',
    dispatchPollMs: 500,
  });
  return { rt, clock, fx, mail };
}

/** Advances fake time in steps, letting check promises and deliveries settle in between. */
async function run(clock: FakeClock, ms: number, step = 1000): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await settle();
  }
}

describe('scheduler', () => {
  it('spreads first checks over the interval and never runs more than max_concurrent_checks', async () => {
    const { rt, clock, fx } = await boot();
    const slow: (() => void)[] = [];
    fx.delay = () => new Promise<void>((r) => slow.push(r));
    await run(clock, 1000);
    // 7 checked objects (1 host check + 6 services) spread over 60 s: only the first is due at ~0 s
    expect(fx.requests.length).toBe(1);
    await run(clock, 29_000); // 4 are due by now (0, 8.6, 17.1, 25.7 s), all hanging
    expect(fx.maxRunning).toBe(2); // the rest wait behind the cap
    expect(rt.scheduler.stats.queued).toBe(2);
    await run(clock, 30_000);
    fx.delay = null;
    slow.splice(0).forEach((r) => r());
    await run(clock, 5000);
    const firstRuns = new Set(fx.requests.map((r) => `${r.hostName} ${r.command.kind === 'argv' ? r.command.argv[0] : ''}`));
    expect(firstRuns.size).toBe(7);
    const req = fx.requests.find((r) => r.hostName === 'web2' && r.command.kind === 'argv' && r.command.argv[0] === 'check_http');
    expect(req?.command).toEqual({ kind: 'argv', argv: ['check_http', '-H', '192.0.2.2'] });
    await rt.stop();
  });

  it('retries at retry_interval, goes HARD, notifies once; host down suppresses service alerts', async () => {
    const { rt, clock, fx, mail } = await boot();
    await run(clock, 61_000);
    fx.set('web2 check_disk', 2, 'DISK CRITICAL - / 99% used');
    await rt.scheduler.recheck('web2/disk');
    expect(rt.monitor.status('web2/disk')).toMatchObject({ state: 2, stateType: 'SOFT', attempt: 1 });
    await run(clock, 10_000);
    expect(rt.monitor.status('web2/disk')).toMatchObject({ state: 2, stateType: 'HARD', attempt: 2 });
    await run(clock, 5_000); // group window, delivery
    expect(mail.subjects()).toEqual(['** PROBLEM Service Alert: web2/disk is CRITICAL **']);

    // web1 dies: its host check fails too, so its services go HARD at once without alerts
    fx.set('web1', 2, 'CRITICAL - down');
    fx.set('web1 check_host', 2, 'PING CRITICAL - 100% packet loss');
    await rt.scheduler.recheck('web1');
    expect(rt.monitor.status('web1')).toMatchObject({ state: 1, stateType: 'SOFT' });
    await run(clock, 10_000); // host retry_interval
    expect(rt.monitor.status('web1')).toMatchObject({ state: 1, stateType: 'HARD' });
    await run(clock, 60_000); // every service of web1 ran once more
    expect(rt.monitor.status('web1/http')).toMatchObject({ state: 2, stateType: 'HARD' });
    await run(clock, 5_000);
    const subjects = mail.subjects();
    expect(subjects).toContain('** PROBLEM Host Alert: web1 is DOWN **');
    expect(subjects.filter((s) => s.includes('web1/'))).toEqual([]);
    // the cluster rule still holds: web2 serves http
    expect(rt.monitor.status('cluster/web pool')).toMatchObject({ state: 0 });
    await rt.stop();
  });

  it('groups a burst into one digest and retries a down channel with backoff, each alert once', async () => {
    const { rt, clock, fx, mail } = await boot();
    await run(clock, 61_000);
    mail.down = true;
    for (const h of ['web1', 'web2']) for (const c of ['check_disk', 'check_load']) fx.set(`${h} ${c}`, 1, `WARNING - ${h} ${c}`);
    for (const k of ['web1/disk', 'web1/load', 'web2/disk', 'web2/load']) await rt.scheduler.recheck(k);
    await run(clock, 14_000); // second attempt -> HARD, group window passed; delivery fails
    expect(syncStore(rt.store).outboxCounts().pending).toBe(4);
    expect(mail.sent).toEqual([]);
    const failures = rt.dispatcher.stats.failed;
    expect(failures).toBeGreaterThan(0);
    await run(clock, 3_000);
    expect(rt.dispatcher.stats.failed).toBe(failures); // backing off, not hammering
    mail.down = false;
    await run(clock, 30_000);
    expect(mail.sent).toHaveLength(1);
    expect(mail.sent[0]?.subject).toBe('** hawatch: 4 notifications (4 PROBLEM) **');
    expect(mail.sent[0]?.text).toContain('web2/load is WARNING');
    expect(syncStore(rt.store).outboxCounts()).toEqual({ pending: 0, sent: 4, quarantined: 0 });
    await rt.stop();
  });

  it('a restart loses nothing and sends nothing twice', async () => {
    const db = join(tmp(), 'state.db');
    const clock = new FakeClock();
    const fx = new FakeExecutors();
    const mail = new Mailbox();
    const first = await boot({ db, clock, fx, mail });
    await run(clock, 61_000);
    fx.set('web2 check_load', 2, 'LOAD CRITICAL');
    await first.rt.scheduler.recheck('web2/load');
    await run(clock, 10_000); // HARD; the notification is in the outbox, not sent yet (group window)
    expect(syncStore(first.rt.store).outboxCounts().pending).toBe(1);
    first.rt.monitor.acknowledge('web2/load', { sticky: true, notify: false, author: 'ann', comment: 'known' });
    await first.rt.stop(); // "crash" before delivery

    const second = await boot({ db, clock, fx, mail });
    expect(second.rt.monitor.status('web2/load')).toMatchObject({ state: 2, stateType: 'HARD', ack: { sticky: true, author: 'ann' } });
    await run(clock, 5_000);
    expect(mail.subjects()).toEqual(['** PROBLEM Service Alert: web2/load is CRITICAL **']);
    await second.rt.stop();

    const third = await boot({ db, clock, fx, mail });
    await run(clock, 130_000);
    expect(mail.subjects()).toEqual(['** PROBLEM Service Alert: web2/load is CRITICAL **']);
    expect(syncStore(third.rt.store).history({ key: 'web2/load', limit: 10 }).map((h) => h.type)).toContain('ACK');
    await third.rt.stop();
  });
});

describe('HTTP API', () => {
  let rt: Runtime;
  let clock: FakeClock;
  let fx: FakeExecutors;
  const auth = { authorization: 'Bearer secret-token' };

  it('serves state, history, OpenAPI and metrics; refuses changes without the token', async () => {
    ({ rt, clock, fx } = await boot());
    await run(clock, 61_000);
    const app = rt.app;
    const hosts = await app.inject({ url: '/api/v1/hosts' });
    expect(hosts.statusCode).toBe(200);
    expect(hosts.json().hosts.map((h: { name: string }) => h.name)).toEqual(['web1', 'web2', 'cluster']);
    const svc = await app.inject({ url: '/api/v1/objects/web1/http' });
    expect(svc.json().status).toMatchObject({ key: 'web1/http', stateName: 'OK', checked: true });
    expect((await app.inject({ url: '/api/v1/objects/nope/x' })).json()).toEqual({ error: 'NOT_FOUND', message: 'no host or service nope/x in the inventory' });

    const noToken = await app.inject({ method: 'POST', url: '/api/v1/recheck', payload: { key: 'web1/http' } });
    expect(noToken.statusCode).toBe(401);
    const wrong = await app.inject({ method: 'POST', url: '/api/v1/recheck', headers: { authorization: 'Bearer secret-tokex' }, payload: { key: 'web1/http' } });
    expect(wrong.statusCode).toBe(401);
    const badBody = await app.inject({ method: 'POST', url: '/api/v1/acknowledge', headers: auth, payload: { key: 'web1/http', author: 'a', comment: 'c', colour: 1 } });
    expect(badBody.statusCode).toBe(400);
    expect(badBody.json().error).toBe('BAD_REQUEST');

    const openapi = (await app.inject({ url: '/openapi.json' })).json();
    expect(openapi.openapi).toBe('3.0.3');
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/api/v1/hosts', '/api/v1/acknowledge', '/api/v1/downtimes', '/api/v1/recheck', '/api/v1/reload', '/metrics']));
    expect(openapi.paths['/api/v1/acknowledge'].post.security).toEqual([{ bearer: [] }]);

    const metrics = await app.inject({ url: '/metrics' });
    expect(metrics.body).toMatch(/hawatch_objects\{kind="service",state="OK",state_type="HARD"\} 7/); // 6 services + the cluster rule
    expect(metrics.body).toMatch(/hawatch_checks_executed_total \d+/);
  });

  it('acknowledges, schedules and cancels downtime, re-checks, and refuses what makes no sense', async () => {
    const app = rt.app;
    fx.set('web1 check_load', 2, 'LOAD CRITICAL - 99');
    const rc = await app.inject({ method: 'POST', url: '/api/v1/recheck', headers: auth, payload: { key: 'web1/load' } });
    expect(rc.json().status).toMatchObject({ stateName: 'CRITICAL', stateType: 'SOFT' });
    const ackOk = await app.inject({ method: 'POST', url: '/api/v1/acknowledge', headers: auth, payload: { key: 'web1/load', author: 'ann', comment: 'looking', sticky: true } });
    expect(ackOk.json().status.ack).toMatchObject({ sticky: true, author: 'ann' });
    const ackOkState = await app.inject({ method: 'POST', url: '/api/v1/acknowledge', headers: auth, payload: { key: 'web1/http', author: 'ann', comment: 'x' } });
    expect(ackOkState.statusCode).toBe(409);
    const dt = await app.inject({ method: 'POST', url: '/api/v1/downtimes', headers: auth, payload: { key: 'web2', includeServices: true, duration: 600, author: 'bob', comment: 'patching' } });
    expect(dt.statusCode).toBe(200);
    const created = dt.json().downtimes as { id: string; key: string; active: boolean }[];
    expect(created.map((d) => d.key).sort()).toEqual(['web2', 'web2/disk', 'web2/http', 'web2/load']);
    expect(created.every((d) => d.active)).toBe(true);
    expect(rt.monitor.status('web2/http')?.downtimeDepth).toBe(1);
    const cancel = await app.inject({ method: 'DELETE', url: `/api/v1/downtimes/${created[0]?.id}`, headers: auth });
    expect(cancel.statusCode).toBe(200);
    expect((await app.inject({ url: '/api/v1/downtimes' })).json().downtimes).toHaveLength(3);
    const flexNoEnd = await app.inject({ method: 'POST', url: '/api/v1/downtimes', headers: auth, payload: { key: 'web1', fixed: false, duration: 60, author: 'a', comment: 'c' } });
    expect(flexNoEnd.json()).toMatchObject({ error: 'BAD_REQUEST' });
    const reload = await app.inject({ method: 'POST', url: '/api/v1/reload', headers: auth });
    expect(reload.json().error).toBe('UNAVAILABLE');
    const hist = await app.inject({ url: '/api/v1/history?key=web1/load' });
    expect(hist.json().events.map((e: { type: string }) => e.type)).toEqual(['ACK', 'STATE']);
    const status = (await app.inject({ url: '/api/v1/status' })).json();
    expect(status.objects[0].key).toBe('web1/load'); // problems first
    const page = await app.inject({ url: '/' });
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    await rt.stop();
  });
});

describe('inventory reload', () => {
  it('applies a valid inventory (new objects scheduled, removed ones forgotten) and refuses a broken one unchanged', async () => {
    const clock = new FakeClock();
    const fx = new FakeExecutors();
    let text = INVENTORY();
    const rt = await createRuntime({
      inventory: loadInventory(text),
      executorFactory: fx.factory,
      database: ':memory:',
      clock,
      mailSender: new Mailbox(),
      apiToken: () => 't',
      loadInventory: async () => loadInventory(text, 'inv.yaml'),
    });
    const auth = { authorization: 'Bearer t' };
    await run(clock, 61_000);
    text = INVENTORY().replace('  - { name: load, hosts: [web1, web2], command: check_load }', '  - { name: ntp, hosts: [web2], command: check_ntp }');
    const ok = await rt.app.inject({ method: 'POST', url: '/api/v1/reload', headers: auth });
    expect(ok.json()).toMatchObject({ hosts: 3, services: 5, clusterRules: 1 });
    expect(rt.monitor.status('web1/load')).toBeUndefined();
    await run(clock, 61_000);
    expect(rt.monitor.status('web2/ntp')).toMatchObject({ checked: true, state: 0 });
    expect(fx.requests.some((r) => r.command.kind === 'argv' && r.command.argv[0] === 'check_ntp')).toBe(true);

    text = text.replace('check_interval: 60s', 'check_interval: often');
    const bad = await rt.app.inject({ method: 'POST', url: '/api/v1/reload', headers: auth });
    expect(bad.statusCode).toBe(422);
    expect(bad.json()).toMatchObject({ error: 'INVENTORY_INVALID', details: [expect.stringMatching(/^inv\.yaml:3:29: defaults\.check_interval: must be a duration/)] });
    expect(rt.monitor.status('web2/ntp')).toBeDefined();
    await rt.stop();
  });
});

describe('freshness in the running server', () => {
  it('marks results stale when checks cannot keep up, but not for time the server was stopped', async () => {
    const db = join(tmp(), 'fresh.db');
    const clock = new FakeClock();
    const fx = new FakeExecutors();
    const first = await boot({ db, clock, fx });
    await run(clock, 61_000);
    await first.rt.stop();
    clock.advance(600_000); // the server is down for 10 minutes
    const second = await boot({ db, clock, fx });
    await run(clock, 3_000);
    expect(second.rt.monitor.allStatuses().filter((s) => s.stale)).toEqual([]);
    // Every executor hangs: 2 slots, 7 checks, each freed only by the 35 s guard -> a check
    // comes round every ~2 minutes, past the 75 s freshness threshold.
    fx.delay = () => new Promise<void>(() => {});
    await run(clock, 240_000, 5000);
    const stale = second.rt.monitor.allStatuses().filter((s) => s.stale || s.output.startsWith('Result is stale'));
    expect(stale.length).toBeGreaterThan(0);
    expect(stale[0]?.output).toMatch(/^Result is stale: last result \d+ s ago, freshness threshold \d+ s \(executor or scheduler not keeping up\)$/);
    expect(syncStore(second.rt.store).history({ limit: 500 }).some((h) => h.type === 'STALE')).toBe(true);
    await second.rt.stop();
  });
});
