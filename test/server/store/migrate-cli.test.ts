// Issue 14: hawatch-server migrate applies the schema alone: on a real PostgreSQL each
// migration once (then current), a database newer than the program refused (exit 3, nothing
// changed), an unreachable one exit 1; on SQLite one line, and a newer file refused too.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../../../server/cli/cli.ts';
import { MIGRATIONS } from '../../../server/store/pg-migrations.ts';
import { createPrimary, type PgServer, SUPERUSER_PASSWORD } from '../../plugins/pgsql/pgcluster.ts';
import { freePort } from '../../support/ports.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';

const dir = tempDir('hawatch-pgmig-');
const pwFile = join(dir, 'pw');
let pg: PgServer;
beforeAll(async () => {
  pg = await createPrimary('pgmigrate');
  writeFileSync(pwFile, `${SUPERUSER_PASSWORD}\n`, { mode: 0o600 });
  await pg.sql('CREATE DATABASE hawatch');
}, 120_000);
afterAll(() => {
  pg?.cleanup();
  removeDir(dir);
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await cli(argv, {
    out: (s) => (out += s),
    err: (s) => (err += s),
    script: 'hawatch-server',
    executorFactory: () => Promise.reject(new Error('migrate must not start executors')),
  });
  return { code, out, err };
}

function inventory(name: string, database: string, extra = ''): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `server: { database: '${database}'${extra} }\nhosts: { h1: { address: 192.0.2.1 } }\nservices: [ { name: load, host: h1, command: check_load } ]\n`);
  return file;
}

it('applies each PostgreSQL migration once, then says the schema is current', async () => {
  const inv = inventory('pg', `postgres://postgres@127.0.0.1:${pg.port}/hawatch`, `, database_password_file: ${pwFile}`);
  const first = await run(['migrate', '--config', inv]);
  expect(first.err).toBe('');
  expect(first.code).toBe(0);
  const where = `postgres://postgres@127.0.0.1:${pg.port}/hawatch`;
  expect(first.out.trim().split('\n')).toEqual([
    ...MIGRATIONS.map((m) => `${where}: applied migration ${m.version}: ${m.name}`),
    `${where}: schema now at version ${MIGRATIONS.length}`,
  ]);
  const inDb = await pgQuery(`SELECT version FROM schema_migrations ORDER BY version`);
  expect(inDb.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
  expect((await pgQuery(`SELECT to_regclass('public.outbox') AS t`))[0]?.t).toBe('outbox');

  const again = await run(['migrate', '--config', inv]);
  expect(again).toEqual({ code: 0, out: `${where}: schema is current (version ${MIGRATIONS.length}), nothing to apply\n`, err: '' });

  // A newer hawatch migrated it: refused, exit 3, nothing touched.
  await pgQuery(`INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')`);
  const newer = await run(['migrate', '--config', inv]);
  expect(newer.code).toBe(3);
  expect(newer.out).toBe('');
  expect(newer.err).toMatch(/^hawatch-server: postgres:\/\/postgres@127\.0\.0\.1:\d+\/hawatch: the database was migrated by a newer hawatch \(schema 999, this one knows \d+\): upgrade hawatch or use another database \(nothing was changed\)\n$/);
  expect(newer.err.split('\n').length).toBe(2);
  expect((await pgQuery(`SELECT count(*)::int AS n FROM schema_migrations`))[0]?.n).toBe(MIGRATIONS.length + 1);
  await pgQuery(`DELETE FROM schema_migrations WHERE version = 999`);
}, 60_000);

it('exits 1 with one line when no PostgreSQL answers, and never prints the password', async () => {
  const dead = await freePort();
  const inv = inventory('dead', `postgres://postgres@127.0.0.1:${dead}/hawatch`, `, database_password_file: ${pwFile}`);
  const r = await run(['migrate', '--config', inv]);
  expect(r.code).toBe(1);
  expect(r.out).toBe('');
  expect(r.err).toMatch(new RegExp(`^hawatch-server: postgres://postgres@127\\.0\\.0\\.1:${dead}/hawatch: no read-write PostgreSQL server reachable: 127\\.0\\.0\\.1:${dead} ECONNREFUSED .*\\n$`));
  expect(r.err).not.toContain(SUPERUSER_PASSWORD);
  // A wrong password: refused by the server, exit 1, the password not echoed.
  const badPw = join(dir, 'badpw');
  writeFileSync(badPw, 'not-the-password\n', { mode: 0o600 });
  const inv2 = inventory('badpw', `postgres://postgres@127.0.0.1:${pg.port}/hawatch`, `, database_password_file: ${badPw}`);
  const r2 = await run(['migrate', '--config', inv2]);
  expect(r2.code).toBe(1);
  expect(r2.err).toMatch(/password authentication failed/);
  expect(r2.err).not.toContain('not-the-password');
}, 60_000);

it('on SQLite applies its schema and says one line; a newer file is refused with exit 3', async () => {
  const inv = inventory('lite', 'lite.db');
  const r = await run(['migrate', '--config', inv]);
  expect(r).toEqual({ code: 0, out: `${join(dir, 'lite.db')}: SQLite schema applied (every start applies it too, so migrate is not needed for SQLite)\n`, err: '' });
  const db = new Database(join(dir, 'lite.db'));
  expect(db.prepare(`SELECT name FROM sqlite_master WHERE name = 'outbox'`).all()).toEqual([{ name: 'outbox' }]);
  db.pragma('user_version = 99');
  db.close();
  const newer = await run(['migrate', '--config', inv]);
  expect(newer.code).toBe(3);
  expect(newer.err).toMatch(/written by a newer hawatch \(schema 99, this one knows 1\).*\(nothing was changed\)\n$/);
});

it('answers a bad option with exit 2 and is in the help', async () => {
  const r = await run(['migrate', '--bogus']);
  expect(r.code).toBe(2);
  expect(r.err).toContain('unknown option --bogus');
  const help = await run(['--help']);
  expect(help.out).toContain('hawatch-server migrate [--config FILE]');
});

async function pgQuery(sql: string): Promise<Record<string, unknown>[]> {
  const { default: pgm } = await import('pg');
  const c = new pgm.Client({ host: pg.dir, port: pg.port, user: 'postgres', database: 'hawatch' });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}
