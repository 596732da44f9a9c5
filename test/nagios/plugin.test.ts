import { describe, expect, it } from 'vitest';
import { CommandError } from '../../nagios/exec.ts';
import { commandFailure, helpText, PluginError, runPlugin, type PluginDescriptor } from '../../nagios/plugin.ts';
import { checkThresholds } from '../../nagios/range.ts';
import { leaf } from '../../nagios/result.ts';
import { State } from '../../nagios/states.ts';

const value: PluginDescriptor = {
  name: 'check_ha_test',
  prefix: 'TEST',
  description: 'A test plugin that judges a number.',
  thresholds: { subject: 'the value', warning: '10', critical: '20' },
  inputFile: true,
  options: [
    { name: 'value', type: 'string', help: 'The value.' },
    { name: 'sleep', type: 'string', help: 'Sleep this many ms.' },
    { name: 'item', type: 'string', multiple: true, help: 'Items.' },
    { name: 'mode', type: 'string', default: 'fast', help: 'Mode.' },
    { name: 'fail', type: 'string', help: 'Fail this way.' },
  ],
  async run(ctx) {
    const fail = ctx.string('fail');
    if (fail === 'plugin') throw new PluginError('the data source said no: do X');
    if (fail === 'crash') throw new TypeError("Cannot read properties of undefined (reading 'x')");
    if (fail === 'command') commandFailure(new CommandError('not-found', 'crm_mon', "'crm_mon' was not found"), { notFound: 'install pacemaker-cli-utils' });
    if (ctx.string('sleep')) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Number(ctx.string('sleep')));
        ctx.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); });
      });
    }
    const input = await ctx.readInput();
    const v = Number(input?.trim() ?? ctx.string('value') ?? 0);
    return {
      state: State.OK,
      summary: `value ${v}, mode ${ctx.string('mode')}, items ${ctx.strings('item').join('+') || '-'}, verbose ${ctx.verbose}`,
      children: [leaf('value', checkThresholds(v, ctx.thresholds), `is ${v}`, [{ label: 'value', value: v, warning: ctx.thresholds.warning, critical: ctx.thresholds.critical }])],
    };
  },
};

describe('runPlugin', () => {
  it('applies default thresholds and prints them in perfdata', async () => {
    const r = await runPlugin(value, ['--value', '5']);
    expect(r.exitCode).toBe(0);
    expect(r.text).toBe('TEST OK - value 5, mode fast, items -, verbose 0 | value=5;10;20\n[OK] value: is 5\n');
  });
  it('-w/-c override the defaults', async () => {
    expect((await runPlugin(value, ['--value', '7', '-w', '5', '-c', '30'])).exitCode).toBe(State.WARNING);
    expect((await runPlugin(value, ['--value', '31', '-w', '5', '-c', '30'])).exitCode).toBe(State.CRITICAL);
    expect((await runPlugin(value, ['--value', '15', '--warning=@10:20'])).text).toMatch(/^TEST WARNING - value: is 15 \| value=15;@10:20;20\n/);
  });
  it('repeatable and comma-separated options, -v counting', async () => {
    const r = await runPlugin(value, ['--item', 'a,b', '--item', 'c', '-vvv', '--mode', 'slow']);
    expect(r.text).toMatch(/mode slow, items a\+b\+c, verbose 3/);
  });
  it('reads --input-file, also from stdin with -', async () => {
    const r = await runPlugin(value, ['--input-file', '-'], { readStdin: async () => '25\n' });
    expect(r.exitCode).toBe(State.CRITICAL);
    const missing = await runPlugin(value, ['--input-file', '/nonexistent/x']);
    expect(missing).toEqual({ exitCode: 3, text: 'TEST UNKNOWN - cannot read input file /nonexistent/x: no such file\n' });
  });
  it('unknown options and bad values: one line, UNKNOWN', async () => {
    expect(await runPlugin(value, ['--bogus'])).toEqual({ exitCode: 3, text: 'TEST UNKNOWN - unknown option --bogus, see check_ha_test --help\n' });
    expect(await runPlugin(value, ['-x'])).toEqual({ exitCode: 3, text: 'TEST UNKNOWN - unknown option -x, see check_ha_test --help\n' });
    expect(await runPlugin(value, ['stray'])).toEqual({ exitCode: 3, text: 'TEST UNKNOWN - unexpected argument stray, see check_ha_test --help\n' });
    expect((await runPlugin(value, ['-w'])).text).toMatch(/^TEST UNKNOWN - option -w.* needs a value, see/);
    expect(await runPlugin(value, ['-w', '10:5'])).toEqual({ exitCode: 3, text: 'TEST UNKNOWN - invalid threshold range 10:5: start 10 is greater than end 5\n' });
    expect((await runPlugin(value, ['-t', 'abc'])).text).toMatch(/^TEST UNKNOWN - invalid timeout abc/);
    expect((await runPlugin(value, ['-t', '5:MAYBE'])).text).toMatch(/^TEST UNKNOWN - invalid timeout state MAYBE/);
  });
  it('expected failures and crashes are one line without a stack', async () => {
    expect(await runPlugin(value, ['--fail', 'plugin'])).toEqual({ exitCode: 3, text: 'TEST UNKNOWN - the data source said no: do X\n' });
    expect(await runPlugin(value, ['--fail', 'command'])).toEqual({ exitCode: 3, text: 'TEST UNKNOWN - crm_mon was not found: install pacemaker-cli-utils\n' });
    const crash = await runPlugin(value, ['--fail', 'crash']);
    expect(crash.exitCode).toBe(3);
    expect(crash.text.split('\n')).toHaveLength(2);
    expect(crash.text).toMatch(/^TEST UNKNOWN - internal error: Cannot read properties/);
    expect(crash.text).not.toMatch(/ at /);
  });
  it('-t expires with UNKNOWN, or the state given as -t N:STATE', async () => {
    const t0 = Date.now();
    const r = await runPlugin(value, ['--sleep', '5000', '-t', '0.3']);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r).toEqual({ exitCode: 3, text: 'TEST UNKNOWN - plugin timed out after 0.3 s (raise -t, or check why the data source is slow)\n' });
    expect((await runPlugin(value, ['--sleep', '5000', '-t', '0.2:CRITICAL'])).exitCode).toBe(State.CRITICAL);
  });
  it('an external abort (the agent\'s command_timeout) stops the check and what it started', async () => {
    const abort = new AbortController();
    let childSignal: AbortSignal | undefined;
    const d: PluginDescriptor = {
      ...value,
      async run(ctx) {
        childSignal = ctx.signal;
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        return leaf('x', State.OK, 'finished');
      },
    };
    const t0 = Date.now();
    setTimeout(() => abort.abort(), 100);
    const r = await runPlugin(d, ['-t', '30'], { signal: abort.signal });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(childSignal?.aborted).toBe(true);
    expect(r.exitCode).toBe(State.UNKNOWN);
  });
  it('-h and -V print and exit UNKNOWN like monitoring-plugins', async () => {
    const h = await runPlugin(value, ['-h']);
    expect(h.exitCode).toBe(3);
    expect(h.text).toBe(helpText(value));
    expect(h.text).toMatch(/-w, --warning RANGE\s+Warning range for the value \(default 10\)/);
    expect(h.text).toMatch(/--input-file PATH/);
    expect((await runPlugin(value, ['--version'])).text).toMatch(/^check_ha_test \d+\.\d+\.\d+ \(hawatch\)\n$/);
  });
});
