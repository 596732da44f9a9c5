/**
 * check_ha_nfs's parsers and judgement on the real formats (exportfs -v, exports(5), the
 * ganesha configuration, rpcinfo -p and -s, /proc/net/rpc/nfsd of several kernels,
 * pool_stats), and the one-probe-in-flight guard of plugins/lib/mountprobe.ts against a real
 * live process.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandRunner } from '../../../nagios/exec.ts';
import { runPlugin } from '../../../nagios/plugin.ts';
import { parseThresholds } from '../../../nagios/range.ts';
import { markerPath, probeMountPath, processStat } from '../../../plugins/lib/mountprobe.ts';
import nfs from '../../../plugins/nfs/index.ts';
import { busyDelta } from '../../../plugins/nfs/collect.ts';
import { evaluate, type NfsFacts } from '../../../plugins/nfs/evaluate.ts';
import { parseExportfs, parseExportsFile, parseGaneshaConfig, parseNfsdTh, parsePoolStats, parseRpcinfo, parseSaved } from '../../../plugins/nfs/parse.ts';
import { fixturePath, readFixture } from '../../support/paths.ts';
import { stopChild } from '../../support/process.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

describe('parsers', () => {
  it('exportfs -v: wrapped long paths, several clients, <world>', () => {
    const e = parseExportfs(parseSaved(readFixture('nfs', 'kernel-3.10-busy.txt')).get('exportfs')!);
    expect(e).toEqual([
      { path: '/srv/web', clients: ['192.0.2.0/24'] },
      { path: '/srv/home/a-very-long-export-path-that-wraps', clients: ['192.0.2.0/24', '198.51.100.7'] },
      { path: '/srv/pub', clients: ['*'] },
    ]);
  });

  it('/etc/exports: comments, backslash continuation, quoted paths, octal escapes, default client', () => {
    const e = parseExportsFile('# c\n/a 192.0.2.1(rw) \\\n  192.0.2.2(ro) # tail\n"/b c" *(rw)\n/d\\040e (rw)\n/f\n');
    expect(e).toEqual([
      { path: '/a', clients: ['192.0.2.1', '192.0.2.2'] },
      { path: '/b c', clients: ['*'] },
      { path: '/d e', clients: ['*'] },
      { path: '/f', clients: ['*'] },
    ]);
  });

  it('ganesha configuration: EXPORT blocks with quoted paths, pseudo, CLIENT blocks, comments', () => {
    const e = parseGaneshaConfig('EXPORT_DEFAULTS { Access_Type = RO; }\n# EXPORT { Path = /no; }\nexport {\n Export_Id=2; Path = "/srv/a";  Pseudo=/a;\n CLIENT { Clients = 192.0.2.0/24, "198.51.100.1"; }\n FSAL { Name = VFS; }\n}\nEXPORT { Export_Id = 3; Path = /srv/b; FSAL { Name = VFS; } }\n');
    expect(e).toEqual([
      { path: '/srv/a', pseudo: '/a', clients: ['192.0.2.0/24', '198.51.100.1'] },
      { path: '/srv/b', pseudo: undefined, clients: ['*'] },
    ]);
  });

  it('rpcinfo -p and rpcinfo -s, unnamed programs by number', () => {
    const p = parseRpcinfo(parseSaved(readFixture('nfs', 'kernel-6.1-zeros.txt')).get('rpcinfo')!);
    expect(p.filter((r) => r.name === 'nfs').map((r) => r.version)).toEqual([3, 4]);
    expect(p.find((r) => r.program === 100227)?.name).toBe('100227');
    const s = parseRpcinfo('   program version(s) netid(s)                         service     owner\n    100000  2,3,4     local,udp,tcp,udp6,tcp6          portmapper  superuser\n    100003  3,4       tcp6,tcp                         nfs         superuser\n    100021  4         tcp                              -           superuser\n');
    expect(s.filter((r) => r.name === 'nfs')).toEqual([
      { program: 100003, name: 'nfs', version: 3, protos: ['tcp6', 'tcp'] },
      { program: 100003, name: 'nfs', version: 4, protos: ['tcp6', 'tcp'] },
    ]);
    expect(s.find((r) => r.program === 100021)?.name).toBe('nlockmgr');
  });

  it('the th line of kernel 3.10 (fullcnt and histogram), of later kernels (zeros), and pool_stats', () => {
    expect(parseNfsdTh(readFixture('nfs', 'kernel-3.10-busy.txt'))).toEqual({ threads: 8, fullcnt: 3194, zeros: false });
    expect(parseNfsdTh(readFixture('nfs', 'kernel-6.1-zeros.txt'))).toEqual({ threads: 8, fullcnt: undefined, zeros: true });
    expect(parseNfsdTh('rc 0 0 0\n')).toBeUndefined();
    expect(parsePoolStats('# pool packets-arrived sockets-enqueued threads-woken threads-timedout\n0 10 3 7 0\n1 20 4 16 0\n')).toEqual({ pools: 2, enqueued: 7 });
  });

  it('busy counts compared between runs; a restart (smaller count) or another source is not compared', () => {
    expect(busyDelta({ source: 'fullcnt', total: 3000 }, 'fullcnt', 3194)).toBe(194);
    expect(busyDelta({ source: 'fullcnt', total: 3194 }, 'fullcnt', 3194)).toBe(0);
    expect(busyDelta({ source: 'fullcnt', total: 5000 }, 'fullcnt', 10)).toBeUndefined();
    expect(busyDelta({ source: 'pool_stats', total: 1 }, 'fullcnt', 10)).toBeUndefined();
    expect(busyDelta(null, 'fullcnt', 10)).toBeUndefined();
  });
});

describe('judgement', () => {
  const base: NfsFacts = { expectedExports: [], mounts: [], mountTypes: ['nfs', 'nfs4'], probeThresholds: {} };

  it('threads all busy since the last run: WARNING; no threads: CRITICAL; first run: OK', () => {
    const busy = evaluate({ ...base, threads: { th: { threads: 8, fullcnt: 3194, zeros: false }, busySource: 'fullcnt', busyTotal: 3194, busySinceLast: 12 } });
    expect(busy.children![0]).toMatchObject({ state: 1, summary: expect.stringContaining('all threads were busy 12 times since the last run') });
    const none = evaluate({ ...base, threads: { th: { threads: 0, zeros: true } } });
    expect(none.children![0]!.state).toBe(2);
    const first = evaluate({ ...base, threads: { th: { threads: 8, fullcnt: 3, zeros: false }, busySource: 'fullcnt', busyTotal: 3 } });
    expect(first.children![0]!.state).toBe(0);
  });

  it('nothing exported and nothing expected: CRITICAL', () => {
    const r = evaluate({ ...base, exports: { source: 'exportfs -v', exports: [] } });
    expect(r.children![0]).toMatchObject({ state: 2, summary: 'nothing exported in exportfs -v' });
  });

  it('a mount read-only while read-write is expected: CRITICAL; slow probe against -w/-c', async () => {
    const r = await runPlugin(nfs, ['--input-file', fixturePath('nfs', 'client-mountinfo.txt'), '--mount', '/var/www:rw', '--mount', '/srv/data'], { env: {} });
    expect(r.exitCode).toBe(2);
    expect(r.text).toMatch(/^NFS CRITICAL - mount \/var\/www: read-only, expected read-write/);
    const slow = evaluate({ ...base, probeThresholds: parseThresholds('1'), mounts: [{ path: '/m', expectRo: undefined, found: { fsType: 'nfs', source: 'h:/m', ro: false }, probe: { kind: 'ok', stats: { bsize: 1, blocks: 1, bfree: 1, bavail: 1, files: 1, ffree: 1 }, ms: 1500 } }] });
    expect(slow.children![0]!.children![0]).toMatchObject({ state: 1, summary: expect.stringContaining('slow: probe took 1.5 s') });
  });

  it('exportfs run without root: exit 0, an empty list and the lock error (nfs-utils 2.6.2, measured) is not read as no exports', async () => {
    const runCommand: CommandRunner = async (file) => {
      if (file === 'exportfs') return { stdout: '', stderr: 'exportfs: could not open /var/lib/nfs/.etab.lock for locking: errno 13 (Permission denied)\n', exitCode: 0, signal: null };
      throw new Error(`unexpected ${file}`);
    };
    const r = await runPlugin(nfs, ['--server', '--no-rpc', '--no-threads', '--export', '/srv/web'], { env: {}, runCommand });
    expect(r.text).not.toMatch(/nothing exported|missing from exportfs/);
    expect(r.text).toMatch(/exportfs -v could not read its table \(exportfs: could not open \/var\/lib\/nfs\/.etab.lock for locking: errno 13 \(Permission denied\)/);
  });

  it('option values with commas are kept whole (clients, versions)', async () => {
    const r = await runPlugin(nfs, ['--input-file', fixturePath('nfs', 'kernel-3.10-busy.txt'), '--export', '/srv/home/a-very-long-export-path-that-wraps:192.0.2.0/24,198.51.100.7', '--rpc-version', 'nlockmgr=1,3,4'], { env: {} });
    expect(r.exitCode, r.text).toBe(0);
  });
});

describe('one probe in flight per mount (plugins/lib/mountprobe.ts)', () => {
  const never: CommandRunner = () => {
    throw new Error('a second probe was started');
  };

  it('a marker naming a live process (same start time): HUNG still, no new probe', async () => {
    const dir = tempDir('hawatch-nfs-marker-');
    dirs.push(dir);
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const st = await processStat(child.pid!);
      expect(st).toBeDefined();
      writeFileSync(markerPath(dir, '/mnt/x'), JSON.stringify({ pid: child.pid, start: st!.start, since: Date.now() - 42_000, path: '/mnt/x' }));
      const p = await probeMountPath(never, '/mnt/x', { timeoutMs: 1000, markerDir: dir });
      expect(p).toMatchObject({ kind: 'hung', stuck: { pid: child.pid } });
      expect(p.kind === 'hung' && p.afterMs).toBeGreaterThanOrEqual(42_000);
    } finally {
      await stopChild(child, 1000, 'SIGKILL');
    }
  });

  it('a marker whose pid was reused by another process (other start time) or is gone: a new probe runs', async () => {
    const dir = tempDir('hawatch-nfs-marker-');
    dirs.push(dir);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(markerPath(dir, dir), JSON.stringify({ pid: process.pid, start: '1', since: Date.now(), path: dir }));
    let ran = 0;
    const runner: CommandRunner = async (_f, _a, opts) => {
      ran++;
      opts.onSpawn?.(process.pid);
      return { stdout: '4096 100 50 40 10 5\n', stderr: '', exitCode: 0, signal: null };
    };
    const p = await probeMountPath(runner, dir, { timeoutMs: 1000, markerDir: dir });
    expect(ran).toBe(1);
    expect(p).toMatchObject({ kind: 'ok', stats: { bsize: 4096, blocks: 100 } });
  });
});
