import { describe, expect, it } from 'vitest';
import { InventoryError, loadInventory } from '../../server/inventory/load.ts';
import { splitCommandLine, substituteMacros } from '../../nagios/commandline.ts';
import { DEFAULT_INVENTORY } from '../../server/inventory/default.ts';

const GOOD = `
server:
  listen: 127.0.0.1:0
  macros: { USER1: /usr/lib/nagios/plugins }
defaults:
  check_interval: 1m
notifications:
  email: { smtp: { host: 127.0.0.1, port: 2525, security: none }, from: hawatch@example.org }
  sms: { gateway: "{number}@sms.example.org" }
contacts:
  alice: { email: alice@example.org, sms: "+49 151 1234567" }
contact_groups:
  admins: [alice]
hosts:
  db1:
    address: 192.0.2.11
    nrpe: { tls: { ca_file: /etc/hawatch/ca.pem } }
    contact_groups: [admins]
  db2:
    address: 192.0.2.12
    ssh: { user: nagios, private_key_file: /etc/hawatch/id_ed25519, host_key: "SHA256:${'A'.repeat(43)}" }
  admin: { local: true, check: "$USER1$/check_ping -H $HOSTADDRESS$ -w 100,20% -c 500,60%" }
services:
  - name: pgsql role
    hosts: [db1, db2]
    command: check_pg_role --db "$ARG1$"
    args: [app db]
    max_check_attempts: 4
    notification_options: [c, r]
cluster_rules:
  - name: one primary
    service: pgsql role
    hosts: [db1, db2]
    match: { perfdata: is_primary, equals: 1 }
    expect: { exactly: 1 }
    contact_groups: [admins]
downtimes:
  - name: sunday backups
    cron: "0 3 * * 0"
    duration: 2h
    hosts: [db1]
`;

describe('inventory', () => {
  it('resolves defaults, transports, contacts, cluster rules and recurring downtimes', () => {
    const inv = loadInventory(GOOD, 'good.yaml');
    expect(inv.hosts.get('db1')?.transport).toMatchObject({ kind: 'nrpe', port: 5666, tls: { enabled: true, verify: true, caFile: '/etc/hawatch/ca.pem' }, unreachableState: 2 });
    expect(inv.hosts.get('db2')?.transport).toMatchObject({ kind: 'ssh', port: 22, user: 'nagios' });
    expect(inv.hosts.get('admin')?.transport.kind).toBe('local');
    const svc = inv.services.get('db1/pgsql role');
    expect(svc?.policy).toMatchObject({ maxCheckAttempts: 4, checkIntervalMs: 60_000, retryIntervalMs: 60_000, notificationOptions: ['c', 'r'] });
    expect(svc?.command.argv).toEqual(['check_pg_role', '--db', '$ARG1$']);
    expect(svc?.contacts).toEqual(['alice']); // inherited from the host
    expect(inv.services.get('db2/pgsql role')?.contacts).toEqual([]);
    expect(inv.contacts.get('alice')).toMatchObject({ sms: '+491511234567', smsVia: 'gateway' });
    const rule = inv.clusterRules.get('cluster/one primary');
    expect(rule).toMatchObject({ min: 1, max: 1, hostName: 'cluster', violationState: 2 });
    expect(rule?.members.map((m) => m.key)).toEqual(['db1/pgsql role', 'db2/pgsql role']);
    expect(inv.hosts.get('cluster')?.virtual).toBe(true);
    expect([...(inv.downtimes[0]?.keys ?? [])].sort()).toEqual(['db1', 'db1/pgsql role']);
    // db2 (SSH: checked by a login by default) and admin have no contacts: one warning each, naming the services too.
    expect(inv.warnings).toEqual([
      'good.yaml:20:5: hosts.db2: host db2 can go DOWN and service pgsql role on db2 can go CRITICAL with nobody to notify: give it contacts or contact_groups (or notifications_enabled: false)',
      'good.yaml:22:10: hosts.admin: host admin can go DOWN with nobody to notify: give it contacts or contact_groups (or notifications_enabled: false)',
    ]);
  });

  it('points every problem at its line and column and says what to do', () => {
    const bad = `hosts:
  db1:
    address: 192.0.2.1
    nrpe: { port: 99999 }
    colour: blue
services:
  - name: x
    host: db9
    command: check_x $ARG2$ $NOPE$
    args: [a]
    check_interval: soon
contacts:
  bob: { email: not-an-address }
`;
    let err: InventoryError | undefined;
    try {
      loadInventory(bad, 'bad.yaml');
    } catch (e) {
      err = e as InventoryError;
    }
    expect(err).toBeInstanceOf(InventoryError);
    const p = err!.problems.join('\n');
    expect(p).toContain('bad.yaml:4:19: hosts.db1.nrpe.port: must be an integer from 1 to 65535');
    expect(p).toContain('bad.yaml:5:5: hosts.db1.colour: unknown key');
    expect(p).toContain("bad.yaml:8:11: services[0].host: unknown host 'db9'");
    expect(p).toMatch(/bad\.yaml:9:14: services\[0\]\.command: uses \$ARG2\$ but only 1 args are given/);
    expect(p).toMatch(/bad\.yaml:9:14: services\[0\]\.command: unknown macro \$NOPE\$/);
    expect(p).toContain('bad.yaml:11:21: services[0].check_interval: must be a duration');
    expect(p).toContain('bad.yaml:13:17: contacts.bob.email: is not an email address');
  });

  it('reports YAML syntax errors with their position', () => {
    expect(() => loadInventory('hosts:\n  a: [1\n b: 2\n', 'syn.yaml')).toThrow(/syn\.yaml:\d+:\d+: YAML syntax/);
    // The line and column of the error itself, not 1:1 (an unquoted "1: " in a command line).
    expect(() => loadInventory('hosts: {}\nservices:\n  - name: procs\n    command: check_procs -c 1: -C php-fpm\n', 'syn.yaml')).toThrow(/\nsyn\.yaml:4:14: YAML syntax: Nested mappings/);
  });

  it('refuses unpinned SSH hosts and cluster rules with impossible expectations', () => {
    const text = `hosts:
  a: { ssh: { user: u, private_key_file: /k, host_key: trust-me } }
services:
  - { name: s, hosts: [a], command: c }
cluster_rules:
  - { name: r, service: s, hosts: [a], expect: { exactly: 2 } }
`;
    expect(() => loadInventory(text, 'x.yaml')).toThrow(/host_key: must be the pinned host key[\s\S]*expects 2 but the rule has only 1 members/);
  });

  it('warns about NRPE without certificate verification', () => {
    const inv = loadInventory('hosts:\n  a: { nrpe: true }\n', 'w.yaml');
    expect(inv.warnings.join()).toMatch(/w\.yaml:2:14: hosts\.a\.nrpe: host a: NRPE TLS without certificate verification/);
  });

  it('the embedded default inventory is valid', () => {
    const inv = loadInventory(DEFAULT_INVENTORY, '(embedded default)');
    expect(inv.services.size).toBeGreaterThanOrEqual(3);
  });
});

describe('command lines', () => {
  it('are split without a shell, refuse shell syntax with its position, and expand macros per word', () => {
    expect(splitCommandLine(`check_x -a 'b c' "d \\"e\\"" f\\ g`)).toEqual(['check_x', '-a', 'b c', 'd "e"', 'f g']);
    const argv = splitCommandLine('check --name $ARG1$ --cost $$5').map((t) => substituteMacros(t, { ARG1: 'a; rm -rf /' }));
    expect(argv).toEqual(['check', '--name', 'a; rm -rf /', '--cost', '$5']);
    const text = 'hosts:\n  a: {}\nservices:\n  - { name: s, host: a, command: "check_x | mail root" }\n';
    expect(() => loadInventory(text, 'p.yaml')).toThrow(/p\.yaml:4:34: services\[0\]\.command: command line needs a shell \('\|' at column 9\)/);
  });
});
