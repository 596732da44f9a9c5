/**
 * check_ha_keepalived against a REAL keepalived whose vrrp_script turns BAD while the instance
 * keeps MASTER (a negative weight lowers the priority, and no peer is there to take over):
 * the data dump names the BAD script (WARNING), the JSON dump shows the lowered priority.
 * One namespace, one veth pair (the other end is only there so the interface is up).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binPath } from '../support/bin.ts';
import { requireProgram } from '../support/require.ts';
import { waitFor } from '../support/wait.ts';
import { Lab, requireNamespaces } from './harness.ts';

let lab: Lab;
let ns = '';
let dir = '';

const check = (args: string[]) =>
  lab.plugin(ns, 'check_ha_keepalived', ['--trigger', '--dump-dir', dir, '--pid-file', join(dir, 'keepalived.pid'), '--state-dir', join(dir, 'mem'), ...args]);

/** Effective priority from a fresh data dump (keepalived writes it on the DATA signal). */
async function effectivePriority(): Promise<string | undefined> {
  const r = await check(['--source', 'data']);
  return /priority (\d+)\)/.exec(r.stdout)?.[1];
}

beforeAll(async () => {
  requireNamespaces();
  requireProgram('keepalived', 'keepalived');
  binPath('check_ha_keepalived');
  lab = new Lab('ks');
  ns = lab.netns('A');
  const peer = lab.netns('B');
  const [ifA] = lab.link(ns, '192.0.2.1/24', peer, '192.0.2.2/24');
  dir = join(lab.dir, 'a');
  mkdirSync(dir, { mode: 0o755 });
  // The script is GOOD while the ok file exists. Script security wants it root-owned, in
  // directories only root can write (the lab directories are 0755, owned by root).
  writeFileSync(join(dir, 'ok'), '');
  writeFileSync(join(dir, 'chk.sh'), `#!/bin/sh\ntest -e ${join(dir, 'ok')}\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'keepalived.conf'), `global_defs {
  router_id hawatch_ks
  enable_script_security
  script_user root
}
vrrp_script chk_web {
  script "${join(dir, 'chk.sh')}"
  interval 1
  fall 1
  rise 1
  weight -20
}
vrrp_instance VI_1 {
  state MASTER
  interface ${ifA}
  virtual_router_id 61
  priority 150
  advert_int 1
  unicast_src_ip 192.0.2.1
  unicast_peer {
    192.0.2.2
  }
  virtual_ipaddress {
    192.0.2.200/24 dev ${ifA}
  }
  track_script {
    chk_web
  }
}
`);
  lab.spawn(ns, 'keepalived', ['-f', join(dir, 'keepalived.conf'), '-n', '-l', '-D', '-P', '-p', join(dir, 'keepalived.pid'), '-r', join(dir, 'vrrp.pid')], {
    env: { ...process.env, TMPDIR: dir },
  });
  await waitFor('VI_1 to be MASTER with chk_web GOOD', async () => {
    const r = await check(['--source', 'data']);
    return r.code === 0 && /VI_1 MASTER/.test(r.stdout);
  }, 20_000, { everyMs: 500 });
}, 60_000);

afterAll(async () => {
  await lab?.cleanup();
});

describe('a tracked vrrp_script turning BAD while MASTER', () => {
  it('GOOD: OK', async () => {
    const r = await check(['--source', 'data']);
    expect(r.stdout).toMatch(/^KEEPALIVED OK - VI_1 MASTER \(from DATA dump /);
    expect(r.stdout).not.toContain('chk_web');
  });

  it('BAD: still MASTER at a lower priority, the data dump names the script: WARNING; the JSON dump shows the lowered priority: WARNING', async () => {
    rmSync(join(dir, 'ok'));
    await waitFor('the priority to drop to 130', async () => (await effectivePriority()) === '130', 15_000, { everyMs: 500 });
    const r = await check(['--source', 'data']);
    expect(r.stdout).toMatch(/^KEEPALIVED WARNING - VI_1 script chk_web: tracked script chk_web is BAD \(weight -20\), but this node still holds MASTER at priority 130 of 150/);
    expect(r.code).toBe(1);
    const j = await check(['--source', 'json', '--state-dir', join(dir, 'mem-json')]);
    expect(j.stdout).toMatch(/^KEEPALIVED WARNING - VI_1 tracking: MASTER at priority 130, below the configured 150: a tracked script or interface has failed/);
    expect(j.code).toBe(1);
  });
});
