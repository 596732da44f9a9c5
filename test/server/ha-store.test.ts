/**
 * The PostgreSQL side of several instances (issue 14 items 1, 3, 4), in process on a real
 * PostgreSQL: server.ha refused without PostgreSQL; the outbox once-rule; outbox claims
 * (one deliverer, a claim lost to another instance after expiry, the second send flagged as
 * a possible duplicate with the same Message-ID); a commit fenced in its own transaction
 * when the shard was taken meanwhile; the read view sees a status committed late with a
 * lower change sequence number.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { shardOf } from '../../server/ha/leases.ts';
import { InventoryError, loadInventory } from '../../server/inventory/load.ts';
import type { MailMessage, MailSender } from '../../server/notify/channels.ts';
import { Dispatcher, type Channels } from '../../server/notify/dispatcher.ts';
import { systemClock } from '../../server/state/clock.ts';
import type { CheckStatus, Downtime, HistoryEvent, NotificationIntent } from '../../server/state/types.ts';
import { openPostgresStore, type PostgresStore } from '../../server/store/postgres.ts';
import { createPrimary, requirePostgres, SUPERUSER_PASSWORD, type PgServer } from '../plugins/pgsql/pgcluster.ts';
import { FakeExecutors } from './helpers.ts';

let server: PgServer;
let admin: pg.Client;
const opened: { close(): unknown }[] = [];
const runtimes: Runtime[] = [];
let dbn = 0;

beforeAll(async () => {
  requirePostgres();
  process.env.PGPASSWORD = SUPERUSER_PASSWORD;
  server = await createPrimary('ha-store');
  admin = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'postgres' });
  await admin.connect();
}, 120_000);

// Each test's connections end with it: the test cluster allows 20 clients in all.
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

afterAll(async () => {
  for (const rt of runtimes) await rt.stop().catch(() => undefined);
  for (const s of opened) await s.close();
  await admin?.end();
  server?.cleanup();
});

/** A fresh database per test. */
async function freshDb(): Promise<{ url: string; client: pg.Client }> {
  const name = `ha_${++dbn}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'postgres', password: SUPERUSER_PASSWORD, database: name });
  await client.connect();
  opened.push({ close: () => client.end() });
  return { url: `postgres://postgres@127.0.0.1:${server.port}/${name}`, client };
}

async function store(url: string): Promise<PostgresStore> {
  const s = await openPostgresStore(url, { log: () => undefined });
  opened.push(s);
  return s;
}

const note = (key: string, at: number): NotificationIntent => ({ type: 'PROBLEM', key, kind: 'service', hostName: key.split('/')[0]!, serviceName: 'svc', state: 2, stateName: 'CRITICAL', output: 'broken', at, number: 1, problemSince: 1000 });

const INV = (url: string, extra = '') => `
server:
  database: ${url}
  ha: { shards: 4, lease: 30s${extra} }
notifications:
  email: { smtp: { host: 127.0.0.1, port: 9, security: none }, from: hawatch@test.invalid }
contacts:
  ops: { email: ops@test.invalid }
hosts:
  web1: { address: 192.0.2.1, check: none, contacts: [ops] }
  web2: { address: 192.0.2.2, check: none, contacts: [ops] }
services:
  - { name: push, hosts: [web1, web2], passive: true, freshness: false, max_check_attempts: 1 }
`;

describe('server.ha configuration', () => {
  it('is refused without a postgres database, in one line; absent, nothing is added', () => {
    let err: unknown;
    try {
      loadInventory(INV('state.db'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InventoryError);
    expect(String((err as Error).message)).toMatch(/server\.ha: needs server\.database to be a postgres:\/\/ URL/);
    const plain = loadInventory('hosts:\n  web1: { address: 192.0.2.1, check: none }\n');
    expect(plain.server.ha).toBeNull();
    expect(plain.hosts.has('hawatch')).toBe(false);
    const ha = loadInventory(INV('postgres://u@127.0.0.1/x', ', contacts: [ops], deadman: { url: "https://hc.example/ping", every: 30s }'));
    expect(ha.server.ha).toEqual({ shards: 4, leaseMs: 30_000, instanceId: null, contacts: ['ops'], deadman: { url: 'https://hc.example/ping', everyMs: 30_000, method: 'GET' } });
    expect(ha.services.get('hawatch/instances')).toMatchObject({ passive: true, contacts: ['ops'] });
  });
});

describe('outbox on PostgreSQL with several instances', () => {
  it('creates a notification of a state change once: a second creation is refused', async () => {
    const { url, client } = await freshDb();
    const s = await store(url);
    const row = { contact: 'ops', channel: 'email' as const, notification: note('web1/svc', 5000), notBefore: 0 };
    await s.commit({ statuses: [], history: [], outbox: [row] });
    // The same problem notified again by another instance (later, its own clock): not created.
    await s.commit({ statuses: [], history: [], outbox: [{ ...row, notification: note('web1/svc', 9000) }] });
    // Its next notification (number 2) is another one.
    await s.commit({ statuses: [], history: [], outbox: [{ ...row, notification: { ...note('web1/svc', 9000), number: 2 } }] });
    const n = (await client.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n;
    expect(n).toBe(2);
  });

  it('claims: one instance delivers a row; after its claim expired another resends it flagged, same Message-ID', async () => {
    const { url, client } = await freshDb();
    const a = await store(url);
    const b = await store(url);
    a.ha.claims = { owner: 'a', ttlS: 1 };
    b.ha.claims = { owner: 'b', ttlS: 1 };
    await a.commit({ statuses: [], history: [], outbox: [{ contact: 'ops', channel: 'email', notification: note('web1/push', 1), notBefore: 0 }] });
    const got = await a.pendingOutbox(10);
    expect(got).toHaveLength(1);
    expect(await b.pendingOutbox(10)).toEqual([]); // claimed by a
    // a marks its attempt and "crashes" before recording the send.
    await a.markAttempt([got[0]!.id], '<first@hawatch>', Date.now());
    await new Promise((r) => setTimeout(r, 1300));
    // b delivers through the real dispatcher: flagged, same Message-ID, the SMTP answer recorded.
    const sent: MailMessage[] = [];
    const mail: MailSender = { sendMail: async (m) => (sent.push(m), '250 queued as ABC123'), close: () => undefined };
    const inv = loadInventory(INV(url));
    const channels: Channels = { mail, sms: { gateway: null, http: null, smstools: null } };
    const d = new Dispatcher({ store: b, clock: systemClock(), inventory: () => inv, channels: () => channels });
    await d.flush();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ messageId: '<first@hawatch>', subject: expect.stringMatching(/^\[possible duplicate\] /) });
    const r = (await client.query('SELECT status, provider_id, claimed_by FROM outbox')).rows[0];
    expect(r).toEqual({ status: 'sent', provider_id: '250 queued as ABC123', claimed_by: 'b' });
    // a, back from its pause, cannot mark (and so cannot send) what b holds.
    await expect(a.markAttempt([got[0]!.id], '<again@hawatch>', Date.now())).rejects.toThrow(/no longer claimed by a/);
  });

  it('an instance paused between its attempt mark and the send sends nothing; the instance that takes the row sends it flagged', async () => {
    const { url } = await freshDb();
    const a = await store(url);
    const b = await store(url);
    a.ha.claims = { owner: 'a', ttlS: 1 };
    b.ha.claims = { owner: 'b', ttlS: 1 };
    await a.commit({ statuses: [], history: [], outbox: [{ contact: 'ops', channel: 'email', notification: note('web1/pause', 1), notBefore: 0 }] });
    const inv = loadInventory(INV(url));
    const mailer = (list: MailMessage[]): MailSender => ({ sendMail: async (m) => (list.push(m), '250 queued'), close: () => undefined });
    const via = (list: MailMessage[]): Channels => ({ mail: mailer(list), sms: { gateway: null, http: null, smstools: null } });
    // a marks its attempt, then stops (SIGSTOP, a long GC) past its claim before it sends.
    const paused: typeof a = { ...a, markAttempt: async (...args: Parameters<typeof a.markAttempt>) => {
      await a.markAttempt(...args);
      await new Promise((r) => setTimeout(r, 1100));
    } };
    const fromA: MailMessage[] = [];
    await new Dispatcher({ store: paused, clock: systemClock(), inventory: () => inv, channels: () => via(fromA) }).flush();
    expect(fromA).toEqual([]);
    const fromB: MailMessage[] = [];
    await new Dispatcher({ store: b, clock: systemClock(), inventory: () => inv, channels: () => via(fromB) }).flush();
    expect(fromB.map((m) => m.subject)).toEqual([expect.stringMatching(/^\[possible duplicate\] /)]);
  });

  it('a commit is one statement that writes only the rows of the shards still held (and of no shard), and says which were held', async () => {
    const { url, client } = await freshDb();
    const a = await store(url);
    await client.query(`INSERT INTO hawatch_shards (shard, owner, epoch, expires_at) VALUES (0, 'a', 7, now() + interval '1 hour'), (1, 'thief', 8, now() + interval '1 hour'), (2, 'a', 3, now() - interval '1 second') ON CONFLICT (shard) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch, expires_at = excluded.expires_at`);
    const shardOfHost: Record<string, number> = { web1: 0, web2: 1, web3: 2, web4: 0 };
    let heard: number[] | null = null;
    // web1 and web4: shard 0, held at epoch 7; web2: shard 1, taken by another; web3: shard 2, its lease expired.
    a.ha.fence = () => ({ owner: 'a', asked: [[0, 7], [1, 7], [2, 3]], shardOf: (key) => (key === '' ? -1 : shardOfHost[key.split('/')[0]!]!), done: (held) => { heard = [...held].sort(); } });
    const status = (key: string) => ({ key, kind: 'service', hostName: key.split('/')[0], serviceName: 'svc', output: 'x' }) as unknown as CheckStatus;
    const ev = (key: string): HistoryEvent => ({ key, at: 1000, type: 'STATE', state: 2, stateType: 'HARD', attempt: 1, output: 'broken' });
    const keys = ['web1/svc', 'web2/svc', 'web3/svc', 'web4/svc'];
    let round = 0;
    const pgQuery = pg.Client.prototype.query;
    const counted = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      round++;
      return (pgQuery as (...x: unknown[]) => unknown).apply(this, args);
    } as typeof pgQuery);
    try {
      // a free-form message (key '', the daily summary) belongs to no shard: always written
      const summary: NotificationIntent = { ...note('', 2000), type: 'CUSTOM', hostName: 'hawatch' };
      await a.commit({ statuses: keys.map(status), history: keys.map(ev), outbox: [...keys.map((k) => ({ contact: 'ops', channel: 'email' as const, notification: note(k, 2000), notBefore: 0 })), { contact: 'ops', channel: 'email' as const, notification: summary, notBefore: 0 }] });
    } finally {
      counted.mockRestore();
    }
    expect(round).toBe(1);
    expect(heard).toEqual([0]);
    const rows = async (sql: string) => (await client.query(sql)).rows.map((r) => Object.values(r)[0]).sort();
    expect(await rows('SELECT key FROM status')).toEqual(['web1/svc', 'web4/svc']);
    expect(await rows('SELECT key FROM history')).toEqual(['web1/svc', 'web4/svc']);
    expect(await rows('SELECT obj_key FROM outbox')).toEqual(['', 'web1/svc', 'web4/svc']);
    // Downtimes go in the same transaction, fenced alike.
    const dt = (key: string): Downtime => ({ id: `d-${key}`, key, start: 0, end: 10, durationMs: 10, fixed: true, author: 'x', comment: 'y', triggeredBy: null, startedAt: null } as unknown as Downtime);
    await a.commit({ statuses: [], history: [], outbox: [], downtimes: new Map([['web1/svc', [dt('web1/svc')]], ['web2/svc', [dt('web2/svc')]]]) });
    expect(await rows('SELECT key FROM downtime')).toEqual(['web1/svc']);
    expect(heard).toEqual([0]);
  });

  it('claims keep the order per object and contact: a RECOVERY waits while its PROBLEM is claimed by another instance', async () => {
    const { url } = await freshDb();
    const a = await store(url);
    const b = await store(url);
    a.ha.claims = { owner: 'a', ttlS: 30 };
    b.ha.claims = { owner: 'b', ttlS: 30 };
    const problem = { ...note('web1/svc', 5000), problemSince: 5000 };
    const recovery: NotificationIntent = { ...problem, type: 'RECOVERY', state: 0, stateName: 'OK', output: 'fine', at: 6000, problemNumber: 1 };
    await a.commit({ statuses: [], history: [], outbox: [{ contact: 'ops', channel: 'email', notification: problem, notBefore: 0 }] });
    const first = await a.pendingOutbox(10);
    expect(first.map((r) => r.notification.type)).toEqual(['PROBLEM']);
    // The recovery is written (by whichever instance owns the object now) while a still holds the problem.
    await b.commit({ statuses: [], history: [], outbox: [
      { contact: 'ops', channel: 'email', notification: recovery, notBefore: 0 },
      { contact: 'dba', channel: 'email', notification: recovery, notBefore: 0 },
      { contact: 'ops', channel: 'email', notification: { ...note('web2/svc', 6000), problemSince: 6000 }, notBefore: 0 },
    ] });
    // b takes what is not held back: another contact's recovery, another object's problem; not ops' recovery.
    const mine = await b.pendingOutbox(10);
    expect(mine.map((r) => `${r.contact} ${r.notification.key} ${r.notification.type}`)).toEqual(['dba web1/svc RECOVERY', 'ops web2/svc PROBLEM']);
    // Once a has sent the problem, the recovery is free for anyone.
    await a.markSent([first[0]!.id], Date.now());
    expect((await b.pendingOutbox(10)).map((r) => `${r.contact} ${r.notification.key} ${r.notification.type}`)).toEqual(['ops web1/svc RECOVERY', 'dba web1/svc RECOVERY', 'ops web2/svc PROBLEM']);
  });
});

describe('runtime with server.ha on PostgreSQL', () => {
  async function runtime(url: string, id: string): Promise<Runtime> {
    const rt = await createRuntime({ inventory: loadInventory(INV(url, `, instance_id: ${id}`)), executorFactory: new FakeExecutors().factory, apiToken: () => 't', loadInventory: null, mailSender: null });
    runtimes.push(rt);
    return rt;
  }
  const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('a commit whose shard was taken meanwhile is fenced in its transaction: nothing of it written, the shard dropped', async () => {
    const { url, client } = await freshDb();
    const rt = await runtime(url, 'solo');
    await until('all shards held', () => rt.ha!.status().owned.length === 4);
    await rt.monitor.flushed();
    const shard = shardOf('web1', 4);
    // Another instance takes the shard (the lease renewal of this one is 10 s away).
    await client.query(`UPDATE hawatch_shards SET owner = 'thief', epoch = epoch + 1, expires_at = now() + interval '1 hour' WHERE shard = $1`, [shard]);
    rt.monitor.submitPassiveResult('web1/push', { state: 2, output: 'stale view', longOutput: '', perfdata: '', executedAt: Date.now(), durationMs: 0 });
    await rt.monitor.flushed();
    expect((await client.query(`SELECT count(*)::int AS n FROM status WHERE key = 'web1/push'`)).rows[0].n).toBe(0);
    expect((await client.query(`SELECT count(*)::int AS n FROM outbox WHERE obj_key = 'web1/push'`)).rows[0].n).toBe(0);
    expect(rt.ha!.fencedDrops).toBeGreaterThan(0);
    await until('the shard dropped locally', () => !rt.monitor.mine('web1/push') && !rt.ha!.status().owned.includes(shard));
    // Its operator commands are refused now, naming the reason.
    expect(() => rt.monitor.submitPassiveResult('web1/push', { state: 0, output: 'x', longOutput: '', perfdata: '', executedAt: Date.now(), durationMs: 0 })).toThrow(/is run by another instance/);
  });

  it('the read view sees a status committed late with a lower change sequence than one already read', async () => {
    const { url, client } = await freshDb();
    const writer = await runtime(url, 'w');
    await until('all shards held', () => writer.ha!.status().owned.length === 4);
    for (const h of ['web1', 'web2']) writer.monitor.submitPassiveResult(`${h}/push`, { state: 0, output: 'first', longOutput: '', perfdata: '', executedAt: Date.now(), durationMs: 0 });
    await writer.monitor.flushed();
    const reader = await runtime(url, 'r');
    await until('the reader sees the first results', () => reader.monitor.status('web2/push')?.output === 'first');
    const json = (key: string, output: string) => client.query(`SELECT json FROM status WHERE key = $1`, [key]).then((r) => JSON.stringify({ ...JSON.parse(r.rows[0].json), output }));
    // A slow transaction takes its sequence number first and commits last.
    const slow = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'postgres', password: SUPERUSER_PASSWORD, database: url.split('/').pop() });
    await slow.connect();
    opened.push({ close: () => slow.end() });
    await slow.query('BEGIN');
    await slow.query(`UPDATE status SET json = $1 WHERE key = 'web1/push'`, [await json('web1/push', 'late')]);
    await client.query(`UPDATE status SET json = $1 WHERE key = 'web2/push'`, [await json('web2/push', 'quick')]);
    await until('the reader sees the quick one', () => reader.monitor.status('web2/push')?.output === 'quick', 3000);
    await reader.ha!.poll();
    await slow.query('COMMIT');
    // Within a few polls (1 s), long before any shard moves (the writer gives shards back at its renewal, 10 s on).
    await until('the reader sees the late one', () => reader.monitor.status('web1/push')?.output === 'late', 3000);
    expect(reader.monitor.mine('web1/push')).toBe(false);
  }, 30_000);
});
