/**
 * Black-box tests of the built executable (dist/bin/check_ha_drbd.cjs): exit codes and output
 * lines, the automatic choice of source with a fake /proc/drbd and fake drbdsetup programs,
 * and what happens when drbdsetup is missing, fails or hangs.
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandRunner } from '../../../nagios/exec.ts';
import { runPlugin } from '../../../nagios/plugin.ts';
import drbd from '../../../plugins/drbd/index.ts';
import { binPath, runBinSync, type BinResult } from '../../support/bin.ts';
import { fixturesDir, readFixture } from '../../support/paths.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';

const fixture = (name: string): string => readFixture('drbd', name);
const fixturePath = (name: string): string => join(fixturesDir('drbd'), name);

let tmp: string;

beforeAll(() => {
  binPath('check_ha_drbd');
  tmp = tempDir('hawatch-drbd-');
});

afterAll(() => {
  removeDir(tmp);
});

interface Run extends BinResult {
  lines: string[];
}

/** Runs the check with only `path` as PATH, so no real drbdsetup can be picked up. */
function run(args: string[], opts: { path?: string; input?: string } = {}): Run {
  const r = runBinSync('check_ha_drbd', args, { baseEnv: { PATH: opts.path ?? join(tmp, 'empty'), LANG: 'C' }, input: opts.input, killAfterMs: 20_000 });
  return { ...r, lines: r.stdout.split('\n').filter((l) => l !== '') };
}

/** A fake program in its own directory: prints `stdoutFile`, records its arguments, exits with `code`. */
function fakeProgram(name: string, body: string): string {
  const dir = mkdtempSync(join(tmp, `${name}-`));
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "$@" > ${JSON.stringify(join(dir, 'args'))}\n${body}\n`);
  chmodSync(file, 0o755);
  return dir;
}

function argsSeen(dir: string): string[] {
  return readFileSync(join(dir, 'args'), 'utf8').split('\n').filter((l) => l !== '');
}

function expectOneLineUnknown(r: Run, pattern: RegExp): void {
  expect(r.code).toBe(3);
  expect(r.lines).toHaveLength(1);
  expect(r.lines[0]).toMatch(/^DRBD UNKNOWN - /);
  expect(r.lines[0]).toMatch(pattern);
  expect(r.stdout).not.toMatch(/\n\s+at /);
  expect(r.stderr).toBe('');
}

describe('required results', () => {
  it.each([
    ['proc-8.4-healthy.txt'],
    ['proc-8.3-healthy.txt'],
    ['status-9-healthy.json'],
    ['events2-9-healthy.txt'],
  ])('healthy (%s) is OK, exit 0', (name) => {
    const r = run(['--input-file', fixturePath(name), '-w', '5', '-c', '30']);
    expect(r.code).toBe(0);
    expect(r.lines[0]).toMatch(/^DRBD OK - \d resources? \(.*\), \d volumes?: healthy, 0 B out of sync \| /);
  });

  it('8.3 /proc/drbd is parsed: two minors, both Primary', () => {
    const r = run(['--input-file', fixturePath('proc-8.3-healthy.txt')]);
    expect(r.lines[0]).toMatch(/^DRBD OK - 2 resources \(drbd0 Primary, drbd1 Primary\), 2 volumes: healthy/);
    expect(r.lines).toContain('  [OK] volume 0 peer: replication Connected, peer disk UpToDate, 0 B out of sync');
  });

  it.each(['proc-8.4-oos-10MiB.txt', 'status-9-oos-10MiB.json'])('10 MiB out of sync with -w 5 -c 30 is WARNING, exit 1 (%s)', (name) => {
    const r = run(['--input-file', fixturePath(name), '-w', '5', '-c', '30']);
    expect(r.code).toBe(1);
    expect(r.lines[0]).toMatch(/^DRBD WARNING - .*volume 0 peer.*: 10\.0 MiB out of sync \(warning: above 5 MiB\)/);
    expect(r.lines[0]).toMatch(/_out_of_sync=10485760B;5242880;31457280;0/);
  });

  it.each(['proc-8.4-resync-7GiB.txt', 'status-9-resync-7GiB.json', 'events2-9-resync-7GiB.txt'])(
    'a resync with 7 GiB out of sync with -w 5 -c 30 is CRITICAL, exit 2, with progress and ETA (%s)',
    (name) => {
      const r = run(['--input-file', fixturePath(name), '-w', '5', '-c', '30']);
      expect(r.code).toBe(2);
      expect(r.lines[0]).toMatch(/resync in progress \(SyncSource\): 12\.5% done, ETA 3m2[56]s, 34\.9 MiB\/s, 7\.00 GiB out of sync \(critical: above 30 MiB\)/);
    },
  );

  it.each([
    ['proc-8.4-standalone.txt', /drbd0 peer: StandAlone, split brain suspected/],
    ['status-9-standalone.json', /r0 peer nodeb: StandAlone, split brain suspected/],
    ['events2-9-split-brain.txt', /r0 peer nodeb: split brain: /],
    ['proc-8.4-wfconnection.txt', /drbd0 peer: not connected \(WFConnection\)/],
    ['status-9-peer-connecting.json', /r0 peer nodeb: not connected \(Connecting\)/],
  ])('%s is CRITICAL, exit 2', (name, pattern) => {
    const r = run(['--input-file', fixturePath(name), '-w', '5', '-c', '30']);
    expect(r.code).toBe(2);
    expect(r.lines[0]).toMatch(/^DRBD CRITICAL - /);
    expect(r.lines[0]).toMatch(pattern);
  });
});

describe('bad input: exit 3, one clear line, no stack trace', () => {
  it('garbage', () => {
    writeFileSync(join(tmp, 'garbage.txt'), 'total 0\ndrwxr-xr-x 2 root root 40 Mar  1 10:00 .\n');
    expectOneLineUnknown(run(['--input-file', join(tmp, 'garbage.txt')]), /is not DRBD status/);
  });

  it('empty input, from a file and from stdin', () => {
    writeFileSync(join(tmp, 'empty.txt'), '');
    expectOneLineUnknown(run(['--input-file', join(tmp, 'empty.txt')]), /the input is empty/);
    expectOneLineUnknown(run(['--input-file', '-'], { input: '' }), /the input is empty/);
  });

  it.each([
    ['proc-8.4-healthy.txt', 0.6, /truncated/],
    ['status-9-healthy.json', 0.5, /not valid JSON/],
    ['events2-9-healthy.txt', 0.7, /truncated|not key:value|not a number/],
  ])('truncated %s', (name, keep, pattern) => {
    const text = fixture(name);
    const file = join(tmp, `cut-${name}`);
    writeFileSync(file, text.slice(0, Math.floor(text.length * keep)));
    expectOneLineUnknown(run(['--input-file', file]), pattern);
  });

  it('an unknown option', () => {
    expectOneLineUnknown(run(['--frobnicate']), /unknown option --frobnicate, see check_ha_drbd --help/);
  });

  it('bad option values', () => {
    expectOneLineUnknown(run(['--unit', 'TB']), /invalid --unit TB: expected KiB, MiB, GiB/);
    expectOneLineUnknown(run(['-w', 'five']), /invalid threshold range five/);
  });

  it('a missing input file', () => {
    expectOneLineUnknown(run(['--input-file', join(tmp, 'nope.txt')]), /cannot read input file .*: no such file/);
  });
});

describe('input from stdin, help and version', () => {
  it('reads --input-file - from stdin', () => {
    const r = run(['--input-file', '-', '-w', '5', '-c', '30'], { input: fixture('status-9-oos-10MiB.json') });
    expect(r.code).toBe(1);
  });

  it('--help lists every option and exits 3', () => {
    const r = run(['--help']);
    expect(r.code).toBe(3);
    for (const o of ['--resource', '--role', '--unit', '--source', '--proc-file', '--drbdsetup', '--sudo', '--input-file', '--warning', '--critical', '--timeout']) {
      expect(r.stdout).toContain(o);
    }
  });

  it('--version', () => {
    const r = run(['--version']);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^check_ha_drbd \S+ \(hawatch\)\n$/);
  });
});

describe('choosing the source', () => {
  it('/proc/drbd with minors (8.x) is read directly; drbdsetup is not needed', () => {
    const r = run(['--proc-file', fixturePath('proc-8.4-healthy.txt')]);
    expect(r.code).toBe(0);
    expect(r.lines[0]).toMatch(/^DRBD OK - 2 resources \(drbd0 Primary, drbd1 Secondary\)/);
  });

  it('/proc/drbd with only a 9.x version: drbdsetup status --json is run', () => {
    const dir = fakeProgram('drbdsetup', `/bin/cat ${JSON.stringify(fixturePath('status-9-oos-10MiB.json'))}`);
    const r = run(['--proc-file', fixturePath('proc-9.2-version-only.txt'), '-w', '5', '-c', '30'], { path: dir });
    expect(argsSeen(dir)).toEqual(['status', '--json']);
    expect(r.code).toBe(1);
    expect(r.lines[0]).toMatch(/^DRBD WARNING - r0 volume 0 peer nodeb: 10\.0 MiB out of sync/);
  });

  it('--source events2 runs drbdsetup events2 --now --statistics', () => {
    const dir = fakeProgram('drbdsetup', `/bin/cat ${JSON.stringify(fixturePath('events2-9-standalone.txt'))}`);
    const r = run(['--source', 'events2'], { path: dir });
    expect(argsSeen(dir)).toEqual(['events2', '--now', '--statistics']);
    expect(r.code).toBe(2);
  });

  it('--drbdsetup PATH and --sudo: sudo -n PATH status --json', () => {
    const dir = fakeProgram('sudo', `shift; exec "$@"`);
    const tool = fakeProgram('drbdsetup', `/bin/cat ${JSON.stringify(fixturePath('status-9-healthy.json'))}`);
    const r = run(['--source', 'status-json', '--sudo', '--drbdsetup', join(tool, 'drbdsetup')], { path: dir });
    expect(argsSeen(dir)).toEqual(['-n', join(tool, 'drbdsetup'), 'status', '--json']);
    expect(r.code).toBe(0);
  });

  it('--sudo with drbdsetup by name: sudo -n /usr/sbin/drbdsetup, the path of the sudoers rule', () => {
    const dir = fakeProgram('sudo', `exit 1`);
    run(['--source', 'status-json', '--sudo'], { path: dir });
    expect(argsSeen(dir)).toEqual(['-n', '/usr/sbin/drbdsetup', 'status', '--json']);
  });

  it('a missing drbdsetup is UNKNOWN and names the package', () => {
    const r = run(['--proc-file', fixturePath('proc-9.2-version-only.txt')]);
    expectOneLineUnknown(r, /drbdsetup was not found in PATH or .*\/usr\/sbin.*: install the drbd-utils package/);
  });

  it('drbdsetup without the kernel module (the message drbd-utils 9.22 prints) is UNKNOWN with the reason', () => {
    const dir = fakeProgram('drbdsetup', `echo 'sh: 1: /sbin/modprobe: not found' >&2; echo 'Failed to modprobe drbd (No such file or directory)' >&2; exit 20`);
    const r = run(['--source', 'status-json'], { path: dir });
    expectOneLineUnknown(r, /drbdsetup status --json failed \(exit 20\): Failed to modprobe drbd \(No such file or directory\): the DRBD kernel module is not loaded/);
  });

  it('sudo refusing is UNKNOWN and points at the sudoers rule', () => {
    const dir = fakeProgram('sudo', `echo 'sudo: a password is required' >&2; exit 1`);
    expectOneLineUnknown(run(['--source', 'status-json', '--sudo'], { path: dir }), /sudo refused, add the sudoers rule/);
  });

  it('a missing /proc/drbd is UNKNOWN: the module is not loaded', () => {
    expectOneLineUnknown(run(['--proc-file', join(tmp, 'no-proc-drbd')]), /does not exist: the DRBD kernel module is not loaded/);
  });

  it('a hanging drbdsetup is stopped at -t: UNKNOWN, no hang', () => {
    const dir = fakeProgram('drbdsetup', 'exec /bin/sleep 30');
    const r = run(['--source', 'status-json', '-t', '1'], { path: dir });
    expect(r.code).toBe(3);
    expect(r.lines[0]).toMatch(/^DRBD UNKNOWN - .*(did not finish|timed out)/);
    expect(r.ms).toBeLessThan(5000);
  });

  it('-t N:CRITICAL turns the timeout into CRITICAL', () => {
    const dir = fakeProgram('drbdsetup', 'exec /bin/sleep 30');
    const r = run(['--source', 'status-json', '-t', '1:CRITICAL'], { path: dir });
    expect(r.code).toBe(2);
  });
});

describe('choosing the source, in-process with an injected runner', () => {
  function recorder(stdout: string, exitCode = 0): { runner: CommandRunner; calls: string[][] } {
    const calls: string[][] = [];
    const runner: CommandRunner = async (file, args) => {
      calls.push([file, ...args]);
      return { stdout, stderr: '', exitCode, signal: null };
    };
    return { runner, calls };
  }

  it('8.x: no command runs', async () => {
    const { runner, calls } = recorder('');
    const r = await runPlugin(drbd, ['--proc-file', fixturePath('proc-8.3-healthy.txt')], { runCommand: runner });
    expect(calls).toEqual([]);
    expect(r.exitCode).toBe(0);
  });

  it('9.x: drbdsetup status --json, given the time left (which ends just after -t, so -t decides)', async () => {
    const calls: { file: string; args: readonly string[]; timeoutMs: number }[] = [];
    const runner: CommandRunner = async (file, args, o) => {
      calls.push({ file, args, timeoutMs: o.timeoutMs });
      return { stdout: fixture('status-9-resync-7GiB.json'), stderr: '', exitCode: 0, signal: null };
    };
    const r = await runPlugin(drbd, ['--proc-file', fixturePath('proc-9.2-version-only.txt'), '-w', '5', '-c', '30', '-t', '7'], { runCommand: runner });
    expect(calls.map((c) => [c.file, ...c.args])).toEqual([['drbdsetup', 'status', '--json']]);
    expect(calls[0]!.timeoutMs).toBeGreaterThan(6500);
    expect(calls[0]!.timeoutMs).toBeLessThanOrEqual(7100);
    expect(r.exitCode).toBe(2);
  });

  it('9.x with no resources: UNKNOWN', async () => {
    const { runner } = recorder(fixture('status-9-no-resources.json'));
    const r = await runPlugin(drbd, ['--proc-file', fixturePath('proc-9.2-version-only.txt')], { runCommand: runner });
    expect(r.exitCode).toBe(3);
    expect(r.text).toMatch(/^DRBD UNKNOWN - no DRBD resources are configured/);
  });

  it('garbage from drbdsetup names where it came from', async () => {
    const { runner } = recorder('{"oops": ');
    const r = await runPlugin(drbd, ['--source', 'status-json'], { runCommand: runner });
    expect(r.text).toMatch(/^DRBD UNKNOWN - cannot read the DRBD status from drbdsetup status --json: status JSON is not valid JSON/);
  });
});
