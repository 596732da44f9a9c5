// Issue 11 items 5 and 6: one inventory, every configuration. The Nagios export passes the
// real nagios4 -v, the Icinga 2 export the real icinga2 daemon -C, the agent export is loaded
// by the real hawatch-agent and answers every service of its host through stock check_nrpe;
// `check` finds missing commands and files (each once) and `test-host` says what works
// against a real agent and a real stock nrpe.
import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../../server/cli/cli.ts';
import { createExecutor } from '../../server/executors/index.ts';
import { agentProgramFor } from '../../server/cli/export-common.ts';
import { AGENT_BIN, CHECK_NRPE, cleanup, startStockNrpe } from '../agent/helpers.ts';
import { binPath, runProgram } from '../support/bin.ts';
import { fixturePath, ROOT } from '../support/paths.ts';
import { freePort, isListening } from '../support/ports.ts';
import { stopChild } from '../support/process.ts';
import { requireFile } from '../support/require.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';
import { startSshd } from './executors/daemons.ts';
import { icingaValidate, nagiosVerify, startNagios } from './export-helpers.ts';

const SERVER_BIN = join(ROOT, 'dist/bin/hawatch-server.cjs');

const dir = tempDir('hawatch-export-', { mode: 0o755 });
afterAll(async () => {
  await cleanup();
  removeDir(dir);
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await cli(argv, { out: (s) => (out += s), err: (s) => (err += s), script: SERVER_BIN, executorFactory: async () => createExecutor });
  return { code, out, err };
}

const DRBD_FIXTURE = fixturePath('drbd', 'events2-9-healthy.txt');
const CRM_FIXTURE = fixturePath('crm', 'healthy.xml');

/** An inventory with every transport, args, a host check, contacts and a cluster rule. */
function inventory(agentPort: number, file = join(dir, 'inv.yaml')): string {
  writeFileSync(
    file,
    `server:
  database: ":memory:"
  macros: { USER1: /usr/lib/nagios/plugins, FIX: ${join(ROOT, 'plugins')} }
defaults: { check_interval: 1m, retry_interval: 20s, timeout: 20s }
notifications:
  email: { smtp: { host: 127.0.0.1, port: 25, security: none }, from: hawatch@localhost }
timeperiods:
  workhours:
    alias: work hours
    ranges: [monday 09:00-17:00, tuesday 09:00-12:00, tuesday 13:00-17:00, "friday 09:00-17:00,18:00-20:00"]
    exclude: [holidays]
  holidays:
    alias: holidays
    ranges: ["2026-12-25 00:00-24:00", "december 26 00:00-24:00", "monday -1 may 00:00-24:00", "thursday 4 november 00:00-24:00", "january 1 00:00-00:00"]
  oncall:
    ranges: { "monday 3": "00:00-24:00", "day 1 - 15": "00:00-06:00", "2026-01-01 - 2026-02-01 / 7": "00:00-24:00", "day -1": "22:00-24:00", "february 10 - march 15": "08:00-09:00", "tuesday 1 april - friday 2 may / 3": "10:00-11:00" }
contacts:
  alice: { email: alice@example.org, service_notification_options: [w, c, r], host_notification_options: [d, r], notification_period: workhours }
  bob: { email: bob@example.org, host_notification_period: oncall }
contact_groups:
  admins: [alice, bob]
hosts:
  node1:
    address: 127.0.0.1
    nrpe: { port: ${agentPort} }
    check: check_crm --input-file $FIX$/crm/fixtures/healthy.xml
    contact_groups: [admins]
    notification_period: workhours
  node2:
    address: 192.0.2.12
    nrpe: { port: 5667, tls: false, unreachable_state: unknown }
    parents: [node1]
  db1:
    address: 192.0.2.21
    ssh: { user: nagios, private_key_file: /etc/ssl/certs/ca-certificates.crt, host_key: "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" }
    parents: [node1, node2]
  admin: { local: true, contacts: [alice] }
services:
  - name: pacemaker
    hosts: [node1, node2]
    command: check_crm --input-file $FIX$/crm/fixtures/healthy.xml
  - name: drbd r0
    host: node1
    command: check_ha_drbd -w $ARG1$ --input-file $ARG2$
    args: ["5", "${DRBD_FIXTURE}"]
    check_period: workhours
    notification_period: oncall
    escalations:
      - { first_notification: 3, last_notification: 5, contacts: [bob], notification_interval: 10m, escalation_options: [c, r] }
      - { after: 15m, contact_groups: [admins], escalation_period: oncall }
  - name: dummy text
    host: node1
    command: check_dummy 1 "two words, and more"
  - name: disk root
    host: admin
    command: $USER1$/check_disk -w 20% -c 10% -p /
  - name: demo
    host: admin
    command: $NODE$ $HAWATCH_SERVER$ demo-check dummy 0 fine
  - name: load
    host: db1
    command: /usr/lib/nagios/plugins/check_load -w "5,4,3" -c 10,8,6
cluster_rules:
  - name: one cluster view
    description: both nodes see a healthy cluster
    service: pacemaker
    hosts: [node1, node2]
    match: { state: [ok] }
    expect: { at_least: 1 }
escalations:
  - { host: node1, first_notification: 2, contacts: [bob] }
  - { hosts: [node2], services: [pacemaker], first_notification: 2, contacts: [alice] }
dependencies:
  - { dependent: node2/pacemaker, master: node1/pacemaker, notification_failure_criteria: [c, u], execution_failure_criteria: c, inherits_parent: true }
  - { dependent: db1, master: node1, notification_failure_criteria: "d,u" }
  - { dependent: db1/load, master: cluster/one cluster view, notification_failure_criteria: c, execution_failure_criteria: c }
  - { dependent: node1/dummy text, master: node2, notification_failure_criteria: d }
`,
  );
  return file;
}

describe('export nagios', () => {
  it('writes hosts, groups, check_nrpe commands, services with templates, contacts and rules that nagios4 -v accepts', async () => {
    const inv = inventory(5666);
    const r = await run(['export', 'nagios', '--config', inv]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const v = nagiosVerify(dir, r.out);
    expect(v.out).toMatch(/Total Errors:\s+0/);
    expect(v.status, v.out).toBe(0);
    expect(v.out).toMatch(/Checked 8 services\./);
    expect(v.out).toMatch(/Checked 5 hosts\./);
    expect(v.out).toMatch(/Checked 4 host groups\./);
    expect(v.out).toMatch(/Checked 2 contacts\./);
    // Time periods (every directive class, exclusions) and escalations: nagios4 -v read them all.
    expect(v.out).toMatch(/Checked 4 time periods\./);
    expect(v.out).toMatch(/Checked 1 host escalations\./);
    expect(v.out).toMatch(/Checked 3 service escalations\./);
    expect(r.out).toMatch(/\n    tuesday 1 april - friday 2 may \/ 3  10:00-11:00\n/);
    expect(r.out).toMatch(/\n    tuesday +09:00-12:00,13:00-17:00\n/);
    expect(r.out).toMatch(/\n    exclude +holidays\n/);
    expect(r.out).toMatch(/service_description\s+drbd r0\n(.*\n)*?\s+notification_period\s+oncall\n/);
    expect(r.out).toMatch(/check_period\s+workhours\n/);
    expect(r.out).toMatch(/contact_name\s+alice\n(.*\n)*?\s+host_notification_period\s+workhours\n/);
    // after: 15m with the default 30 min interval is the second notification in Nagios terms.
    expect(r.out).toMatch(/first_notification\s+2\n\s+last_notification\s+0\n\s+notification_interval\s+30\n\s+contacts\s+alice,bob\n\s+escalation_period\s+oncall\n/);
    // The only warnings: the objects the inventory gives no contact (node2, db1, the rule), as it is.
    const warnings = v.out.split('\n').filter((l) => l.startsWith('Warning:'));
    for (const w of warnings) expect(w).toMatch(/^Warning: (Host|Service '[^']+' on host) '(node2|db1|cluster)' has no default contacts or contactgroups defined!$/);
    expect(warnings).toContain("Warning: Host 'node2' has no default contacts or contactgroups defined!");
    expect(warnings).toContain("Warning: Service 'load' on host 'db1' has no default contacts or contactgroups defined!");
    // What each check runs: NRPE with the host's transport options, args as words, local lines quoted.
    expect(r.out).toContain('check_command             hawatch-nrpe-args!check_ha_drbd!-w 5 --input-file ');
    expect(r.out).toMatch(/_HAWATCH_NRPE\s+-p 5667 -n -u\n/);
    expect(r.out).toContain("hawatch-nrpe-args!check_dummy!1 'two words, and more'");
    expect(r.out).toContain('hawatch-local!/usr/lib/nagios/plugins/check_disk -w 20% -c 10% -p /');
    expect(r.out).toContain("hawatch-ssh!'/usr/lib/nagios/plugins/check_load -w 5,4,3 -c 10,8,6'");
    expect(r.out).toMatch(/check_command\s+hawatch-rule\n/);
    expect(r.out).toMatch(/contacts\s+alice,bob\n/);
    // parents and dependencies (a service on a host master has no Nagios object: left out)
    expect(r.out).toMatch(/host_name\s+db1\n[^}]*parents\s+node1,node2\n/);
    // nagios4 counts each dependency object twice (its execution and its notification half)
    expect(v.out).toMatch(/Checked 4 service dependencies/);
    expect(v.out).toMatch(/Checked 2 host dependencies/);
    expect(r.out).toMatch(/define servicedependency {\n\s+dependent_host_name\s+node2\n\s+dependent_service_description\s+pacemaker\n\s+host_name\s+node1\n\s+service_description\s+pacemaker\n\s+inherits_parent\s+1\n\s+execution_failure_criteria\s+c\n\s+notification_failure_criteria\s+c,u\n}/);
    expect(r.out).toMatch(/define servicedependency {\n\s+dependent_host_name\s+db1\n\s+dependent_service_description\s+load\n\s+host_name\s+cluster\n\s+service_description\s+one cluster view\n/);
  }, 60_000);

  it('passive rules: results from outside, UNKNOWN when none arrives (freshness)', async () => {
    const r = await run(['export', 'nagios', '--config', inventory(5666), '--rules', 'passive']);
    expect(r.code).toBe(0);
    const rule = /define service {\n[^}]*service_description\s+one cluster view\n[^}]*}/.exec(r.out)?.[0] ?? '';
    for (const line of ['check_command hawatch-rule-stale', 'active_checks_enabled 0', 'passive_checks_enabled 1', 'check_freshness 1', 'freshness_threshold 180']) {
      expect(rule).toMatch(new RegExp(`\\n\\s+${line.replace(' ', '\\s+')}\\n`));
    }
    expect(nagiosVerify(dir, r.out).status).toBe(0);
  }, 60_000);
});

describe('export of an inventory without contacts', () => {
  it('still gives configurations nagios4 -v (which needs one contact) and icinga2 daemon -C accept', async () => {
    const file = join(dir, 'nocontacts.yaml');
    writeFileSync(file, 'server: { database: ":memory:" }\nhosts:\n  node1: { address: 127.0.0.1, nrpe: {} }\nservices:\n  - { name: crm, host: node1, command: check_crm }\n');
    const n = await run(['export', 'nagios', '--config', file]);
    expect(n.out).toMatch(/contact_name\s+hawatch-nobody\n/);
    const v = nagiosVerify(dir, n.out);
    expect(v.status, v.out).toBe(0);
    const i = await run(['export', 'icinga2', '--config', file]);
    const iv = icingaValidate(dir, i.out);
    expect(iv.status, iv.out).toBe(0);
  }, 60_000);
});

describe('export icinga2', () => {
  it('writes CheckCommand objects with arguments, hosts, services, users and notifications that icinga2 daemon -C accepts', async () => {
    const r = await run(['export', 'icinga2', '--config', inventory(5666)]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const v = icingaValidate(dir, r.out);
    expect(v.status, v.out).toBe(0);
    expect(v.out).toMatch(/Instantiated 5 Hosts\./);
    expect(v.out).toMatch(/Instantiated 8 Services\./);
    expect(v.out).toMatch(/Instantiated 2 Users\./);
    expect(v.out).toMatch(/Instantiated 1 UserGroup\./);
    // 3 parent links, and the 4 dependencies (the first split: checks and notifications differ)
    expect(v.out).toMatch(/Instantiated 8 Dependencies\./);
    expect(r.out).toContain('object Dependency "hawatch-dependency-1-notifications" {\n  parent_host_name = "node1"\n  parent_service_name = "pacemaker"\n  child_host_name = "node2"\n  child_service_name = "pacemaker"\n  disable_checks = false\n  disable_notifications = true\n  states = [ OK, Warning ]\n}');
    expect(r.out).toContain('object Dependency "hawatch-parent-node2" {\n  parent_host_name = "node2"\n  child_host_name = "db1"\n  disable_checks = false\n  disable_notifications = true\n  states = [ Up ]\n}');
    expect(v.out).not.toMatch(/warning\//);
    // Time periods (legacy ranges, excludes) and one Notification per escalation.
    expect(v.out).toMatch(/Instantiated 4 TimePeriods\./);
    expect(r.out).toContain('"tuesday 1 april - friday 2 may / 3" = "10:00-11:00"');
    expect(r.out).toContain('excludes = [ "holidays" ]');
    expect(r.out).toContain('times = { begin = 900s }');
    expect(r.out).toMatch(/object User "alice" {\n[^}]*period = "workhours"/);
    expect(r.out).toContain('check_period = "workhours"');
    expect(r.out).toContain('vars.hawatch_nrpe_args = [ "-w", "5", "--input-file", ');
    expect(r.out).toContain('"-a" = { value = "$hawatch_nrpe_args$"; repeat_key = false; order = 99 }');
    // The host check keeps its command in vars of its own: a service resolves its host's vars
    // after its own, so a service without arguments would otherwise send the host check's.
    const host = /object Host "node1" {\n[^}]*}/.exec(r.out)?.[0] ?? '';
    expect(host).toContain('check_command = "hawatch-nrpe-host"');
    expect(host).toContain('vars.hawatch_host_nrpe_command = "check_crm"');
    expect(host).not.toMatch(/vars\.hawatch_nrpe_(command|args)/);
    expect(r.out).toContain('"-a" = { value = "$hawatch_host_nrpe_args$"; repeat_key = false; order = 99 }');
  }, 60_000);
});

describe('export agent', () => {
  it('gives the configuration the real hawatch-agent loads and that answers every service of the host through check_nrpe', async () => {
    binPath('hawatch-agent');
    requireFile(CHECK_NRPE, 'nagios-nrpe-plugin');
    const port = await freePort();
    const inv = inventory(port);
    const r = await run(['export', 'agent', '--config', inv, '--host', 'node1', '--allowed-hosts', '127.0.0.1,::1']);
    expect(r.err).toBe('warning: command check_dummy is not a hawatch check: the line runs /usr/lib/nagios/plugins/check_dummy, which must exist on node1\n');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`command[check_crm]=/usr/lib/nagios/plugins/check_ha_crm --input-file ${CRM_FIXTURE}\n`);
    expect(r.out).toContain(`command[check_ha_drbd]=/usr/lib/nagios/plugins/check_ha_drbd -w 5 --input-file ${DRBD_FIXTURE}\n`);
    expect(r.out).toContain(`command[check_dummy]=/usr/lib/nagios/plugins/check_dummy 1 'two words, and more'\n`);
    const cfg = join(dir, 'agent.cfg');
    writeFileSync(cfg, `${r.out}server_address=127.0.0.1\n`);
    chmodSync(cfg, 0o644);
    const check = await runProgram(process.execPath, [AGENT_BIN, '--check-config', '-c', cfg], { timeoutMs: 20_000 });
    expect({ code: check.code, stderr: check.stderr }).toEqual({ code: 0, stderr: '' });

    const agent = spawn(process.execPath, [AGENT_BIN, '-c', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    try {
      await waitFor('the agent', () => isListening(port), 10_000, { stopWhen: () => (agent.exitCode !== null ? `it exited: ${log}` : undefined) });
      // As Nagios would (the exported check_command): stock check_nrpe with the same arguments.
      const nrpe = (args: string[]) => runProgram(CHECK_NRPE, ['-H', '127.0.0.1', '-p', String(port), '-t', '20', ...args], { timeoutMs: 25_000 });
      const crm = await nrpe(['-c', 'check_crm', '-a', '--input-file', CRM_FIXTURE]);
      expect({ code: crm.code, out: crm.stdout.split('\n')[0] }).toMatchObject({ code: 0, out: expect.stringMatching(/^CRM OK/) });
      const drbd = await nrpe(['-c', 'check_ha_drbd', '-a', '-w', '5', '--input-file', DRBD_FIXTURE]);
      expect({ code: drbd.code, out: drbd.stdout.split('\n')[0] }).toMatchObject({ code: 0, out: expect.stringMatching(/^DRBD OK/) });
      const dummy = await nrpe(['-c', 'check_dummy', '-a', '1', 'two words, and more']);
      expect({ code: dummy.code, out: dummy.stdout }).toEqual({ code: 1, out: 'WARNING: two words, and more\n' });

      // And as hawatch's scheduler would: test-host runs every check of node1 through its NRPE executor.
      const t = await run(['test-host', 'node1', '--config', inv]);
      expect(t.out).toMatch(/^node1 \(127\.0\.0\.1\): NRPE port \d+, TLS, agent not verified/);
      expect(t.out).toMatch(/\n {2}connection: works \(NRPE v[^)]*hawatch[^)]*\): TCP, TLS and allowed_hosts accept this node\n/);
      expect(t.out).toMatch(/\n {2}service pacemaker \(check_crm\): works, OK in \d+ ms - CRM OK/);
      expect(t.out).toMatch(/\n {2}service drbd r0 \(check_ha_drbd\): works, OK in \d+ ms - DRBD OK/);
      expect(t.out).toMatch(/\nnode1: everything works\n$/);
      expect(t.code).toBe(0);
    } finally {
      await stopChild(agent, 5000);
    }
  }, 60_000);

  it('the exported Nagios configuration, run by the real nagios4, checks every service of the node through its exported agent', async () => {
    const port = await freePort();
    const inv = inventory(port);
    const agentCfg = await run(['export', 'agent', '--config', inv, '--host', 'node1', '--allowed-hosts', '127.0.0.1']);
    const cfg = join(dir, 'agent-nagios.cfg');
    writeFileSync(cfg, `${agentCfg.out}server_address=127.0.0.1\n`);
    chmodSync(cfg, 0o644);
    const agent = spawn(process.execPath, [AGENT_BIN, '-c', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    agent.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    const nagiosCfg = await run(['export', 'nagios', '--config', inv]);
    expect(nagiosCfg.code).toBe(0);
    let nagios: Awaited<ReturnType<typeof startNagios>> | undefined;
    try {
      await waitFor('the agent', () => isListening(port), 10_000, { stopWhen: () => (agent.exitCode !== null ? `it exited: ${log}` : undefined) });
      nagios = await startNagios(dir, nagiosCfg.out);
      const services = ['pacemaker', 'drbd r0', 'dummy text'];
      for (const svc of services) nagios.command(`SCHEDULE_FORCED_SVC_CHECK;node1;${svc};${Math.floor(Date.now() / 1000)}`);
      const n = nagios;
      const results = await waitFor('nagios4 results of node1', () => {
        const r = n.results().filter((x) => x.host === 'node1');
        return services.every((svc) => r.some((x) => x.service === svc)) ? r : undefined;
      }, 40_000);
      const by = (svc: string) => results.find((x) => x.service === svc);
      expect(by('pacemaker')).toMatchObject({ state: 0, output: expect.stringMatching(/^CRM OK/) });
      expect(by('drbd r0')).toMatchObject({ state: 0, output: expect.stringMatching(/^DRBD OK/) });
      expect(by('dummy text')).toEqual({ host: 'node1', service: 'dummy text', state: 1, output: 'WARNING: two words, and more' });
    } finally {
      await nagios?.stop();
      await stopChild(agent, 5000);
    }
  }, 60_000);

  it('refuses hosts that need no agent, naming what to use', async () => {
    const inv = inventory(5666);
    expect((await run(['export', 'agent', '--config', inv, '--host', 'db1', '--allowed-hosts', '192.0.2.5'])).err).toBe('hawatch-server: cannot export agent: host db1 is checked over ssh, not NRPE: it needs no agent configuration\n');
    expect((await run(['export', 'agent', '--config', inv, '--host', 'nope', '--allowed-hosts', '192.0.2.5'])).err).toBe(`hawatch-server: cannot export agent: no host nope in ${inv}: use one of node1, node2, db1, admin\n`);
    const missing = await run(['export', 'agent', '--config', inv]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^hawatch-server: export agent needs --host NAME .*\nusage: hawatch-server /);
  });
});

describe('test-host', () => {
  it('says which commands a stock nrpe does not define, and that an agent refusing this address is an allowed_hosts matter', async () => {
    const nrpe = await startStockNrpe('command[check_crm]=/usr/lib/nagios/plugins/check_dummy 0 crm fine\n', false);
    const inv = inventory(nrpe.port);
    const t = await run(['test-host', 'node1', '--config', inv]);
    expect(t.out).toMatch(/\n {2}connection: works \(NRPE v4[^)]*\)/);
    expect(t.out).toMatch(/\n {2}service pacemaker \(check_crm\): FAILS, UNKNOWN in \d+ ms - CHECK_NRPE: /); // stock nrpe: dont_blame_nrpe=0 refuses the arguments
    expect(t.out).toMatch(/\n {2}service dummy text \(check_dummy\): FAILS, /);
    expect(t.out).toMatch(/\nnode1: some checks do not work \(FAILS above\)\n$/);
    expect(t.code).toBe(1);
    await nrpe.stop();

    // An agent whose allowed_hosts leave this node out closes the connection unanswered.
    const port = await freePort();
    const cfg = join(dir, 'closed.cfg');
    writeFileSync(cfg, `server_port=${port}\nserver_address=127.0.0.1\nallowed_hosts=192.0.2.5\nnrpe_user=nagios\nnrpe_group=nagios\ncommand[check_crm]=/usr/lib/nagios/plugins/check_dummy 0\n`);
    chmodSync(cfg, 0o644);
    const agent = spawn(process.execPath, [AGENT_BIN, '-c', cfg], { stdio: 'ignore' });
    try {
      await waitFor('the agent', () => isListening(port), 10_000, { stopWhen: () => (agent.exitCode !== null ? 'it exited' : undefined) });
      const closed = await run(['test-host', 'node1', '--config', inventory(port)]);
      expect(closed.out).toMatch(/\n {2}connection: FAILS - CHECK_NRPE: [^\n]*\n {4}the agent closed the connection before answering: this address is probably missing from its allowed_hosts/);
      expect(closed.code).toBe(1);
      const refused = await run(['test-host', 'node1', '--config', inventory(await freePort())]);
      expect(refused.out).toMatch(/\n {4}nothing listens on 127\.0\.0\.1 port \d+/);
    } finally {
      await stopChild(agent, 5000);
    }
  }, 60_000);
});

describe('test-host over SSH', () => {
  it('against a real sshd: the host key and login work, a missing plugin FAILS, a wrong host key is named', async () => {
    const sshd = await startSshd();
    try {
      const inv = (hostKey: string) => {
        const file = join(dir, 'ssh.yaml');
        writeFileSync(
          file,
          `server: { database: ":memory:" }
hosts:
  db1: { address: 127.0.0.1, ssh: { port: ${sshd.port}, user: ${sshd.user}, private_key_file: ${sshd.userKey}, host_key: "${hostKey}" } }
services:
  - { name: dummy, host: db1, command: /usr/lib/nagios/plugins/check_dummy 2 "remote critical" }
  - { name: missing, host: db1, command: /usr/lib/nagios/plugins/check_not_installed }
`,
        );
        return file;
      };
      const t = await run(['test-host', 'db1', '--config', inv(sshd.fingerprint)]);
      expect(t.out).toMatch(new RegExp(`^db1 \\(127\\.0\\.0\\.1\\): SSH port ${sshd.port} as ${sshd.user}, host key pinned\n  connection: works: SSH host key and authentication accepted\n`));
      expect(t.out).toMatch(/\n {2}service dummy \(\/usr\/lib\/nagios\/plugins\/check_dummy\): works, CRITICAL in \d+ ms - CRITICAL: remote critical\n/);
      expect(t.out).toMatch(/\n {2}service missing \(\/usr\/lib\/nagios\/plugins\/check_not_installed\): FAILS, UNKNOWN in \d+ ms - \(No output on stdout\) exit status 127/);
      expect(t.code).toBe(1);
      const wrong = await run(['test-host', 'db1', '--config', inv('SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG')]);
      expect(wrong.out).toMatch(/\n {2}connection: FAILS - [^\n]*\n {4}the SSH host key differs from the pinned one\n$/);
      expect(wrong.code).toBe(1);
    } finally {
      await sshd.stop();
    }
  }, 60_000);
});

describe('check', () => {
  it('warns once about each missing command and unreadable file, and --strict fails on them', async () => {
    const file = join(dir, 'files.yaml');
    const noexec = join(dir, 'not-executable');
    writeFileSync(noexec, '#!/bin/sh\n');
    chmodSync(noexec, 0o644);
    writeFileSync(
      file,
      `server: { database: ":memory:", api_token_file: ${join(dir, 'no-token')} }
hosts:
  a: { address: 192.0.2.1, nrpe: { tls: { ca_file: ${join(dir, 'no-ca.pem')} } } }
  b: { address: 192.0.2.2, nrpe: { tls: { ca_file: ${join(dir, 'no-ca.pem')} } } }
  c: { address: 192.0.2.3, ssh: { user: nagios, private_key_file: ${dir}, host_key: "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" } }
  admin: { local: true }
services:
  - { name: x, host: admin, command: /nonexistent/check_x }
  - { name: y, host: admin, command: /nonexistent/check_x -w 1 }
  - { name: z, host: admin, command: check_no_such_plugin_here }
  - { name: n, host: admin, command: ${noexec} }
  - { name: ok, host: admin, command: /usr/lib/nagios/plugins/check_dummy 0 }
  - { name: ok2, host: admin, command: "true -w 5,4,3" }
  - { name: demo, host: admin, command: $NODE$ $HAWATCH_SERVER$ demo-check dummy 0 }
`,
    );
    const r = await run(['check', '--config', file]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/: OK - 4 hosts, 7 services/);
    const all = r.err.split('\n').filter(Boolean);
    expect(new Set(all).size).toBe(all.length); // each once
    // Ours (commands and files); the inventory's own warnings (contacts) may come before them.
    const warnings = all.filter((w) => /^warning: (file|command) /.test(w));
    expect(warnings).toEqual([
      `warning: file ${join(dir, 'no-token')} (server.api_token_file) does not exist`,
      `warning: file ${join(dir, 'no-ca.pem')} (hosts.a.nrpe.tls.ca_file, hosts.b.nrpe.tls.ca_file) does not exist`,
      `warning: file ${dir} (hosts.c.ssh.private_key_file) is not a regular file`,
      'warning: command /nonexistent/check_x (service admin/x, service admin/y) does not exist',
      'warning: command check_no_such_plugin_here (service admin/z) is found neither in the PATH of local checks nor in /usr/local/sbin, /usr/sbin, /sbin: install it or write its full path',
      `warning: command ${noexec} (service admin/n) is not executable by this user`,
    ]);
    const strict = await run(['check', '--strict', '--config', file]);
    expect(strict.code).toBe(1);
    expect(strict.err).toMatch(new RegExp(`hawatch-server: ${all.length} warnings in .*files\\.yaml \\(--strict\\)\\n$`));
  });
});

describe('the command line', () => {
  it('answers an unknown option or command with its own usage line', async () => {
    const usage = /\nusage: hawatch-server \[--config FILE\] .*\| check \[--strict\] \| export nagios\|icinga2\|agent \| test-host NAME/;
    const r = await run(['--bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^hawatch-server: unknown option --bogus\nusage: /);
    expect(r.err).toMatch(usage);
    const noValue = await run(['--config']);
    expect(noValue.err).toMatch(/^hawatch-server: option --config needs a value\nusage: /);
    const sub = await run(['export', 'nagios', '--bogus']);
    expect(sub.code).toBe(2);
    expect(sub.err).toMatch(/^hawatch-server: unknown option --bogus\nusage: /);
    expect((await run(['export', '--help'])).out).toMatch(/^Usage:\n {2}hawatch-server export nagios /);
    const c = await run(['frobnicate']);
    expect(c.code).toBe(2);
    expect(c.err).toMatch(/^hawatch-server: unknown command frobnicate\n/);
    expect(c.err).toMatch(usage);
    const e = await run(['export', 'xml']);
    expect(e.code).toBe(2);
    expect(e.err).toMatch(/^hawatch-server: export needs what to write: nagios, icinga2 or agent, not xml\n/);
  });
});

describe('query (cluster rules in Nagios and Icinga)', () => {
  it('the exported hawatch-rule command line, run as Nagios runs it, gives the rule state of the running server', async () => {
    const inv = join(dir, 'rule.yaml');
    writeFileSync(
      inv,
      `server: { database: ":memory:" }
# The scheduler spreads first checks over one interval: keep it short.
defaults: { check_interval: 2s }
hosts:
  admin: { local: true }
services:
  - { name: up, host: admin, command: $NODE$ $HAWATCH_SERVER$ demo-check dummy 0 fine }
  - { name: down, host: admin, command: $NODE$ $HAWATCH_SERVER$ demo-check dummy 2 broken }
cluster_rules:
  - { name: all up, members: [admin/up, admin/down], match: { state: [ok] }, expect: { at_least: 2 } }
  - { name: one up, members: [admin/up, admin/down], match: { state: [ok] }, expect: { at_least: 1 } }
`,
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // The program Nagios runs: an installed hawatch-server is one command; here a wrapper of the build.
    const wrapper = join(dir, 'hawatch-server');
    writeFileSync(wrapper, `#!/bin/sh\nexec ${process.execPath} ${SERVER_BIN} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const exported = await run(['export', 'nagios', '--config', inv, '--server-url', url, '--server-command', wrapper]);
    expect(exported.code).toBe(0);
    const line = /command_name\s+hawatch-rule\n\s+command_line\s+(.*)\n/.exec(exported.out)?.[1];
    expect(line).toBe(`${wrapper} query --url $_HOSTHAWATCH_URL$ --key "$HOSTNAME$/$SERVICEDESC$"`);
    // By default the rules run the small hawatch-query (a 4 KB program, not the server's bundle);
    // --query-command names another.
    const byDefault = await run(['export', 'nagios', '--config', inv, '--server-url', url]);
    expect(/command_name\s+hawatch-rule\n\s+command_line\s+(.*)\n/.exec(byDefault.out)?.[1]).toBe('/usr/bin/hawatch-query query --url $_HOSTHAWATCH_URL$ --key "$HOSTNAME$/$SERVICEDESC$"');
    const small = join(dir, 'hawatch-query');
    writeFileSync(small, `#!/bin/sh\nexec ${process.execPath} ${SERVER_BIN.replace(/hawatch-server\.cjs$/, 'hawatch-query.cjs')} "$@"\n`);
    chmodSync(small, 0o755);
    const icinga = await run(['export', 'icinga2', '--config', inv, '--server-url', url, '--server-command', wrapper, '--query-command', small]);
    expect(icinga.out).toContain(`command = [ "${small}", "query" ]`);
    const smallLine = /command_name\s+hawatch-rule\n\s+command_line\s+(.*)\n/.exec((await run(['export', 'nagios', '--config', inv, '--server-url', url, '--server-command', wrapper, '--query-command', small])).out)?.[1];
    expect(smallLine).toBe(`${small} query --url $_HOSTHAWATCH_URL$ --key "$HOSTNAME$/$SERVICEDESC$"`);
    expect(exported.out).toMatch(new RegExp(`_HAWATCH_URL\\s+${url}\\n`));
    // Nagios expands the macros, then runs a line with quotes through /bin/sh.
    const nagiosRuns = (service: string, commandLine = line!) => runProgram('/bin/sh', ['-c', commandLine.replace('$_HOSTHAWATCH_URL$', url).replace('$HOSTNAME$', 'cluster').replace('$SERVICEDESC$', service)], { timeoutMs: 20_000 });

    const down = await nagiosRuns('all up');
    expect({ code: down.code, out: down.stdout }).toEqual({ code: 3, out: expect.stringMatching(/^HAWATCH UNKNOWN - cannot reach hawatch-server at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/) });

    const server = spawn(process.execPath, [SERVER_BIN, '--config', inv, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    server.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    try {
      await waitFor('the rules judged', async () => {
        const r = await nagiosRuns('one up');
        return r.code === 0 ? r : undefined;
      }, 20_000, { stopWhen: () => (server.exitCode !== null ? `the server exited: ${log}` : undefined) });
      const violated = await nagiosRuns('all up');
      expect(violated.code).toBe(2);
      expect(violated.stdout).toMatch(/^[^\n|]*1 of 2 /);
      // hawatch-query answers word for word what hawatch-server query answers.
      for (const service of ['all up', 'one up', 'no such rule']) {
        const [big, little] = [await nagiosRuns(service), await nagiosRuns(service, smallLine!)];
        expect({ code: little.code, out: little.stdout }).toEqual({ code: big.code, out: big.stdout });
      }
      const missing = await nagiosRuns('no such rule');
      expect({ code: missing.code, out: missing.stdout }).toEqual({ code: 3, out: expect.stringMatching(/^HAWATCH UNKNOWN - hawatch-server at .* has no object cluster\/no such rule: export again after inventory changes\n$/) });
    } finally {
      await stopChild(server, 10_000);
    }
  }, 60_000);
});

describe('agent command names', () => {
  it('hawatch checks by name, short name or check_ha_NAME_SUFFIX (a second use on one host); others from the plugin folder', () => {
    const d = '/usr/lib/nagios/plugins';
    expect(agentProgramFor('check_ha_crm', d)).toEqual({ program: `${d}/check_ha_crm`, builtin: true });
    expect(agentProgramFor('check_crm', d)).toEqual({ program: `${d}/check_ha_crm`, builtin: true });
    expect(agentProgramFor('check_ha_procs_php', d)).toEqual({ program: `${d}/check_ha_procs`, builtin: true });
    // Without ha_ a suffixed name is a monitoring-plugins program, never ours.
    expect(agentProgramFor('check_procs_php', d)).toEqual({ program: `${d}/check_procs_php`, builtin: false });
    expect(agentProgramFor('check_disk_smb', d)).toEqual({ program: `${d}/check_disk_smb`, builtin: false });
    expect(agentProgramFor('check_mysql_query', d)).toEqual({ program: `${d}/check_mysql_query`, builtin: false });
    expect(agentProgramFor('check_ha_vip_db', d)).toEqual({ program: `${d}/check_ha_vip`, builtin: true });
    expect(agentProgramFor('check_ssh', d)).toEqual({ program: `${d}/check_ssh`, builtin: false });
    expect(agentProgramFor('check_http', d)).toEqual({ program: `${d}/check_http`, builtin: false });
    expect(agentProgramFor('check_procsx', d)).toEqual({ program: `${d}/check_procsx`, builtin: false });
  });
});
