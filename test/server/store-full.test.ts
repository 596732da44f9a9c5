// The attack of issue 9 items 12 and 13, for real: the database lives on a small tmpfs that
// the SMTP server fills at the worst moment (after hawatch started sending, before it could
// record the send). The built hawatch-server must stay up, say it is degraded (healthz,
// metric, status API, one alert mail), never resend while it runs, record the send once
// the disk has room again, and after a crash resend only with the same Message-ID, flagged.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp.ts';
import { requireRoot } from '../support/require.ts';
import { tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';

const BIN = join(process.cwd(), 'dist/bin/hawatch-server.cjs');
let dir = '';
let store = '';
const filler = () => join(store, 'filler');
const children = new Set<ChildProcess>();

interface Mail { subject: string; messageId: string; text: string }
const mails: Mail[] = [];
let fillOnNextMail = false;

/** Writes zeros until the tmpfs has no free page left (ENOSPC). */
function fillDisk(): void {
  const fd = openSync(filler(), 'a');
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size);
      for (let i = 0; i < 100_000; i++) {
        try {
          writeSync(fd, chunk);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

function startSmtp(port: number): Promise<SmtpSink> {
  return startSmtpSink({
    port,
    onMail: (m) => {
      mails.push({ subject: m.subject, messageId: m.messageId, text: m.text });
      // The disk fills between hawatch's send and its "sent" mark.
      if (fillOnNextMail) {
        fillOnNextMail = false;
        fillDisk();
      }
    },
  });
}

interface Server { child: ChildProcess; log: string[]; base: string; exited: Promise<number | null> }

function startServer(inv: string, port: number): Server {
  const env = { ...process.env };
  delete env.HAWATCH_API_TOKEN;
  const child = spawn(process.execPath, [BIN, '--config', inv, '--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const log: string[] = [];
  child.stdout?.on('data', (d: Buffer) => log.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => {
    children.delete(child);
    resolve(code ?? (signal ? -1 : null));
  }));
  return { child, log, base: `http://127.0.0.1:${port}`, exited };
}

const subjects = () => mails.map((m) => m.subject);
const count = (re: RegExp) => subjects().filter((s) => re.test(s)).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  requireRoot('the full-disk tests mount a small tmpfs under the store (mount -t tmpfs)');
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first (npm test does)`);
  dir = tempDir('hawatch-full-');
  store = join(dir, 'store');
  mkdirSync(store);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', store], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount -t tmpfs failed: ${r.stderr.trim()}`);
});

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  if (store) spawnSync('umount', ['-l', store]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a full disk under the store', () => {
  it('no crash, no duplicate, a visible degraded state and one alert; a crash resends flagged with the same Message-ID', async () => {
    const smtpPort = await freePort();
    const smtp = await startSmtp(smtpPort);
    const script = join(dir, 'check_flip.sh');
    writeFileSync(script, '#!/bin/sh\nstate=$(cat "$1")\necho "FLIP state $state"\nexit "$state"\n', { mode: 0o755 });
    const flip = join(dir, 'flip.state');
    writeFileSync(flip, '0');
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, `
server: { database: ${join(store, 'state.db')}, degraded_alert_after: 2s }
defaults: { check_interval: 1s, retry_interval: 1s, max_check_attempts: 1, notification_interval: 0, timeout: 5s }
notifications:
  email: { smtp: { host: 127.0.0.1, port: ${smtpPort}, security: none, timeout: 3s }, from: hawatch@test.invalid }
  group_window: 0s
  group_threshold: 10
  retry: { initial: 500ms, max: 2s }
contacts:
  ops: { email: ops@test.invalid }
hosts:
  node1: { address: 127.0.0.1, local: true, contacts: [ops] }
services:
  - { name: flip, host: node1, command: /bin/sh ${script} ${flip} }
`);
    const port = await freePort();
    let srv = startServer(inv, port);
    const alive = () => (srv.child.exitCode !== null || srv.child.signalCode !== null ? `hawatch-server exited: ${srv.log.join('').slice(-2000)}` : undefined);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const json = (path: string): Promise<any> => fetch(`${srv.base}${path}`).then((r) => r.json());
    const state = async () => (await json('/api/v1/objects/node1/flip')).status?.stateName;
    await waitFor('the first check', async () => (await state()) === 'OK', 15_000, { stopWhen: alive });

    writeFileSync(flip, '2');
    await waitFor('the PROBLEM mail', () => count(/PROBLEM Service Alert: node1\/flip/) === 1, 15_000, { stopWhen: alive });

    // The RECOVERY is accepted by SMTP after the disk filled up: its "sent" mark cannot be written.
    fillOnNextMail = true;
    writeFileSync(flip, '0');
    await waitFor('the RECOVERY mail', () => count(/RECOVERY Service Alert: node1\/flip/) === 1, 15_000, { stopWhen: alive });
    const health = await waitFor('healthz to say degraded', async () => {
      const r = await fetch(`${srv.base}/healthz`);
      return r.status === 503 ? ((await r.json()) as { message: string }) : false;
    }, 10_000, { stopWhen: alive });
    expect(health).toMatchObject({ ok: false, error: 'DEGRADED', message: expect.stringMatching(/cannot be written .*SQLITE_FULL/) });
    expect(await (await fetch(`${srv.base}/metrics`)).text()).toMatch(/^hawatch_store_degraded 1$/m);
    expect((await json('/api/v1/status')).degraded).toMatchObject({ message: health.message });

    // A new problem while the disk is full: not stored, but live in the API, and the contacts
    // get one degraded alert (it needs no disk) naming it.
    writeFileSync(flip, '2');
    await waitFor('the live CRITICAL state', async () => (await state()) === 'CRITICAL', 10_000, { stopWhen: alive });
    await waitFor('the degraded alert', () => count(/hawatch DEGRADED/) === 1, 15_000, { stopWhen: alive });
    expect(mails.find((m) => /DEGRADED/.test(m.subject))?.text).toMatch(/node1\/flip is CRITICAL: FLIP state 2/);
    await sleep(4000); // more checks, retries and dispatcher rounds on the full disk
    expect(alive()).toBeUndefined();
    expect(count(/RECOVERY Service Alert/)).toBe(1); // never resent while it runs
    expect(count(/hawatch DEGRADED/)).toBe(1);
    expect(srv.log.join('')).not.toMatch(/unhandled|internal error/i);
    const recovery = mails.find((m) => /RECOVERY/.test(m.subject)) as Mail;

    // Crash while the send is unrecorded, free the disk, start again: the only allowed resend,
    // with the same Message-ID and flagged.
    srv.child.kill('SIGKILL');
    await srv.exited;
    rmSync(filler());
    srv = startServer(inv, port);
    await waitFor('the flagged resend', () => count(/^\[possible duplicate\] \*\* RECOVERY Service Alert: node1\/flip is OK/) === 1, 15_000, { stopWhen: alive });
    const again = mails.find((m) => m.subject.startsWith('[possible duplicate]')) as Mail;
    expect(again.messageId).toBe(recovery.messageId);
    expect(again.text).toMatch(/Possible duplicate: hawatch stopped after starting to send this message/);
    await waitFor('healthy again', async () => (await fetch(`${srv.base}/healthz`)).status === 200, 10_000, { stopWhen: alive });

    // Same fault, but the disk gets room while the server runs: the send is recorded late and a
    // restart sends nothing again.
    await waitFor('CRITICAL again', () => count(/PROBLEM Service Alert: node1\/flip/) === 2, 15_000, { stopWhen: alive });
    fillOnNextMail = true;
    writeFileSync(flip, '0');
    await waitFor('the second RECOVERY', () => count(/^\*\* RECOVERY Service Alert/) === 2, 15_000, { stopWhen: alive });
    await waitFor('degraded', async () => (await fetch(`${srv.base}/healthz`)).status === 503, 10_000, { stopWhen: alive });
    rmSync(filler());
    await waitFor('the late record and health', async () => (await fetch(`${srv.base}/healthz`)).status === 200 && (await json('/api/v1/notifications')).pending === 0, 15_000, { stopWhen: alive });
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    const before = mails.length;
    srv = startServer(inv, port);
    await waitFor('the restarted server', async () => (await fetch(`${srv.base}/healthz`)).ok, 15_000, { stopWhen: alive });
    await sleep(3000);
    expect(mails.slice(before).map((m) => m.subject)).toEqual([]);
    expect(count(/^\*\* RECOVERY Service Alert/)).toBe(2);
    expect(count(/possible duplicate/)).toBe(1);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    await smtp.close();
  }, 120_000);
});
