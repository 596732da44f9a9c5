/**
 * check_ha_nfs's client side (and check_ha_disk's network probe) against a real FUSE mount the
 * test makes hang or fail with ESTALE (hangfs.py, Debian python3-fuse): the kernel here has
 * FUSE, not the NFS client. A FUSE request already taken by the daemon leaves a SIGKILLed
 * waiter in uninterruptible sleep (fs/fuse/dev.c), which is what a probe on a dead hard NFS
 * mount does: the check must answer within -t anyway, leave its marker, and the next run must
 * report the old probe still stuck without starting another.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markerPath } from '../../../plugins/lib/mountprobe.ts';
import { runBin, runProgram } from '../../support/bin.ts';
import { ROOT } from '../../support/paths.ts';
import { requireFile, requireRoot } from '../../support/require.ts';
import { stopChild } from '../../support/process.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';
import { waitFor } from '../../support/wait.ts';

const PYTHON = '/usr/bin/python3';
const TYPE = 'fuse.hwnfstest';

let dir: string;
let mnt: string;
let ctl: string;
let state: string;
let fuseServer: ChildProcess | undefined;
let serverLog = '';

const setMode = (m: 'ok' | 'hang' | 'stale'): void => writeFileSync(ctl, `${m}\n`);

function mounted(): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mnt);
}

/** Live processes (not zombies) whose command line names the mount: our probes. Never touches the mount itself. */
function probesOnMount(): { pid: number; state: string }[] {
  const out: { pid: number; state: string }[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const st = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '';
      if (st === 'Z') continue;
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if ((cmd[0] === 'stat' || cmd[0] === 'find') && cmd.includes(mnt)) out.push({ pid: Number(e), state: st });
    } catch {
      /* gone */
    }
  }
  return out;
}

beforeAll(async () => {
  requireRoot('the FUSE tests mount a filesystem');
  requireFile('/dev/fuse', 'fuse3 (and a kernel with FUSE)');
  requireFile('/usr/lib/python3/dist-packages/fuse.py', 'python3-fuse');
  dir = tempDir('hawatch-nfs-fuse-');
  mnt = join(dir, 'mnt');
  ctl = join(dir, 'control');
  state = join(dir, 'state');
  await runProgram('/bin/mkdir', [mnt]);
  setMode('ok');
  fuseServer = spawn(PYTHON, [join(ROOT, 'test/plugins/nfs/hangfs.py'), mnt, ctl, '-f', '-s', '-o', `fsname=hwnfs,subtype=${TYPE.slice(5)}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  fuseServer.stdout?.on('data', (d: Buffer) => (serverLog += d.toString()));
  fuseServer.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
  await waitFor('the FUSE mount', () => mounted(), 10_000, { stopWhen: () => (fuseServer?.exitCode !== null ? `hangfs.py exited: ${serverLog.trim()}` : undefined) });
}, 20_000);

afterAll(async () => {
  // Answer whatever is pending first, so stuck probes end, then stop the server and detach the mount.
  if (ctl) setMode('ok');
  if (fuseServer && fuseServer.exitCode === null) await stopChild(fuseServer, 2000);
  if (mnt && mounted()) await runProgram('/bin/umount', ['-l', mnt]);
  await waitFor('the probes to end', () => probesOnMount().length === 0, 5000).catch(() => undefined);
  const left = mnt ? probesOnMount() : [];
  if (dir && !(mnt && mounted())) removeDir(dir);
  expect(left, 'probe processes left running after the test').toEqual([]);
}, 20_000);

const args = (...extra: string[]): string[] => ['--mount', mnt, '--mount-type', TYPE, '--state-dir', state, '--probe-timeout', '1', '-t', '5', ...extra];

describe('check_ha_nfs client probe on a real FUSE mount', () => {
  it('answering: OK with the probe time as perfdata, rw checked, the directory read', async () => {
    setMode('ok');
    const r = await runBin('check_ha_nfs', args('--read'));
    expect(r.stdout).toMatch(/^NFS OK - 1 mount answering/);
    expect(r.perf).toMatch(/_mnt_probe=\d+(\.\d+)?s;;;0/);
    const ro = await runBin('check_ha_nfs', ['--mount', `${mnt}:ro`, '--mount-type', TYPE, '--state-dir', state]);
    expect(ro.code).toBe(1);
    expect(ro.status).toContain('read-write, expected read-only');
    // The type is checked: a FUSE mount is not NFS.
    const nfs = await runBin('check_ha_nfs', ['--mount', mnt, '--state-dir', state]);
    expect(nfs.code).toBe(2);
    expect(nfs.status).toContain(`is ${TYPE}, not nfs or nfs4`);
  });

  it('ESTALE: STALE, CRITICAL', async () => {
    setMode('stale');
    const r = await runBin('check_ha_nfs', args());
    expect(r.code).toBe(2);
    expect(r.status).toMatch(/STALE file handle/);
    setMode('ok');
  });

  it('hung: HUNG within -t although the probe survives SIGKILL; the next run starts no second probe', async () => {
    setMode('hang');
    const r = await runBin('check_ha_nfs', args(), { killAfterMs: 8000 });
    expect(r.code).toBe(2);
    expect(r.status).toMatch(/HUNG: no answer within 1 s/);
    expect(r.ms).toBeLessThan(5000);
    // The probe is still there, in uninterruptible sleep, and its marker names it.
    const stuck = probesOnMount();
    expect(stuck).toHaveLength(1);
    expect(stuck[0]!.state).toBe('D');
    const marker = JSON.parse(readFileSync(markerPath(state, mnt), 'utf8')) as { pid: number };
    expect(marker.pid).toBe(stuck[0]!.pid);

    const again = await runBin('check_ha_nfs', args(), { killAfterMs: 8000 });
    expect(again.code).toBe(2);
    expect(again.status).toMatch(new RegExp(`HUNG: the probe of an earlier run \\(pid ${marker.pid}, state D\\) is still stuck after [\\d.]+ s, no new probe started`));
    expect(again.ms).toBeLessThan(5000);
    // A second probe would be stuck in D state beside the first (the daemon is busy): none is.
    expect(probesOnMount().map((p) => p.pid)).toEqual([marker.pid]);

    // The server answers again: the old probe ends, and the next run probes afresh.
    setMode('ok');
    await waitFor('the stuck probe to end', () => probesOnMount().length === 0, 5000);
    const ok = await runBin('check_ha_nfs', args());
    expect(ok.code).toBe(0);
    expect(existsSync(markerPath(state, mnt))).toBe(false);
  }, 30_000);

  it('check_ha_disk uses the same probe: a hung FUSE filesystem is CRITICAL within its stat timeout, once', async () => {
    setMode('ok');
    await waitFor('no probe left from an earlier test', () => probesOnMount().length === 0, 5000);
    setMode('hang');
    const r = await runBin('check_ha_disk', ['-w', '10%', '-c', '5%', '-p', mnt, '--stat-timeout', '1', '--state-dir', state, '-t', '5'], { killAfterMs: 8000 });
    expect(r.code).toBe(2);
    expect(r.status).toContain(`${mnt} hung (statfs gave no answer within 1 s)`);
    expect(r.ms).toBeLessThan(5000);
    const again = await runBin('check_ha_disk', ['-w', '10%', '-c', '5%', '-p', mnt, '--stat-timeout', '1', '--state-dir', state], { killAfterMs: 8000 });
    expect(again.status).toMatch(/hung \(the statfs probe of an earlier run, pid \d+, is still stuck after \d+ s\)/);
    expect(probesOnMount()).toHaveLength(1);
    setMode('ok');
    await waitFor('the stuck probe to end', () => probesOnMount().length === 0, 5000);
    const ok = await runBin('check_ha_disk', ['-w', '10%', '-c', '5%', '-p', mnt, '--stat-timeout', '1', '--state-dir', state]);
    expect(ok.code).toBe(0);
  }, 30_000);
});
