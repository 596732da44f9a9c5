import type { PluginContext, PluginDescriptor } from '../../nagios/plugin.ts';
import type { CheckResult } from '../../nagios/result.ts';
import { collect, commandRunner, DEFAULT_STATE_DIR, defaultStateDirs, saveTranscript, transcriptRunner } from './collect.ts';
import { evaluate } from './evaluate.ts';
import { parseTranscript, type Run } from './parse.ts';

async function run(ctx: PluginContext): Promise<CheckResult> {
  const input = await ctx.readInput();
  const record = new Map<string, Run>();
  const g = input !== undefined ? transcriptRunner(parseTranscript(input)) : commandRunner(ctx, { program: ctx.string('gluster') ?? 'gluster', sudo: ctx.flag('sudo'), record });
  const given = ctx.string('state-dir');
  const now = Date.now();
  try {
    const facts = await collect(g, {
      volumes: ctx.strings('volume'),
      cheap: ctx.flag('cheap'),
      // A transcript is a snapshot: no trend from it, and nothing written.
      stateDirs: input !== undefined ? undefined : given !== undefined ? [{ dir: given }] : defaultStateDirs(ctx.env),
      signal: ctx.signal,
      now,
    });
    return evaluate(facts, now);
  } finally {
    const save = ctx.string('save-input');
    if (save !== undefined && input === undefined) await saveTranscript(save, record);
  }
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_gluster',
  prefix: 'GLUSTER',
  description:
    'Checks a GlusterFS trusted pool through the gluster CLI (--xml): peers connected, and per volume: started, ' +
    'bricks online per replica or disperse set against its quorum (one brick down WARNING, quorum lost CRITICAL), ' +
    'self-heal daemons up, split-brain entries (CRITICAL) and pending heal entries that do not shrink between runs ' +
    '(WARNING). Waits for the cluster-wide lock of the gluster CLI and reports it when it outlasts the timeout.',
  inputFile: true,
  options: [
    { name: 'volume', type: 'string', multiple: true, valueName: 'NAME', help: 'Check this volume (repeatable; default: every volume of gluster volume info).' },
    { name: 'cheap', type: 'boolean', help: 'Count pending heals with volume heal VOL statistics heal-count (reads the index only, no split-brain count) instead of heal info summary.' },
    { name: 'state-dir', type: 'string', restricted: 'file', valueName: 'DIR', help: `Where the pending heal count of each volume is kept between runs (default ${DEFAULT_STATE_DIR}, else XDG_RUNTIME_DIR/hawatch, else TMPDIR/hawatch-UID).` },
    { name: 'sudo', type: 'boolean', help: 'Run gluster through sudo -n /usr/sbin/gluster (glusterd answers root only).' },
    { name: 'gluster', type: 'string', restricted: 'program', valueName: 'PATH', help: 'The gluster program (default: gluster from PATH or /usr/sbin).' },
    { name: 'save-input', type: 'string', restricted: 'file', valueName: 'FILE', help: 'Write what gluster answered to FILE (a transcript for --input-file).' },
  ],
  notes: [
    'Examples:',
    '  check_ha_gluster --sudo',
    '  check_ha_gluster --sudo --volume gv0 --cheap -t 30',
    'Run only one check per volume at a time, on one node: the gluster CLI takes a cluster-wide lock.',
    'A lock still taken at the timeout is UNKNOWN (the state of the volume is not known).',
    'glusterd answers root only: run as root, or with --sudo and the sudoers lines of the README.',
  ].join('\n'),
  run,
};

export default descriptor;
