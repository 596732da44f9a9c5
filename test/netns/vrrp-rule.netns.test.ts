/**
 * Issue 10 item 3 against REAL keepalived: two daemons in two namespaces, the hawatch server
 * (runtime, real clock, local executor) running the built check_ha_keepalived in each
 * namespace, and a cluster rule `exactly_one` over the role `VI_1_master`. A VRRP transition
 * (both MASTER for a few seconds) and a failover (the master enters FAULT, B takes over) give
 * no rule notification thanks to the hold-down; a split brain that lasts gives exactly one.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { createExecutor } from '../../server/executors/index.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { binPath } from '../support/bin.ts';
import { ROOT } from '../support/paths.ts';
import { requireProgram } from '../support/require.ts';
import { waitFor } from '../support/wait.ts';
import { Lab, requireNamespaces } from './harness.ts';
import { syncStore } from '../server/helpers.ts';

const VIP = '192.0.2.100';
const RULE = 'cluster/one vrrp master';

interface Node { ns: string; ifname: string; ip: string; dir: string }
let lab: Lab;
let rt: Runtime | undefined;
const nodes = {} as Record<'a' | 'b', Node>;

function conf(n: Node, peer: Node, priority: number): string {
  return `global_defs {
  router_id hawatch_${n.ns}
  enable_script_security
  script_user root
}
track_file fault_${n.ns} {
  file "${join(n.dir, 'fault')}"
  weight 0
  init_file 0 overwrite
}
vrrp_instance VI_1 {
  state BACKUP
  interface ${n.ifname}
  virtual_router_id 52
  priority ${priority}
  advert_int 1
  unicast_src_ip ${n.ip}
  unicast_peer {
    ${peer.ip}
  }
  virtual_ipaddress {
    ${VIP}/24 dev ${n.ifname}
  }
  track_file {
    fault_${n.ns}
  }
  notify "${join(n.dir, 'notify.sh')} -f ${join(n.dir, 'state')}"
}
`;
}

function lastState(n: Node): string | undefined {
  try {
    const lines = lab.exec(n.ns, 'cat', [join(n.dir, 'state')]).trim().split('\n');
    return lines[lines.length - 1]?.split(' ')[3];
  } catch {
    return undefined;
  }
}

const rule = () => rt!.monitor.status(RULE)!;
/** Rule notifications queued so far (any contact, any channel), by type. */
const ruleNotes = () => syncStore(rt!.store).recentOutbox(1000).filter((r) => r.notification.key === RULE).map((r) => r.notification.type);
const ruleHistory = () => syncStore(rt!.store).history({ key: RULE, limit: 1000 });

beforeAll(async () => {
  requireNamespaces();
  requireProgram('ip', 'iproute2');
  requireProgram('keepalived', 'keepalived');
  requireProgram('iptables', 'iptables');
  const check = binPath('check_ha_keepalived');
  lab = new Lab('kr');
  const nsA = lab.netns('A');
  const nsB = lab.netns('B');
  const [ifA, ifB] = lab.link(nsA, '192.0.2.1/24', nsB, '192.0.2.2/24');
  nodes.a = { ns: nsA, ifname: ifA, ip: '192.0.2.1', dir: join(lab.dir, 'a') };
  nodes.b = { ns: nsB, ifname: ifB, ip: '192.0.2.2', dir: join(lab.dir, 'b') };
  for (const [n, peer, prio] of [[nodes.a, nodes.b, 150], [nodes.b, nodes.a, 100]] as const) {
    mkdirSync(n.dir, { mode: 0o755 });
    copyFileSync(join(ROOT, 'plugins', 'keepalived', 'hawatch-keepalived-notify.sh'), join(n.dir, 'notify.sh'));
    writeFileSync(join(n.dir, 'keepalived.conf'), conf(n, peer, prio));
    lab.spawn(n.ns, 'keepalived', ['-f', join(n.dir, 'keepalived.conf'), '-n', '-l', '-D', '-P', '-p', join(n.dir, 'keepalived.pid'), '-r', join(n.dir, 'vrrp.pid')], { env: { ...process.env, TMPDIR: n.dir } });
  }
  await waitFor('A MASTER, B BACKUP', () => lastState(nodes.a) === 'MASTER' && lastState(nodes.b) === 'BACKUP', 15_000, { everyMs: 250 });
  const svc = (host: string, n: Node) => `  - { name: vrrp, host: ${host}, command: "ip netns exec ${n.ns} ${process.execPath} ${check} --state-file ${join(n.dir, 'state')} --pid-file ${join(n.dir, 'keepalived.pid')}" }`;
  rt = await createRuntime({
    inventory: loadInventory(`
server: { max_concurrent_checks: 4 }
defaults: { check_interval: 1s, retry_interval: 1s, max_check_attempts: 1, notification_interval: 0, notification_options: [n], timeout: 10s }
notifications:
  email: { smtp: { host: 127.0.0.1, port: 9, security: none }, from: hawatch@test.invalid }
  group_window: 1h
contacts:
  ops: { email: ops@test.invalid }
hosts:
  ka-a: { local: true, contacts: [ops] }
  ka-b: { local: true, contacts: [ops] }
services:
${svc('ka-a', nodes.a)}
${svc('ka-b', nodes.b)}
cluster_rules:
  - { name: one vrrp master, kind: exactly_one, role: VI_1_master, service: vrrp, hosts: [ka-a, ka-b], hold_down: { results: 3, time: 6s }, retry_interval: 1s, notification_options: [w, u, c, r] }
`),
    executorFactory: createExecutor,
    database: ':memory:',
    mailSender: null,
  });
  await waitFor('the rule judged OK', () => rule().checked && rule().state === 0, 20_000, { everyMs: 200 });
}, 60_000);

afterAll(async () => {
  await rt?.stop();
  await lab?.cleanup();
});

describe('exactly_one over keepalived MASTER, with real VRRP', () => {
  it('a VRRP transition (B MASTER too for a few seconds) is judged bad but never HARD: no notification', async () => {
    lab.exec(nodes.b.ns, 'iptables', ['-I', 'INPUT', '-p', 'vrrp', '-j', 'DROP']);
    try {
      await waitFor('the rule to see two masters', () => rule().state === 2, 15_000, { everyMs: 100 });
      expect(rule()).toMatchObject({ stateType: 'SOFT' });
      expect(rule().output).toContain('ka-a VI_1_master=1, ka-b VI_1_master=1');
    } finally {
      lab.exec(nodes.b.ns, 'iptables', ['-D', 'INPUT', '-p', 'vrrp', '-j', 'DROP']);
    }
    await waitFor('B back to BACKUP and the rule OK', () => lastState(nodes.b) === 'BACKUP' && rule().state === 0, 15_000, { everyMs: 100 });
    expect(ruleHistory().some((h) => h.type === 'STATE' && h.state === 2 && h.stateType === 'SOFT')).toBe(true);
    expect(ruleNotes()).toEqual([]);
  }, 40_000);

  it('a failover (A in FAULT, B takes the VIP) gives no rule notification', async () => {
    writeFileSync(join(nodes.a.dir, 'fault'), '1\n');
    await waitFor('B MASTER, A FAULT', () => lastState(nodes.a) === 'FAULT' && lastState(nodes.b) === 'MASTER', 15_000, { everyMs: 100 });
    // Longer than the hold-down: a bad judgement during the hand-over would be HARD by now.
    await new Promise((r) => setTimeout(r, 8000));
    expect(rule()).toMatchObject({ state: 0 });
    expect(rule().output).toContain('ka-a VI_1_master=0, ka-b VI_1_master=1');
    expect(ruleNotes()).toEqual([]);
    writeFileSync(join(nodes.a.dir, 'fault'), '0\n');
    await waitFor('A MASTER again', () => lastState(nodes.a) === 'MASTER' && lastState(nodes.b) === 'BACKUP' && rule().state === 0, 15_000, { everyMs: 100 });
  }, 40_000);

  it('a split brain that lasts goes HARD after the hold-down: exactly one notification', async () => {
    lab.exec(nodes.b.ns, 'iptables', ['-I', 'INPUT', '-p', 'vrrp', '-j', 'DROP']);
    try {
      await waitFor('the rule HARD CRITICAL', () => rule().state === 2 && rule().stateType === 'HARD', 30_000, { everyMs: 200 });
      await new Promise((r) => setTimeout(r, 3000));
      expect(ruleNotes()).toEqual(['PROBLEM']);
    } finally {
      lab.exec(nodes.b.ns, 'iptables', ['-D', 'INPUT', '-p', 'vrrp', '-j', 'DROP']);
    }
  }, 40_000);
});
