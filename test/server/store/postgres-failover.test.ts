// Issue 14 item 5: the PostgreSQL primary fails over to its streaming standby while the
// server runs on postgres://P1,P2/...?target_session_attrs=read-write. The primary is
// stopped (immediate), the standby is promoted: the server keeps running (no restart), logs
// one degraded line and one recovered line, and the state changes and notifications made
// during the outage are written to the promoted standby and sent afterwards. While the
// standby is still read-only it is skipped: nothing is ever tried on it (its log has no
// read-only write error) and the degraded line says why.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRuntime } from '../../../server/core/runtime.ts';
import { loadInventory } from '../../../server/inventory/load.ts';
import type { MailMessage, MailSender } from '../../../server/notify/channels.ts';
import { FakeClock } from '../../../server/state/clock.ts';
import pg from 'pg';
import { createPrimary, createStandby, type PgServer, SUPERUSER_PASSWORD } from '../../plugins/pgsql/pgcluster.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';
import { FakeExecutors, settle } from '../helpers.ts';

const dir = tempDir('hawatch-pgfo-');
const pwFile = join(dir, 'pw');
let primary: PgServer;
let standby: PgServer;
beforeAll(async () => {
  primary = await createPrimary('pgfo_primary');
  await primary.sql('CREATE DATABASE hawatch');
  standby = await createStandby(primary, 'pgfo_standby');
  writeFileSync(pwFile, `${SUPERUSER_PASSWORD}\n`, { mode: 0o600 });
}, 180_000);
afterAll(() => {
  primary?.cleanup();
  standby?.cleanup();
  removeDir(dir);
});

class Mailbox implements MailSender {
  readonly sent: MailMessage[] = [];
  async sendMail(m: MailMessage): Promise<void> {
    this.sent.push(m);
  }
  close(): void {}
}

/** Rows of the hawatch database of one server, as the superuser over its unix socket. */
async function rows(s: PgServer, sql: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ host: s.dir, port: s.port, user: 'postgres', database: 'hawatch', connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

/** Async replication: the standby has what was committed only once it replayed it. */
async function caughtUp(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await primary.sql<{ ok: boolean }>(`SELECT replay_lsn >= pg_current_wal_lsn() AS ok FROM pg_stat_replication WHERE application_name = 'pgfo_standby'`);
    if (r[0]?.ok) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('the standby did not catch up with the primary within 10 s');
}

it('survives the primary failing over to its standby with a pause, losing nothing, never writing to the standby', async () => {
  const url = `postgres://postgres@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/hawatch?target_session_attrs=read-write`;
  const inv = loadInventory(`
server: { database: '${url}', database_password_file: ${pwFile} }
defaults: { check_interval: 1h, max_check_attempts: 1 }
notifications:
  email: { smtp: { host: 127.0.0.1, port: 25, security: none } }
  group_window: 0s
contacts:
  ops: { email: ops@example.org }
hosts:
  db1: { address: 192.0.2.1, contacts: [ops] }
services:
  - { name: drbd, host: db1, command: check_drbd }
  - { name: load, host: db1, command: check_load }
`);
  const fx = new FakeExecutors();
  const clock = new FakeClock();
  const mail = new Mailbox();
  const logs: string[] = [];
  const rt = await createRuntime({ inventory: inv, executorFactory: fx.factory, clock, mailSender: mail, dispatchPollMs: 200, logger: { level: 'info', stream: { write: (s: string) => void logs.push(JSON.parse(s).msg) } } });
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 500) {
      clock.advance(500);
      await settle();
      await new Promise((r) => setTimeout(r, 5)); // real PostgreSQL round trips
    }
  };
  /** Repeats a step of the server's (fake) time until cond holds; a real-time limit on a loaded machine. */
  const until = async (cond: () => boolean | Promise<boolean>, what = 'the condition', limitMs = 30_000) => {
    const end = Date.now() + limitMs;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await run(500);
    }
  };
  const promotedRows = (sql: string) => rows(standby, sql);
  try {
    // Before: a problem, notified, on the primary.
    fx.set('db1 check_drbd', 2, 'DRBD CRITICAL - StandAlone');
    await rt.scheduler.recheck('db1/drbd');
    await rt.monitor.flushed();
    await until(async () => mail.sent.length >= 1);
    expect(mail.sent.map((m) => m.subject)).toEqual(['** PROBLEM Service Alert: db1/drbd is CRITICAL **']);
    // The send is recorded (markSent, a round trip after it) before the primary goes.
    await until(async () => (await rows(primary, `SELECT count(*)::int AS n FROM outbox WHERE status = 'sent'`))[0]?.n === 1);
    await caughtUp();

    // The primary dies. Results keep coming; the standby is read-only, so it is skipped.
    primary.stop('immediate');
    fx.set('db1 check_load', 2, 'LOAD CRITICAL - 40');
    await rt.scheduler.recheck('db1/load');
    fx.set('db1 check_drbd', 0, 'DRBD OK');
    await rt.scheduler.recheck('db1/drbd');
    await until(() => rt.health.degraded !== null, 'the store degraded');
    // The retries reach the standby, find it read-only and skip it (the degraded reason says so).
    await until(() => rt.health.degraded?.message.includes(`127.0.0.1:${standby.port} is read-only (a standby)`) === true, 'the standby skipped as read-only');
    expect(rt.monitor.status('db1/load')?.state).toBe(2);
    expect(mail.sent).toHaveLength(1); // the two new notifications wait for a writable store

    // The standby is promoted (what an operator or Patroni does): the server finds it.
    await standby.sql('SELECT pg_promote(true, 60)');
    await until(() => rt.health.degraded === null && mail.sent.filter((m) => m.subject.includes('Service Alert')).length >= 3, 'the store writable and the held notifications sent', 60_000);
    expect(rt.health.degraded).toBe(null);
    expect(logs.filter((l) => l.startsWith('store degraded'))).toHaveLength(1);
    expect(logs.filter((l) => l.startsWith('store writable again'))).toHaveLength(1);
    // Service alerts only: on a loaded machine the fake outage may pass the self-alert's delay (DEGRADED/RECOVERED mails).
    expect(mail.sent.map((m) => m.subject).filter((x) => x.includes('Service Alert')).slice(1).sort()).toEqual(['** PROBLEM Service Alert: db1/load is CRITICAL **', '** RECOVERY Service Alert: db1/drbd is OK **']);

    // Nothing lost: the state before and during the outage is on the promoted server.
    const states = await promotedRows(`SELECT key, json FROM status WHERE key LIKE 'db1/%' ORDER BY key`);
    expect(states.map((r) => [r.key, JSON.parse(r.json as string).state])).toEqual([['db1/drbd', 0], ['db1/load', 2]]);
    const history = await promotedRows(`SELECT key, state FROM history WHERE type = 'STATE' ORDER BY id`);
    expect(history.filter((h) => h.key === 'db1/drbd').map((h) => h.state)).toEqual([2, 0]);
    await until(async () => (await promotedRows(`SELECT count(*)::int AS n FROM outbox WHERE status = 'sent'`))[0]?.n === 3, 'three sent rows on the promoted server');
    expect(mail.sent.filter((m) => m.subject.includes('Service Alert'))).toHaveLength(3);

    // Never written to while it was a standby: a write there would have logged this error.
    expect(readFileSync(join(standby.dir, 'server.log'), 'utf8')).not.toMatch(/read-only transaction/);
  } finally {
    // A failed expectation while PostgreSQL is away: stop does not wait for a store that never answers.
    await Promise.race([rt.stop(), new Promise((r) => setTimeout(r, 5000))]);
  }
}, 150_000);
