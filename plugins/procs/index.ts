import { PluginError, type PluginDescriptor } from '../../nagios/plugin.ts';
import { readTextFile } from '../lib/files.ts';
import { readProcesses } from './collect.ts';
import { evaluateProcs, needs, type ProcFilter } from './evaluate.ts';
import { parsePsOutput, passwdUids } from './parse.ts';

function num(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text.trim())) throw new PluginError(`invalid ${option} ${text}: expected a number`);
  return Number(text);
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_procs',
  prefix: 'PROCS',
  description:
    "Counts processes with the filters and output of monitoring-plugins' check_procs (state letters as in ps STAT, " +
    'parent, user, command name, arguments, VSZ, RSS, CPU), read from /proc directly without starting ps.',
  thresholds: { subject: 'the number of matching processes' },
  inputFile: true,
  options: [
    { name: 'metric', short: 'm', type: 'string', valueName: 'PROCS', help: 'Only PROCS (the number of processes) is supported.' },
    { name: 'state', short: 's', type: 'string', valueName: 'STATUSFLAGS', help: 'Only processes whose ps STAT contains these letters in this order, as check_procs matches them (Z, D, R, S, Ss, Sl; the flags after the state letter are < N L s l +).' },
    { name: 'ppid', short: 'p', type: 'string', valueName: 'PPID', help: 'Only children of this process.' },
    { name: 'vsz', short: 'z', type: 'string', valueName: 'KIB', help: 'Only processes with a virtual size of at least this many KiB.' },
    { name: 'rss', short: 'r', type: 'string', valueName: 'KIB', help: 'Only processes with a resident size of at least this many KiB.' },
    { name: 'pcpu', short: 'P', type: 'string', valueName: 'PCPU', help: 'Only processes with at least this %CPU (over their life time, as ps computes it).' },
    { name: 'user', short: 'u', type: 'string', valueName: 'USER', help: 'Only processes of this user name or uid (effective uid).' },
    { name: 'argument-array', short: 'a', type: 'string', valueName: 'STRING', help: 'Only processes whose command line contains STRING.' },
    { name: 'ereg-argument-array', type: 'string', valueName: 'REGEX', help: 'Only processes whose command line matches REGEX.' },
    { name: 'command', short: 'C', type: 'string', valueName: 'COMMAND', help: 'Only processes with exactly this command name (without path, at most 15 characters as in /proc).' },
    { name: 'no-kthreads', short: 'k', type: 'boolean', help: 'Leave kernel threads out.' },
  ],
  notes: 'Privileges: none for the count; -u and -a read /proc/<pid>/status and cmdline, which every user may read unless /proc is mounted with hidepid.\nExamples (the stock nrpe.cfg): check_ha_procs -w 5 -c 10 -s Z, check_ha_procs -w 150 -c 200',
  async run(ctx) {
    const metric = ctx.string('metric');
    if (metric !== undefined && metric.toUpperCase() !== 'PROCS') throw new PluginError(`-m ${metric} is not supported by check_ha_procs: only PROCS (the process count)`);
    const user = ctx.string('user');
    let uid: number | undefined;
    let userName: string | undefined;
    if (user !== undefined) {
      const users = passwdUids(await readTextFile('/etc/passwd', undefined, { signal: ctx.signal }));
      if (/^\d+$/.test(user)) {
        uid = Number(user);
        userName = [...users].find(([, u]) => u === uid)?.[0];
      } else {
        uid = users.get(user);
        userName = user;
        if (uid === undefined) throw new PluginError(`-u ${user}: no such user in /etc/passwd`);
      }
    }
    const ereg = ctx.string('ereg-argument-array');
    let argumentRegex: RegExp | undefined;
    try {
      argumentRegex = ereg === undefined ? undefined : new RegExp(ereg);
    } catch {
      throw new PluginError(`invalid --ereg-argument-array ${ereg}: not a regular expression`);
    }
    const filter: ProcFilter = {
      states: ctx.string('state'),
      ppid: num(ctx.string('ppid'), '-p'),
      vszKiB: num(ctx.string('vsz'), '-z'),
      rssKiB: num(ctx.string('rss'), '-r'),
      pcpu: num(ctx.string('pcpu'), '-P'),
      uid,
      userName,
      argument: ctx.string('argument-array'),
      argumentRegex,
      command: ctx.string('command'),
      noKernelThreads: ctx.flag('no-kthreads'),
    };
    const want = needs(filter);
    if (ctx.verbose > 0) want.cmdline = want.status = true;
    // --input-file: saved `ps axwwo stat,uid,pid,ppid,vsz,rss,pcpu,etimes,comm,args` output.
    const input = await ctx.readInput();
    let procs = input !== undefined ? parsePsOutput(input) : await readProcesses(want, ctx.signal);
    // Standalone, the check leaves itself out (check_procs leaves out itself and its ps);
    // inside the agent the agent is a process like any other.
    if (/check_ha_procs(\.cjs)?$/.test(process.argv[1] ?? '')) procs = procs.filter((p) => p.pid !== process.pid);
    return evaluateProcs(procs, filter, ctx.thresholds, ctx.verbose > 0);
  },
};

export default descriptor;
