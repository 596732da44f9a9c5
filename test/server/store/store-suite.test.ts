// Issue 14 item 1: one store suite, run against the SQLite store and the PostgreSQL store
// (a real PostgreSQL started here on a free loopback port, its own data dir, stopped at the end).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckStatus, NotificationIntent } from '../../../server/state/types.ts';
import { openStore } from '../../../server/store/open.ts';
import { openPostgresStore } from '../../../server/store/postgres.ts';
import { parsePgUrl } from '../../../server/store/pg-connect.ts';
import type { AnyStore } from '../../../server/store/types.ts';
import { createPrimary, type PgServer, SUPERUSER_PASSWORD } from '../../plugins/pgsql/pgcluster.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';

const dir = tempDir('hawatch-storesuite-');
let pg: PgServer;
let dbN = 0;
const pwFile = join(dir, 'pw');

beforeAll(async () => {
  pg = await createPrimary('storesuite');
  writeFileSync(pwFile, `${SUPERUSER_PASSWORD}\n`, { mode: 0o600 });
}, 120_000);
afterAll(() => {
  pg?.cleanup();
  removeDir(dir);
});

async function freshPg(): Promise<AnyStore> {
  const name = `hw${++dbN}`;
  await pg.sql(`CREATE DATABASE ${name}`);
  return openPostgresStore(`postgres://postgres@127.0.0.1:${pg.port}/${name}`, { passwordFile: pwFile, log: () => {} });
}

const status = (key: string, state: number, output = 'x'): CheckStatus =>
  ({ key, kind: 'service', hostName: key.split('/')[0], serviceName: key.split('/')[1] ?? null, state, stateType: 'HARD', attempt: 1, output, longOutput: '', perfdata: '', checked: true, lastCheck: 1, lastChange: 1, lastHardChange: 1 }) as unknown as CheckStatus;
const note = (key: string, n: number): NotificationIntent => ({ type: 'PROBLEM', key, kind: 'service', hostName: key.split('/')[0] ?? '', serviceName: 'svc', state: 2, stateName: 'CRITICAL', output: 'down', at: n, number: n });

const kinds: [string, () => Promise<AnyStore>][] = [
  ['sqlite', () => openStore(join(dir, `s${++dbN}.db`), { log: () => {} })],
  ['postgres', freshPg],
];

describe.each(kinds)('store suite on %s', (_name, open) => {
  it('statuses, downtimes, silences, forget: written in one change, read back', async () => {
    const s = await open();
    await s.commit({
      statuses: [status('db1/drbd', 2), status('db2/drbd', 0)],
      downtimes: new Map([['db1/drbd', [{ id: 'd1', key: 'db1/drbd', start: 1, end: 2, author: 'a', comment: 'c' } as never]]]),
      silences: new Map([['s1', { id: 's1', matchers: {} } as never]]),
      history: [],
      outbox: [],
    });
    await s.commit({ statuses: [status('db1/drbd', 0, 'ok again')], history: [], outbox: [], silences: new Map([['s1', null]]) });
    const st = await s.loadStatuses();
    expect(st.map((x) => [x.key, x.state, x.output]).sort()).toEqual([['db1/drbd', 0, 'ok again'], ['db2/drbd', 0, 'x']]);
    expect((await s.loadDowntimes()).map((d) => d.id)).toEqual(['d1']);
    expect(await s.loadSilences()).toEqual([]);
    await s.forget(['db1/drbd']);
    expect((await s.loadStatuses()).map((x) => x.key)).toEqual(['db2/drbd']);
    expect(await s.loadDowntimes()).toEqual([]);
    await s.close();
  });

  it('history: by key, by host prefix (with LIKE characters escaped), paged by before, newest first', async () => {
    const s = await open();
    const ev = (key: string, at: number) => ({ key, at, type: 'STATE' as const, state: 2, stateType: 'HARD' as const, attempt: 1, output: `o${at}` });
    await s.commit({ statuses: [], history: [ev('db1', 1), ev('db1/a', 2), ev('db1/b', 3), ev('db10/a', 4), ev('d_1/a', 5)], outbox: [] });
    expect((await s.history({ key: 'db1/a', limit: 10 })).map((e) => e.at)).toEqual([2]);
    expect((await s.history({ prefix: 'db1', limit: 10 })).map((e) => e.at)).toEqual([3, 2, 1]);
    expect((await s.history({ prefix: 'd_1', limit: 10 })).map((e) => e.at)).toEqual([5]);
    expect((await s.history({ limit: 2, before: 4 })).map((e) => e.at)).toEqual([3, 2]);
    expect((await s.history({ limit: 10 }))[0]).toEqual({ key: 'd_1/a', at: 5, type: 'STATE', state: 2, stateType: 'HARD', attempt: 1, output: 'o5', detail: undefined });
    await s.close();
  });

  it('outbox lifecycle: pending in order, attempt mark, failed with backoff, sent, counts, next due', async () => {
    const s = await open();
    await s.commit({ statuses: [], history: [], outbox: [1, 2, 3].map((i) => ({ contact: 'ops', channel: 'email' as const, notification: note(`h${i}/x`, i), notBefore: 100 * i })) });
    let rows = await s.pendingOutbox(10);
    expect(rows.map((r) => r.notification.key)).toEqual(['h1/x', 'h2/x', 'h3/x']);
    expect(await s.nextOutboxDue()).toBe(100);
    const [a, b, c] = rows.map((r) => r.id) as [number, number, number];
    await s.markAttempt([a], '<m1@hawatch>', 5);
    expect((await s.pendingOutbox(1))[0]?.attempt).toEqual({ at: 5, messageId: '<m1@hawatch>' });
    await s.markFailed([a], 'smtp down', 1000);
    rows = await s.pendingOutbox(10);
    expect(rows[0]).toMatchObject({ id: a, attempts: 1, lastError: 'smtp down', nextAttemptAt: 1000, attempt: null });
    await s.markSent([b, c], 50);
    expect(await s.outboxCounts()).toEqual({ pending: 1, sent: 2, quarantined: 0 });
    expect(await s.nextOutboxDue()).toBe(1000);
    expect((await s.recentOutbox(2)).map((r) => [r.id, r.status, r.sentAt])).toEqual([[c, 'sent', 50], [b, 'sent', 50]]);
    await s.markSent([a], 60);
    expect(await s.nextOutboxDue()).toBe(null);
    await s.close();
  });

  it('meta, and perfdata (raw, minute aggregate, counter rates, thresholds, forget)', async () => {
    const s = await open();
    expect(await s.getMeta('k')).toBe(null);
    await s.setMeta('k', 'v1');
    await s.setMeta('k', 'v2');
    expect(await s.getMeta('k')).toBe('v2');
    const p = s.perfdata;
    await p.record('db1/drbd', 60_000, [{ label: 'lag', value: 1, unit: 's', warn: '5', crit: '10' }, { label: 'bytes', value: 1000, unit: 'c' }]);
    await p.record('db1/drbd', 90_000, [{ label: 'lag', value: 3, unit: 's', warn: '6', crit: '10' }, { label: 'bytes', value: 4000, unit: 'c' }]);
    expect((await p.series('db1/drbd')).map((x) => [x.label, x.lastValue])).toEqual([['bytes', 4000], ['lag', 3]]);
    const raw = await p.query('db1/drbd', 'lag', 0, 100_000, 'raw');
    expect(raw?.points.map((x) => x.avg)).toEqual([1, 3]);
    expect(raw?.thresholds).toEqual([{ at: 60_000, warn: '5', crit: '10' }, { at: 90_000, warn: '6', crit: '10' }]);
    expect((await p.query('db1/drbd', 'lag', 0, 100_000, 'minute'))?.points).toEqual([{ at: 60_000, avg: 2, min: 1, max: 3, n: 2 }]);
    expect((await p.query('db1/drbd', 'bytes', 0, 100_000, 'raw'))?.points.map((x) => x.avg)).toEqual([100]);
    expect((await p.latest()).length).toBe(2);
    await p.forget(['db1/drbd']);
    expect(await p.series('db1/drbd')).toEqual([]);
    await s.close();
  });
});

describe('postgres specifics', () => {
  it('migrations are recorded and applied once; a newer schema is refused', async () => {
    const s = await freshPg();
    const db = `hw${dbN}`;
    await s.close();
    const again = await openPostgresStore(`postgres://postgres@127.0.0.1:${pg.port}/${db}`, { passwordFile: pwFile });
    await again.close();
    const s3 = await openPostgresStore(`postgres://postgres@127.0.0.1:${pg.port}/${db}`, { passwordFile: pwFile });
    const v = await s3.session.run((c) => c.query('SELECT version FROM schema_migrations ORDER BY version'));
    expect(v.rows.map((r) => r.version)).toEqual([1, 2, 3]);
    await s3.session.run((c) => c.query(`INSERT INTO schema_migrations (version, name) VALUES (99, 'future')`));
    await s3.close();
    await expect(openPostgresStore(`postgres://postgres@127.0.0.1:${pg.port}/${db}`, { passwordFile: pwFile })).rejects.toThrow('migrated by a newer hawatch (schema 99, this one knows 3)');
  });

  it('multi-host URL: an unreachable first host and a read-only one are skipped for the read-write server', async () => {
    const ro = `hwro${++dbN}`;
    await pg.sql(`CREATE DATABASE ${ro}`);
    await pg.sql(`ALTER DATABASE ${ro} SET default_transaction_read_only = on`);
    // Same server twice: once through the read-only database name is not possible per host,
    // so the read-only case is checked on its own, then the dead-host case.
    await expect(openPostgresStore(`postgres://postgres@127.0.0.1:${pg.port}/${ro}`, { passwordFile: pwFile })).rejects.toThrow('is read-only (a standby)');
    const rw = `hwrw${++dbN}`;
    await pg.sql(`CREATE DATABASE ${rw}`);
    const s = await openPostgresStore(`postgres://postgres@127.0.0.1:1,127.0.0.1:${pg.port}/${rw}?target_session_attrs=read-write&connect_timeout=2`, { passwordFile: pwFile });
    expect(await s.getMeta('x')).toBe(null);
    await s.close();
  });

  it('refuses a password in the URL and unknown parameters, with what to do', () => {
    expect(() => parsePgUrl('postgres://u:secret@h/db')).toThrow('has a password in its URL: remove it and put it in the file named by server.database_password_file, or in $PGPASSWORD');
    expect(() => parsePgUrl('postgres://u@h/db?target_session_attrs=standby')).toThrow('target_session_attrs=standby is not supported');
    expect(parsePgUrl('postgres://u@a:5433,[::1]/db').hosts).toEqual([{ host: 'a', port: 5433 }, { host: '::1', port: 5432 }]);
  });

  it('PGPASSWORD from the environment is used when no password file is set', async () => {
    const db = `hwenv${++dbN}`;
    await pg.sql(`CREATE DATABASE ${db}`);
    const was = process.env.PGPASSWORD;
    process.env.PGPASSWORD = SUPERUSER_PASSWORD;
    try {
      const s = await openPostgresStore(`postgres://postgres@127.0.0.1:${pg.port}/${db}`);
      await s.close();
      process.env.PGPASSWORD = 'wrong';
      await expect(openPostgresStore(`postgres://postgres@127.0.0.1:${pg.port}/${db}`)).rejects.toThrow('password authentication failed');
    } finally {
      if (was === undefined) delete process.env.PGPASSWORD;
      else process.env.PGPASSWORD = was;
    }
  });
});
