/**
 * The stock nrpe.cfg commands answered by the built-in host basics: the planner's mapping
 * (unit), and the agent answering Debian's own /etc/nagios/nrpe.cfg (a copy with only the port
 * and allowed_hosts changed, plus the key forcing the built-ins) through the real check_nrpe,
 * compared with monitoring-plugins running the same command lines.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCommand } from '../../agent/commands.ts';
import { parseConfigText } from '../../agent/config.ts';
import { parsePluginOutput } from '../../nagios/output.ts';
import { plugins } from '../../plugins/registry.ts';
import { runProgram } from '../support/bin.ts';
import { stopChild } from '../support/process.ts';
import { requireFile, requireRoot } from '../support/require.ts';
import { waitFor } from '../support/wait.ts';
import { checkNrpe, cleanup, onCleanup, startAgent, tempDir, type Daemon } from './helpers.ts';

const STOCK = '/etc/nagios/nrpe.cfg';
const MP = '/usr/lib/nagios/plugins';
const missing = { exists: () => false };
const present = { exists: () => true };

// At file level: the agents and the FUSE mount of every describe block are stopped after all of them.
afterAll(cleanup);

describe('planCommand: the stock check_users/load/disk/procs/swap lines', () => {
  const line = `${MP}/check_load -r -w .15,.10,.05 -c .30,.25,.20`;

  it('run the built-in twin in-process when monitoring-plugins is absent (auto, the default)', () => {
    const p = planCommand('check_load', line, plugins, undefined, missing);
    expect(p).toMatchObject({ kind: 'inproc', argTemplates: ['-r', '-w', '.15,.10,.05', '-c', '.30,.25,.20'] });
    expect(p.kind === 'inproc' && p.plugin.name).toBe('check_ha_load');
    for (const [cmd, twin] of [['check_users -w 5 -c 10', 'check_ha_users'], ['check_disk -w 20% -c 10% -p /dev/hda1', 'check_ha_disk'], ['check_procs -w 5 -c 10 -s Z', 'check_ha_procs'], ['check_swap -w 20% -c 10%', 'check_ha_swap']]) {
      const q = planCommand('x', `${MP}/${cmd}`, plugins, undefined, missing);
      expect(q.kind === 'inproc' && q.plugin.name).toBe(twin);
    }
  });

  it('run monitoring-plugins when it is installed, unless hawatch_builtin_basics=1; never with 0', () => {
    expect(planCommand('check_load', line, plugins, undefined, present)).toMatchObject({ kind: 'exec', file: `${MP}/check_load` });
    expect(planCommand('check_load', line, plugins, undefined, { ...present, builtinBasics: 'always' }).kind).toBe('inproc');
    expect(planCommand('check_load', line, plugins, undefined, { ...missing, builtinBasics: 'never' })).toMatchObject({ kind: 'exec' });
  });

  it('leaves other programs, shell lines and look-alike names alone', () => {
    const always = { builtinBasics: 'always' as const };
    expect(planCommand('x', `${MP}/check_http -H x`, plugins, undefined, always).kind).toBe('exec');
    expect(planCommand('x', `${MP}/check_load_extra -w 1`, plugins, undefined, always).kind).toBe('exec');
    expect(planCommand('x', `${MP}/check_load -w 1,1,1 | head -1`, plugins, undefined, always).kind).toBe('shell');
    // A command_prefix (sudo) is not needed by the built-in, which needs no privileges.
    expect(planCommand('x', `${MP}/check_users -w 5`, plugins, '/usr/bin/sudo', always)).toMatchObject({ kind: 'inproc', argTemplates: ['-w', '5'] });
  });

  it('reads hawatch_builtin_basics from the configuration (default auto)', async () => {
    expect((await parseConfigText('server_port=5666\n', '/x.cfg')).builtinBasics).toBe('auto');
    expect((await parseConfigText('hawatch_builtin_basics=1\n', '/x.cfg')).builtinBasics).toBe('always');
    expect((await parseConfigText('hawatch_builtin_basics=0\n', '/x.cfg')).builtinBasics).toBe('never');
    await expect(parseConfigText('hawatch_builtin_basics=yes\n', '/x.cfg')).rejects.toThrow(/0 or 1 or auto/);
  });
});

describe('hawatch-agent answers the stock Debian nrpe.cfg with the built-ins', () => {
  let forced: Daemon;
  let auto: Daemon;
  let commands: [string, string][];

  beforeAll(async () => {
    requireFile(STOCK, 'nagios-nrpe-server');
    requireFile(`${MP}/check_load`, 'monitoring-plugins-basic');
    const stock = readFileSync(STOCK, 'utf8');
    commands = [...stock.matchAll(/^command\[([^\]]+)\]=(.*)$/gm)].map((m) => [m[1]!, m[2]!]);
    expect(commands.map((c) => c[0])).toEqual(['check_users', 'check_load', 'check_hda1', 'check_zombie_procs', 'check_total_procs']);
    // The stock file with its port, address and user lines left to startAgent, and its pid
    // file (in /run/nagios, which only the nrpe package creates) dropped; nothing else changed.
    const copy = stock
      .split('\n')
      .filter((l) => !/^(server_port|server_address|allowed_hosts|nrpe_user|nrpe_group|pid_file)=/.test(l))
      .join('\n');
    forced = await startAgent({ config: `${copy}\nallowed_hosts=127.0.0.1\nhawatch_builtin_basics=1\n` });
    // auto, with the command lines pointing where monitoring-plugins is not installed.
    auto = await startAgent({ config: `allowed_hosts=127.0.0.1\n${commands.map(([n, l]) => `command[${n}]=${l.replace(MP, '/opt/absent/plugins')}`).join('\n')}\n` });
  });

  it('each stock command: built-in output, same state as monitoring-plugins running the same line', async () => {
    for (const [name, line] of commands) {
      const [file, ...args] = line.split(' ');
      const theirs = await runProgram(file!, args, { timeoutMs: 30_000 });
      for (const agent of [forced, auto]) {
        const ours = await checkNrpe(agent.port, ['-c', name]);
        // The stock lines measure what moves (the process count against -w 150 -c 200, the
        // load against .15 per CPU): on a busy machine a value can cross a threshold between
        // two runs. So monitoring-plugins runs again after ours, and our state must be the
        // one it gave before or after.
        if (ours.code !== theirs.code) {
          const after = await runProgram(file!, args, { timeoutMs: 30_000 });
          expect({ name, code: ours.code, out: ours.stdout, theirs: [theirs.stdout, after.stdout] }).toMatchObject({ name, code: after.code });
        }
        const prefix = parsePluginOutput(theirs.stdout).output.split(/[ :]/)[0];
        // hawatch's renderer: "PREFIX STATE - text | perf", where monitoring-plugins writes "text|perf" or "PROCS OK:".
        expect(ours.stdout).toMatch(new RegExp(`^${prefix} (OK|WARNING|CRITICAL|UNKNOWN) - `));
        expect(ours.stdout).not.toBe(theirs.stdout);
      }
    }
    // The in-process run never started monitoring-plugins' program: the line's path does not exist for `auto`.
    const disk = await checkNrpe(auto.port, ['-c', 'check_hda1']);
    expect(disk.stdout).toMatch(/^DISK CRITICAL - free space: \/dev\/hda1 is not accessible: no such file or directory/);
  });
});

describe('a hung network filesystem does not stall the agent', () => {
  it('six disk checks on a FUSE mount that never answers (more than the 4 threadpool threads) are CRITICAL hung, and other checks answer meanwhile', async () => {
    requireRoot('mounting a FUSE filesystem');
    requireFile('/dev/fuse', 'fuse3 (the kernel module)');
    const dir = await tempDir('hawatch-fuse-');
    const mnt = join(dir, 'hang');
    mkdirSync(mnt);
    // The test holds /dev/fuse open and never answers: every request on the mount waits
    // (allow_other: the agent's checks run as nagios).
    const holder = spawn('bash', ['-c', `exec 3<>/dev/fuse; mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0,allow_other hawatch-hang ${mnt} && exec sleep 300`], { stdio: 'ignore' });
    onCleanup(async () => {
      await stopChild(holder, 1000);
      await runProgram('umount', ['-l', mnt]);
    });
    await waitFor('the FUSE mount', () => (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${mnt} `) ? true : undefined), 10_000);
    const agent = await startAgent({
      config: ['allowed_hosts=127.0.0.1', 'hawatch_builtin_basics=1', `command[disk]=${MP}/check_disk -w 20% -c 10% -N fuse --stat-timeout 2`, `command[users]=${MP}/check_users -w 5 -c 10`].join('\n'),
    });
    const started = Date.now();
    const disks = Array.from({ length: 6 }, () => checkNrpe(agent.port, ['-c', 'disk']));
    await new Promise((r) => setTimeout(r, 300));
    const users = await checkNrpe(agent.port, ['-c', 'users']);
    // utmp is read on the threadpool too: it is answered while the six probes wait.
    expect(users.stdout).toMatch(/^USERS OK - /);
    expect(Date.now() - started).toBeLessThan(1500);
    for (const r of await Promise.all(disks)) {
      expect(r.stdout).toContain('DISK CRITICAL');
      expect(r.code).toBe(2);
      expect(r.stdout).toContain(`${mnt} hung (statfs gave no answer within 2 s)`);
    }
    expect(Date.now() - started).toBeLessThan(6000);
    // No stat child is left waiting on the mount.
    expect((await runProgram('pgrep', ['-f', `stat --file-system .* -- ${mnt}`])).stdout).toBe('');
  });
});
