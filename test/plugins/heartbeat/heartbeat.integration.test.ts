/**
 * check_ha_heartbeat against a real two-node Heartbeat 3.0.6 cluster (heartbeat-env.ts), in
 * order: healthy, a link cut, both links cut (both nodes hold the resources), a node killed,
 * heartbeat hung on the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/wait.ts';
import { startCluster, waitClStatus, type HbCluster } from './heartbeat-env.ts';

let c: HbCluster;

beforeAll(async () => {
  c = startCluster();
  await waitClStatus(c.a, ['nodestatus', 'nodeb'], 'active');
  await waitClStatus(c.b, ['nodestatus', 'nodea'], 'active');
  await waitClStatus(c.a, ['rscstatus'], 'local', 40_000);
  await waitFlag(() => c.a.holdsFlag());
}, 60_000);

afterAll(() => c?.stop());

describe('check_ha_heartbeat against a real Heartbeat cluster', () => {
  it('healthy: both nodes and both links up, nodea holds its group, the dead ping node is WARNING', async () => {
    expect(c.a.holdsFlag()).toBe(true);
    const a = await c.a.check();
    expect(a.stdout).toContain('[OK] node nodea: active (this node)');
    expect(a.stdout).toContain('[OK] node nodeb: active');
    expect(a.stdout).toMatch(/\[OK\] link nodeb\/hb\w+1a: up/);
    expect(a.stdout).toMatch(/\[OK\] link nodeb\/hb\w+2a: up/);
    expect(a.stdout).toMatch(/\[OK\] resources: holds its own resources \(haresources: 1 group of this node, 0 of others\)/);
    // 192.0.2.254 answers nobody: the only problem.
    expect(a.status).toBe('HEARTBEAT WARNING - ping node 192.0.2.254: dead: unreachable from the cluster, 5 of 6 checks OK');
    expect(a.stdout).toMatch(/nodes_alive=2;;;0;2 ping_nodes_alive=0;;;0;1 /);
    expect(a.stdout).toContain(`link_nodeb_${c.linkNames[0]}=1;;;0;1`);
    const b = await c.b.check();
    expect(b.stdout).toMatch(/\[OK\] resources: holds its own resources \(haresources: 0 groups of this node, 1 of others\)/);
    expect(c.b.holdsFlag()).toBe(false);
    expect(b.code).toBe(1);
  });

  it('one link cut: WARNING (redundancy lost), the node is still alive', async () => {
    c.linkDown(1);
    try {
      const link = c.linkNames[0];
      await waitClStatus(c.a, ['hblinkstatus', 'nodeb', link], 'dead');
      const a = await c.a.check();
      expect(a.code).toBe(1);
      expect(a.stdout).toMatch(/\[WARNING\] link nodeb\/hb\w+1a: dead/);
      expect(a.stdout).toContain('[OK] node nodeb: active');
      expect(a.stdout).toMatch(/link_nodeb_hb\w+1a=0;;;0;1/);
    } finally {
      c.linkUp(1);
    }
    const link = c.linkNames[0];
    await waitClStatus(c.a, ['hblinkstatus', 'nodeb', link], 'up');
  }, 60_000);

  it('both links cut: each node sees the other dead and both hold the resources: CRITICAL on both', async () => {
    c.linkDown(1);
    c.linkDown(2);
    try {
      await waitClStatus(c.b, ['nodestatus', 'nodea'], 'dead');
      await waitClStatus(c.b, ['rscstatus'], 'all', 40_000);
      await waitFlag(() => c.b.holdsFlag());
      expect(c.a.holdsFlag()).toBe(true); // split brain: both hold the group
      const b = await c.b.check();
      expect(b.code, b.stdout).toBe(2);
      expect(b.stdout).toContain('[CRITICAL] node nodea: dead');
      expect(b.stdout).toMatch(/\[WARNING\] resources: holds all resources while nodea is dead to it: a failover, or split brain if the peer is alive behind cut links and holds them too/);
      await waitClStatus(c.a, ['nodestatus', 'nodeb'], 'dead');
      const a = await c.a.check();
      expect(a.code, a.stdout).toBe(2);
      expect(a.stdout).toContain('[CRITICAL] node nodeb: dead');
    } finally {
      c.linkUp(1);
      c.linkUp(2);
    }
  }, 90_000);

  it('a node killed: the other reports it dead (CRITICAL)', { timeout: 90_000 }, async () => {
    // Rejoined after the partition first (heartbeat may restart a node that comes back owning
    // resources), so the death seen below is the kill: both see each other for 5 s in a row.
    let since = 0;
    await waitFor('the cluster settled after the partition', () => {
      const ok = c.a.clStatus(['nodestatus', 'nodeb']).stdout.trim() === 'active' && c.b.clStatus(['nodestatus', 'nodea']).stdout.trim() === 'active';
      if (!ok) since = 0;
      else if (since === 0) since = Date.now();
      return ok && Date.now() - since >= 5000;
    }, 60_000, { everyMs: 500 });
    c.b.kill();
    await waitClStatus(c.a, ['nodestatus', 'nodeb'], 'dead');
    const a = await c.a.check();
    expect(a.code, a.stdout).toBe(2);
    expect(a.status).toMatch(/^HEARTBEAT CRITICAL - node nodeb: dead/);
    expect(a.stdout).toMatch(/nodes_alive=1;;;0;2/);
  });
  it('heartbeat hung (SIGSTOP): cl_status exits 12 after its 5 s alarm, the check is CRITICAL, not OK', async () => {
    const pid = c.a.pid();
    process.kill(pid, 'SIGSTOP');
    try {
      const raw = c.a.clStatus(['hbstatus']);
      expect(raw.code).toBe(12);
      const r = await c.a.check();
      expect(r.code).toBe(2);
      expect(r.status).toMatch(/^HEARTBEAT CRITICAL - cl_status hbstatus got no answer from heartbeat \(exit 12/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }, 60_000);

});

async function waitFlag(probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 40_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('the resource flag did not appear within 40 s');
    await new Promise((r) => setTimeout(r, 250));
  }
}
