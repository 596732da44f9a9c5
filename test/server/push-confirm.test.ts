// Issue 13 item 2, server side: pushed results (POST /api/v1/results from an agent's watcher)
// with their observation time, per-host push tokens, and the confirmation of a pushed problem
// (confirm: { results: 2, within: 5s }) by an immediate active re-check, so a flap does not
// page. Fake clock, fake executors for the re-check, a real SMTP server for the pages.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { InventoryError, loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { freePort } from '../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { FakeExecutors, settle , syncStore } from './helpers.ts';

const dir = tempDir('hawatch-pushconfirm-');
const DB1 = 'push-db1-0123456789abcdef';
const DB2 = 'push-db2-0123456789abcdef';
const mails: string[] = [];
let smtp: SmtpSink | undefined;
let rt: Runtime;
let clock: FakeClock;
const fx = new FakeExecutors();

const push = (token: string, results: Record<string, unknown>[]) =>
  rt.app.inject({ method: 'POST', url: '/api/v1/results', headers: { authorization: `Bearer ${token}` }, payload: { results } });
const status = (key: string) => rt.monitor.status(key)!;
const secs = (ms: number) => ms / 1000;

async function deliverAll(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    clock.advance(1000);
    await settle();
    await rt.dispatcher.flush();
    await new Promise((r) => setTimeout(r, 30));
    if (syncStore(rt.store).outboxCounts().pending === 0) break;
  }
}

/** Lets the scheduler's immediate re-check run and its result be applied. */
async function letRecheckRun(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await settle();
    clock.advance(10);
  }
  await settle();
}

beforeAll(async () => {
  writeFileSync(join(dir, 'db1.token'), `# the push token of db1\n${DB1}\n`);
  writeFileSync(join(dir, 'db2.token'), `${DB2}\n`);
  const smtpPort = await freePort();
  smtp = await startSmtpSink({ port: smtpPort, onMail: (m) => mails.push(m.subject) });
  clock = new FakeClock(Date.now());
  rt = await createRuntime({
    inventory: loadInventory(`
defaults: { check_interval: 1h, retry_interval: 1h, max_check_attempts: 1, notification_interval: 0 }
notifications:
  email: { smtp: { host: 127.0.0.1, port: ${smtpPort}, security: none, timeout: 5s }, from: hawatch@test.invalid }
  group_window: 0s
contacts:
  ops: { email: ops@test.invalid }
hosts:
  db1: { address: 127.0.0.1, contacts: [ops], push_token_file: ${join(dir, 'db1.token')} }
  db2: { address: 127.0.0.1, contacts: [ops], push_token_file: ${join(dir, 'db2.token')} }
services:
  - { name: vrrp, hosts: [db1, db2], command: check_vrrp, confirm: { results: 2, within: 5s } }
  - { name: drbd, host: db1, command: check_drbd }
`, 'push.yaml'),
    executorFactory: fx.factory,
    database: ':memory:',
    clock,
    tickMs: 60_000,
    dispatchPollMs: 500,
  });
  rt.start();
  // The first scheduled checks (all OK) run, so every service starts OK HARD.
  fx.set('127.0.0.1', 0, 'OK - fine');
  await letRecheckRun();
  await deliverAll();
  mails.length = 0;
});

afterAll(async () => {
  await rt?.stop();
  await smtp?.close();
  removeDir(dir);
});

beforeEach(() => {
  mails.length = 0;
});

describe('confirm: a pushed problem is re-checked before it goes HARD', () => {
  it('a flap (pushed CRITICAL, the re-check says OK) does not notify', async () => {
    fx.answers.clear();
    fx.set('db1 check_vrrp', 0, 'VRRP OK - VI_1 MASTER');
    const before = fx.requests.length;
    const res = await push(DB1, [{ host: 'db1', service: 'vrrp', state: 2, output: 'VRRP CRITICAL - VI_1 FAULT', observed_at: secs(clock.now()) }]);
    expect(res.statusCode, res.body).toBe(200);
    // max_check_attempts 1 would make it HARD at once; confirm makes it SOFT 1 of 2.
    expect(res.json().statuses[0]).toMatchObject({ state: 2, stateType: 'SOFT', attempt: 1 });
    await letRecheckRun();
    expect(fx.requests.length).toBe(before + 1); // the immediate active re-check
    expect(fx.requests.at(-1)).toMatchObject({ hostName: 'db1' });
    expect(status('db1/vrrp')).toMatchObject({ state: 0, stateType: 'HARD' });
    await deliverAll();
    expect(mails).toEqual([]);
    expect(rt.monitor.confirm.running).toBe(0);
  });

  it('a confirmed problem (the re-check agrees) goes HARD and notifies once', async () => {
    fx.answers.clear();
    fx.set('db2 check_vrrp', 2, 'VRRP CRITICAL - VI_1 FAULT');
    const res = await push(DB2, [{ host: 'db2', service: 'vrrp', state: 2, output: 'VRRP CRITICAL - VI_1 FAULT', observed_at: secs(clock.now()) }]);
    expect(res.json().statuses[0]).toMatchObject({ stateType: 'SOFT' });
    await letRecheckRun();
    expect(status('db2/vrrp')).toMatchObject({ state: 2, stateType: 'HARD', attempt: 2 });
    await deliverAll();
    expect(mails).toEqual(['** PROBLEM Service Alert: db2/vrrp is CRITICAL **']);
  });

  it('without confirm, a pushed problem of a max_check_attempts 1 service is HARD at once', async () => {
    const res = await push(DB1, [{ host: 'db1', service: 'drbd', state: 2, output: 'DRBD CRITICAL - r0 StandAlone', observed_at: secs(clock.now()) }]);
    expect(res.json().statuses[0]).toMatchObject({ state: 2, stateType: 'HARD' });
    await deliverAll();
    expect(mails).toEqual(['** PROBLEM Service Alert: db1/drbd is CRITICAL **']);
  });

  it('a confirmation not completed within the window falls back to the service policy', async () => {
    fx.answers.clear();
    fx.delay = () => new Promise(() => undefined); // the re-check never answers
    try {
      fx.set('db1 check_vrrp', 2, 'x');
      await push(DB1, [{ host: 'db1', service: 'vrrp', state: 1, output: 'VRRP WARNING - VI_1 BACKUP', observed_at: secs(clock.now()) }]);
      expect(status('db1/vrrp')).toMatchObject({ state: 1, stateType: 'SOFT' });
      clock.advance(6000);
      // A second push after the window: the service's own max_check_attempts 1 applies again.
      const res = await push(DB1, [{ host: 'db1', service: 'vrrp', state: 1, output: 'VRRP WARNING - VI_1 BACKUP', observed_at: secs(clock.now()) }]);
      expect(res.json().statuses[0]).toMatchObject({ state: 1, stateType: 'HARD' });
    } finally {
      fx.delay = null;
    }
  });
});

describe('observation time and per-host tokens', () => {
  it('observed_at becomes the last check time; a result from the future is refused, one older than the state is skipped', async () => {
    const t = clock.now() - 2000;
    let res = await push(DB2, [{ host: 'db2', service: 'vrrp', state: 0, output: 'VRRP OK - VI_1 BACKUP', observed_at: secs(t) }]);
    expect(res.statusCode, res.body).toBe(200);
    expect(status('db2/vrrp')).toMatchObject({ state: 0, lastCheck: t });
    res = await push(DB2, [{ host: 'db2', service: 'vrrp', state: 2, output: 'late', observed_at: secs(t - 1000) }]);
    expect(res.json()).toMatchObject({ processed: 0, stale: 1 });
    expect(status('db2/vrrp')).toMatchObject({ state: 0, output: 'VRRP OK - VI_1 BACKUP' });
    res = await push(DB2, [{ host: 'db2', service: 'vrrp', state: 0, output: 'x', observed_at: secs(clock.now() + 60_000) }]);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/observed_at of db2\/vrrp is 60 s in the future \(more than 5 s of clock skew\): fix the sender clock/);
  });

  it('a host push token submits for its own host only; a wrong token is 401', async () => {
    const res = await push(DB2, [{ host: 'db1', service: 'vrrp', state: 2, output: 'forged' }]);
    expect(res.statusCode).toBe(403);
    expect(res.json().message).toBe('the push token of host db2 cannot submit results for db1/vrrp');
    expect((await push('not-a-token-at-all-0000', [{ host: 'db1', service: 'vrrp', state: 0, output: 'x' }])).statusCode).toBe(401);
  });

  it('the dropped count of a sender is accepted and logged', async () => {
    const res = await rt.app.inject({ method: 'POST', url: '/api/v1/results', headers: { authorization: `Bearer ${DB1}` }, payload: { results: [{ host: 'db1', service: 'vrrp', state: 0, output: 'VRRP OK', observed_at: secs(clock.now()) }], dropped: 7 } });
    expect(res.statusCode, res.body).toBe(200);
  });

  it('confirm is validated in the inventory', () => {
    expect(() => loadInventory('hosts: { a: {} }\nservices:\n  - { name: x, host: a, command: c, confirm: { results: 1, within: 5s } }\n', 'c.yaml')).toThrow(InventoryError);
    expect(() => loadInventory('hosts: { a: {} }\nservices:\n  - { name: x, host: a, command: c, confirm: { results: 2, within: 5s, every: 1 } }\n', 'c.yaml')).toThrow(/every/);
  });
});
