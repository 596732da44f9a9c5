import type { PluginContext, PluginDescriptor } from '../../nagios/plugin.ts';
import type { CheckResult } from '../../nagios/result.ts';
import { collect, commandRunner, saveTranscript, transcriptRunner } from './collect.ts';
import { evaluate } from './evaluate.ts';
import { parseTranscript, type Run } from './parse.ts';

export const DEFAULT_HARESOURCES = '/etc/ha.d/haresources';

async function run(ctx: PluginContext): Promise<CheckResult> {
  const input = await ctx.readInput();
  const record = new Map<string, Run>();
  const cl = input !== undefined ? transcriptRunner(parseTranscript(input)) : commandRunner(ctx, ctx.string('cl-status') ?? 'cl_status', record);
  const haresources = ctx.flag('no-haresources') ? undefined : (ctx.string('haresources') ?? (input === undefined ? DEFAULT_HARESOURCES : undefined));
  try {
    const facts = await collect(cl, { local: ctx.string('node'), haresources, signal: ctx.signal });
    return evaluate(facts);
  } finally {
    const save = ctx.string('save-input');
    if (save !== undefined && input === undefined) await saveTranscript(save, record);
  }
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_heartbeat',
  prefix: 'HEARTBEAT',
  description:
    'Checks a Heartbeat 1.x-3.x cluster through cl_status: heartbeat running (a refused API connection or no ' +
    'answer is not OK), every node and ping node alive, every link to the other nodes up, and with haresources ' +
    '(no Pacemaker) the resources this node holds (rscstatus all, local, foreign, none) against the other nodes.',
  inputFile: true,
  options: [
    { name: 'cl-status', type: 'string', restricted: 'program', valueName: 'PATH', help: 'The cl_status program (default: cl_status from PATH).' },
    { name: 'node', type: 'string', valueName: 'NAME', help: 'This node as heartbeat names it (default: uname -n, as heartbeat does).' },
    { name: 'haresources', type: 'string', restricted: 'file', valueName: 'FILE', help: `haresources file (default ${DEFAULT_HARESOURCES}).` },
    { name: 'no-haresources', type: 'boolean', help: 'Do not read haresources.' },
    { name: 'save-input', type: 'string', restricted: 'file', valueName: 'FILE', help: 'Write what cl_status answered to FILE (a transcript for --input-file).' },
  ],
  notes: [
    'Examples:',
    '  check_ha_heartbeat',
    '  check_ha_heartbeat --no-haresources',
    'cl_status needs the heartbeat API: add the nagios user to the haclient group. No root, no sudo.',
  ].join('\n'),
  run,
};

export default descriptor;
