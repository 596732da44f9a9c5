/**
 * The stock nrpe.cfg commands answered by the built-in host basics: the planner's mapping
 * (unit), and the agent answering Debian's own /etc/nagios/nrpe.cfg (a copy with only the port
 * and allowed_hosts changed, plus the key forcing the built-ins) through the real check_nrpe,
 * compared with monitoring-plugins running the same command lines.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCommand } from '../../agent/commands.ts';
import { parseConfigText } from '../../agent/config.ts';
import { parsePluginOutput } from '../../nagios/output.ts';
import { plugins } from '../../plugins/registry.ts';
import { runProgram } from '../support/bin.ts';
import { requireFile } from '../support/require.ts';
import { checkNrpe, cleanup, startAgent, type Daemon } from './helpers.ts';

const STOCK = '/etc/nagios/nrpe.cfg';
const MP = '/usr/lib/nagios/plugins';
const missing = { exists: () => false };
const present = { exists: () => true };

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
  afterAll(cleanup);

  it('each stock command: built-in output, same state as monitoring-plugins running the same line', async () => {
    for (const [name, line] of commands) {
      const [file, ...args] = line.split(' ');
      const theirs = await runProgram(file!, args, { timeoutMs: 30_000 });
      for (const agent of [forced, auto]) {
        const ours = await checkNrpe(agent.port, ['-c', name]);
        expect({ name, code: ours.code, out: ours.stdout }).toMatchObject({ name, code: theirs.code });
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
