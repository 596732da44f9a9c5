// Issue 14, end to end on the BUILT program: dist/bin/hawatch-server.cjs with
// server.database a postgres:// URL and database_password_file, a local check that turns
// CRITICAL, its email received by a real SMTP server (smtp-server), a restart that keeps the
// state (read back from PostgreSQL: no SQLite file is made), and the password nowhere in the
// process's argv (/proc/PID/cmdline) nor in its log.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPrimary, type PgServer } from '../../plugins/pgsql/pgcluster.ts';
import { binPath } from '../../support/bin.ts';
import { freePort } from '../../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../../support/smtp.ts';
import { stopChild } from '../../support/process.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';
import { waitFor } from '../../support/wait.ts';

const PASSWORD = 'e2e-pg-pw-Zq81x';
const dir = tempDir('hawatch-pge2e-');
const children = new Set<ChildProcess>();
let db: PgServer;
let smtp: SmtpSink | undefined;
let smtpPort: number;
const mails: { subject: string; messageId: string }[] = [];

beforeAll(async () => {
  db = await createPrimary('pge2e');
  await db.sql(`CREATE ROLE hawatch LOGIN PASSWORD '${PASSWORD}'`);
  await db.sql('CREATE DATABASE hawatch OWNER hawatch');
  smtpPort = await freePort();
  smtp = await startSmtpSink({ port: smtpPort, onMail: (m) => mails.push({ subject: m.subject, messageId: m.messageId }) });
}, 120_000);

afterAll(async () => {
  for (const c of children) await stopChild(c, 3000, 'SIGKILL');
  await smtp?.close();
  db?.cleanup();
  removeDir(dir);
});

interface Srv { child: ChildProcess; log: string[]; base: string; exited: Promise<number | null> }

function start(inv: string, port: number): Srv {
  // The environment without PGPASSWORD: the password must come from the file.
  const env: NodeJS.ProcessEnv = { ...process.env, E2E_TOKEN: 'pg-e2e-token' };
  delete env.PGPASSWORD;
  const child = spawn(process.execPath, [binPath('hawatch-server'), '--config', inv, '--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const log: string[] = [];
  child.stdout?.on('data', (d: Buffer) => log.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    children.delete(child);
    resolve(code);
  }));
  return { child, log, base: `http://127.0.0.1:${port}`, exited };
}

async function fromPg(sql: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ host: db.dir, port: db.port, user: 'postgres', database: 'hawatch' });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

it('runs on PostgreSQL: CRITICAL mailed once, state kept across a restart, password never in argv nor log', async () => {
  const pwFile = join(dir, 'db.pw');
  writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
  const stateFile = join(dir, 'flip.state');
  writeFileSync(stateFile, '0');
  const script = join(dir, 'check_flip.sh');
  writeFileSync(script, '#!/bin/sh\nstate=$(cat "$1")\necho "FLIP state $state"\nexit "$state"\n', { mode: 0o755 });
  const inv = join(dir, 'inventory.yaml');
  writeFileSync(inv, `
server:
  database: postgres://hawatch@127.0.0.1:${db.port}/hawatch?target_session_attrs=read-write
  database_password_file: ${pwFile}
  api_token_env: E2E_TOKEN
defaults: { check_interval: 2s, retry_interval: 1s, max_check_attempts: 2, notification_interval: 0, timeout: 5s }
notifications:
  email: { smtp: { host: 127.0.0.1, port: ${smtpPort}, security: none, timeout: 3s }, from: hawatch@test.invalid }
  group_window: 0s
contacts:
  ops: { email: ops@test.invalid }
hosts:
  node1: { address: 127.0.0.1, local: true, contacts: [ops] }
services:
  - { name: flip, host: node1, command: /bin/sh ${script} ${stateFile} }
`);
  const port = await freePort();
  let srv = start(inv, port);
  const status = async (key: string) => (await (await fetch(`${srv.base}/api/v1/objects/${key}`)).json()).status;
  await waitFor('the first OK result', async () => (await status('node1/flip').catch(() => null))?.stateName === 'OK', 30_000).catch((e: Error) => {
    throw new Error(`${e.message}; the server said: ${srv.log.join('').slice(-2000)}`);
  });

  writeFileSync(stateFile, '2');
  await waitFor('the PROBLEM email', () => mails.length >= 1, 30_000);
  await waitFor('the send recorded in PostgreSQL', async () => (await fromPg(`SELECT count(*)::int AS n FROM outbox WHERE status = 'sent'`))[0]?.n === 1, 15_000);
  expect(mails.map((m) => m.subject)).toEqual(['** PROBLEM Service Alert: node1/flip is CRITICAL **']);
  const before = await status('node1/flip');
  expect(before).toMatchObject({ stateName: 'CRITICAL', stateType: 'HARD' });

  // The password: not in argv, not in the log, not in the environment we gave it.
  const cmdline = readFileSync(`/proc/${srv.child.pid}/cmdline`, 'utf8');
  expect(cmdline).toContain('hawatch-server.cjs');
  expect(cmdline).not.toContain(PASSWORD);
  expect(readFileSync(`/proc/${srv.child.pid}/environ`, 'utf8')).not.toContain(PASSWORD);

  // The state is in PostgreSQL, nowhere else (a postgres URL is not a file next to the config).
  const row = await fromPg(`SELECT json FROM status WHERE key = 'node1/flip'`);
  expect(JSON.parse(row[0]?.json as string)).toMatchObject({ state: 2, stateType: 'HARD' });
  expect(readdirSync(dir).filter((f) => !['db.pw', 'flip.state', 'check_flip.sh', 'inventory.yaml'].includes(f))).toEqual([]);

  // Restart: the state and its notification count come back from PostgreSQL, no second mail.
  srv.child.kill('SIGTERM');
  expect(await srv.exited).toBe(0);
  const firstLog = srv.log.join('');
  srv = start(inv, port);
  await waitFor('the restarted server', async () => (await fetch(`${srv.base}/healthz`).catch(() => null))?.ok === true, 30_000);
  const after = await status('node1/flip');
  expect(after).toMatchObject({ stateName: 'CRITICAL', stateType: 'HARD', lastStateChange: before.lastStateChange, notificationNumber: before.notificationNumber });
  expect(before.notificationNumber).toBe(1);
  await new Promise((r) => setTimeout(r, 4000)); // two more check cycles on the restarted server
  expect((await status('node1/flip')).lastCheck).toBeGreaterThan(before.lastCheck);
  expect(mails).toHaveLength(1);

  // Recovery after the restart: mailed once, from the state kept.
  writeFileSync(stateFile, '0');
  await waitFor('the RECOVERY email', () => mails.length >= 2, 30_000);
  expect(mails.map((m) => m.subject)).toEqual(['** PROBLEM Service Alert: node1/flip is CRITICAL **', '** RECOVERY Service Alert: node1/flip is OK **']);
  expect(new Set(mails.map((m) => m.messageId)).size).toBe(2);

  srv.child.kill('SIGTERM');
  expect(await srv.exited).toBe(0);
  const allLog = firstLog + srv.log.join('');
  expect(allLog).toContain(`postgres://hawatch@127.0.0.1:${db.port}/hawatch`);
  expect(allLog).not.toContain(PASSWORD);
  expect(readdirSync(dir).filter((f) => f.endsWith('.db') || f.startsWith('postgres'))).toEqual([]);
}, 120_000);
