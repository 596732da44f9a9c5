import { describe, expect, it } from 'vitest';
import { CommandError, type CommandRunner } from '../../nagios/exec.ts';
import { commandFailure, runPlugin, type PluginDescriptor } from '../../nagios/plugin.ts';
import { leaf } from '../../nagios/result.ts';

const timingOut: CommandRunner = async (file, _args, opts) => {
  throw new CommandError('timeout', file, `'${file}' did not finish within ${opts.timeoutMs / 1000} s`);
};

function plugin(timeoutMs: (remaining: number) => number): PluginDescriptor {
  return {
    name: 'check_test',
    prefix: 'TEST',
    description: 'test',
    options: [],
    async run(ctx) {
      try {
        await ctx.runCommand('slow', [], { timeoutMs: timeoutMs(ctx.remainingMs()), signal: ctx.signal });
      } catch (e) {
        commandFailure(e);
      }
      return leaf('', 0, 'unreachable');
    },
  };
}

describe('a command that uses up the time left', () => {
  it('ends in the -t state', async () => {
    const r = await runPlugin(plugin((left) => left), ['-t', '5:CRITICAL'], { runCommand: timingOut });
    expect(r.exitCode).toBe(2);
    expect(r.text).toMatch(/^TEST CRITICAL - plugin timed out after 5 s: slow did not finish/);
  });

  it('a command with its own shorter timeout stays UNKNOWN', async () => {
    const r = await runPlugin(plugin(() => 100), ['-t', '5:CRITICAL'], { runCommand: timingOut });
    expect(r.exitCode).toBe(3);
    expect(r.text).toMatch(/^TEST UNKNOWN - slow did not finish within 0.1 s/);
  });
});
