import type { PluginDescriptor } from '../../nagios/plugin.ts';
import { readTextFile } from '../lib/files.ts';
import { parseFreeThreshold } from '../lib/host.ts';
import { evaluateMemory, memoryFromMeminfo } from './evaluate.ts';

const descriptor: PluginDescriptor = {
  name: 'check_ha_memory',
  prefix: 'MEMORY',
  description:
    'Checks available memory (MemAvailable of /proc/meminfo: what can be allocated without swapping) with thresholds ' +
    'in the grammar of check_swap: a percentage of available memory (10%) or an available size in bytes or with a unit (512MB).',
  inputFile: true,
  options: [
    { name: 'warning', short: 'w', type: 'string', multiple: true, valueName: 'PERCENT%|SIZE', help: 'WARNING when available memory is at or below this (repeatable: a percent and a size).' },
    { name: 'critical', short: 'c', type: 'string', multiple: true, valueName: 'PERCENT%|SIZE', help: 'CRITICAL when available memory is at or below this (repeatable).' },
  ],
  notes: 'Privileges: none. Example: check_ha_memory -w 10% -c 5%',
  async run(ctx) {
    const warning = ctx.strings('warning').map((t) => parseFreeThreshold(t, 1, '-w'));
    const critical = ctx.strings('critical').map((t) => parseFreeThreshold(t, 1, '-c'));
    const text = (await ctx.readInput()) ?? (await readTextFile('/proc/meminfo', undefined, { signal: ctx.signal }));
    return evaluateMemory(memoryFromMeminfo(text), warning, critical);
  },
};

export default descriptor;
