// Issue 10 item 8: passive results (Nagios PROCESS_SERVICE_CHECK_RESULT and
// PROCESS_HOST_CHECK_RESULT semantics) through the native JSON route and the NRDP wire
// format, into the same state machine (soft/hard, notifications to a real SMTP server),
// with freshness for passive objects on the fake clock.
//
// The NRDP clients: no Debian package ships send_nrdp (apt-cache search nrdp finds nothing),
// so the test writes its own from the protocol as NagiosEnterprises/nrdp defines it
// (server/includes/utils.inc.php, plugins/nagioscorepassivecheck, clients/send_nrdp.sh and
// send_nrdp.py): a shell client that posts like send_nrdp.sh (curl -f -d with the XML
// NOT url-encoded, only & < > of the output turned into %26 %3C %3E, field xml, trailing
// slash on the URL, status and message read out of the answer with sed), and a Node client
// that posts like send_nrdp.py (urlencoded token, cmd=submitcheck, XMLDATA).
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { freePort } from '../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { FakeExecutors, settle , syncStore } from './helpers.ts';

const dir = tempDir('hawatch-passive-');
const TOKEN = 'nrdp-0123456789abcdef';
const API = 'api-token-fedcba9876543210';
const mails: { to: string; subject: string; body: string }[] = [];
const logs: string[] = [];
let smtp: SmtpSink | undefined;
let rt: Runtime;
let clock: FakeClock;
let base = '';
const fx = new FakeExecutors();

/** Shell client written from the NRDP protocol, posting the way send_nrdp.sh does. */
const SHELL_CLIENT = `#!/bin/bash
# usage: nrdp-client URL TOKEN HOST SERVICE STATE OUTPUT   (SERVICE empty: host result)
url=$1 token=$2 host=$3 service=$4 state=$5 output=$6
if [ -n "$service" ]; then
  xml="<checkresult type='service' checktype='1'><servicename>$service</servicename>"
else
  xml="<checkresult type='host' checktype='1'>"
fi
output=\${output//&/%26}
output=\${output//</%3C}
output=\${output//>/%3E}
xml="$xml<hostname>$host</hostname><state>$state</state><output><![CDATA[$output]]></output></checkresult>"
xml="<?xml version='1.0'?>
<checkresults>
$xml
</checkresults>"
[ -n "$RAW_XML" ] && xml=$RAW_XML
rslt=$(curl -f --silent --insecure -d "token=$token&cmd=submitcheck&xml=$xml" "$url/")
ret=$?
status=$(echo $rslt | sed -n 's|.*<status>\\(.*\\)</status>.*|\\1|p')
message=$(echo $rslt | sed -n 's|.*<message>\\(.*\\)</message>.*|\\1|p')
if [ $ret != 0 ]; then echo "ERROR: could not connect to NRDP server at $url"; exit 1; fi
if [ "$status" != "0" ]; then echo "ERROR: The NRDP Server said $message"; exit 2; fi
echo "Sent 1 checks to $url"
`;
const shellClient = join(dir, 'nrdp-client');

/** Runs the shell client (asynchronously: the server answers from this same process). */
function shell(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile('bash', [shellClient, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, out: `${stdout}${stderr}`.trim() });
    });
  });
}

/** Node client written from the protocol, posting the way send_nrdp.py does (urlencoded XMLDATA). */
async function pyStyle(token: string, xml: string): Promise<{ http: number; text: string }> {
  const res = await fetch(`${base}/nrdp/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, cmd: 'submitcheck', XMLDATA: xml }).toString() });
  return { http: res.status, text: await res.text() };
}

const status = (key: string) => rt.monitor.status(key);

/** Lets the fake minutes pass and the dispatcher deliver to the real SMTP server. */
async function deliver(): Promise<void> {
  clock.advance(1000);
  await settle();
  await rt.dispatcher.flush();
  await new Promise((r) => setTimeout(r, 30));
}

/** Delivers everything queued so far, then forgets the mails (each test looks at its own). */
async function drain(): Promise<void> {
  await deliverAll();
  mails.length = 0;
}
async function deliverAll(): Promise<void> {
  for (let i = 0; i < 10 && syncStore(rt.store).outboxCounts().pending > 0; i++) await deliver();
  expect(syncStore(rt.store).outboxCounts().pending).toBe(0);
}

beforeAll(async () => {
  writeFileSync(shellClient, SHELL_CLIENT);
  chmodSync(shellClient, 0o755);
  writeFileSync(join(dir, 'tokens'), `# NRDP senders\n${TOKEN}\n`);
  const smtpPort = await freePort();
  smtp = await startSmtpSink({ port: smtpPort, onMail: (m) => mails.push({ to: m.rcptTo.join(','), subject: m.subject, body: m.raw }) });
  clock = new FakeClock();
  rt = await createRuntime({
    inventory: loadInventory(`
server: { passive_tokens_file: ${join(dir, 'tokens')} }
defaults: { check_interval: 1h, max_check_attempts: 1, notification_interval: 0 }
notifications:
  email: { smtp: { host: 127.0.0.1, port: ${smtpPort}, security: none, timeout: 5s }, from: hawatch@test.invalid }
  group_window: 0s
contacts:
  ops: { email: ops@test.invalid }
hosts:
  db1: { address: 127.0.0.1, contacts: [ops] }
  backup1: { passive: true, contacts: [ops], freshness: { threshold: 2h } }
  admin: { local: true, contacts: [ops] }
services:
  - { name: backup, host: db1, passive: true, max_check_attempts: 2, freshness: { threshold: 26h, state: critical } }
  - { name: drbd, host: db1, command: check_drbd }
  - { name: nightly, host: backup1, passive: true, freshness: false }
  - { name: heartbeat, host: db1, passive: true, freshness: { threshold: 10m, state: critical } }
`, 'passive.yaml'),
    executorFactory: fx.factory,
    database: ':memory:',
    clock,
    apiToken: () => API,
    tickMs: 60_000,
    dispatchPollMs: 500,
    logger: { level: 'info', stream: { write: (s: string) => void logs.push(s) } },
  });
  await rt.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = rt.app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

afterAll(async () => {
  await rt?.stop();
  await smtp?.close();
  removeDir(dir);
});

describe('native JSON: POST /api/v1/results', () => {
  it('a passive result goes through soft/hard and notifies; a passive token is enough', async () => {
    const post = (body: Record<string, unknown>, token = TOKEN) => rt.app.inject({ method: 'POST', url: '/api/v1/results', headers: { authorization: `Bearer ${token}` }, payload: body });
    expect(status('db1/backup')).toMatchObject({ checked: false });
    let res = await post({ host: 'db1', service: 'backup', state: 2, output: 'BACKUP CRITICAL - rsync exit 23|files=0;;;0\\nlong line' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ processed: 1, statuses: [{ key: 'db1/backup', state: 2, stateType: 'SOFT', attempt: 1, active: false }] });
    expect(status('db1/backup')).toMatchObject({ output: 'BACKUP CRITICAL - rsync exit 23', perfdata: 'files=0;;;0', longOutput: 'long line' });
    await deliver();
    expect(mails).toHaveLength(0); // SOFT: no notification
    res = await post({ results: [{ host: 'db1', service: 'backup', state: 'CRITICAL', output: 'BACKUP CRITICAL - rsync exit 23' }] }, API);
    expect(res.json()).toMatchObject({ statuses: [{ state: 2, stateType: 'HARD' }] });
    for (let i = 0; i < 5 && mails.length === 0; i++) await deliver();
    expect(mails.map((m) => m.subject)).toEqual(['** PROBLEM Service Alert: db1/backup is CRITICAL **']);
  });

  it('an active object takes a passive result too; a host result is HARD at once', async () => {
    const res = await rt.app.inject({
      method: 'POST', url: '/api/v1/results', headers: { authorization: `Bearer ${TOKEN}` },
      payload: { results: [{ host: 'db1', service: 'drbd', state: 1, output: 'DRBD WARNING - r0 SyncSource 40%' }, { host: 'backup1', state: 1, output: 'host unreachable from the backup job' }] },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(status('db1/drbd')).toMatchObject({ state: 1, output: 'DRBD WARNING - r0 SyncSource 40%' });
    expect(status('backup1')).toMatchObject({ state: 1, stateType: 'HARD', attempt: 1 });
  });

  it('wrong token 401; an unknown object rejects the whole batch, nothing applied', async () => {
    const bad = await rt.app.inject({ method: 'POST', url: '/api/v1/results', headers: { authorization: 'Bearer nope-nope-nope-nope' }, payload: { host: 'db1', service: 'drbd', state: 0, output: 'x' } });
    expect(bad.statusCode).toBe(401);
    const before = status('db1/drbd');
    const res = await rt.app.inject({
      method: 'POST', url: '/api/v1/results', headers: { authorization: `Bearer ${TOKEN}` },
      payload: { results: [{ host: 'db1', service: 'drbd', state: 0, output: 'DRBD OK' }, { host: 'db1', service: 'drdb', state: 0, output: 'typo' }] },
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toBe('result 2: no service db1/drdb in the inventory');
    expect(status('db1/drbd')).toEqual(before);
    const state = await rt.app.inject({ method: 'POST', url: '/api/v1/results', headers: { authorization: `Bearer ${TOKEN}` }, payload: { host: 'backup1', state: 3, output: 'x' } });
    expect(state.statusCode).toBe(400);
    expect(state.json().message).toMatch(/state 3 of backup1 is not 0 UP, 1 DOWN or 2 UNREACHABLE/);
    // A host without a check and not passive (here the admin node itself) cannot be sent DOWN:
    // nothing would bring it back, and its services' alerts would be blocked for good.
    const local = await rt.app.inject({ method: 'POST', url: '/api/v1/results', headers: { authorization: `Bearer ${TOKEN}` }, payload: { host: 'admin', state: 1, output: 'forged' } });
    expect(local.statusCode).toBe(400);
    expect(local.json().message).toMatch(/host admin has no check and is not passive/);
    expect(status('admin')).toMatchObject({ state: 0 });
  });
});

describe('NRDP over real HTTP', () => {
  it('the send_nrdp.sh-style client submits a service result that changes state and notifies', async () => {
    await drain();
    const r = await shell([`${base}/nrdp`, TOKEN, 'db1', 'drbd', '2', 'DRBD CRITICAL - r0 StandAlone & split brain|r0_connected=0']);
    expect(r, r.out).toMatchObject({ code: 0, out: `Sent 1 checks to ${base}/nrdp` });
    expect(status('db1/drbd')).toMatchObject({ state: 2, stateType: 'HARD', output: 'DRBD CRITICAL - r0 StandAlone & split brain', perfdata: 'r0_connected=0' });
    for (let i = 0; i < 5 && mails.length === 0; i++) await deliver();
    expect(mails.map((m) => m.subject)).toEqual(['** PROBLEM Service Alert: db1/drbd is CRITICAL **']);
    expect(mails[0]?.body).toContain('DRBD CRITICAL - r0 StandAlone & split brain');
  });

  it('the send_nrdp.py-style client sends a batch in XMLDATA; the answer is NRDP\'s document', async () => {
    const xml = `<?xml version='1.0'?>
<checkresults>
  <checkresult type="host" checktype="1"><hostname>backup1</hostname><state>0</state><output>PING OK</output></checkresult>
  <checkresult type="service" checktype="1"><hostname>backup1</hostname><servicename>nightly</servicename><state>0</state><output>BACKUP OK - 12 GiB in 41 min</output></checkresult>
</checkresults>`;
    const r = await pyStyle(TOKEN, xml);
    expect(r.http).toBe(200);
    expect(r.text).toBe('<?xml version="1.0" encoding="utf-8"?>\n<result>\n    <status>0</status>\n    <message>OK</message>\n    <meta>\n        <output>2 checks processed</output>\n    </meta>\n</result>\n');
    expect(status('backup1')).toMatchObject({ state: 0, stateType: 'HARD' });
    expect(status('backup1/nightly')).toMatchObject({ state: 0, output: 'BACKUP OK - 12 GiB in 41 min' });
  });

  it('JSONDATA is answered in JSON', async () => {
    const body = new URLSearchParams({ token: TOKEN, cmd: 'submitcheck', JSONDATA: JSON.stringify({ checkresults: [{ checkresult: { type: 'service' }, hostname: 'backup1', servicename: 'nightly', state: '1', output: 'BACKUP WARNING - slow' }] }) });
    const res = await fetch(`${base}/nrdp/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
    expect(await res.json()).toEqual({ result: { status: 0, message: 'OK', meta: { output: '1 checks processed' } } });
    expect(status('backup1/nightly')).toMatchObject({ state: 1 });
  });

  it('a bad token is 403 with NRDP BAD TOKEN, and no token appears in the log', async () => {
    const before = status('db1/drbd');
    const r = await pyStyle('not-the-token-at-all', '<checkresults/>');
    expect(r.http).toBe(403);
    expect(r.text).toContain('<status>-1</status>');
    expect(r.text).toContain('<message>BAD TOKEN: the token is not one of server.passive_tokens</message>');
    const none = await fetch(`${base}/nrdp/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'cmd=submitcheck&XMLDATA=x' });
    expect(none.status).toBe(403);
    expect(await none.text()).toContain('<message>NO TOKEN: send the form field token</message>');
    const sh = await shell([`${base}/nrdp`, 'wrong-token-wrong-token', 'db1', 'drbd', '0', 'OK']);
    expect(sh.code).toBe(1); // curl -f fails on 403, as it would with the real send_nrdp.sh
    expect(status('db1/drbd')).toEqual(before);
    const inUrl = await fetch(`${base}/nrdp/?token=${TOKEN}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'cmd=submitcheck' });
    expect(inUrl.status).toBe(400);
    expect(logs.join('\n')).toContain('/nrdp/?token=REDACTED');
    expect(logs.join('\n')).not.toContain(TOKEN.slice(5));
    expect(logs.join('\n')).not.toContain('not-the-token-at-all');
  });

  it('malformed XML is a clear error the client prints, nothing applied', async () => {
    const before = status('db1/drbd');
    const sh = await shell([`${base}/nrdp`, TOKEN, 'db1', 'drbd', '0', 'OK'], { RAW_XML: "<?xml version='1.0'?>\n<checkresults>\n<checkresult type='service'><hostname>db1</hostname>\n<state>0</state></checkresults>" });
    expect(sh.code).toBe(2);
    expect(sh.out).toMatch(/^ERROR: The NRDP Server said BAD XML: line 4 column 17: Expected closing tag checkresult \(opened in line 3, col 1\) instead of closing tag checkresults\.$/);
    const unknown = await pyStyle(TOKEN, "<checkresults><checkresult type='service'><hostname>db9</hostname><servicename>drbd</servicename><state>0</state><output>x</output></checkresult></checkresults>");
    expect(unknown.text).toContain('<message>BAD CHECK RESULT: no service db9/drbd in the inventory</message>');
    const notXml = await pyStyle(TOKEN, 'hello');
    expect(notXml.text).toMatch(/<message>BAD XML: line 1 column 1: [^<]+<\/message>/);
    expect(status('db1/drbd')).toEqual(before);
  });
});

describe('freshness of passive objects (fake clock)', () => {
  it('a passive object that never got a result is pending, then stale after its threshold from the server start; it is never run', async () => {
    expect(status('db1/heartbeat')).toMatchObject({ checked: false });
    const recheck = await rt.app.inject({ method: 'POST', url: '/api/v1/recheck', headers: { authorization: `Bearer ${API}` }, payload: { key: 'db1/heartbeat' } });
    expect(recheck.statusCode).toBe(409);
    clock.advance(11 * 60_000);
    await settle();
    expect(status('db1/heartbeat')).toMatchObject({ checked: true, state: 2, stateType: 'HARD', stale: true });
    expect(status('db1/heartbeat')?.output).toMatch(/^No passive result for \d+ s, freshness threshold 600 s: is the sender running$/);
    expect(fx.requests.filter((r) => r.hostName === 'backup1' || (r.command.kind === 'argv' && r.command.argv[0] === ''))).toEqual([]);
  });

  it('no result within the threshold: the freshness state, HARD, notified; a result recovers it', async () => {
    await drain();
    await rt.app.inject({ method: 'POST', url: '/api/v1/results', headers: { authorization: `Bearer ${TOKEN}` }, payload: { host: 'db1', service: 'backup', state: 0, output: 'BACKUP OK' } });
    for (let i = 0; i < 5 && mails.length === 0; i++) await deliver();
    expect(mails.map((m) => m.subject)).toEqual(['** RECOVERY Service Alert: db1/backup is OK **']);
    await drain();
    clock.advance(25 * 3600_000);
    await settle();
    expect(status('db1/backup')).toMatchObject({ state: 0, stale: false });
    clock.advance(3600_000 + 120_000); // past 26 h
    await settle();
    expect(status('db1/backup')).toMatchObject({ state: 2, stateType: 'HARD', stale: true });
    expect(status('db1/backup')?.output).toMatch(/^No passive result for 9\d{4} s, freshness threshold 93600 s: is the sender running$/);
    await deliverAll();
    expect(mails.map((m) => m.subject)).toEqual(expect.arrayContaining(['** PROBLEM Service Alert: db1/backup is CRITICAL **', '** PROBLEM Host Alert: backup1 is DOWN **']));
    expect(mails.filter((m) => /db1\/backup|backup1/.test(m.subject))).toHaveLength(2);
    // The passive host went stale on the way (2 h threshold): DOWN, HARD.
    expect(status('backup1')).toMatchObject({ state: 1, stateType: 'HARD', stale: true });
    // freshness: false keeps a passive service as it was.
    expect(status('backup1/nightly')).toMatchObject({ state: 1, stale: false });
    const res = await rt.app.inject({ method: 'POST', url: '/api/v1/results', headers: { authorization: `Bearer ${TOKEN}` }, payload: { host: 'db1', service: 'backup', state: 0, output: 'BACKUP OK - late' } });
    expect(res.json()).toMatchObject({ statuses: [{ state: 0, stale: false }] });
  });
});

describe('OpenAPI', () => {
  it('documents both doors', async () => {
    const doc = (await rt.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/results', '/nrdp/']));
  });
});

describe('inventory', () => {
  const inv = (extra: string) => () => loadInventory(`hosts:\n  h1: { address: 127.0.0.1 }\n${extra}`, 'p.yaml');
  it('passive objects need no command; a passive host with a check and short tokens are errors', () => {
    expect(inv('services:\n  - { name: s, host: h1, passive: true }\n')().services.get('h1/s')?.passive).toBe(true);
    expect(inv('  h2: { passive: true, check: check_ping }\n')).toThrow(/p\.yaml:3:\d+: hosts\.h2\.check: a passive host runs no check: remove check, or passive/);
    expect(inv('services:\n  - { name: s, host: h1 }\n')).toThrow(/services\[0\]\.command/);
    const short = () => loadInventory('server: { passive_tokens: [abc] }\nhosts: { h1: {} }\n', 'p.yaml');
    expect(short).toThrow(/server\.passive_tokens\[0\]: a token is at least 16 characters without blanks/);
    expect(short).not.toThrow(/abc/);
  });
});
