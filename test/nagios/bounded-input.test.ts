/**
 * Issue 9 item 3: every input read is bounded, refuses non-regular files (stdin aside) and
 * stops when -t runs out. Run for real: the built checks on /dev/zero, a FIFO without a
 * writer, /dev/ptmx, a directory and a sparse file above the limit, with their peak memory;
 * stdin that never ends and stdin above the limit; and, in-process as the agent runs checks,
 * four FIFO reads followed by ordinary file reads (which hung for good before: each FIFO read
 * held one of the four libuv threadpool threads).
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_INPUT_BYTES, readBoundedFile, readBoundedFileSync, readBoundedStream } from '../../nagios/input.ts';
import { runPlugin } from '../../nagios/plugin.ts';
import drbd from '../../plugins/drbd/index.ts';
import haproxy from '../../plugins/haproxy/index.ts';
import { readTextFile } from '../../plugins/lib/files.ts';
import { binPath, runBin, runProgram } from '../support/bin.ts';
import { fixturePath } from '../support/paths.ts';
import { requireFile } from '../support/require.ts';
import { removeDir, tempDir } from '../support/tmp.ts';

let dir: string;
let fifo: string;
let big: string;
let subdir: string;

beforeAll(() => {
  binPath('check_ha_drbd');
  requireFile('/usr/bin/time', 'time');
  dir = tempDir('hawatch-input-');
  fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  big = join(dir, 'big');
  // Sparse: 17 MiB of size without 17 MiB on disk.
  closeSync(openSync(big, 'w'));
  execFileSync('truncate', ['-s', String(MAX_INPUT_BYTES + 1024 * 1024), big]);
  subdir = join(dir, 'sub');
  mkdirSync(subdir);
});

afterAll(() => removeDir(dir));

/** Runs a built check under /usr/bin/time -v: exit code, output, wall time and peak RSS. */
async function measured(bin: string, args: string[]): Promise<{ code: number | null; stdout: string; ms: number; peakKiB: number }> {
  const r = await runProgram('/usr/bin/time', ['-v', process.execPath, binPath(bin), ...args], { env: { PATH: '/usr/bin:/bin', LANG: 'C' }, timeoutMs: 15_000 });
  const peak = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  if (!peak) throw new Error(`no figures from /usr/bin/time: ${r.stderr}`);
  return { code: r.code, stdout: r.stdout, ms: r.ms, peakKiB: Number(peak[1]) };
}

describe('the built checks refuse what is not a regular file, quickly and with little memory', () => {
  const cases: [string, () => string, RegExp][] = [
    ['/dev/zero', () => '/dev/zero', /it is a character device, not a regular file/],
    ['a FIFO without a writer', () => fifo, /it is a FIFO, not a regular file/],
    ['/dev/ptmx', () => '/dev/ptmx', /it is a character device, not a regular file/],
    ['a directory', () => subdir, /it is a directory, not a regular file/],
    ['a file above 16 MiB', () => big, /it is larger than 16 MiB, the most a check reads/],
  ];
  for (const [what, path, message] of cases) {
    it(`--input-file on ${what}: UNKNOWN within -t, one line, bounded memory`, async () => {
      const r = await measured('check_ha_drbd', [`--input-file=${path()}`, '-t', '3']);
      // Before: /dev/zero grew to 1.17 GB in 10 s (-t 10) and a FIFO never exited.
      expect(r.code).toBe(3);
      expect(r.stdout).toMatch(/^DRBD UNKNOWN - cannot read input file [^ ]+: /);
      expect(r.stdout).toMatch(message);
      expect(r.stdout.trim().split('\n')).toHaveLength(1);
      expect(r.ms).toBeLessThan(3000);
      expect(r.peakKiB).toBeLessThan(150 * 1024);
      console.log(`check_ha_drbd --input-file=${what}: ${Math.round(r.ms)} ms, peak RSS ${Math.round(r.peakKiB / 1024)} MiB`);
    });
  }

  it('a file named by another option (--proc-file, --auth-file) is refused the same way', async () => {
    const proc = await measured('check_ha_drbd', ['--proc-file=/dev/zero', '-t', '3']);
    expect(proc.code).toBe(3);
    expect(proc.stdout).toMatch(/^DRBD UNKNOWN - cannot read \/dev\/zero: it is a character device, not a regular file/);
    expect(proc.peakKiB).toBeLessThan(150 * 1024);
    const auth = await measured('check_ha_haproxy', ['--url=http://127.0.0.1:9/', `--auth-file=${fifo}`, '-t', '3']);
    expect(auth.code).toBe(3);
    expect(auth.stdout).toMatch(/^HAPROXY UNKNOWN - cannot read --auth-file .*fifo: it is a FIFO, not a regular file/);
    expect(auth.ms).toBeLessThan(3000);
  });

  it('--cib-file, read by crm_mon, is checked before crm_mon runs', async () => {
    const r = await measured('check_ha_crm', [`--cib-file=${fifo}`, '-t', '3']);
    // Before: crm_mon blocked on the FIFO until -t (UNKNOWN, plugin timed out).
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^CRM UNKNOWN - cannot use CIB file .*fifo: it is a FIFO, not a regular file/);
    expect(r.ms).toBeLessThan(2500);
  });

  it('--help states the limit', async () => {
    const r = await runBin('check_ha_drbd', ['--help']);
    expect(r.stdout).toMatch(/--input-file PATH[\s\S]*regular file \(no FIFO or device\) of at most 16 MiB/);
  });

  it('a regular file at the limit is still read', async () => {
    const atLimit = join(dir, 'at-limit');
    writeFileSync(atLimit, readFileSync(fixturePath('drbd', 'proc-8.4-healthy.txt')));
    execFileSync('truncate', ['-s', String(MAX_INPUT_BYTES), atLimit]);
    expect((await readBoundedFile(atLimit)).text.length).toBe(MAX_INPUT_BYTES);
    expect(readBoundedFileSync(atLimit).length).toBe(MAX_INPUT_BYTES);
  });
});

describe('stdin (--input-file -) is bounded and stops at -t', () => {
  it('stdin that never ends: UNKNOWN within -t, and the check exits', async () => {
    const started = performance.now();
    const child = spawn(process.execPath, [binPath('check_ha_drbd'), '--input-file', '-', '-t', '1:warning'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.write('version: 8.4.11\n'); // and never closed
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(killer);
    child.stdin.destroy();
    expect(code).toBe(1);
    expect(out).toMatch(/^DRBD WARNING - plugin timed out after 1 s while reading stdin/);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('stdin above 16 MiB: UNKNOWN naming the limit', async () => {
    const r = await runBin('check_ha_drbd', ['--input-file', '-', '-t', '10'], { input: 'x'.repeat(MAX_INPUT_BYTES + 10) });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^DRBD UNKNOWN - cannot read input from stdin: it is larger than 16 MiB/);
  });

  it('readBoundedStream stops on the signal', async () => {
    const { PassThrough } = await import('node:stream');
    const s = new PassThrough();
    const ac = new AbortController();
    const p = readBoundedStream(s, { signal: ac.signal });
    s.write('partial');
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toThrow(/timed out while reading/);
    expect(s.destroyed).toBe(true);
  });
});

describe('in-process, as the agent runs checks', () => {
  it('four FIFO and four /dev/zero reads leave file reading working', async () => {
    const t0 = performance.now();
    const bad = await Promise.all([
      ...Array.from({ length: 4 }, () => runPlugin(drbd, [`--input-file=${fifo}`, '-t', '2'])),
      ...Array.from({ length: 4 }, () => runPlugin(drbd, ['--input-file=/dev/zero', '-t', '2'])),
      runPlugin(haproxy, ['--url=http://127.0.0.1:9/', `--auth-file=${fifo}`, '-t', '2']),
    ]);
    for (const r of bad) expect(r.exitCode).toBe(3);
    expect(performance.now() - t0).toBeLessThan(2000);
    // Before: these hung (every threadpool thread blocked in read(2) on the FIFO).
    const t1 = performance.now();
    const good = await runPlugin(drbd, [`--input-file=${fixturePath('drbd', 'proc-8.4-healthy.txt')}`, '-t', '2']);
    expect(good.exitCode).toBe(0);
    expect(await readTextFile(fixturePath('drbd', 'proc-8.4-healthy.txt'))).toMatch(/^version: 8\.4/);
    await Promise.all(Array.from({ length: 8 }, () => readTextFile(fixturePath('drbd', 'proc-8.4-healthy.txt'))));
    expect(performance.now() - t1).toBeLessThan(1000);
    console.log(`in-process: 9 refused reads in ${Math.round(t1 - t0)} ms, then 10 file reads in ${Math.round(performance.now() - t1)} ms`);
  });

  it('a read aborted by the signal rejects at once', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(readBoundedFile(fixturePath('drbd', 'proc-8.4-healthy.txt'), { signal: ac.signal })).rejects.toThrow(/timed out while reading/);
  });
});
