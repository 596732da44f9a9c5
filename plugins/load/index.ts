import { PluginError, type PluginDescriptor } from '../../nagios/plugin.ts';
import { readTextFile } from '../lib/files.ts';
import { evaluateLoad } from './evaluate.ts';
import { countCpuList, parseLoadavg, parseTriplet } from './parse.ts';

const descriptor: PluginDescriptor = {
  name: 'check_ha_load',
  prefix: 'LOAD',
  description:
    'Checks the 1, 5 and 15 minute load averages from /proc/loadavg, with the options and output of ' +
    "monitoring-plugins' check_load: -w/-c take three comma-separated values (or one for all three); " +
    'an average strictly above its threshold alerts. With -r the averages are divided by the number of online CPUs first.',
  inputFile: true,
  options: [
    { name: 'warning', short: 'w', type: 'string', valueName: 'WLOAD1,WLOAD5,WLOAD15', help: 'WARNING when a load average exceeds its value.' },
    { name: 'critical', short: 'c', type: 'string', valueName: 'CLOAD1,CLOAD5,CLOAD15', help: 'CRITICAL when a load average exceeds its value.' },
    { name: 'percpu', short: 'r', type: 'boolean', help: 'Divide the load averages by the number of online CPUs (the raw values are shown too).' },
    { name: 'procs-to-show', short: 'n', type: 'string', valueName: 'N', help: 'Accepted for check_load compatibility; only 0 (the default) is supported.' },
    { name: 'cpus', type: 'string', valueName: 'N', help: 'Number of CPUs to divide by with -r (default: online CPUs from /sys/devices/system/cpu/online); for --input-file data from another host.' },
  ],
  notes: 'Privileges: none. Example (the stock nrpe.cfg): check_ha_load -r -w .15,.10,.05 -c .30,.25,.20',
  async run(ctx) {
    const warning = ctx.string('warning');
    const critical = ctx.string('critical');
    const w = warning === undefined ? undefined : parseTriplet(warning, '-w');
    const c = critical === undefined ? undefined : parseTriplet(critical, '-c');
    if (w && c) {
      for (const k of [0, 1, 2] as const) {
        if (w[k] > c[k]) throw new PluginError(`-w ${warning} is above -c ${critical} for the ${[1, 5, 15][k]} minute average: the warning value must not exceed the critical one`);
      }
    }
    const n = ctx.string('procs-to-show');
    if (n !== undefined && n !== '0') throw new PluginError('-n (top processes) is not supported by check_ha_load: use check_ha_procs, or -n 0');
    const text = (await ctx.readInput()) ?? (await readTextFile('/proc/loadavg', undefined, { signal: ctx.signal }));
    const avg = parseLoadavg(text);
    let cpus: number | undefined;
    const given = ctx.string('cpus');
    if (given !== undefined) {
      cpus = /^\d+$/.test(given) && Number(given) > 0 ? Number(given) : undefined;
      if (cpus === undefined) throw new PluginError(`invalid --cpus ${given}: expected a whole number above 0`);
    } else if (ctx.flag('percpu')) {
      cpus = countCpuList(await readTextFile('/sys/devices/system/cpu/online', undefined, { signal: ctx.signal }).catch(() => ''));
      if (cpus === undefined) {
        const os = await import('node:os');
        cpus = os.cpus().length || 1;
      }
    }
    return evaluateLoad({ load: avg.load, cpus: cpus ?? 1, perCpu: ctx.flag('percpu'), warning: w, critical: c });
  },
};

export default descriptor;
