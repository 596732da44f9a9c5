/**
 * check_ha_vip and check_ha_keepalived against two REAL keepalived daemons in two network
 * namespaces joined by a veth pair (192.0.2.0/24, no route out): normal state, split
 * brain (VRRP dropped by iptables in one namespace, so both become MASTER), FAULT,
 * failover when the master stops, and the VIP on neither node.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binPath } from '../support/bin.ts';
import { ROOT } from '../support/paths.ts';
import { requireProgram } from '../support/require.ts';
import { waitFor } from '../support/wait.ts';
import { Lab, requireNamespaces } from './harness.ts';

const VIP = '192.0.2.100';

interface Node {
  ns: string;
  ifname: string;
  ip: string;
  dir: string;
  ka?: ChildProcess;
}

let lab: Lab;
const nodes: Record<'a' | 'b', Node> = {} as Record<'a' | 'b', Node>;

function keepalivedConf(n: Node, peer: Node, priority: number): string {
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
  virtual_router_id 51
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

function startKeepalived(n: Node): void {
  n.ka = lab.spawn(n.ns, 'keepalived', ['-f', join(n.dir, 'keepalived.conf'), '-n', '-l', '-D', '-P', '-p', join(n.dir, 'keepalived.pid'), '-r', join(n.dir, 'vrrp.pid')], {
    // keepalived writes its JSON/data dumps to $TMPDIR: one directory per node.
    env: { ...process.env, TMPDIR: n.dir },
  });
}

function holdsVip(n: Node): boolean {
  return lab.exec(n.ns, 'ip', ['-4', '-o', 'addr', 'show', 'dev', n.ifname]).includes(` ${VIP}/`);
}

function lastState(n: Node): string | undefined {
  try {
    const lines = lab.exec(n.ns, 'cat', [join(n.dir, 'state')]).trim().split('\n');
    return lines[lines.length - 1]?.split(' ')[3];
  } catch {
    return undefined;
  }
}

function mac(n: Node): string {
  return lab.exec(n.ns, 'cat', [`/sys/class/net/${n.ifname}/address`]).trim();
}

const vip = (n: Node, args: string[]) => lab.plugin(n.ns, 'check_ha_vip', ['--vip', VIP, ...args]);
const ka = (n: Node, args: string[]) => lab.plugin(n.ns, 'check_ha_keepalived', ['--state-file', join(n.dir, 'state'), '--pid-file', join(n.dir, 'keepalived.pid'), ...args]);
const kaJson = (n: Node, args: string[], mem = 'mem') =>
  lab.plugin(n.ns, 'check_ha_keepalived', ['--source', 'json', '--trigger', '--dump-dir', n.dir, '--pid-file', join(n.dir, 'keepalived.pid'), '--state-dir', join(n.dir, mem), ...args]);

beforeAll(async () => {
  requireNamespaces();
  requireProgram('ip', 'iproute2');
  requireProgram('keepalived', 'keepalived');
  requireProgram('arping', 'arping');
  requireProgram('iptables', 'iptables');
  binPath('check_ha_vip');
  binPath('check_ha_keepalived');
  lab = new Lab('ka');
  const nsA = lab.netns('A');
  const nsB = lab.netns('B');
  const [ifA, ifB] = lab.link(nsA, '192.0.2.1/24', nsB, '192.0.2.2/24');
  nodes.a = { ns: nsA, ifname: ifA, ip: '192.0.2.1', dir: join(lab.dir, 'a') };
  nodes.b = { ns: nsB, ifname: ifB, ip: '192.0.2.2', dir: join(lab.dir, 'b') };
  for (const [n, peer, prio] of [[nodes.a, nodes.b, 150], [nodes.b, nodes.a, 100]] as const) {
    mkdirSync(n.dir, { mode: 0o755 });
    // keepalived's script security wants a root-owned script in a directory only root can write.
    copyFileSync(join(ROOT, 'plugins', 'keepalived', 'hawatch-keepalived-notify.sh'), join(n.dir, 'notify.sh'));
    writeFileSync(join(n.dir, 'keepalived.conf'), keepalivedConf(n, peer, prio));
    startKeepalived(n);
  }
  await waitFor('node A to become MASTER and hold the VIP', () => holdsVip(nodes.a) && lastState(nodes.a) === 'MASTER' && lastState(nodes.b) === 'BACKUP', 15_000, { everyMs: 250 });
}, 60_000);

afterAll(async () => {
  await lab?.cleanup();
});

describe('normal operation: A MASTER, B BACKUP', () => {
  it('check_ha_vip: owner OK on A, standby OK on B (B sees A answer)', async () => {
    const a = await vip(nodes.a, ['--expect', 'owner']);
    expect(a.stdout).toMatch(/^VIP OK - 192\.0\.2\.100 held here on /);
    expect(a.stdout).toContain('vip_owned=1;;;0;1');
    expect(a.stdout).toContain('vip_other_hosts=0');
    expect(a.code).toBe(0);
    const b = await vip(nodes.b, ['--expect', 'standby']);
    expect(b.stdout).toContain(`answered by ${mac(nodes.a)}`);
    expect(b.stdout).toContain('vip_owned=0;;;0;1');
    expect(b.code).toBe(0);
  });

  it('check_ha_vip --expect-from keepalived reads the notify state file', async () => {
    const a = await vip(nodes.a, ['--expect-from', 'keepalived:VI_1', '--keepalived-state', join(nodes.a.dir, 'state')]);
    expect(a.stdout).toContain('expected owner: keepalived VI_1 is MASTER');
    expect(a.code).toBe(0);
    const b = await vip(nodes.b, ['--expect-from', 'keepalived:VI_1', '--keepalived-state', join(nodes.b.dir, 'state')]);
    expect(b.stdout).toContain('expected standby: keepalived VI_1 is BACKUP');
    expect(b.code).toBe(0);
  });

  it('check_ha_vip: port check on the VIP (closed port is CRITICAL)', async () => {
    const r = await vip(nodes.b, ['--port', '9', '--no-dad']);
    expect(r.stdout).toMatch(/port 9\/tcp: connection refused/);
    expect(r.code).toBe(2);
  });

  it('check_ha_keepalived: MASTER/BACKUP as expected is OK (notify state file)', async () => {
    const a = await ka(nodes.a, ['-e', 'VI_1=MASTER']);
    expect(a.stdout).toMatch(/^KEEPALIVED OK - VI_1 MASTER/);
    expect(a.stdout).toContain('VI_1_master=1;;;0;1');
    expect(a.code).toBe(0);
    const b = await ka(nodes.b, ['-e', 'VI_1=BACKUP']);
    expect(b.stdout).toMatch(/^KEEPALIVED OK - VI_1 BACKUP/);
    expect(b.stdout).toContain('VI_1_master=0;;;0;1');
    expect(b.code).toBe(0);
  });

  it('check_ha_keepalived: a state other than the expected one is CRITICAL', async () => {
    const b = await ka(nodes.b, ['-e', 'VI_1=MASTER']);
    expect(b.stdout).toMatch(/^KEEPALIVED CRITICAL - VI_1: BACKUP .*expected MASTER/);
    expect(b.code).toBe(2);
  });

  it('check_ha_keepalived: JSON dump triggered by signal, with VIPs probed on the segment', async () => {
    const a = await kaJson(nodes.a, ['-e', 'VI_1=MASTER', '--dad']);
    expect(a.stdout).toMatch(/^KEEPALIVED OK - VI_1 MASTER \(from JSON dump /);
    expect(a.stdout).toContain(`no other host answers for ${VIP}`);
    expect(a.code).toBe(0);
    const b = await kaJson(nodes.b, ['-e', 'VI_1=BACKUP', '--dad']);
    expect(b.stdout).toContain(`${VIP} is answered by ${mac(nodes.a)}`);
    expect(b.code).toBe(0);
  });

  it('check_ha_keepalived: the data dump gives the same states', async () => {
    const r = await lab.plugin(nodes.a.ns, 'check_ha_keepalived', ['--source', 'data', '--trigger', '--dump-dir', nodes.a.dir, '--pid-file', join(nodes.a.dir, 'keepalived.pid'), '--state-dir', join(nodes.a.dir, 'mem-data'), '-e', 'VI_1=MASTER']);
    expect(r.stdout).toMatch(/^KEEPALIVED OK - VI_1 MASTER \(from DATA dump /);
    expect(r.code).toBe(0);
  });
});

describe('split brain: VRRP dropped in B, both MASTER', () => {
  beforeAll(async () => {
    lab.exec(nodes.b.ns, 'iptables', ['-I', 'INPUT', '-p', 'vrrp', '-j', 'DROP']);
    await waitFor('B to become MASTER too', () => holdsVip(nodes.b) && lastState(nodes.b) === 'MASTER', 15_000, { everyMs: 250 });
    expect(holdsVip(nodes.a)).toBe(true);
  }, 30_000);

  it('check_ha_vip: CRITICAL from A (B answers for the VIP)', async () => {
    const r = await vip(nodes.a, ['--expect', 'owner']);
    expect(r.stdout).toContain(`split brain: ${VIP} is held here and also answered by ${mac(nodes.b)}`);
    expect(r.stdout).toContain('vip_other_hosts=1');
    expect(r.code).toBe(2);
  });

  it('check_ha_vip: CRITICAL from B (A answers for the VIP)', async () => {
    const r = await vip(nodes.b, ['--expect-from', 'keepalived:VI_1', '--keepalived-state', join(nodes.b.dir, 'state')]);
    expect(r.stdout).toContain(`also answered by ${mac(nodes.a)}`);
    // Split brain in the role gauges: B owns it too, so a rule summing vip_owned sees 2.
    expect(r.stdout).toContain('vip_owned=1;;;0;1');
    expect(r.code).toBe(2);
  });

  it('check_ha_keepalived on B: MASTER where BACKUP is expected is CRITICAL', async () => {
    const r = await ka(nodes.b, ['-e', 'VI_1=BACKUP']);
    expect(r.stdout).toMatch(/^KEEPALIVED CRITICAL - VI_1: MASTER .*expected BACKUP/);
    expect(r.stdout).toContain('VI_1_master=1;;;0;1');
    expect(r.code).toBe(2);
  });

  it('check_ha_keepalived on A: MASTER as expected, but the VIP is answered by B: CRITICAL', async () => {
    const r = await ka(nodes.a, ['-e', 'VI_1=MASTER', '--dad', '--vip', `VI_1=${VIP}`]);
    expect(r.stdout).toContain(`split brain: MASTER here and ${VIP} is also answered by ${mac(nodes.b)}`);
    expect(r.code).toBe(2);
  });

  it('check_ha_keepalived on A (JSON dumps): adverts received while MASTER between two runs: CRITICAL', async () => {
    // A fresh memory: the first run has nothing to compare with.
    const first = await kaJson(nodes.a, ['-e', 'VI_1=MASTER'], 'mem-split');
    expect(first.stdout).toMatch(/^KEEPALIVED OK/);
    await new Promise((r) => setTimeout(r, 2500));
    const second = await kaJson(nodes.a, ['-e', 'VI_1=MASTER'], 'mem-split');
    expect(second.stdout).toMatch(/split brain: received \d+ VRRP adverts? from another router for VRID 51 while MASTER/);
    expect(second.code).toBe(2);
  });

  afterAll(async () => {
    lab.exec(nodes.b.ns, 'iptables', ['-D', 'INPUT', '-p', 'vrrp', '-j', 'DROP']);
    await waitFor('B to go back to BACKUP', () => !holdsVip(nodes.b) && lastState(nodes.b) === 'BACKUP', 15_000, { everyMs: 250 });
  }, 30_000);
});

describe('FAULT and failover', () => {
  it('a failed track_file puts B in FAULT: CRITICAL', async () => {
    writeFileSync(join(nodes.b.dir, 'fault'), '1\n');
    await waitFor('B to enter FAULT', () => lastState(nodes.b) === 'FAULT', 10_000, { everyMs: 250 });
    const r = await ka(nodes.b, []);
    expect(r.stdout).toMatch(/^KEEPALIVED CRITICAL - VI_1: FAULT/);
    expect(r.code).toBe(2);
    writeFileSync(join(nodes.b.dir, 'fault'), '0\n');
    await waitFor('B to leave FAULT', () => lastState(nodes.b) === 'BACKUP', 10_000, { everyMs: 250 });
  });

  it('stopping the master moves the VIP to B; A reports keepalived not running', async () => {
    await lab.stop(nodes.a.ka!);
    await waitFor('B to take over the VIP', () => holdsVip(nodes.b) && lastState(nodes.b) === 'MASTER', 10_000, { everyMs: 250 });
    expect(holdsVip(nodes.a)).toBe(false);
    const b = await vip(nodes.b, ['--expect-from', 'keepalived:VI_1', '--keepalived-state', join(nodes.b.dir, 'state')]);
    expect(b.stdout).toMatch(/^VIP OK - 192\.0\.2\.100 held here/);
    expect(b.stdout).toContain('vip_owned=1;;;0;1');
    expect(b.code).toBe(0);
    const a = await ka(nodes.a, ['-e', 'VI_1=MASTER']);
    expect(a.stdout).toContain('keepalived is not running');
    expect(a.code).toBe(2);
    // A still expects to be the owner (its configuration says so): CRITICAL, and it sees B answer.
    const av = await vip(nodes.a, ['--expect', 'owner']);
    expect(av.stdout).toContain(`not held here but this node should own it`);
    expect(av.stdout).toContain(mac(nodes.b));
    expect(av.code).toBe(2);
  });

  it('the VIP on neither node: CRITICAL on the expected owner, and nobody answers', async () => {
    await lab.stop(nodes.b.ka!);
    await waitFor('B to release the VIP', () => !holdsVip(nodes.b), 10_000, { everyMs: 250 });
    const r = await vip(nodes.a, ['--expect', 'owner']);
    expect(r.stdout).toMatch(/^VIP CRITICAL - /);
    expect(r.stdout).toContain('not held here but this node should own it');
    expect(r.stdout).toContain('no host answers for 192.0.2.100');
    expect(r.code).toBe(2);
  });
});
