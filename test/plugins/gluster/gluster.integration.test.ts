/**
 * check_ha_gluster against a real three-peer GlusterFS pool with a replica 3 volume
 * (gluster-env.ts), in order: healthy, a brick killed, pending heals that do not shrink, two
 * bricks killed (quorum lost), a split-brain file made on the bricks, the cluster lock held.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/wait.ts';
import { healCount, setUpVolume, startPool, type GlusterPool } from './gluster-env.ts';

let p: GlusterPool;
const stateDir = mkdtempSync(join(tmpdir(), 'hawatch-gl-state-'));
const cheapDir = mkdtempSync(join(tmpdir(), 'hawatch-gl-cheap-'));

beforeAll(async () => {
  p = startPool();
  await setUpVolume(p);
}, 60_000);

afterAll(() => {
  p?.stop();
  for (const d of [stateDir, cheapDir]) rmSync(d, { recursive: true, force: true });
});

/** Bricks (nodes of volume status whose path is a directory) that are online, from the CLI itself. */
function bricksOnline(): number {
  const xml = p.nodes[0].gluster(['volume', 'status', p.volume, '--xml']).stdout;
  return xml.split('<node>').slice(1).filter((n) => /<path>\//.test(n) && /<status>1<\/status>/.test(n)).length;
}

async function restartBricks(): Promise<void> {
  const r = p.nodes[0].gluster(['volume', 'start', p.volume, 'force']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  // All three back first (a heal count of 0 can come while a brick is still starting: a
  // loaded CI run went on with brick c offline), then the heals done.
  let online = -1;
  await waitFor('3 bricks online', () => (online = bricksOnline()) === 3, 60_000, { everyMs: 500, stopWhen: () => undefined }).catch((e: Error) => {
    throw new Error(`${e.message} (last count ${online}): ${p.nodes[0].gluster(['volume', 'status', p.volume]).stdout}`);
  });
  await waitFor('heals done', () => healCount(p) === 0, 30_000, { everyMs: 500 });
}

describe('check_ha_gluster against a real GlusterFS pool', () => {
  it('healthy: peers connected, 3/3 bricks, self-heal daemons up, nothing to heal: OK', async () => {
    const r = await p.nodes[0].check(['--state-dir', stateDir]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.status).toBe('GLUSTER OK - 3/3 peers connected, 1/1 volumes started');
    expect(r.stdout).toContain('[OK] bricks: 3/3 online');
    expect(r.stdout).toContain('[OK] self-heal daemon: up on 3 nodes');
    expect(r.stdout).toContain('[OK] split-brain: none');
    expect(r.stdout).toMatch(/peers_connected=3;;;0;3 hwv_bricks_online=3;;;0;3 hwv_heal_pending=0;;;0 hwv_split_brain=0;;;0/);
    const cheap = await p.nodes[1].check(['--cheap', '--volume', 'hwv', '--state-dir', stateDir]);
    expect(cheap.code, cheap.stdout).toBe(0);
    expect(cheap.stdout).toContain('[OK] pending heals (heal-count): none pending');
  });

  it('a brick killed: WARNING, quorum held; writes meanwhile leave pending heals that do not shrink: WARNING', async () => {
    const c = p.nodes[2];
    process.kill(p.brickPid(c), 'SIGKILL');
    await waitFor('brick c offline', () => /<status>0<\/status>/.test(p.nodes[0].gluster(['volume', 'status', p.volume, `${c.ip}:${c.brick}`, '--xml']).stdout), 15_000, { everyMs: 250 });
    let r = await p.nodes[0].check(['--state-dir', stateDir]);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toContain(`[WARNING] bricks: 2/3 online, quorum held (needs 2): ${c.ip}:${c.brick} offline`);
    const w = p.nodes[0].shell(`for i in 1 2 3 4 5; do echo x > ${p.mount}/p$i; done`);
    expect(w.code, w.stderr).toBe(0);
    r = await p.nodes[0].check(['--state-dir', stateDir]);
    expect(r.stdout).toMatch(/\[OK\] pending heals: (\d+) pending, new since the run \d+ s ago \(not read on 192\.0\.2\.3:/);
    expect(Number(/hwv_heal_pending=(\d+)/.exec(r.stdout)?.[1])).toBeGreaterThanOrEqual(5);
    r = await p.nodes[0].check(['--state-dir', stateDir]);
    expect(r.stdout).toMatch(/\[WARNING\] pending heals: \d+ pending, not shrinking \(\d+ at the run \d+ s ago\)/);
    // --cheap counts the same entries from the index.
    const cheap = await p.nodes[0].check(['--cheap', '--state-dir', cheapDir]);
    expect(cheap.stdout).toMatch(/\[OK\] pending heals \(heal-count\): ([1-9]\d*) pending \(first count/);
    await restartBricks();
    r = await p.nodes[0].check(['--state-dir', stateDir]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('[OK] pending heals: none pending');
  }, 120_000);

  it('a split-brain file made on the bricks (each copy blames the others): CRITICAL', async () => {
    const [a] = p.nodes;
    // The client reconnects to the restarted bricks on its own time: writable again first.
    // 20 s were not enough once in a loaded CI run; it usually takes a few seconds.
    await waitFor('the mount writable again', () => a.shell(`echo original > ${p.mount}/sb`).code === 0, 60_000, { everyMs: 500 });
    const gfid = a.shell(`getfattr -n trusted.gfid -e hex ${p.nodes[0].brick}/sb`).stdout.match(/trusted\.gfid=0x([0-9a-f]{32})/)?.[1];
    expect(gfid).toBeDefined();
    const uuid = gfid!.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
    p.nodes.forEach((n, i) => {
      const others = [0, 1, 2].filter((j) => j !== i);
      // Data pending against the other two copies (AFR changelog: data, metadata, entry counters),
      // and the entry in the brick's xattrop index, where heal info looks.
      const line = [
        `echo diverged ${n.name} > ${n.brick}/sb`,
        ...others.map((j) => `setfattr -n trusted.afr.hwv-client-${j} -v 0x000000010000000000000000 ${n.brick}/sb`),
        `d=${n.brick}/.glusterfs/indices/xattrop; base=$(ls $d | grep ^xattrop- | head -1); if [ -n "$base" ] && [ ! -e $d/${uuid} ]; then ln $d/$base $d/${uuid}; fi`,
      ].join(' && ');
      const r = n.shell(line);
      expect(r.code, r.stderr).toBe(0);
    });
    const r = await a.check(['--state-dir', stateDir]);
    expect(r.code, r.stdout).toBe(2);
    expect(r.stdout).toMatch(/\[CRITICAL\] split-brain: \d+ entr(y|ies) counted on the bricks \(192\.0\.2\.1:\S+ 1/);
    // Each brick's index names the file; how many of them heal info has counted depends on the
    // self-heal daemon's crawl at that moment (1 in a loaded CI run, 2 or 3 alone): at least one.
    expect(Number(/hwv_split_brain=(\d+)/.exec(r.stdout)?.[1])).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('two bricks of three killed: quorum lost, CRITICAL', async () => {
    for (const n of [p.nodes[1], p.nodes[2]]) process.kill(p.brickPid(n), 'SIGKILL');
    await waitFor('bricks b and c offline', () => (p.nodes[0].gluster(['volume', 'status', p.volume, '--xml']).stdout.match(/<status>0<\/status>/g) ?? []).length >= 2, 15_000, { everyMs: 250 });
    const r = await p.nodes[0].check(['--state-dir', stateDir]);
    expect(r.code, r.stdout).toBe(2);
    expect(r.status).toMatch(/^GLUSTER CRITICAL - volume hwv bricks: 1\/3 online, quorum lost \(needs 2\)/);
    // Left down: after two bricks were killed at once, volume start force did not bring them
    // back within 60 s in a loaded run, so this runs after the tests that need all three
    // (the lock test that follows needs none).
  }, 60_000);

  it('the cluster lock held by a stuck transaction: the check waits, then says UNKNOWN with the lock, not bricks offline', async () => {
    const [a, b] = p.nodes;
    const pid = b.glusterdPid();
    // glusterd of b stopped: a transaction started on a waits for b and keeps the volume lock.
    process.kill(pid, 'SIGSTOP');
    try {
      const holder = a.gluster(['volume', 'status', p.volume, '--xml'], 1500);
      expect(holder.signal).toBe('SIGTERM'); // still waiting for b when given up
      const started = Date.now();
      const r = await a.check(['-t', '5', '--state-dir', stateDir]);
      const ms = Date.now() - started;
      expect(r.code, r.stdout).toBe(3);
      expect(r.status).toMatch(/^GLUSTER UNKNOWN - gluster volume status hwv --xml: the cluster lock stayed taken for \d\.\d s, [2-9] tries \(Another transaction is in progress for hwv\. Please try again after some time\.\)/);
      expect(r.stdout).not.toMatch(/offline/);
      expect(ms).toBeLessThan(5500);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }, 30_000);
});
