/**
 * Issue 9 item 6: a timeout kills the whole process tree of a command, not only the direct
 * child. A --drbdsetup wrapper script starts a hung grandchild (a copy of sleep whose path
 * carries a unique token) and waits for it; after -t, no process with the token in its
 * argv may remain: not with the built check, not in-process (as the agent runs checks), not
 * through sudo, and no zombie child of this process either.
 */
import { copyFileSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, CommandError } from '../../nagios/exec.ts';
import { runPlugin } from '../../nagios/plugin.ts';
import drbd from '../../plugins/drbd/index.ts';
import { binPath, runBin } from '../support/bin.ts';
import { requireProgram } from '../support/require.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';

let dir: string;
let token: string;
let wrapper: string;

/** Pids whose command line contains `text` (a /proc scan; zombies have an empty one). */
function pidsWith(text: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text)) found.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

/** Zombie children of this process. */
function zombieChildren(): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && Number(fields[1]) === process.pid) found.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

beforeAll(() => {
  binPath('check_ha_drbd');
  requireProgram('sleep', 'coreutils');
  dir = tempDir('hawatch-pgrp-');
});

// Each test has its own token (newWrapper); whatever a failed test left is killed here.
afterEach(() => {
  for (const pid of pidsWith(token)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

function newWrapper(): string {
  token = `hawatch-pgrp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const sleepCopy = join(dir, `sleep-${token}`);
  copyFileSync(requireProgram('sleep', 'coreutils'), sleepCopy);
  chmodSync(sleepCopy, 0o755);
  wrapper = join(dir, `drbdsetup-${token}`);
  // Not exec: the shell stays as the direct child, the sleep is its child (the grandchild).
  writeFileSync(wrapper, `#!/bin/sh\n${sleepCopy} 300 &\nwait\n`, { mode: 0o755 });
  return wrapper;
}

afterAll(() => removeDir(dir));

async function expectNothingLeft(): Promise<void> {
  // Killed means gone within moments; before the fix the grandchild lived its 300 s.
  await waitFor(`no process with ${token} left`, () => pidsWith(token).length === 0, 2000).catch((e: Error) => {
    throw new Error(`${e.message}: left ${pidsWith(token).map((p) => `${p} ${readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ')}`).join(', ')}`);
  });
}

describe('a timeout kills the command and everything it started', () => {
  it('built check: the wrapper and its hung grandchild are gone after -t', async () => {
    const w = newWrapper();
    const r = await runBin('check_ha_drbd', ['--source', 'status-json', '--drbdsetup', w, '-t', '1:critical'], { killAfterMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^DRBD CRITICAL - plugin timed out after 1 s while running .*drbdsetup-/);
    expect(r.ms).toBeLessThan(2500);
    await expectNothingLeft();
  });

  it('in-process (the agent): gone when runPlugin returns, and no zombie child', async () => {
    const w = newWrapper();
    await waitFor('the previous test to leave no zombie', () => zombieChildren().length === 0, 2000);
    const r = await runPlugin(drbd, ['--source', 'status-json', '--drbdsetup', w, '-t', '1']);
    expect(r.exitCode).toBe(3);
    // runPlugin waits for the kill: nothing is left when it returns, not even a moment later.
    expect(pidsWith(token)).toEqual([]);
    expect(zombieChildren()).toEqual([]);
  });

  it('through sudo: sudo and the program it ran are gone', async () => {
    requireProgram('sudo', 'sudo');
    const w = newWrapper();
    const r = await runBin('check_ha_drbd', ['--source', 'status-json', '--sudo', '--drbdsetup', w, '-t', '1'], { killAfterMs: 10_000 });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^DRBD UNKNOWN - plugin timed out after 1 s while running sudo/);
    await expectNothingLeft();
  });

  it('runCommand on its own: its timeout and too much output kill the group too', async () => {
    const w = newWrapper();
    await expect(runCommand(w, [], { timeoutMs: 300 })).rejects.toSatisfy((e: unknown) => e instanceof CommandError && e.kind === 'timeout');
    expect(pidsWith(token)).toEqual([]);
    const noisy = join(dir, `noisy-${token}`);
    writeFileSync(noisy, `#!/bin/sh\n${join(dir, `sleep-${token}`)} 300 &\nyes\n`, { mode: 0o755 });
    await expect(runCommand(noisy, [], { timeoutMs: 10_000, maxBytes: 100_000 })).rejects.toSatisfy((e: unknown) => e instanceof CommandError && e.kind === 'too-large');
    expect(pidsWith(token)).toEqual([]);
  });

  it('a command that finishes normally is not disturbed', async () => {
    const r = await runCommand('sh', ['-c', 'echo out; echo err >&2; exit 3'], { timeoutMs: 5000 });
    expect(r).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 3, signal: null });
  });
});
