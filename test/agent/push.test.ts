// Issue 13 item 2, end to end: a real hawatch-agent (root dropping to nagios) whose file
// watcher fires pushes its results over HTTPS (a CA made by openssl, pinned) to a real
// hawatch-server runtime on loopback, which re-checks a pushed problem through NRPE against
// the same agent before it goes HARD and mails a real SMTP server. The server is down when the
// agent starts: the results wait in the agent's queue and arrive in order, each with the time
// it was observed. An agent pinned to the wrong CA sends nothing; one pinned by fingerprint
// delivers.
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { createExecutor } from '../../server/executors/index.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { makePki, type Pki } from '../server/executors/daemons.ts';
import { freePort } from '../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp.ts';
import { requireRoot } from '../support/require.ts';
import { waitFor } from '../support/wait.ts';
import { cleanup, startAgent, tempDir, type Daemon } from './helpers.ts';
import { createLogger } from '../../agent/log.ts';
import { Pusher } from '../../agent/push.ts';

let dir = '';
let pki: Pki;
let agent: Daemon;
let rt: Runtime | undefined;
let https: Server | undefined;
let smtp: SmtpSink | undefined;
let httpsPort = 0;
const TOKEN = 'push-token-db1-0123456789abcdef';
const mails: { at: number; subject: string }[] = [];
/** Bearer tokens seen by the HTTPS front, to prove a refused server never saw one. */
const tokensSeen: string[] = [];
/** Every status the server applied for db1/vrrp: output, last check (observation) and when. */
const applied: { output: string; state: number; stateType: string; lastCheck: number | null; at: number }[] = [];

const STATE = () => join(dir, 'state');
const setState = (text: string): number => {
  // Replaced by rename, as keepalived's notify script trims its file.
  writeFileSync(`${STATE()}.tmp`, `${text}\n`);
  chmodSync(`${STATE()}.tmp`, 0o666);
  execFileSync('mv', ['-f', `${STATE()}.tmp`, STATE()]);
  return Date.now();
};

async function startServer(agentPort: number): Promise<void> {
  const smtpPort = smtp!.port;
  rt = await createRuntime({
    inventory: loadInventory(`
defaults: { check_interval: 1h, retry_interval: 1h, max_check_attempts: 3, notification_interval: 0, timeout: 10s }
notifications:
  email: { smtp: { host: 127.0.0.1, port: ${smtpPort}, security: none, timeout: 5s }, from: hawatch@test.invalid }
  group_window: 0s
contacts:
  ops: { email: ops@test.invalid }
hosts:
  db1: { address: 127.0.0.1, nrpe: { port: ${agentPort} }, contacts: [ops], push_token_file: ${join(dir, 'server-db1.token')} }
services:
  - { name: vrrp, host: db1, command: check_vrrp, confirm: { results: 2, within: 5s } }
`, 'push.yaml'),
    executorFactory: createExecutor,
    database: ':memory:',
    dispatchPollMs: 100,
  });
  rt.monitor.on((e) => {
    if (e.type !== 'status' || !e.keys.includes('db1/vrrp')) return;
    const s = rt!.monitor.status('db1/vrrp')!;
    applied.push({ output: s.output, state: s.state, stateType: s.stateType, lastCheck: s.lastCheck, at: Date.now() });
  });
  await rt.app.ready();
  https = createServer({ key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) }, (req, res) => {
    tokensSeen.push(String(req.headers.authorization ?? ''));
    rt!.app.routing(req, res);
  });
  await new Promise<void>((r) => https!.listen(httpsPort, '127.0.0.1', r));
  rt.start();
}

beforeAll(async () => {
  requireRoot('the agent drops to nagios');
  dir = await tempDir('hawatch-push-');
  pki = makePki(join(dir, 'pki'));
  chmodSync(join(dir, 'pki'), 0o755);
  writeFileSync(join(dir, 'agent.token'), `${TOKEN}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'server-db1.token'), `${TOKEN}\n`);
  writeFileSync(join(dir, 'flapped'), '');
  rmSync(join(dir, 'flapped'));
  // The check: the VRRP state from the state file. FLAP is a fault seen exactly once (a marker
  // file remembers it), so the agent's run sees CRITICAL and the server's re-check sees OK.
  writeFileSync(join(dir, 'check_vrrp.sh'), [
    '#!/bin/sh',
    'd=$(dirname "$0")',
    'read s n < "$d/state"',
    'if [ "$s" = FLAP ]; then',
    '  if [ ! -e "$d/flapped.$n" ]; then : > "$d/flapped.$n"; echo "VRRP CRITICAL - VI_1 FAULT $n"; exit 2; fi',
    '  echo "VRRP OK - VI_1 MASTER $n"; exit 0',
    'fi',
    'case $s in MASTER|BACKUP) echo "VRRP OK - VI_1 $s $n"; exit 0;; esac',
    'echo "VRRP CRITICAL - VI_1 $s $n"; exit 2',
  ].join('\n') + '\n');
  chmodSync(join(dir, 'check_vrrp.sh'), 0o755);
  chmodSync(dir, 0o777); // the check (as nagios) leaves its markers here
  setState('MASTER 0');
  smtp = await startSmtpSink({ port: 0, onMail: (m) => mails.push({ at: m.at, subject: m.subject }) });
  httpsPort = await freePort();
  agent = await startAgent({
    config: [
      'allowed_hosts=127.0.0.1',
      `command[check_vrrp]=${dir}/check_vrrp.sh`,
      `hawatch_watch[check_vrrp]=file:${STATE()}`,
      'hawatch_watch_stat_interval=0.5',
      `hawatch_push_url=https://127.0.0.1:${httpsPort}/api/v1/results`,
      `hawatch_push_ca_file=${pki.caCert}`,
      `hawatch_push_token_file=${join(dir, 'agent.token')}`,
      'hawatch_push_host=db1',
      'hawatch_push_service[check_vrrp]=vrrp',
      'hawatch_push_retry_max=1',
    ].join('\n'),
  });
}, 30_000);

afterAll(async () => {
  await cleanup();
  await rt?.stop();
  await new Promise<void>((r) => (https ? https.close(() => r()) : r()));
  await smtp?.close();
});

describe('push from a watcher to the server', () => {
  it('while the server is down the results queue; once up they arrive in order with their observation times', async () => {
    await agent.waitFor((o) => o.includes('push: server unreachable; results queued'));
    await new Promise((r) => setTimeout(r, 400));
    const t1 = setState('BACKUP 1');
    await agent.waitFor((o) => o.includes('VI_1 BACKUP 1'));
    await new Promise((r) => setTimeout(r, 400));
    const t2 = setState('MASTER 2');
    await agent.waitFor((o) => o.includes('VI_1 MASTER 2'));
    expect(agent.output()).not.toContain(TOKEN); // never in the logs
    const up = Date.now();
    await startServer(agent.port);
    await waitFor('the queued results', () => applied.length >= 3, 10_000);
    const outputs = applied.map((a) => a.output);
    expect(outputs.slice(0, 3)).toEqual(['VRRP OK - VI_1 MASTER 0', 'VRRP OK - VI_1 BACKUP 1', 'VRRP OK - VI_1 MASTER 2']);
    // Each carries when the agent saw it, before the server was even up.
    expect(applied[1]!.lastCheck! - t1).toBeGreaterThanOrEqual(0);
    expect(applied[1]!.lastCheck! - t1).toBeLessThan(1000);
    expect(applied[2]!.lastCheck! - t2).toBeLessThan(1000);
    expect(applied[2]!.lastCheck!).toBeLessThan(up);
    expect(applied[0]!.lastCheck!).toBeLessThan(applied[1]!.lastCheck!);
    await agent.waitFor((o) => o.includes('"msg":"push: delivered"'));
  }, 30_000);

  it('a flap (CRITICAL once, the re-check says OK) does not page', async () => {
    const n = applied.length;
    setState('FLAP 3');
    await waitFor('the pushed problem and its re-check', () => (applied.slice(n).some((a) => a.state === 2) && applied.at(-1)!.state === 0 ? true : undefined), 10_000);
    const seen = applied.slice(n);
    expect(seen.find((a) => a.state === 2)).toMatchObject({ output: 'VRRP CRITICAL - VI_1 FAULT 3', stateType: 'SOFT' });
    expect(seen.every((a) => !(a.state === 2 && a.stateType === 'HARD'))).toBe(true);
    await new Promise((r) => setTimeout(r, 1000));
    expect(mails).toEqual([]);
  }, 20_000);

  it('a confirmed problem goes HARD and pages once; detection time from the file change', async () => {
    await new Promise((r) => setTimeout(r, 500));
    const t0 = setState('FAULT 4');
    const hard = await waitFor('HARD CRITICAL', () => applied.find((a) => a.state === 2 && a.stateType === 'HARD'), 10_000, { everyMs: 10 });
    const mail = await waitFor('the page', () => mails[0], 10_000, { everyMs: 10 });
    console.log(`file change to HARD on the server: ${hard.at - t0} ms; to the mail: ${mail.at - t0} ms`);
    expect(hard.at - t0).toBeLessThan(3000);
    expect(mail.subject).toBe('** PROBLEM Service Alert: db1/vrrp is CRITICAL **');
    await new Promise((r) => setTimeout(r, 1000));
    expect(mails).toHaveLength(1);
  }, 20_000);

  it('an agent pinned to another CA refuses the server and never sends its token; one pinned by fingerprint delivers', async () => {
    const fp = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', pki.serverCert], { encoding: 'utf8' }).trim().split('=')[1]!;
    const other = 'push-token-of-the-wrong-ca-agent-00';
    writeFileSync(join(dir, 'other.token'), `${other}\n`);
    const common = [`command[check_vrrp]=${dir}/check_vrrp.sh`, 'hawatch_watch[check_vrrp]=poll:1', `hawatch_push_url=https://127.0.0.1:${httpsPort}/api/v1/results`, 'hawatch_push_host=db1', 'hawatch_push_service[check_vrrp]=vrrp', 'hawatch_push_retry_max=1'];
    const wrong = await startAgent({ config: [...common, `hawatch_push_ca_file=${pki.otherCaCert}`, `hawatch_push_token_file=${join(dir, 'other.token')}`].join('\n') });
    await wrong.waitFor((o) => o.includes('push: server refused; results queued'));
    expect(wrong.output()).toMatch(/the server certificate does not verify against hawatch_push_ca_file: unable to verify the first certificate/);
    const before = rt!.monitor.status('db1/vrrp')!.lastCheck!;
    const pinned = await startAgent({ config: [...common, `hawatch_push_fingerprint=${fp}`, `hawatch_push_token_file=${join(dir, 'agent.token')}`].join('\n') });
    await waitFor('a result pushed by the fingerprint-pinned agent', () => rt!.monitor.status('db1/vrrp')!.lastCheck! > before, 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(tokensSeen.some((t) => t.includes(other))).toBe(false);
    expect(tokensSeen.some((t) => t.includes(TOKEN))).toBe(true);
    await wrong.stop();
    await pinned.stop();
  }, 30_000);
});

describe('the push queue', () => {
  it('is bounded: the oldest results are dropped, and the count goes with the next delivery', async () => {
    const port = await freePort();
    const lines: string[] = [];
    const pusher = new Pusher(createLogger('debug', (l) => lines.push(l)));
    pusher.configure({ url: new URL(`https://127.0.0.1:${port}/api/v1/results`), ca: readFileSync(pki.caCert, 'utf8'), token: 'queue-token-0123456789', host: 'db1', services: new Map(), queueSize: 3, retryMaxMs: 1000 });
    for (let i = 1; i <= 5; i++) pusher.enqueue({ command: 'check_x', state: i % 4, output: `R${i}`, observedAt: 1_700_000_000_000 + i });
    expect(pusher.queued).toBe(3);
    const bodies: Record<string, unknown>[] = [];
    const front = createServer({ key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) }, (req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(b) as Record<string, unknown>);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"processed":3,"statuses":[]}');
      });
    });
    await new Promise<void>((r) => front.listen(port, '127.0.0.1', r));
    try {
      await waitFor('the delivery', () => bodies[0], 5000);
      expect(bodies[0]).toEqual({
        results: [3, 4, 5].map((i) => ({ host: 'db1', service: 'check_x', state: i % 4, output: `R${i}`, observed_at: (1_700_000_000_000 + i) / 1000 })),
        dropped: 2,
      });
      expect(pusher.queued).toBe(0);
      expect(lines.join('')).toMatch(/"msg":"push: delivered","results":3,"dropped_while_queued":2/);
      expect(lines.join('')).not.toContain('queue-token-0123456789');
    } finally {
      pusher.close();
      await new Promise<void>((r) => front.close(() => r()));
    }
  });

  it('splits a backlog into bodies the server takes (below 64 KiB), in order', async () => {
    const port = await freePort();
    const pusher = new Pusher(createLogger('error', () => undefined));
    pusher.configure({ url: new URL(`https://127.0.0.1:${port}/api/v1/results`), ca: readFileSync(pki.caCert, 'utf8'), token: 'queue-token-0123456789', host: 'db1', services: new Map(), queueSize: 100, retryMaxMs: 1000 });
    for (let i = 0; i < 20; i++) pusher.enqueue({ command: 'check_x', state: 0, output: `R${i} ${'x'.repeat(8000)}`, observedAt: 1_700_000_000_000 + i });
    const sizes: number[] = [];
    const got: string[] = [];
    const front = createServer({ key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) }, (req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString()));
      req.on('end', () => {
        sizes.push(Buffer.byteLength(b));
        for (const r of (JSON.parse(b) as { results: { output: string }[] }).results) got.push(r.output.split(' ')[0]!);
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => front.listen(port, '127.0.0.1', r));
    try {
      await waitFor('the backlog', () => got.length === 20 || undefined, 8000);
      expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `R${i}`));
      expect(sizes.length).toBeGreaterThan(1);
      expect(Math.max(...sizes)).toBeLessThan(64 * 1024);
    } finally {
      pusher.close();
      await new Promise<void>((r) => front.close(() => r()));
    }
  });
});
