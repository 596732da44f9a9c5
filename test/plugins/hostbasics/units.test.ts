/** The host basics' parsers and judgements on captured and constructed inputs. */
import { describe, expect, it } from 'vitest';
import { runPlugin } from '../../../nagios/plugin.ts';
import { findPlugin } from '../../../plugins/registry.ts';
import { evaluateDisk } from '../../../plugins/disk/evaluate.ts';
import { parseMountinfo } from '../../../plugins/disk/parse.ts';
import { countCpuList, parseLoadavg, parseTriplet } from '../../../plugins/load/parse.ts';
import { parseStat, psStat } from '../../../plugins/procs/parse.ts';
import { loggedIn, parseUtmp, UTMP_RECORD } from '../../../plugins/users/parse.ts';
import { fixturePath } from '../../support/paths.ts';

const run = (name: string, args: string[]) => runPlugin(findPlugin(name)!, args, { env: {} });

describe('parsers', () => {
  it('utmp: fixed 384-byte records, USER_PROCESS with a name counted, a partial record ignored', () => {
    const rec = (type: number, user: string, line: string): Buffer => {
      const b = Buffer.alloc(UTMP_RECORD);
      b.writeInt16LE(type, 0);
      b.writeInt32LE(4242, 4);
      b.write(line, 8);
      b.write(user, 44);
      b.write('192.0.2.7', 76);
      b.writeInt32LE(1_800_000_000, 340);
      return b;
    };
    const all = parseUtmp(Buffer.concat([rec(7, 'alice', 'pts/0'), rec(8, '', 'pts/1'), rec(6, 'LOGIN', 'tty1'), rec(7, 'bob', 'pts/2'), Buffer.alloc(100)]));
    expect(all).toHaveLength(4);
    expect(loggedIn(all).map((u) => `${u.user}@${u.line}@${u.host}`)).toEqual(['alice@pts/0@192.0.2.7', 'bob@pts/2@192.0.2.7']);
  });

  it('/proc/<pid>/stat: a name with spaces and parentheses, and the ps STAT flags', () => {
    const s = parseStat('4711 (a (b) c) S 1 4711 4711 0 -1 4194560 100 0 0 0 5 3 0 0 20 -5 3 0 12345 1024000 50 18446744073709551615')!;
    expect(s).toMatchObject({ pid: 4711, comm: 'a (b) c', state: 'S', ppid: 1, nice: -5, threads: 3, vsize: 1024000, rssPages: 50 });
    expect(psStat(s, 0)).toBe('S<sl');
    expect(psStat(s, 8)).toBe('S<Lsl');
  });

  it('mountinfo: octal escapes and the last mount over a mount point', () => {
    const m = parseMountinfo(['26 1 254:0 / / rw - ext4 /dev/vda rw', '50 26 0:40 / /mnt/with\\040space rw - nfs4 192.0.2.5:/x rw', '51 26 0:41 / /srv rw - ext4 /dev/sdb1 rw', '52 51 0:42 / /srv rw shared:3 - xfs /dev/drbd0 rw'].join('\n'));
    expect(m.map((x) => `${x.mountPoint}=${x.fsType}`)).toEqual(['/=ext4', '/mnt/with space=nfs4', '/srv=xfs']);
  });

  it('load averages from /proc/loadavg or uptime, CPU lists, and check_load triplets', () => {
    expect(parseLoadavg('0.52 0.58 0.59 2/121 10021\n').load).toEqual([0.52, 0.58, 0.59]);
    expect(parseLoadavg(' 10:21:07 up 3 days,  2:04,  1 user,  load average: 1.52, 0.58, 0.59').load).toEqual([1.52, 0.58, 0.59]);
    expect(countCpuList('0-3,8-11\n')).toBe(8);
    expect(countCpuList('0\n')).toBe(1);
    expect(parseTriplet('.15,.10,.05', '-w')).toEqual([0.15, 0.1, 0.05]);
    expect(parseTriplet('5', '-w')).toEqual([5, 5, 5]);
    expect(() => parseTriplet('1,2,x', '-w')).toThrow(/LOAD1,LOAD5,LOAD15/);
  });
});

describe('judgements', () => {
  it('check_ha_load -r divides by the CPU count and keeps the raw values', async () => {
    const r = await run('check_ha_load', ['--input-file', fixturePath('load', 'uptime.txt'), '-r', '--cpus', '4', '-w', '.30,.20,.10', '-c', '.50,.40,.30']);
    expect(r.text.split('\n')[0]).toBe('LOAD WARNING - scaled load average: 0.13, 0.14, 0.15 - total load average: 0.52, 0.58, 0.59 | load1=0.52;;;0 scaled_load1=0.13;0.3;0.5;0 load5=0.58;;;0 scaled_load5=0.145;0.2;0.4;0 load15=0.59;;;0 scaled_load15=0.147;0.1;0.3;0');
    expect(r.exitCode).toBe(1);
  });

  it('check_ha_swap: free counts SwapCached, percent by the whole used percentage, sizes at or below', async () => {
    // 2097148 KiB total, 314572 free + 10240 cached: 84% used.
    const f = fixturePath('swap', 'proc-meminfo-swap-low.txt');
    const state = async (...a: string[]) => (await run('check_ha_swap', ['--input-file', f, ...a])).exitCode;
    expect(await state('-w', '16%', '-c', '10%')).toBe(1);
    expect(await state('-w', '15%', '-c', '10%')).toBe(0);
    expect(await state('-w', '30%', '-c', '16%')).toBe(2);
    expect(await state('-w', '400MB', '-c', '100MB')).toBe(1);
    expect(await state('-w', '300MB', '-c', String(314572 * 1024 + 10240 * 1024))).toBe(2);
    const r = await run('check_ha_swap', ['--input-file', f, '-w', '20%', '-c', '10%']);
    expect(r.text).toBe('SWAP WARNING - 16% free (317 MiB out of 2048 MiB) | swap=332607488B;429495910;214747955;0;2147479552\n');
    expect((await run('check_ha_swap', ['--input-file', fixturePath('swap', 'proc-meminfo-noswap.txt'), '-n', 'ok'])).exitCode).toBe(0);
  });

  it('check_ha_memory judges MemAvailable, and estimates it on kernels without it', async () => {
    const r = await run('check_ha_memory', ['--input-file', fixturePath('memory', 'proc-meminfo.txt'), '-w', '100%', '-c', '1%']);
    expect(r.exitCode).toBe(1);
    expect(r.text).toMatch(/^MEMORY WARNING - \d+% available \([\d.]+ GiB out of [\d.]+ GiB\) \| mem_available=\d+B;\d+:;\d+:;0;\d+ /);
    expect((await run('check_ha_memory', ['--input-file', fixturePath('memory', 'proc-meminfo-3.10-no-memavailable.txt'), '-c', '1%'])).exitCode).toBe(0);
  });

  it('check_ha_disk: used percent rounded up as check_disk, hung and failed mounts CRITICAL, -e names only problems', () => {
    const mount = (p: string) => ({ mountPoint: p, fsType: 'ext4', source: '/dev/x', options: '' });
    const stats = { bsize: 4096, blocks: 1000, bfree: 150, bavail: 100, files: 1000, ffree: 999 };
    const r = evaluateDisk({
      items: [
        { mount: mount('/a'), label: '/a', probe: { kind: 'ok', stats, ms: 1 } },
        { mount: mount('/b'), label: '/b', probe: { kind: 'hung', afterMs: 3000 } },
        { mount: mount('/c'), label: '/c', probe: { kind: 'error', reason: 'stale file handle' } },
      ],
      warning: [{ percent: 12, text: '12%' }],
      critical: [{ percent: 5, text: '5%' }],
      unit: { bytes: 1024 ** 2, name: 'MiB' },
      errorsOnly: true,
    });
    // used 850 of 850 + 100 blocks: 89.47% used, rounded up to 90: 10% free, below 12%.
    expect(r.summary).toBe('free space: /a 0MiB (10% inode=99%), /b hung (statfs gave no answer within 3 s), /c is not accessible: stale file handle');
    expect(r.state).toBe(2);
  });

  it('check_ha_users reads utmpdump text, check_ha_procs saved ps output', async () => {
    expect((await run('check_ha_users', ['--input-file', fixturePath('users', 'utmpdump-3-users.txt'), '-w', '2', '-c', '5'])).text.split('\n')[0]).toBe('USERS WARNING - 3 users currently logged in | users=3;2;5;0');
    const ps = fixturePath('procs', 'ps-axwwo-ha-node.txt');
    expect((await run('check_ha_procs', ['--input-file', ps, '-w', '5', '-c', '10', '-s', 'Z'])).text.split('\n')[0]).toBe('PROCS OK - 2 processes with STATE = Z | procs=2;5;10;0');
    expect((await run('check_ha_procs', ['--input-file', ps, '-C', 'haproxy', '-a', 'haproxy.cfg', '-c', '2:2'])).exitCode).toBe(0);
    expect((await run('check_ha_procs', ['--input-file', ps, '-s', 'Ss', '-k'])).text).toMatch(/^PROCS OK - 12 processes with STATE = Ss, no kernel threads /);
  });
});
