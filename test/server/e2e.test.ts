// End to end with real processes: the built hawatch-server runs local checks (a shell
// script reading a state file the test flips), sends email to a real SMTP server
// (smtp-server on a loopback port) and SMS to a local HTTP receiver. The SMTP server is
// killed and brought back, the hawatch-server is restarted in between: every alert arrives
// exactly once.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp.ts';

const BIN = join(process.cwd(), 'dist/bin/hawatch-server.cjs');
const dir = mkdtempSync(join(tmpdir(), 'hawatch-e2e-'));
const children = new Set<ChildProcess>();

interface Mail { subject: string; to: string; messageId: string }
const mails: Mail[] = [];
const sms: { auth: string | undefined; body: { to: string; text: string } }[] = [];

const startSmtp = (port: number): Promise<SmtpSink> => startSmtpSink({ port, onMail: (m) => mails.push(m) });


interface Server { child: ChildProcess; log: string[]; base: string; exited: Promise<number | null> }

function startServer(args: string[], port: number, env: Record<string, string> = {}): Server {
  const child = spawn(process.execPath, [BIN, ...args, '--listen', `127.0.0.1:${port}`], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

async function getJson(url: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await fetch(url);
  return r.json();
}

const count = (list: string[], s: string) => list.filter((x) => x === s).length;

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first (npm test does)`);
});

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('hawatch-server end to end', () => {
  let http: HttpServer;
  let httpPort: number;

  beforeAll(async () => {
    http = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        sms.push({ auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        res.writeHead(201, { 'content-type': 'application/json' }).end('{"status":"queued"}');
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    httpPort = (http.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => http.close(() => r())));

  it('one problem and one recovery per fault, exactly once across an SMTP outage and a server restart', async () => {
    const smtpPort = await freePort();
    let smtp = await startSmtp(smtpPort);
    const script = join(dir, 'check_flip.sh');
    writeFileSync(script, '#!/bin/sh\nstate=$(cat "$1")\necho "FLIP state $state from $1|state=$state;1;2;0;3"\nexit "$state"\n', { mode: 0o755 });
    const flip = join(dir, 'flip.state');
    const flop = join(dir, 'flop.state');
    writeFileSync(flip, '0');
    writeFileSync(flop, '0');
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, `
server:
  database: state.db
  api_token_env: E2E_TOKEN
defaults: { check_interval: 2s, retry_interval: 1s, max_check_attempts: 2, notification_interval: 0, timeout: 5s }
notifications:
  email: { smtp: { host: 127.0.0.1, port: ${smtpPort}, security: none, timeout: 3s }, from: hawatch@test.invalid }
  sms:
    http: { url: "http://127.0.0.1:${httpPort}/sms", auth_header_env: E2E_SMS_AUTH }
  group_window: 0s
  group_threshold: 10
  retry: { initial: 500ms, max: 2s }
contacts:
  ops: { email: ops@test.invalid, sms: "+15550001", sms_via: http }
hosts:
  node1: { address: 127.0.0.1, local: true, contacts: [ops] }
services:
  - { name: flip, host: node1, command: /bin/sh ${script} ${flip} }
  - { name: flop, host: node1, command: /bin/sh ${script} ${flop} }
`);
    const env = { E2E_TOKEN: 'e2e-token', E2E_SMS_AUTH: 'Bearer sms-secret' };
    const port = await freePort();
    let srv = startServer(['--config', inv], port, env);
    const status = (key: string) => getJson(`${srv.base}/api/v1/objects/${key}`).then((j) => j.status);
    await waitFor('both services checked OK', async () => (await status('node1/flip'))?.stateName === 'OK' && (await status('node1/flop'))?.stateName === 'OK', 20_000);

    // Fault: exactly one problem email and one SMS.
    writeFileSync(flip, '2');
    await waitFor('the PROBLEM email', () => mails.some((m) => m.subject.includes('PROBLEM Service Alert: node1/flip is CRITICAL')), 20_000);
    await new Promise((r) => setTimeout(r, 3000)); // a few more check cycles
    expect(mails.map((m) => m.subject)).toEqual(['** PROBLEM Service Alert: node1/flip is CRITICAL **']);
    expect(mails[0]?.to).toBe('ops@test.invalid');
    expect(sms.map((s) => s.body.text)).toEqual([expect.stringMatching(/^CRITICAL node1\/flip: FLIP state 2/)]);
    expect(sms[0]).toMatchObject({ auth: 'Bearer sms-secret', body: { to: '+15550001' } });

    // SMTP dies; the fault is removed and another one appears: mail queues, SMS still flows.
    await smtp.close();
    writeFileSync(flip, '0');
    writeFileSync(flop, '1');
    await waitFor('recovery and second problem by SMS', () => sms.length === 3, 20_000);
    await waitFor('failed email attempts in the outbox', async () => {
      const n = await getJson(`${srv.base}/api/v1/notifications`);
      return n.outbox.filter((o: { channel: string; status: string; lastError: string | null }) => o.channel === 'email' && o.status === 'pending' && o.lastError).length === 2;
    }, 20_000);

    // The server restarts while the mail is still queued.
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    srv = startServer(['--config', inv], port, env);
    await waitFor('the restarted server', async () => (await fetch(`${srv.base}/healthz`)).ok, 20_000);

    // SMTP comes back: the queued alerts arrive, each once.
    smtp = await startSmtp(smtpPort);
    await waitFor('the queued emails', () => mails.length >= 3, 20_000);
    await new Promise((r) => setTimeout(r, 4000));
    const subjects = mails.map((m) => m.subject);
    expect(subjects).toHaveLength(3);
    expect(count(subjects, '** PROBLEM Service Alert: node1/flip is CRITICAL **')).toBe(1);
    expect(count(subjects, '** RECOVERY Service Alert: node1/flip is OK **')).toBe(1);
    expect(count(subjects, '** PROBLEM Service Alert: node1/flop is WARNING **')).toBe(1);
    expect(new Set(mails.map((m) => m.messageId)).size).toBe(3);
    expect(sms.map((s) => s.body.text.split(':')[0]).sort()).toEqual(['CRITICAL node1/flip', 'RECOVERY OK node1/flip', 'WARNING node1/flop']);
    const outbox = await getJson(`${srv.base}/api/v1/notifications`);
    expect([outbox.pending, outbox.sent]).toEqual([0, 6]);
    // The state survived the restart.
    expect(await status('node1/flop')).toMatchObject({ stateName: 'WARNING', stateType: 'HARD', notificationNumber: 1 });

    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    await smtp.close();
  }, 90_000); // real processes, an SMTP outage and a restart: 16 s alone, past 30 s on a loaded 2-core machine

  it('runs the embedded default inventory: demo checks as real processes, status page served', async () => {
    const port = await freePort();
    const srv = startServer([], port);
    await waitFor('the demo checks', async () => {
      const s = await getJson(`${srv.base}/api/v1/status`);
      return s.objects.filter((o: { checked: boolean }) => o.checked).length === s.objects.length;
    }, 40_000);
    const s = await getJson(`${srv.base}/api/v1/status`);
    const byKey = new Map(s.objects.map((o: { key: string }) => [o.key, o]));
    expect(byKey.get('localhost/load')).toMatchObject({ output: expect.stringMatching(/^LOAD (OK|WARNING|CRITICAL) - load average/) });
    expect(byKey.get('localhost/memory')).toMatchObject({ perfdata: expect.stringMatching(/^memory_used=[\d.]+%;90;97;0;100$/) });
    expect(byKey.get('demo-node/drbd r0 (fixture)')).toMatchObject({ stateName: 'WARNING', output: expect.stringMatching(/^DRBD WARNING - r0 volume 0 peer nodeb: resync in progress/) });
    expect(byKey.get('demo-node/pacemaker (fixture)')).toMatchObject({ stateName: 'OK', output: expect.stringMatching(/^CRM OK - 2 of 2 nodes online/) });
    expect(byKey.get('cluster/admin node health')).toMatchObject({ checked: true });
    const page = await fetch(`${srv.base}/`);
    expect(await page.text()).toContain('<script src="/status.js"></script>');
    expect(srv.log.join('')).toContain(`status page at http://127.0.0.1:${port}/`);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
  });

  it('check validates an inventory: exit 0, or exit 1 with the problems by line', () => {
    const good = spawnSync(process.execPath, [BIN, 'check'], { encoding: 'utf8' });
    expect(good.status).toBe(0);
    expect(good.stdout).toMatch(/^\(embedded default inventory\): OK - 2 hosts, 5 services, 1 cluster rules/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'hosts:\n  web1:\n    address: 192.0.2.1\n    nrpe: { port: http }\nservices:\n  - { name: x, host: web2, command: c }\n');
    const r = spawnSync(process.execPath, [BIN, 'check', '--config', bad], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${bad}:4:19: hosts.web1.nrpe.port: must be an integer from 1 to 65535, not string "http"`);
    expect(r.stderr).toContain(`${bad}:6:22: services[0].host: unknown host 'web2'`);
    expect(r.stderr).toMatch(/2 problems in .*bad\.yaml; nothing was started/);
    expect(r.stderr).not.toMatch(/at .*\.cjs:\d+/); // no stack trace
    const missing = spawnSync(process.execPath, [BIN, '--config', join(dir, 'nope.yaml')], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^hawatch-server: cannot read the inventory .*nope\.yaml \(no such file\): put the file back or fix the path$/);
  });
});
