/**
 * check_ha_corosync against a REAL two-node Corosync 3 (knet) cluster: each node in its
 * own network namespace (Corosync's IPC sockets are abstract unix sockets, so they are
 * per namespace and several test clusters can run at once), two knet links over two veth
 * pairs. A link taken down is a WARNING; the peer stopped makes the survivor inquorate.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binPath, runProgram } from '../support/bin.ts';
import { requireProgram } from '../support/require.ts';
import { waitFor } from '../support/wait.ts';
import { Lab, requireNamespaces } from './harness.ts';

let lab: Lab;
const ns: string[] = [];
const dirs: string[] = [];
const procs: ChildProcess[] = [];
let link1B = '';

function conf(i: number): string {
  return `totem {
  version: 2
  cluster_name: hawatch${lab.id}
  transport: knet
  crypto_cipher: none
  crypto_hash: none
  token: 1000
}
nodelist {
  node {
    ring0_addr: 192.0.2.1
    ring1_addr: 192.0.2.65
    name: node1
    nodeid: 1
  }
  node {
    ring0_addr: 192.0.2.2
    ring1_addr: 192.0.2.66
    name: node2
    nodeid: 2
  }
}
quorum {
  provider: corosync_votequorum
}
logging {
  to_stderr: yes
  to_syslog: no
  to_logfile: no
}
system {
  state_dir: ${dirs[i]}
}
`;
}

const check = (i: number, args: string[] = []) => lab.plugin(ns[i]!, 'check_ha_corosync', args);
const quorum = async (i: number): Promise<string> => (await runProgram('ip', ['netns', 'exec', ns[i]!, 'corosync-quorumtool', '-s'])).stdout;
const links = async (i: number, args: string[] = ['-s']): Promise<string> => (await runProgram('ip', ['netns', 'exec', ns[i]!, 'corosync-cfgtool', ...args])).stdout;

/** Saves the live corosync-cfgtool output in the given format and checks it as --links-file. */
async function checkSaved(i: number, args: string[], name: string) {
  const file = join(lab.dir, `${name}.links.txt`);
  writeFileSync(file, await links(i, args));
  return check(i, ['--links-file', file, '--no-quorum']);
}

beforeAll(async () => {
  requireNamespaces();
  requireProgram('corosync', 'corosync');
  requireProgram('corosync-quorumtool', 'corosync');
  binPath('check_ha_corosync');
  lab = new Lab('cs');
  ns.push(lab.netns('1'), lab.netns('2'));
  lab.link(ns[0]!, '192.0.2.1/26', ns[1]!, '192.0.2.2/26', 'x');
  link1B = lab.link(ns[0]!, '192.0.2.65/26', ns[1]!, '192.0.2.66/26', 'y')[1];
  for (let i = 0; i < 2; i++) {
    dirs.push(join(lab.dir, `node${i + 1}`));
    mkdirSync(dirs[i]!);
    writeFileSync(join(dirs[i]!, 'corosync.conf'), conf(i));
    // corosync locks /run/corosync.pid: a private /run (own mount namespace) per node lets two
    // run on one machine (and not clash with any other corosync here).
    procs.push(lab.spawn(ns[i]!, 'unshare', ['-m', 'sh', '-c', 'mount -t tmpfs -o size=1m tmpfs /run && exec corosync -f -c "$0"', join(dirs[i]!, 'corosync.conf')]));
  }
  await waitFor('both nodes in one quorate membership with both links up', async () => {
    const [q, l] = [await quorum(0), await links(0)];
    return /Quorate:\s+Yes/.test(q) && /Total votes:\s+2/.test(q) && (l.match(/nodeid:\s+2:\s+connected/g) ?? []).length === 2;
  }, 30_000, { everyMs: 500 });
}, 60_000);

afterAll(async () => {
  await lab?.cleanup();
});

describe('a live two-node Corosync 3 cluster', () => {
  it('both nodes up and both links connected: OK', async () => {
    const r = await check(0);
    expect(r.stdout).toMatch(/^COROSYNC OK - quorate \(2 of 2 votes, quorum 2\), 2 links/);
    expect(r.stdout).toContain('quorate=1;;;0;1');
    expect(r.stdout).toContain('links_down=0');
    expect(r.code).toBe(0);
    // The same state read from the 3.1 per-node (-n) and brief (-s -b) formats.
    for (const [args, name] of [[['-n'], 'up-n'], [['-s', '-b'], 'up-b']] as const) {
      const saved = await checkSaved(0, [...args], name);
      expect(saved.stdout, name).toMatch(/^COROSYNC OK - 2 links \|/);
      expect(saved.code).toBe(0);
    }
  });

  it('-w/-c on the number of members', async () => {
    const r = await check(0, ['-c', '3:']);
    expect(r.stdout).toMatch(/^COROSYNC CRITICAL - members: 2 members \(node1, node2\)/);
    expect(r.code).toBe(2);
  });

  it('one link down: WARNING naming the link and the node', async () => {
    lab.exec(ns[1]!, 'ip', ['link', 'set', link1B, 'down']);
    await waitFor('link 1 to node 2 to be reported down', async () => /LINK ID 1[\s\S]*nodeid:\s+2:\s+disconnected/.test(await links(0)), 20_000, { everyMs: 500 });
    const r = await check(0);
    expect(r.stdout).toMatch(/^COROSYNC WARNING - links link 1 \(192\.0\.2\.65\): not connected to node 2 \(disconnected\)/);
    expect(r.stdout).toContain('links_down=1');
    expect(r.code).toBe(1);
    const n = await checkSaved(0, ['-n'], 'link1-n');
    expect(n.stdout).toMatch(/^COROSYNC WARNING - links link 1 \(192\.0\.2\.65\): not connected to node 2 \(enabled but not connected\)/);
    const b = await checkSaved(0, ['-s', '-b'], 'link1-b');
    expect(b.stdout).toMatch(/^COROSYNC WARNING - links link 1 \(192\.0\.2\.65\): not connected to nodelist entry 2 \(disconnected\)/);
    lab.exec(ns[1]!, 'ip', ['link', 'set', link1B, 'up']);
  });

  it('the peer stopped: the survivor is not quorate: CRITICAL', async () => {
    await lab.stop(procs[1]!);
    await waitFor('node 1 to lose quorum', async () => /Quorate:\s+No/.test(await quorum(0)), 20_000, { everyMs: 500 });
    const r = await check(0);
    expect(r.stdout).toMatch(/^COROSYNC CRITICAL - quorum: partition is not quorate: 1 of 2 votes, quorum 2, activity blocked/);
    expect(r.stdout).toContain('quorate=0;;;0;1');
    expect(r.code).toBe(2);
    // -n lists only reachable nodes: with the peer gone it is a bare header, which is UNKNOWN, never OK.
    const n = await checkSaved(0, ['-n'], 'alone-n');
    expect(n.stdout).toMatch(/^COROSYNC UNKNOWN - links: corosync-cfgtool printed its header \(local node 1\) but no link/);
    expect(n.code).toBe(3);
    const b = await checkSaved(0, ['-s', '-b'], 'alone-b');
    expect(b.stdout).toMatch(/^COROSYNC CRITICAL - links peers: nodelist entry 2 unreachable on every link/);
  });

  it('corosync not running: CRITICAL when root (the tools cannot connect)', async () => {
    const r = await check(1);
    expect(r.stdout).toMatch(/^COROSYNC CRITICAL - corosync is not running/);
    expect(r.code).toBe(2);
  });
});
