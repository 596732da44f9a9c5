/**
 * The host basics against monitoring-plugins' own check_load, check_users, check_swap,
 * check_procs and check_disk on this machine, with the same thresholds: the same state, and
 * the same figures within what changes between the two runs. Situations are made for real:
 * zombies, processes of another user, utmp records (in a private mount namespace), a FUSE
 * mount whose daemon never answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePluginOutput } from '../../../nagios/output.ts';
import { binPath, runBin, runProgram, type BinResult } from '../../support/bin.ts';
import { stopChild } from '../../support/process.ts';
import { requireFile, requireProgram, requireRoot } from '../../support/require.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';
import { waitFor } from '../../support/wait.ts';

const MP = '/usr/lib/nagios/plugins';

async function mp(name: string, args: readonly string[]): Promise<{ code: number | null; stdout: string }> {
  return runProgram(join(MP, name), args, { env: { PATH: '/usr/bin:/bin', LANG: 'C' }, timeoutMs: 30_000 });
}

function perf(stdout: string): Map<string, number> {
  return new Map(parsePluginOutput(stdout).perfdata.map((p) => [p.label, typeof p.value === 'number' ? p.value : NaN]));
}

/** Both runs in the same state; returns both outputs for figure comparisons. */
async function same(name: string, args: readonly string[]): Promise<{ theirs: string; ours: BinResult }> {
  const theirs = await mp(`check_${name}`, args);
  const ours = await runBin(`check_ha_${name}`, args);
  expect({ args, state: ours.code, ours: ours.stdout }).toMatchObject({ state: theirs.code });
  return { theirs: theirs.stdout, ours };
}

const children: ChildProcess[] = [];
let dir: string;

beforeAll(() => {
  for (const p of ['check_load', 'check_users', 'check_swap', 'check_procs', 'check_disk']) requireFile(join(MP, p), 'monitoring-plugins-basic');
  requireProgram('utmpdump', 'util-linux');
  requireProgram('unshare', 'util-linux');
  requireRoot('mount namespaces for utmp, a FUSE mount, processes of another user');
  dir = tempDir('hawatch-basics-', { mode: 0o755 });
});
afterAll(async () => {
  await Promise.all(children.map((c) => stopChild(c, 2000)));
  removeDir(dir);
});

describe('check_ha_load against check_load', () => {
  it('the stock nrpe.cfg line (-r, per-CPU) and plain triplets: same state, same averages', async () => {
    for (const args of [
      ['-r', '-w', '.15,.10,.05', '-c', '.30,.25,.20'],
      ['-w', '1000,1000,1000', '-c', '2000,2000,2000'],
      ['-w', '0,0,0', '-c', '1000,1000,1000'],
      ['-r', '-w', '0,0,0', '-c', '0,0,0'],
      ['-w', '5', '-c', '30'],
    ]) {
      const { theirs, ours } = await same('load', args);
      const a = perf(theirs);
      const b = perf(ours.stdout);
      // The 1 minute average moves between the two runs on a busy machine; the 15 minute one barely.
      expect(Math.abs(a.get('load15')! - b.get('load15')!)).toBeLessThan(0.3);
      expect(Math.abs(a.get('load1')! - b.get('load1')!)).toBeLessThan(Math.max(1, a.get('load1')! * 0.5));
      if (args[0] === '-r') {
        // The raw values are shown next to the scaled ones, and the thresholds sit on the scaled ones.
        expect(ours.status).toMatch(/^LOAD \w+ - scaled load average: [\d.]+, [\d.]+, [\d.]+ - total load average: [\d.]+, [\d.]+, [\d.]+$/);
        const ratio = b.get('load15')! / b.get('scaled_load15')!;
        expect(ratio).toBeCloseTo(a.get('load15')! / a.get('scaled_load15')!, 0);
        expect(ours.perf).toMatch(args[2] === '.15,.10,.05' ? /scaled_load1=[\d.]+;0\.15;0\.3;0 / : /scaled_load1=[\d.]+;0;0;0 /);
      } else {
        expect(ours.status).toMatch(/^LOAD \w+ - total load average: [\d.]+, [\d.]+, [\d.]+$/);
      }
    }
  });

  it('warning above critical is refused, as check_load refuses it', async () => {
    const theirs = await mp('check_load', ['-w', '5,5,5', '-c', '1,1,1']);
    const ours = await runBin('check_ha_load', ['-w', '5,5,5', '-c', '1,1,1']);
    expect(theirs.code).toBe(3);
    expect(ours.code).toBe(3);
  });
});

describe('check_ha_users against check_users', () => {
  /** Runs both in a private mount namespace whose /run holds a utmp made of `records`. */
  async function inNamespace(records: string[], args: string[]): Promise<{ theirs: string; ours: string }> {
    const text = join(dir, `utmp-${records.length}.txt`);
    writeFileSync(text, records.map((r) => `${r}\n`).join(''));
    const script = [
      'set -e',
      'mount -t tmpfs hawatch-utmp /run',
      records.length ? `utmpdump -r < ${text} > /run/utmp 2>/dev/null` : 'true',
      `${MP}/check_users "$@" || true`,
      'echo =====',
      `${process.execPath} ${binPath('check_ha_users')} "$@" || true`,
    ].join('\n');
    const r = await runProgram('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', ...args], { timeoutMs: 30_000 });
    const [theirs = '', ours = ''] = r.stdout.split('=====\n');
    return { theirs, ours };
  }
  // utmpdump's own text format, its column widths kept (it crashes on unpadded fields).
  const rec = (user: string, n: number, type = 7): string =>
    `[${type}] [${String(1000 + n).padStart(5, '0')}] [ts/${n}] [${user.padEnd(8)}] [${`pts/${n}`.padEnd(12)}] [${`192.0.2.${n}`.padEnd(20)}] [${`192.0.2.${n}`.padEnd(15)}] [2026-11-29T09:00:00,000000+00:00]`;

  it('counts USER_PROCESS records only, with the same state at 0, 3 and 6 users', async () => {
    const dead = rec('', 9, 8); // DEAD_PROCESS: a logout, not counted
    for (const [users, state] of [[0, 0], [3, 1], [6, 2]] as const) {
      const records = [...Array.from({ length: users }, (_, i) => rec(`user${i}`, i + 1)), dead];
      const { theirs, ours } = await inNamespace(users === 0 ? [] : records, ['-w', '2', '-c', '5']);
      expect(theirs).toMatch(new RegExp(`^USERS \\w+ - ${users} users currently logged in`));
      expect(ours).toMatch(new RegExp(`^USERS ${['OK', 'WARNING', 'CRITICAL'][state]} - ${users} users currently logged in \\| users=${users};2;5;0\\n`));
      expect(parsePluginOutput(theirs).output.split(' ')[1]).toBe(['OK', 'WARNING', 'CRITICAL'][state]);
    }
  });
});

describe('check_ha_swap against check_swap', () => {
  it('same state and figures on this machine, with and without -n', async () => {
    for (const args of [['-w', '20%', '-c', '10%'], ['-w', '20%', '-c', '10%', '-n', 'ok'], ['-w', '1', '-c', '0', '-n', 'warning']]) {
      const { theirs, ours } = await same('swap', args);
      expect(perf(ours.stdout).get('swap')).toBeCloseTo(perf(theirs).get('swap')!, -7);
    }
  });
});

describe('check_ha_swap against check_swap with real swap', () => {
  it('a 64 MiB swap file switched on: percent and size thresholds, -a', async () => {
    const file = join(dir, 'swapfile');
    await runProgram('fallocate', ['-l', '64M', file]);
    chmodSync(file, 0o600);
    expect((await runProgram('mkswap', [file])).code).toBe(0);
    const on = await runProgram('swapon', [file]);
    expect(on.stderr).toBe('');
    try {
      // Nothing is swapped out: 100% free. check_swap counts whole MiB (63 of 65532 KiB), hawatch
      // bytes, so no size threshold here falls between the two.
      for (const [args, state] of [
        [['-w', '20%', '-c', '10%'], 0],
        [['-w', '100%', '-c', '10%'], 1],
        [['-w', '100%', '-c', '100%'], 2],
        [['-w', '80000000', '-c', '1000'], 1],
        [['-w', '80000000', '-c', '70000000'], 2],
        [['-w', '20%', '-c', '10%', '-a'], 0],
        [['-w', '100%', '-c', '10%', '-a'], 1],
      ] as const) {
        const { theirs, ours } = await same('swap', args);
        expect(ours.code).toBe(state);
        expect(Math.abs(perf(ours.stdout).get('swap')! - perf(theirs).get('swap')!)).toBeLessThanOrEqual(1024 ** 2);
      }
    } finally {
      await runProgram('swapoff', [file]);
    }
  });
});

describe('check_ha_procs against check_procs', () => {
  const NAME = `hwprocs${process.pid % 100000}`;
  let uniqueSleep: string;

  beforeAll(async () => {
    uniqueSleep = join(dir, NAME);
    copyFileSync('/bin/sleep', uniqueSleep);
    // Two zombies: children that exit under a parent (exec'd into sleep) that never reaps them.
    const z = spawn('sh', ['-c', `/bin/true & /bin/true & exec ${uniqueSleep} 120`], { stdio: 'ignore' });
    children.push(z);
    // Three more as nobody, with a marker argument.
    for (let i = 0; i < 3; i++) children.push(spawn(uniqueSleep, ['119.5'], { stdio: 'ignore', uid: 65534, gid: 65534 }));
    await waitFor('two zombies', async () => ((await runBin('check_ha_procs', ['-s', 'Z', '--ppid', String(z.pid)])).status.includes(' 2 processes') ? true : undefined), 10_000);
  });

  it('zombies (-s Z) under their parent, the stock -w 5 -c 10 and a tighter -w 1', async () => {
    const parent = String(children[0]!.pid);
    for (const args of [['-w', '5', '-c', '10', '-s', 'Z', '-p', parent], ['-w', '1', '-c', '10', '-s', 'Z', '-p', parent], ['-w', '0', '-c', '1', '-s', 'Z', '-p', parent]]) {
      const { theirs, ours } = await same('procs', args);
      expect(perf(ours.stdout).get('procs')).toBe(2);
      expect(perf(theirs).get('procs')).toBe(2);
      expect(ours.status).toContain('2 processes with STATE = Z, PPID = ');
    }
  });

  it('command name, arguments and user filters count the same processes', async () => {
    for (const args of [
      ['-w', '3', '-c', '5', '-C', NAME],
      ['-w', '2', '-c', '5', '-C', NAME, '-u', 'nobody'],
      ['-w', '2', '-c', '3', '-a', '119.5'],
      ['-c', '3:3', '-u', '65534', '-a', '119.5'],
      ['-w', '1:', '-C', `${NAME}x`],
    ]) {
      const { theirs, ours } = await same('procs', args);
      expect({ args, n: perf(ours.stdout).get('procs') }).toEqual({ args, n: perf(theirs).get('procs') });
    }
  });

  it('the total count (stock -w 150 -c 200) and states agree within what starts and ends between the runs', async () => {
    for (const args of [['-w', '150', '-c', '200'], ['-s', 'S'], ['-s', 'R'], ['-k'], ['-s', 'Ss'], ['-s', 'sS'], ['-s', 's'], ['-s', 'Sl']]) {
      // The whole machine's processes change between the two runs (in CI, other test files
      // start and end dozens at once): up to three tries, each pair run back to back; a count
      // that really differs differs every time.
      const tries: string[] = [];
      for (let i = 0; i < 3; i++) {
        const theirs = perf((await mp('check_procs', args)).stdout).get('procs')!;
        const ours = perf((await runBin('check_ha_procs', args)).stdout).get('procs')!;
        tries.push(`${theirs} vs ${ours}`);
        if (Math.abs(theirs - ours) <= Math.max(6, theirs * 0.1)) break;
      }
      const last = tries.at(-1)!.split(' vs ').map(Number);
      expect({ args, diff: Math.abs(last[0]! - last[1]!) <= Math.max(6, last[0]! * 0.1) }, tries.join('; ')).toEqual({ args, diff: true });
    }
  });
});

describe('check_ha_disk against check_disk', () => {
  it('percent, size and inode thresholds on / give the same state and figures', async () => {
    const base = await runBin('check_ha_disk', ['-p', '/']);
    const free = Number(/ (\d+)MiB \((\d+)%/.exec(base.status)![1]);
    const pct = Number(/ (\d+)MiB \((\d+)%/.exec(base.status)![2]);
    for (const args of [
      ['-w', '20%', '-c', '10%', '-p', '/'],
      ['-w', `${Math.min(100, pct + 2)}%`, '-c', '1%', '-p', '/'],
      ['-w', '100%', '-c', `${Math.min(100, pct + 2)}%`, '-p', '/'],
      ['-w', String(free + 5000), '-c', '10', '-p', '/'],
      ['-w', String(free + 5000), '-c', String(free + 2000), '-p', '/'],
      ['-w', '10%', '-c', '5%', '-W', '100%', '-p', '/'],
      ['-w', '100', '-c', '50', '-u', 'GB', '-p', '/'],
      ['-w', '20%', '-c', '10%', '-p', '/dev/shm', '-p', '/tmp', '-p', '/usr'],
    ]) {
      const { theirs, ours } = await same('disk', args);
      // Other jobs on this machine write and delete files between the runs: check_disk runs
      // again after ours, and ours must lie between its two readings, give or take one unit
      // of -u (check_disk's perfdata counts whole units: 23 GiB exactly with -u GB).
      const after = perf((await mp('check_disk', args)).stdout);
      const a = perf(theirs);
      const b = perf(ours.stdout);
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [label, used] of a) {
        const slack = (args.includes('GB') ? 1024 ** 3 : 1024 ** 2) + 32 * 1024 ** 2;
        const lo = Math.min(used, after.get(label)!) - slack;
        const hi = Math.max(used, after.get(label)!) + slack;
        expect({ label, used: b.get(label)!, within: b.get(label)! >= lo && b.get(label)! <= hi }).toMatchObject({ within: true });
      }
      // check_disk's "free space: / 80305MiB (77% inode=97%)" list, with commas for its semicolons.
      const shape = (s: string): string => parsePluginOutput(s).output.replace(/;$/, '').replace(/; /g, ', ').replace(/\d+/g, 'N');
      expect(shape(ours.stdout)).toBe(shape(theirs));
    }
  });

  it('nothing left to check is UNKNOWN in both', async () => {
    await same('disk', ['-w', '20%', '-c', '10%', '-N', 'nosuchfs']);
    expect((await runBin('check_ha_disk', ['-w', '20%', '-c', '10%', '-N', 'nosuchfs'])).code).toBe(3);
  });

  it('a path that does not exist is CRITICAL in both', async () => {
    const { ours } = await same('disk', ['-w', '20%', '-c', '10%', '-p', '/dev/hda1']);
    expect(ours.status).toBe('DISK CRITICAL - free space: /dev/hda1 is not accessible: no such file or directory');
  });

  it('a FUSE mount whose daemon never answers is CRITICAL hung within -t, and nothing is left running', async () => {
    const mnt = join(dir, 'fuse');
    const holder = spawn('bash', ['-c', `mkdir -p ${mnt}; exec 3<>/dev/fuse; mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 hawatch-hang ${mnt} && exec sleep 300`], { stdio: 'ignore' });
    children.push(holder);
    try {
      await waitFor('the FUSE mount', async () => ((await runProgram('grep', ['-c', ` ${mnt} `, '/proc/self/mountinfo'])).stdout.trim() === '1' ? true : undefined), 10_000);
      const r = await runBin('check_ha_disk', ['-w', '20%', '-c', '10%', '-N', 'fuse', '-N', 'ext4', '--stat-timeout', '2', '-t', '6']);
      expect(r.code).toBe(2);
      expect(r.status).toMatch(new RegExp(`^DISK CRITICAL - free space: .*${mnt} hung \\(statfs gave no answer within 2 s\\)`));
      expect(r.ms).toBeLessThan(5000);
      // The stat child was killed with its process group: none is left waiting on the mount.
      const left = await runProgram('pgrep', ['-f', `stat --file-system .* -- ${mnt}`]);
      expect(left.stdout).toBe('');
      // The daemon gone: the kernel answers ENOTCONN, reported as not accessible.
      await stopChild(holder, 1000);
      const gone = await runBin('check_ha_disk', ['-w', '20%', '-c', '10%', '-p', mnt, '-t', '6']);
      expect(gone.status).toBe(`DISK CRITICAL - free space: ${mnt} is not accessible: transport endpoint is not connected`);
    } finally {
      await stopChild(holder, 1000);
      await runProgram('umount', ['-l', mnt]);
    }
  });
});
