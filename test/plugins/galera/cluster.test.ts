/**
 * check_ha_galera against a real three-node Galera cluster (Debian galera-4, rsync SST) on
 * loopback, started once for the file: healthy, a desynced node, a killed node (cluster
 * size drops), and a survivor without quorum (non-Primary).
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RowDataPacket } from 'mysql2/promise';
import { fixturePath } from '../../support/paths.ts';
import { freePort } from '../../support/ports.ts';
import { requireFile } from '../../support/require.ts';
import { removeDir } from '../../support/tmp.ts';
import { waitFor } from '../../support/wait.ts';
import { makeDir, runCheck, startServer, writeOptionFile, type Server } from '../mysql/mariadb-harness.ts';

const PROVIDER = '/usr/lib/galera/libgalera_smm.so';
const nodes: Server[] = [];
let optionFile: string;
let dirs: string[] = [];

async function wsrep(s: Server, name: string): Promise<string> {
  const rows = await s.query<RowDataPacket[]>(`SHOW GLOBAL STATUS LIKE '${name}'`);
  return String(rows[0]?.Value ?? '');
}

function host(i: number): string {
  return `n${i + 1}=127.0.0.1:${nodes[i]!.port}`;
}

async function check(args: string[], fixture?: string) {
  if (!fixture) return runCheck('check_ha_galera', [...args, '--defaults-file', optionFile]);
  const saved = join(dirs[0]!, `${fixture}.json`);
  const live = await runCheck('check_ha_galera', [...args, '--defaults-file', optionFile, '--save-input', saved]);
  const replay = await runCheck('check_ha_galera', [...args.filter((a, i) => a !== '-H' && args[i - 1] !== '-H'), '--input-file', saved]);
  expect(replay.stdout).toBe(live.stdout);
  if (process.env.HAWATCH_UPDATE_FIXTURES) copyFileSync(saved, fixturePath('galera', `${fixture}.json`));
  return live;
}

beforeAll(async () => {
  for (const [f, pkg] of [[PROVIDER, 'galera-4'], ['/usr/bin/rsync', 'rsync'], ['/usr/bin/wsrep_sst_rsync', 'mariadb-server'], ['/usr/bin/ss', 'iproute2']] as const) requireFile(f, pkg);
  const ports = await Promise.all([0, 1, 2].map(async () => ({ sql: await freePort(), gcomm: await freePort(), ist: await freePort(), sst: await freePort() })));
  const address = `gcomm://${ports.map((p) => `127.0.0.1:${p.gcomm}`).join(',')}`;
  dirs = [0, 1, 2].map((i) => makeDir(`hawatch-galera-n${i + 1}-`));
  const start = (i: number, bootstrap: boolean) => {
    const p = ports[i]!;
    return startServer({
      serverId: i + 1, name: `galera-n${i + 1}`, dir: dirs[i], port: p.sql, readyTimeoutMs: 120_000,
      args: [
        '--wsrep-on=ON', `--wsrep-provider=${PROVIDER}`, `--wsrep-cluster-address=${address}`, '--wsrep-cluster-name=hawatch_test',
        `--wsrep-node-name=n${i + 1}`, `--wsrep-node-address=127.0.0.1:${p.gcomm}`, `--wsrep-sst-receive-address=127.0.0.1:${p.sst}`, '--wsrep-sst-method=rsync',
        // Short failure detection so a killed node leaves the view within seconds, but not so
        // short that a joiner busy with its state transfer on a loaded 2-core CI machine is
        // evicted (a 1.5 s suspect timeout made a joiner exit during start-up once).
        `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${p.gcomm};ist.recv_addr=127.0.0.1:${p.ist};evs.keepalive_period=PT1S;evs.inactive_check_period=PT1S;evs.suspect_timeout=PT4S;evs.inactive_timeout=PT8S;evs.install_timeout=PT8S;gcache.size=16M`,
        '--binlog-format=ROW', '--default-storage-engine=InnoDB', '--innodb-autoinc-lock-mode=2',
        ...(bootstrap ? ['--wsrep-new-cluster'] : []),
      ],
      waitReady: async (s) => (await wsrep(s, 'wsrep_local_state_comment')) === 'Synced',
    });
  };
  nodes.push(await start(0, true));
  // One joiner at a time: the only donor serves one state transfer at once, and a second
  // simultaneous request can fail under load (seen as a flaky set-up).
  nodes.push(await start(1, false));
  nodes.push(await start(2, false));
  await waitFor('cluster size 3', async () => (await wsrep(nodes[0]!, 'wsrep_cluster_size')) === '3', 30_000);
  // Replicated to every node by Galera; no privilege at all beyond the login.
  await nodes[0]!.query("CREATE USER 'monitor'@'127.0.0.1' IDENTIFIED BY 'galera-mon'");
  optionFile = writeOptionFile(dirs[0]!, 'monitor', 'galera-mon');
}, 200_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  for (const d of dirs) removeDir(d);
});

describe('check_ha_galera against a real 3-node Galera cluster', () => {
  it('healthy: Primary, Synced, size 3 on one node and on all three', async () => {
    const one = await check(['-H', host(0)], 'galera-3-nodes-healthy');
    // The roles a cluster rule counts lead the perfdata.
    expect(one.stdout).toMatch(/^GALERA OK - Primary, Synced, cluster size 3 \| n1_primary_component=1;;;0;1 n1_synced=1;;;0;1 cluster_size=3;3:;2:;0 flow_control_paused=0;;;0;1 flow_control_paused_ns=\d+c;;;0/);
    expect(one.code).toBe(0);
    const all = await check(['-H', `${host(0)},${host(1)},${host(2)}`]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^GALERA OK - 3\/3 nodes in a Primary component, cluster size 3/);
    expect(all.stdout).toContain('[OK] node n2: Primary, Synced, cluster size 3, ready ON, connected ON, cluster hawatch_test');
    expect(all.stdout).toContain('n3_cluster_size=3;3:;2:;0');
    for (const n of ['n1', 'n2', 'n3']) expect(all.stdout).toContain(`${n}_primary_component=1;;;0;1 ${n}_synced=1;;;0;1`);
  });

  it('a desynced node (wsrep_desync=ON): WARNING, or OK with --donor-ok', async () => {
    await nodes[1]!.query('SET GLOBAL wsrep_desync = ON');
    try {
      const r = await check(['-H', host(1)], 'galera-node-desynced');
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^GALERA WARNING - node n2: Donor\/Desynced: serving a state transfer or desynced/);
      expect(r.stdout).toContain('| n2_primary_component=1;;;0;1 n2_synced=0;;;0;1 ');
      expect((await check(['-H', host(1), '--donor-ok'])).code).toBe(0);
    } finally {
      await nodes[1]!.query('SET GLOBAL wsrep_desync = OFF');
    }
  });

  it('a killed node: size 2 is WARNING by default, its own check CRITICAL', async () => {
    await nodes[2]!.stop();
    await waitFor('cluster size 2', async () => (await wsrep(nodes[0]!, 'wsrep_cluster_size')) === '2', 30_000);
    const r = await check(['-H', host(0)], 'galera-node-lost');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^GALERA WARNING - node n1: cluster size 2 \(below 3\)/);
    expect((await check(['-H', host(0), '-w', '2:', '-c', '2:'])).code).toBe(0);
    const all = await check(['-H', `${host(0)},${host(1)},${host(2)}`]);
    expect(all.code).toBe(2);
    expect(all.stdout).toMatch(/node n3: cannot check: connection refused/);
    // The dead node's role is unknown: no item, the live ones still counted.
    expect(all.stdout).not.toContain('n3_primary_component');
    expect(all.stdout).toContain('n1_primary_component=1;;;0;1');
    expect(all.stdout).toContain("[WARNING] node n2: cluster size 2 (below 3) [Primary, Synced, cluster size 2, ready ON, connected ON, cluster hawatch_test]");
  });

  it('the survivor of a 2-node cluster without quorum: non-Primary is CRITICAL', async () => {
    await nodes[1]!.stop();
    await waitFor('n1 non-Primary', async () => (await wsrep(nodes[0]!, 'wsrep_cluster_status')) !== 'Primary', 30_000);
    const r = await check(['-H', host(0)], 'galera-non-primary');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^GALERA CRITICAL - node n1: cluster status non-Primary: this node is in a partition without quorum and refuses writes, wsrep_ready=OFF: the node does not accept queries/);
    expect(r.stdout).toContain('cluster_size=1;3:;2:;0');
    expect(r.stdout).toContain('| n1_primary_component=0;;;0;1 n1_synced=0;;;0;1 ');
  });
});
