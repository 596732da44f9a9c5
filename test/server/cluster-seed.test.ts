// Issue 10: the 9-node cluster of seed 000 (nginx load-balancer pair with a floating IP, two
// web servers, a MySQL pair, a DRBD NFS pair, the admin node; plus PostgreSQL on the db pair)
// as an inventory whose cluster rules name NO contacts. The DRBD members run the built
// check_ha_drbd on captured /proc/drbd fixtures (a real resync pair: SyncSource on the
// primary, SyncTarget on the secondary); the VIP, PostgreSQL and MySQL members are a real
// local process printing the plugins' role perfdata (vip_owned, <host>_primary,
// <server>_writable) from a file the test writes; mail goes to a real SMTP server. The
// server runs on a fake clock so the hold-down (3 judgements over 30 s) takes real seconds.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { createExecutor } from '../../server/executors/index.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { FORBIDDEN } from '../../server/core/text.ts';
import { binPath } from '../support/bin.ts';
import { fixturePath } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { settle } from './helpers.ts';

const dir = tempDir('hawatch-seed-');
interface Mail { subject: string; to: string[]; body: string }
const mails: Mail[] = [];

const startSmtp = (port: number): Promise<SmtpSink> => startSmtpSink({ port, onMail: (m) => mails.push({ subject: m.subject, to: [...m.rcptTo], body: m.text }) });

/** What a member check prints (and its exit code): the plugin line with role perfdata. */
function set(host: string, service: string, line: string, code = 0): void {
  writeFileSync(join(dir, `${host}-${service}`), `${line}\n`);
  writeFileSync(join(dir, `${host}-${service}.code`), `${code}\n`);
}
const vip = (host: string, owned: 0 | 1) => set(host, 'vip', `VIP OK - 192.0.2.100 ${owned ? 'held here' : 'not held here, answered by the peer'}|vip_owned=${owned};;;0;1`);
/** The /proc/drbd a DRBD node shows (check_ha_drbd --input-file). */
const drbd = (host: string, fixture: string) => copyFileSync(fixturePath('drbd', fixture), join(dir, `${host}-drbd.txt`));
const pg = (host: string, primary: 0 | 1) => set(host, 'pgsql', `PGSQL OK - ${primary ? 'primary' : 'standby, streaming'}|${host}_primary=${primary};;;0;1`);
const my = (host: string, writable: 0 | 1) => set(host, 'mysql', `MYSQL OK - read_only ${writable ? 'OFF' : 'ON'}|${host}_writable=${writable};;;0;1`);

function healthy(): void {
  vip('lb1', 1);
  vip('lb2', 0);
  drbd('nfs1', 'proc-8.4-healthy.txt'); // drbd0 Primary
  drbd('nfs2', 'proc-8.2-st.txt'); // drbd0 Secondary
  pg('db1', 1);
  pg('db2', 0);
  my('db1', 1);
  my('db2', 0);
}

const CHECK = `/bin/sh ${dir}/check.sh ${dir}/$HOSTNAME$-$ARG1$`;

export function seedInventory(smtpPort: number, extraHosts = ''): string {
  return `
server: { max_concurrent_checks: 4 }
defaults: { check_interval: 1h, retry_interval: 1h, max_check_attempts: 1, notification_interval: 0 }
notifications:
  email: { smtp: { host: 127.0.0.1, port: ${smtpPort}, security: none, timeout: 5s }, from: hawatch@test.invalid }
  group_window: 0s
  group_threshold: 10
contacts:
  lbteam: { email: lb@test.invalid }
  webteam: { email: web@test.invalid }
  dbteam: { email: db@test.invalid }
  storage: { email: storage@test.invalid }
  ops: { email: ops@test.invalid }
hosts:
  lb1: { local: true, contacts: [lbteam, ops] }
  lb2: { local: true, contacts: [lbteam] }
  web1: { local: true, contacts: [webteam] }
  web2: { local: true, contacts: [webteam] }
  db1: { local: true, contacts: [dbteam] }
  db2: { local: true, contacts: [dbteam] }
  nfs1: { local: true, contacts: [storage] }
  nfs2: { local: true, contacts: [storage] }
  admin: { local: true, contacts: [ops] }
${extraHosts}
services:
  - { name: vip, hosts: [lb1, lb2], command: "${CHECK}", args: [vip] }
  - { name: drbd, hosts: [nfs1, nfs2], command: "${process.execPath} ${binPath('check_ha_drbd')} --input-file ${dir}/$HOSTNAME$-drbd.txt", notification_options: [c, r] }
  - { name: pgsql, hosts: [db1, db2], command: "${CHECK}", args: [pgsql] }
  - { name: mysql, hosts: [db1, db2], command: "${CHECK}", args: [mysql] }
cluster_rules:
  - { name: one vip owner, kind: exactly_one, role: vip_owned, service: vip, hosts: [lb1, lb2] }
  - { name: one drbd primary, kind: exactly_one, role: drbd0_primary, service: drbd, hosts: [nfs1, nfs2] }
  - { name: one pgsql primary, kind: exactly_one, role: "*_primary", service: pgsql, hosts: [db1, db2] }
  - { name: one writable mysql, kind: exactly_one, role: "*_writable", service: mysql, hosts: [db1, db2] }
`;
}

let smtp: SmtpSink | undefined;
let rt: Runtime;
const clock = new FakeClock();
const MEMBERS = ['lb1/vip', 'lb2/vip', 'nfs1/drbd', 'nfs2/drbd', 'db1/pgsql', 'db2/pgsql', 'db1/mysql', 'db2/mysql'];

/** Fake seconds, with real time for the check processes and the SMTP connections. */
async function run(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 1000) {
    clock.advance(1000);
    await settle();
    for (let i = 0; i < 500 && (rt.scheduler.stats.running > 0 || rt.scheduler.stats.queued > 0); i++) await new Promise((r) => setTimeout(r, 10));
    await settle();
    await rt.dispatcher.flush();
  }
}
const recheck = (keys: readonly string[]) => Promise.all(keys.map((k) => rt.scheduler.recheck(k)));
const state = (key: string) => rt.monitor.status(key);

beforeAll(async () => {
  writeFileSync(join(dir, 'check.sh'), '#!/bin/sh\ncat "$1"\nexit "$(cat "$1.code")"\n');
  healthy();
  const port = await freePort();
  smtp = await startSmtp(port);
  rt = await createRuntime({ inventory: loadInventory(seedInventory(port), 'seed.yaml'), executorFactory: createExecutor, database: ':memory:', clock, dispatchPollMs: 200 });
  await recheck(MEMBERS);
  await run(2000);
}, 30_000);

afterAll(async () => {
  await rt?.stop();
  await smtp?.close();
  removeDir(dir);
});

describe('seed 000 as an inventory: cluster rules without contacts of their own', () => {
  it('a healthy cluster: every rule OK, its line names each member and what it said, no mail', () => {
    expect(state('cluster/one vip owner')).toMatchObject({ state: 0, output: 'CLUSTER OK - one vip owner: vip_owned held 1 times by lb1, expected exactly 1 - lb1 vip_owned=1, lb2 vip_owned=0' });
    expect(state('cluster/one pgsql primary')?.output).toContain('db1 db1_primary=1, db2 db2_primary=0');
    // The rule's last check is the newest member result it judged.
    expect(state('cluster/one vip owner')?.lastCheck).toBe(Math.max(state('lb1/vip')!.lastCheck!, state('lb2/vip')!.lastCheck!));
    expect(mails).toEqual([]);
  });

  it('VIP on both LBs, DRBD primary on neither, two PostgreSQL primaries, both MySQL writable: one mail per rule, to the member hosts contacts', async () => {
    vip('lb2', 1);
    drbd('nfs1', 'proc-8.2-st.txt'); // Secondary as well
    pg('db2', 1);
    my('db2', 1);
    await recheck(MEMBERS);
    await run(1000);
    // Held down: bad but SOFT, nothing sent yet.
    expect(state('cluster/one vip owner')).toMatchObject({ state: 2, stateType: 'SOFT' });
    expect(mails).toEqual([]);
    await run(60_000);
    for (const k of ['one vip owner', 'one drbd primary', 'one pgsql primary', 'one writable mysql']) expect(state(`cluster/${k}`)).toMatchObject({ state: 2, stateType: 'HARD' });
    const got = mails.map((m) => `${m.to.join(',')} ${m.subject}`).sort();
    expect(got).toEqual([
      'db@test.invalid ** PROBLEM Service Alert: cluster/one pgsql primary is CRITICAL **',
      'db@test.invalid ** PROBLEM Service Alert: cluster/one writable mysql is CRITICAL **',
      'lb@test.invalid ** PROBLEM Service Alert: cluster/one vip owner is CRITICAL **',
      'ops@test.invalid ** PROBLEM Service Alert: cluster/one vip owner is CRITICAL **',
      'storage@test.invalid ** PROBLEM Service Alert: cluster/one drbd primary is CRITICAL **',
    ]);
    const vipMail = mails.find((m) => m.to[0] === 'lb@test.invalid');
    expect(vipMail?.body).toContain('CLUSTER CRITICAL - one vip owner: vip_owned held 2 times by lb1, lb2, expected exactly 1 - lb1 vip_owned=1, lb2 vip_owned=1');
    expect(mails.find((m) => m.to[0] === 'storage@test.invalid')?.body).toContain('drbd0_primary held 0 times, expected exactly 1 - nfs1 drbd0_primary=0, nfs2 drbd0_primary=0');
    for (const m of mails) expect(m.subject).not.toMatch(FORBIDDEN);
    // Still broken a minute later: no second mail (notification_interval 0).
    await recheck(MEMBERS);
    await run(60_000);
    expect(mails).toHaveLength(5);
  }, 60_000);

  it('back to normal: one RECOVERY per rule', async () => {
    mails.length = 0;
    healthy();
    await recheck(MEMBERS);
    await run(2000);
    expect(mails.map((m) => `${m.to.join(',')} ${m.subject}`).sort()).toEqual([
      'db@test.invalid ** RECOVERY Service Alert: cluster/one pgsql primary is OK **',
      'db@test.invalid ** RECOVERY Service Alert: cluster/one writable mysql is OK **',
      'lb@test.invalid ** RECOVERY Service Alert: cluster/one vip owner is OK **',
      'ops@test.invalid ** RECOVERY Service Alert: cluster/one vip owner is OK **',
      'storage@test.invalid ** RECOVERY Service Alert: cluster/one drbd primary is OK **',
    ]);
  }, 30_000);

  it('a transient flip (VIP on both for a VRRP transition of a few seconds) gives no mail', async () => {
    mails.length = 0;
    vip('lb2', 1);
    await recheck(['lb2/vip']);
    await run(1000);
    expect(state('cluster/one vip owner')).toMatchObject({ state: 2, stateType: 'SOFT' });
    await run(4000);
    vip('lb2', 0); // the transition is over
    // The hold-down re-checks the members itself (retry 15 s) and sees the end of it.
    await run(60_000);
    expect(state('cluster/one vip owner')).toMatchObject({ state: 0 });
    expect(mails).toEqual([]);
  }, 30_000);

  it('a DRBD resync (SyncSource on the primary, SyncTarget on the other, both WARNING): exactly one primary holds, no mail', async () => {
    mails.length = 0;
    drbd('nfs1', 'proc-8.4-resync-7GiB.txt'); // Primary, SyncSource, 12.5 percent
    drbd('nfs2', 'proc-8.3-resync.txt'); // Secondary, SyncTarget, Inconsistent
    await recheck(['nfs1/drbd', 'nfs2/drbd']);
    await run(40_000);
    expect(state('nfs1/drbd')).toMatchObject({ state: 1, output: expect.stringContaining('SyncSource') });
    expect(state('nfs2/drbd')).toMatchObject({ state: 1, output: expect.stringContaining('SyncTarget') });
    expect(state('cluster/one drbd primary')).toMatchObject({ state: 0, output: expect.stringContaining('nfs1 drbd0_primary=1, nfs2 drbd0_primary=0') });
    expect(mails).toEqual([]);
  }, 30_000);
});

describe('check: objects nobody would be told about', () => {
  it('hawatch-server check prints one warning per deaf object and still exits 0', () => {
    const bin = join(process.cwd(), 'dist/bin/hawatch-server.cjs');
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build first (npm test does)`);
    const file = join(dir, 'deaf.yaml');
    // The seed with the load balancers' contacts removed: lb1, lb2 and the VIP rule are deaf.
    writeFileSync(file, seedInventory(25).replace('lb1: { local: true, contacts: [lbteam, ops] }', 'lb1: { local: true }').replace('lb2: { local: true, contacts: [lbteam] }', 'lb2: { local: true }'));
    const r = spawnSync(process.execPath, [bin, 'check', '--config', file], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('nobody to notify'));
    expect(warnings).toEqual([
      expect.stringMatching(/^warning: .*deaf\.yaml:\d+:\d+: services\[0\]: service vip on lb1 can go CRITICAL with nobody to notify/),
      expect.stringMatching(/^warning: .*deaf\.yaml:\d+:\d+: services\[0\]: service vip on lb2 can go CRITICAL with nobody to notify/),
      expect.stringMatching(/^warning: .*deaf\.yaml:\d+:\d+: cluster_rules\[0\]: rule cluster\/one vip owner can go CRITICAL with nobody to notify/),
    ]);
  });

  it('the seed inventory has no warning: the rules notify their member hosts contacts', () => {
    const inv = loadInventory(seedInventory(25), 'seed.yaml');
    expect(inv.warnings).toEqual([]);
    expect(inv.clusterRules.get('cluster/one vip owner')).toMatchObject({ contacts: ['lbteam', 'ops'], inheritedContacts: true });
    expect(inv.clusterRules.get('cluster/one pgsql primary')?.contacts).toEqual(['dbteam']);
  });

  it('a host with NRPE and no contacts, its service and a rule over it: one warning each', () => {
    const text = seedInventory(25, `  web3: { address: 192.0.2.13, nrpe: { tls: false } }\n  web4: { address: 192.0.2.14, nrpe: { tls: false } }`)
      + `  - { name: web tier, kind: quorum, members: [web3/http, web4/http] }\n`;
    const inv = loadInventory(text.replace('services:\n', 'services:\n  - { name: http, hosts: [web3, web4], command: check_http }\n'), 'seed.yaml');
    expect(inv.warnings.filter((w) => w.includes('nobody'))).toEqual([
      expect.stringMatching(/^seed\.yaml:\d+:\d+: hosts\.web3: host web3 can go DOWN and service http on web3 can go CRITICAL with nobody to notify: give it contacts/),
      expect.stringMatching(/^seed\.yaml:\d+:\d+: hosts\.web4: host web4 can go DOWN and service http on web4 can go CRITICAL with nobody to notify/),
      expect.stringMatching(/^seed\.yaml:\d+:\d+: cluster_rules\[4\]: rule cluster\/web tier can go CRITICAL with nobody to notify: its member hosts have no contacts either/),
    ]);
  });
});
