/**
 * check_ha_nfs's server side against a real user-space NFS server: nfs-ganesha 4.3 with the VFS
 * backend (the kernel here has no nfsd) and rpcbind, both in a network namespace of the test.
 * The namespace has its own loopback, but rpcbind's local socket /run/rpcbind.sock lives on the
 * shared filesystem (ganesha registers through it): the test refuses to run when another
 * rpcbind answers there.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../netns/harness.ts';
import { requireFile, requireProgram, requireRoot } from '../../support/require.ts';
import { waitFor } from '../../support/wait.ts';

const RPCBIND_SOCK = '/run/rpcbind.sock';

let lab: Lab;
let ns: string;
let exportDir: string;
let conf: string;
let state: string;
let rpcbind: ChildProcess | undefined;
let ganesha: ChildProcess | undefined;

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(path)) return resolve(false);
    const s = connect(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function rpcinfo(): string {
  try {
    return lab.exec(ns, 'rpcinfo', ['-p', '127.0.0.1']);
  } catch (e) {
    return String(e);
  }
}

function startGanesha(): ChildProcess {
  const child = lab.spawn(ns, 'ganesha.nfsd', ['-F', '-L', join(lab.dir, 'ganesha.log'), '-f', conf, '-p', join(lab.dir, 'ganesha.pid')]);
  return child;
}

const logOf = (c: ChildProcess | undefined): string => (c as (ChildProcess & { log?: () => string }) | undefined)?.log?.() ?? '';

/** The last lines of ganesha's own log that say something (-L sends its fatal messages there, not to stderr). */
function ganeshaLog(): string {
  try {
    const lines = readFileSync(join(lab.dir, 'ganesha.log'), 'utf8').split('\n').filter((l) => l && !/:EVENT :/.test(l));
    return lines.slice(-8).join('\n');
  } catch (e) {
    return `(no ganesha.log: ${(e as Error).message})`;
  }
}

/** Starts ganesha and waits for its registrations; says why when it exits instead. */
async function ganeshaUp(): Promise<ChildProcess> {
  const child = startGanesha();
  await waitFor('ganesha registered with rpcbind', () => /nlockmgr/.test(rpcinfo()) && /\bnfs\b/.test(rpcinfo()), 20_000, {
    stopWhen: () => (child.exitCode !== null || child.signalCode !== null ? `ganesha.nfsd exited (${child.exitCode ?? child.signalCode}): ${logOf(child)}\n${ganeshaLog()}` : undefined),
    everyMs: 250,
  });
  return child;
}

async function check(...args: string[]): Promise<{ code: number | null; out: string; status: string }> {
  const r = await lab.plugin(ns, 'check_ha_nfs', ['--exports-file', conf, '--state-dir', state, '-t', '8', ...args]);
  return { code: r.code, out: r.stdout, status: r.stdout.split('\n')[0] ?? '' };
}

beforeAll(async () => {
  requireRoot('the ganesha tests create a network namespace');
  requireProgram('ganesha.nfsd', ['nfs-ganesha', 'nfs-ganesha-vfs']);
  requireProgram('rpcbind', 'rpcbind');
  requireProgram('rpcinfo', 'rpcbind');
  requireFile('/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so', 'nfs-ganesha-vfs');
  if (await socketAnswers(RPCBIND_SOCK)) throw new Error(`another rpcbind answers on ${RPCBIND_SOCK}: stop it for this test (ganesha would register with it)`);
  lab = new Lab('nfs');
  ns = lab.netns('g');
  exportDir = join(lab.dir, 'export');
  state = join(lab.dir, 'state');
  mkdirSync(exportDir);
  conf = join(lab.dir, 'ganesha.conf');
  writeFileSync(
    conf,
    [
      '# nfs-ganesha 4.3, VFS backend, for the check_ha_nfs test',
      'NFS_CORE_PARAM { Protocols = 3, 4; }',
      'NFSV4 { Graceless = true; }',
      'EXPORT {',
      '  Export_Id = 1;',
      `  Path = "${exportDir}";`,
      '  Pseudo = /export;',
      '  Access_Type = RW;',
      '  Squash = No_Root_Squash;',
      '  CLIENT { Clients = 127.0.0.1, 192.0.2.0/24; Access_Type = RW; }',
      '  FSAL { Name = VFS; }',
      '}',
      '',
    ].join('\n'),
  );
  rpcbind = lab.spawn(ns, 'rpcbind', ['-f']);
  await waitFor('rpcbind', () => /portmapper/.test(rpcinfo()), 10_000, { stopWhen: () => (rpcbind?.exitCode !== null ? `rpcbind exited: ${logOf(rpcbind)}` : undefined) });
  try {
    ganesha = await ganeshaUp();
  } catch (e) {
    // Seen once in CI under load: ganesha.nfsd exited during start-up with nothing on stderr.
    // Say why (its log) and start it once more; a second failure fails the suite.
    console.warn(`nfs-ganesha did not start, starting it once more: ${(e as Error).message}`);
    ganesha = await ganeshaUp();
  }
}, 60_000);

afterAll(async () => {
  // ganesha first (it unregisters from rpcbind), then rpcbind, then the namespace.
  if (ganesha) await lab.stop(ganesha, 'SIGTERM', 8000);
  if (rpcbind) await lab.stop(rpcbind, 'SIGTERM', 3000);
  await lab?.cleanup();
  // rpcbind leaves its socket behind on SIGTERM; nobody answers on it any more.
  if (rpcbind && !(await socketAnswers(RPCBIND_SOCK))) rmSync(RPCBIND_SOCK, { force: true });
}, 30_000);

describe('check_ha_nfs against nfs-ganesha and rpcbind', () => {
  it('healthy: the expected exports (path and pseudo path, clients) and nfs, mountd, nlockmgr registered and answering', async () => {
    const r = await check('--export', `${exportDir}:192.0.2.0/24`, '--export', '/export');
    expect(r.code, r.out).toBe(0);
    expect(r.status).toMatch(/^NFS OK - 1 exports, nfs, mountd, nlockmgr registered/);
    expect(r.out).toMatch(/\[OK\] nfs: version 3, 4 registered over .*answering/);
    expect(r.out).toContain('no kernel nfsd here');
  });

  it('an expected export missing, or not exported to a client: CRITICAL', async () => {
    const r = await check('--export', '/srv/missing', '--export', '/export:198.51.100.9');
    expect(r.code).toBe(2);
    expect(r.status).toContain(`exports /srv/missing: missing from ${conf}`);
    expect(r.status).toContain('exports /export: not exported to 198.51.100.9');
  });

  it('a version not registered: CRITICAL; --rpc-version narrows the list', async () => {
    const r = await check('--rpc-version', 'nfs=2,3');
    expect(r.code).toBe(2);
    expect(r.status).toContain('rpc nfs: version 2 not registered (registered: 3, 4');
    const ok = await check('--rpc-version', 'nfs=4', '--rpc-version', 'mountd=');
    expect(ok.code, ok.out).toBe(0);
  });

  it('ganesha killed without unregistering: its registrations stay, the NULL calls find it dead', async () => {
    await lab.stop(ganesha!, 'SIGKILL');
    expect(rpcinfo()).toMatch(/\bnfs\b/);
    const r = await check();
    expect(r.code).toBe(2);
    expect(r.status).toMatch(/rpc nfs: version 3, 4 registered but not answering/);
    // Without the calls, the stale listing reads OK: what --no-rpc-ping gives up.
    const blind = await check('--no-rpc-ping');
    expect(blind.code).toBe(0);
  }, 20_000);

  it('ganesha stopped cleanly: nfs, mountd, nlockmgr no longer registered, CRITICAL; rpcbind stopped: CRITICAL', async () => {
    // Start it again and stop it properly (SIGTERM: it unregisters).
    lab.exec(ns, 'rpcinfo', ['-d', '100003', '3']);
    lab.exec(ns, 'rpcinfo', ['-d', '100003', '4']);
    ganesha = startGanesha();
    await waitFor('ganesha registered again', () => /\bnfs\b/.test(rpcinfo()) && /nlockmgr/.test(rpcinfo()), 20_000, { everyMs: 250, stopWhen: () => (ganesha?.exitCode !== null ? `ganesha.nfsd exited: ${logOf(ganesha)}\n${ganeshaLog()}` : undefined) });
    await waitFor('ganesha answering', async () => (await check()).code === 0, 10_000, { everyMs: 500 });
    await lab.stop(ganesha, 'SIGTERM', 10_000);
    const r = await check();
    expect(r.code).toBe(2);
    expect(r.status).toMatch(/rpc nfs: not registered with rpcbind \(expected version 3, 4\)/);
    expect(r.out).toMatch(/\[CRITICAL\] nlockmgr: not registered/);
    await lab.stop(rpcbind!, 'SIGTERM', 3000);
    const down = await check();
    expect(down.code).toBe(2);
    expect(down.status).toMatch(/rpcbind does not answer/);
  }, 40_000);
});
