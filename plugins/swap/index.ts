import { PluginError, type PluginDescriptor } from '../../nagios/plugin.ts';
import { parseStateName } from '../../nagios/states.ts';
import { readTextFile } from '../lib/files.ts';
import { parseFreeThreshold } from '../lib/host.ts';
import { evaluateSwap } from './evaluate.ts';
import { parseProcSwaps, swapFromMeminfo } from './parse.ts';

const descriptor: PluginDescriptor = {
  name: 'check_ha_swap',
  prefix: 'SWAP',
  description:
    "Checks free swap space from /proc/meminfo with the options and output of monitoring-plugins' check_swap: " +
    '-w/-c take a percentage of free swap (20%) or a free size in bytes (or with a unit: 512MB); both kinds may be given and all are checked.',
  inputFile: true,
  options: [
    { name: 'warning', short: 'w', type: 'string', multiple: true, valueName: 'PERCENT%|BYTES', help: 'WARNING when free swap is at or below this (repeatable: a percent and a size).' },
    { name: 'critical', short: 'c', type: 'string', multiple: true, valueName: 'PERCENT%|BYTES', help: 'CRITICAL when free swap is at or below this (repeatable).' },
    { name: 'allswaps', short: 'a', type: 'boolean', help: 'Judge each swap area of /proc/swaps on its own.' },
    { name: 'no-swap', short: 'n', type: 'string', valueName: 'STATE', default: 'critical', help: 'State when there is no swap at all, whatever the thresholds: ok, warning, critical or unknown.' },
  ],
  notes: 'Privileges: none. Free swap counts SwapCached, as check_swap 2.3 does.',
  async run(ctx) {
    const list = (name: 'warning' | 'critical', opt: string) => ctx.strings(name).map((t) => parseFreeThreshold(t, 1, opt));
    const warning = list('warning', '-w');
    const critical = list('critical', '-c');
    const noSwapText = ctx.string('no-swap') ?? 'critical';
    const noSwapState = parseStateName(noSwapText);
    if (noSwapState === undefined) throw new PluginError(`invalid -n ${noSwapText}: expected ok, warning, critical or unknown`);
    const input = await ctx.readInput();
    const total = swapFromMeminfo(input ?? (await readTextFile('/proc/meminfo', undefined, { signal: ctx.signal })));
    const areas = ctx.flag('allswaps') && input === undefined ? parseProcSwaps(await readTextFile('/proc/swaps', undefined, { signal: ctx.signal })) : undefined;
    return evaluateSwap({ total, areas, warning, critical, noSwapState });
  },
};

export default descriptor;
