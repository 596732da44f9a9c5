// Issue 9 items 12 and 17, the store side: a row that cannot be decoded (invalid JSON, a
// corrupted data page) is quarantined or skipped with a log line naming the file, the rest
// goes on, and no start fails because of it; an empty database file is refused.
import Database from 'better-sqlite3';
import { openSync, closeSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../../server/cli/cli.ts';
import { createRuntime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import type { MailMessage, MailSender } from '../../server/notify/channels.ts';
import { FakeClock } from '../../server/state/clock.ts';
import type { NotificationIntent } from '../../server/state/types.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { FakeExecutors, settle } from './helpers.ts';

const dir = tempDir('hawatch-store-');
afterAll(() => removeDir(dir));

class Mailbox implements MailSender {
  readonly sent: MailMessage[] = [];
  async sendMail(m: MailMessage): Promise<void> {
    this.sent.push(m);
  }
  close(): void {}
}

const INVENTORY = `
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
`;

const note = (i: number): NotificationIntent => ({
  type: 'PROBLEM', key: `db${i}/drbd`, kind: 'service', hostName: `db${i}`, serviceName: 'drbd', state: 2, stateName: 'CRITICAL',
  output: `DRBD CRITICAL - r${i} StandAlone ${'x'.repeat(300)}`, at: 0, number: 1,
});

async function boot(db: string, logs: string[]) {
  const mail = new Mailbox();
  const clock = new FakeClock();
  const rt = await createRuntime({
    inventory: loadInventory(INVENTORY),
    executorFactory: new FakeExecutors().factory,
    database: db,
    clock,
    mailSender: mail,
    dispatchPollMs: 200,
    logger: { level: 'info', stream: { write: (s: string) => void logs.push(JSON.parse(s).msg) } },
  });
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 500) {
      clock.advance(500);
      await settle();
    }
  };
  return { rt, mail, run };
}

/** Writes rows for contact ops straight into a store file (as an older run would have left them). */
function seed(db: string, n: number): void {
  const store = openSqliteStore(db);
  store.commit({ statuses: [], history: [], outbox: Array.from({ length: n }, (_, i) => ({ contact: 'ops', channel: 'email' as const, notification: note(i), notBefore: 0 })) });
  store.close();
}

describe('undecodable stored data', () => {
  it('an outbox row with invalid JSON is quarantined with a log line; the others are delivered, every start', async () => {
    const db = join(dir, 'badjson.db');
    seed(db, 3);
    const raw = new Database(db);
    raw.prepare(`UPDATE outbox SET notification = '{"type": "PROB' WHERE id = 2`).run();
    raw.prepare(`UPDATE status SET json = 'not json' WHERE 1`).run();
    raw.prepare(`INSERT INTO status (key, json) VALUES ('db1/drbd', '{broken')`).run();
    raw.close();
    const logs: string[] = [];
    const { rt, mail, run } = await boot(db, logs);
    await run(3000);
    expect(mail.sent.map((m) => m.subject)).toEqual(['** PROBLEM Service Alert: db0/drbd is CRITICAL **', '** PROBLEM Service Alert: db2/drbd is CRITICAL **']);
    expect(rt.store.outboxCounts()).toEqual({ pending: 0, sent: 2, quarantined: 1 });
    expect(logs.join('\n')).toContain(`${db}: outbox row 2 quarantined (unreadable: Unterminated string in JSON`);
    expect(logs.join('\n')).toContain(`${db}: stored status row db1/drbd is unreadable (`);
    expect((await rt.app.inject({ url: '/metrics' })).body).toMatch(/^hawatch_outbox_quarantined 1$/m);
    await rt.stop();
    const again = await boot(db, []);
    await again.run(2000);
    expect(again.mail.sent).toEqual([]);
    await again.rt.stop();
  });

  it('a corrupted data page: the server starts, names the rows, stays up and says it is degraded', async () => {
    const db = join(dir, 'badpage.db');
    seed(db, 60); // ~25 leaf pages of outbox rows
    const probe = new Database(db);
    probe.pragma('wal_checkpoint(TRUNCATE)');
    const pageSize = probe.pragma('page_size', { simple: true }) as number;
    const leaves = (probe.prepare(`SELECT pageno FROM dbstat WHERE name = 'outbox' AND pagetype = 'leaf' ORDER BY pageno`).all() as { pageno: number }[]).map((r) => r.pageno);
    probe.close();
    expect(leaves.length).toBeGreaterThan(5);
    const victim = leaves[Math.floor(leaves.length / 2)] as number;
    const fd = openSync(db, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (victim - 1) * pageSize);
    closeSync(fd);
    const logs: string[] = [];
    const { rt, mail, run } = await boot(db, logs);
    await run(5000);
    // The rows on the damaged page are named in the log; writes near it fail, so the server
    // says it is degraded (and why, with what to do) instead of crashing or sending unmarked mail.
    const text = logs.join('\n');
    expect(text).toMatch(new RegExp(`${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: outbox row \\d+ (quarantined|is unreadable)`));
    const health = await rt.app.inject({ url: '/healthz' });
    if (health.statusCode === 503) expect(health.json().message).toMatch(/SQLITE_CORRUPT.*the file is damaged: restore it from a backup or rebuild it with sqlite3 .recover/);
    else expect(mail.sent.length).toBeGreaterThan(0);
    await rt.stop();
    const again = await boot(db, []);
    await again.run(2000);
    await again.rt.stop();
  });
});

describe('a file that is not a database', () => {
  it('is refused with what to do', () => {
    const db = join(dir, 'garbage.db');
    writeFileSync(db, Buffer.alloc(8192, 0x41));
    expect(() => openSqliteStore(db)).toThrow(`${db} is not a readable hawatch database (SQLITE_NOTADB file is not a database): restore it from a backup (or rebuild it with sqlite3 .recover), or move it away to start with no stored state`);
  });
});

describe('an empty database file', () => {
  it('is refused with a message, not started empty', async () => {
    const db = join(dir, 'empty.db');
    writeFileSync(db, '');
    expect(() => openSqliteStore(db)).toThrow(`${db} is empty (0 bytes), not a hawatch database: restore it from a backup, or delete it to start with no stored state`);
    const inv = join(dir, 'inv.yaml');
    writeFileSync(inv, INVENTORY);
    let err = '';
    const code = await cli(['--config', inv, '--data', db, '--listen', '127.0.0.1:0'], { out: () => {}, err: (s) => void (err += s), script: 'hawatch-server', executorFactory: async () => new FakeExecutors().factory });
    expect(code).toBe(1);
    expect(err).toContain(`hawatch-server: cannot start: ${db} is empty (0 bytes)`);
  });
});
