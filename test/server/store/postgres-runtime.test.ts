// Issue 14 item 1: the server on PostgreSQL: a check result and its notification reach the
// outbox in PostgreSQL; PostgreSQL stopped and started again: the server keeps running,
// logs one degraded line, and writes what it held once it is back (nothing lost).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRuntime } from '../../../server/core/runtime.ts';
import { loadInventory } from '../../../server/inventory/load.ts';
import type { MailMessage, MailSender } from '../../../server/notify/channels.ts';
import { FakeClock } from '../../../server/state/clock.ts';
import { openPostgresStore } from '../../../server/store/postgres.ts';
import { createPrimary, type PgServer, SUPERUSER_PASSWORD } from '../../plugins/pgsql/pgcluster.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';
import { FakeExecutors, settle } from '../helpers.ts';

const dir = tempDir('hawatch-pgrt-');
const pwFile = join(dir, 'pw');
let pg: PgServer;
beforeAll(async () => {
  pg = await createPrimary('pgruntime');
  writeFileSync(pwFile, `${SUPERUSER_PASSWORD}\n`, { mode: 0o600 });
  await pg.sql('CREATE DATABASE hawatch');
}, 120_000);
afterAll(() => {
  pg?.cleanup();
  removeDir(dir);
});

class Mailbox implements MailSender {
  readonly sent: MailMessage[] = [];
  async sendMail(m: MailMessage): Promise<void> {
    this.sent.push(m);
  }
  close(): void {}
}

it('checks, notifies and survives PostgreSQL going away and coming back', async () => {
  const url = () => `postgres://postgres@127.0.0.1:${pg.port}/hawatch`;
  const inv = loadInventory(`
server: { database: '${url()}', database_password_file: ${pwFile} }
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
  const fromPg = async (sql: string) => {
    const s = await openPostgresStore(url(), { passwordFile: pwFile });
    try {
      return (await s.session.run((c) => c.query(sql))).rows;
    } finally {
      await s.close();
    }
  };
  try {
    fx.set('db1 check_drbd', 2, 'DRBD CRITICAL - StandAlone');
    await rt.scheduler.recheck('db1/drbd');
    await rt.monitor.flushed();
    await run(3000);
    expect(mail.sent.map((m) => m.subject)).toEqual(['** PROBLEM Service Alert: db1/drbd is CRITICAL **']);
    expect(await fromPg(`SELECT status FROM outbox`)).toEqual([{ status: 'sent' }]);
    expect((await fromPg(`SELECT json FROM status WHERE key = 'db1/drbd'`)).map((r) => JSON.parse(r.json as string).state)).toEqual([2]);

    // PostgreSQL goes away: results keep coming, state stays live. The test servers run
    // with synchronous_commit off (speed): flush first, or the immediate stop may lose the
    // 'sent' mark just read, and the PROBLEM is then rightly sent again as a possible duplicate.
    await pg.sql('CHECKPOINT');
    pg.stop('immediate');
    fx.set('db1 check_load', 2, 'LOAD CRITICAL - 40');
    await rt.scheduler.recheck('db1/load');
    fx.set('db1 check_drbd', 0, 'DRBD OK');
    await rt.scheduler.recheck('db1/drbd');
    await run(3000);
    expect(rt.monitor.status('db1/load')?.state).toBe(2);
    expect(rt.health.degraded).not.toBe(null);
    expect(logs.filter((l) => l.startsWith('store degraded')).length).toBe(1);
    expect(rt.monitor.unsavedCounts().notifications).toBe(2);

    // Back: what was held is written, the notifications go out, nothing lost.
    pg.start();
    for (let i = 0; i < 40 && (rt.health.degraded || mail.sent.length < 3); i++) await run(2000);
    expect(rt.health.degraded).toBe(null);
    expect(logs.some((l) => l.startsWith('store writable again'))).toBe(true);
    expect(mail.sent.map((m) => m.subject).slice(1).sort()).toEqual(['** PROBLEM Service Alert: db1/load is CRITICAL **', '** RECOVERY Service Alert: db1/drbd is OK **']);
    const states = await fromPg(`SELECT key, json FROM status WHERE key LIKE 'db1/%' ORDER BY key`);
    expect(states.map((r) => [r.key, JSON.parse(r.json as string).state])).toEqual([['db1/drbd', 0], ['db1/load', 2]]);
    // The last send is recorded right after it (markSent, a round trip later).
    let sent: unknown[] = [];
    for (let i = 0; i < 20; i++) {
      sent = await fromPg(`SELECT count(*) AS n FROM outbox WHERE status = 'sent'`);
      if ((sent[0] as { n: number }).n === 3) break;
      await run(500);
    }
    expect(sent).toEqual([{ n: 3 }]);
  } finally {
    await rt.stop();
  }
}, 120_000);
