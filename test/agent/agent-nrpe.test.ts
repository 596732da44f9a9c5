/**
 * The built hawatch-agent against the stock check_nrpe (default TLS mode, anonymous DH),
 * with the stock nrpe daemon answering the same commands for comparison.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_DUMMY, checkNrpe, cleanup, requireFile, startAgent, startStockNrpe, type Daemon } from './helpers.ts';

const COMMANDS = [
  'command[hello]=/bin/echo hello',
  `command[long]=/usr/bin/perl -e 'print "x" x 3000; print "\\n"; exit 1'`,
  `command[huge]=/usr/bin/perl -e 'print "y" x 70000; exit 0'`,
  `command[exit7]=/bin/sh -c 'echo seven; exit 7'`,
  'command[empty]=/bin/true',
  'command[slow]=/bin/sleep 10',
  `command[twonl]=/usr/bin/printf 'a\\n\\n'`,
  `command[multiline]=/usr/bin/printf 'OK - first|a=1\\nsecond line\\nthird|b=2\\n'`,
  `command[stderr]=/bin/sh -c 'echo out; echo err >&2; exit 2'`,
  `command[dummy]=${CHECK_DUMMY} 1 "warn text"`,
  'command[pipe]=echo hi | tr a-z A-Z',
];

let agent: Daemon;
let argsAgent: Daemon;

beforeAll(async () => {
  requireFile(CHECK_DUMMY, 'install the Debian package monitoring-plugins-basic');
  agent = await startAgent({ config: ['allowed_hosts=127.0.0.1', 'command_timeout=2', ...COMMANDS].join('\n') });
  argsAgent = await startAgent({
    config: [
      'allowed_hosts=127.0.0.1',
      'dont_blame_nrpe=1',
      'command_timeout=5',
      `command[argv]=/usr/bin/printf '[%s]' $ARG1$ $ARG2$`,
      'command[echoarg]=/bin/echo $ARG1$ / $ARG2$ / $ARG16$',
      `command[shellarg]=echo "$ARG1$" | tr a-z A-Z`,
      'command[fast]=/bin/echo fast',
      `command[slowish]=/bin/sh -c 'sleep 2; echo slow done'`,
    ].join('\n'),
  });
});
afterAll(cleanup);

describe('answers check_nrpe in every protocol version (TLS, anonymous DH)', () => {
  for (const [label, flags] of [['v4', []], ['v2 (-2)', ['-2']], ['v3 (-3)', ['-3']]] as const) {
    it(`${label}: _NRPE_CHECK, commands, errors`, async () => {
      const hello = await checkNrpe(agent.port, [...flags]);
      expect(hello).toMatchObject({ code: 0, stdout: 'NRPE v4.1.0-hawatch\n' });
      expect(await checkNrpe(agent.port, [...flags, '-c', 'hello'])).toMatchObject({ code: 0, stdout: 'hello\n' });
      expect(await checkNrpe(agent.port, [...flags, '-c', 'nope'])).toMatchObject({ code: 3, stdout: "NRPE: Command 'nope' not defined\n" });
      expect(await checkNrpe(agent.port, [...flags, '-c', 'exit7'])).toMatchObject({ code: 3, stdout: 'seven\n' });
      expect(await checkNrpe(agent.port, [...flags, '-c', 'empty'])).toMatchObject({ code: 3, stdout: 'NRPE: Unable to read output\n' });
      expect(await checkNrpe(agent.port, [...flags, '-c', 'twonl'])).toMatchObject({ code: 0, stdout: 'a\n\n' });
      expect(await checkNrpe(agent.port, [...flags, '-c', 'pipe'])).toMatchObject({ code: 0, stdout: 'HI\n' });
      expect(await checkNrpe(agent.port, [...flags, '-c', 'dummy'])).toMatchObject({ code: 1, stdout: 'WARNING: warn text\n' });
    });
  }

  it('reports a command timeout as NRPE does', async () => {
    const r = await checkNrpe(agent.port, ['-c', 'slow']);
    expect(r).toMatchObject({ code: 3, stdout: 'NRPE: Command timed out after 2 seconds\n' });
    expect(r.ms).toBeLessThan(4000);
  });

  it('passes long output over 1 KiB on v4 and truncates it cleanly on v2', async () => {
    const v4 = await checkNrpe(agent.port, ['-c', 'long']);
    expect(v4).toMatchObject({ code: 1, stdout: 'x'.repeat(3000) + '\n' });
    const v2 = await checkNrpe(agent.port, ['-2', '-c', 'long']);
    expect(v2).toMatchObject({ code: 1, stdout: 'x'.repeat(1023) + '\n' });
    const huge = await checkNrpe(agent.port, ['-c', 'huge']);
    expect(huge.code).toBe(0);
    expect(huge.stdout).toBe('y'.repeat(65535) + '\n');
  });

  it('logs every request as one JSON line: who, what, result, duration', async () => {
    await checkNrpe(agent.port, ['-c', 'hello']);
    const rec = agent.records().filter((r) => r.msg === 'request' && r.command === 'hello').at(-1);
    expect(rec).toMatchObject({ level: 'info', remote: '127.0.0.1', version: 4, command: 'hello', args: 0, mode: 'exec', code: 0 });
    expect(typeof rec!.ms).toBe('number');
    expect(typeof rec!.time).toBe('string');
    // every line the agent wrote is JSON
    for (const line of agent.output().split('\n').filter((l) => l !== '')) expect(() => JSON.parse(line), line).not.toThrow();
  });
});

describe('arguments and forbidden characters', () => {
  it('refuses arguments unless dont_blame_nrpe=1: no answer, logged', async () => {
    const r = await checkNrpe(agent.port, ['-c', 'hello', '-a', 'x']);
    expect(r.code).toBe(3);
    expect(r.stdout).not.toMatch(/hello/);
    expect(agent.output()).toMatch(/"reason":"the query has arguments but dont_blame_nrpe=0"/);
  });

  it('substitutes each $ARGn$ as one word: an argument cannot add words', async () => {
    expect(await checkNrpe(argsAgent.port, ['-c', 'argv', '-a', 'one two', '3'])).toMatchObject({ code: 0, stdout: '[one two][3]\n' });
    const many = Array.from({ length: 17 }, (_, i) => `a${i + 1}`);
    expect(await checkNrpe(argsAgent.port, ['-c', 'echoarg', '-a', ...many])).toMatchObject({ code: 0, stdout: 'a1 / a2 / a16\n' });
    // a shell line gets the (checked) arguments substituted, as NRPE does
    expect(await checkNrpe(argsAgent.port, ['-c', 'shellarg', '-a', 'abc'])).toMatchObject({ code: 0, stdout: 'ABC\n' });
  });

  it('refuses forbidden characters without an answer, in arguments and command names', async () => {
    for (const bad of ['a;b', 'a|b', '`id`', '$(id)', 'a>b', "a'b", 'a&b']) {
      const r = await checkNrpe(argsAgent.port, ['-c', 'argv', '-a', bad]);
      expect(r.code, bad).toBe(3);
      expect(r.stdout, bad).not.toMatch(/\[/);
    }
    const named = await checkNrpe(argsAgent.port, ['-c', 'argv;id']);
    expect(named.stdout).not.toMatch(/not defined/);
    expect(argsAgent.output()).toMatch(/forbidden characters/);
    // and it still serves
    expect(await checkNrpe(argsAgent.port, ['-c', 'fast'])).toMatchObject({ code: 0, stdout: 'fast\n' });
  });

  it('runs requests concurrently: a slow check does not stall the others', async () => {
    const slow = checkNrpe(argsAgent.port, ['-c', 'slowish']);
    await new Promise((r) => setTimeout(r, 200));
    const fast = await Promise.all(Array.from({ length: 6 }, () => checkNrpe(argsAgent.port, ['-c', 'fast'])));
    for (const f of fast) {
      expect(f).toMatchObject({ code: 0, stdout: 'fast\n' });
      expect(f.ms).toBeLessThan(1500);
    }
    expect(await slow).toMatchObject({ code: 0, stdout: 'slow done\n' });
  });
});

describe('SIGHUP reload', () => {
  it('reloads the config without dropping a request in flight; a broken config keeps the old one', async () => {
    const d = await startAgent({ config: ['allowed_hosts=127.0.0.1', 'command_timeout=10', `command[inflight]=/bin/sh -c 'sleep 1.5; echo old done'`, 'command[hello]=/bin/echo old hello'].join('\n') });
    const inflight = checkNrpe(d.port, ['-c', 'inflight']);
    await new Promise((r) => setTimeout(r, 300));
    const head = [`server_port=${d.port}`, 'server_address=127.0.0.1', 'nrpe_user=nagios', 'nrpe_group=nagios', 'allowed_hosts=127.0.0.1'];
    await writeFile(d.cfgPath, [...head, 'command[hello]=/bin/echo new hello', 'command[added]=/bin/echo added'].join('\n') + '\n');
    d.proc.kill('SIGHUP');
    await d.waitFor((o) => o.includes('"msg":"reloaded"'));
    expect(await checkNrpe(d.port, ['-c', 'hello'])).toMatchObject({ code: 0, stdout: 'new hello\n' });
    expect(await checkNrpe(d.port, ['-c', 'added'])).toMatchObject({ code: 0, stdout: 'added\n' });
    expect(await inflight).toMatchObject({ code: 0, stdout: 'old done\n' });

    await writeFile(d.cfgPath, [...head, 'command_timeout=banana'].join('\n') + '\n');
    d.proc.kill('SIGHUP');
    await d.waitFor((o) => o.includes('reload failed'));
    expect(d.output()).toMatch(/command_timeout must be a whole number/);
    expect(await checkNrpe(d.port, ['-c', 'added'])).toMatchObject({ code: 0, stdout: 'added\n' });
  });
});

describe('compared with the stock nrpe 4.1.0 daemon', () => {
  let stock: Daemon;
  beforeAll(async () => {
    // Debian's nrpe is built without command-argument support: compare argument-free commands.
    stock = await startStockNrpe(['allowed_hosts=127.0.0.1', 'command_timeout=2', ...COMMANDS.filter((c) => !c.startsWith('command[pipe]'))].join('\n'));
  });

  it('gives the same answers and exit codes', async () => {
    const cases: string[][] = [
      ['-c', 'nope'],
      ['-c', 'hello'],
      ['-c', 'exit7'],
      ['-c', 'empty'],
      ['-c', 'twonl'],
      ['-c', 'multiline'],
      ['-c', 'stderr'],
      ['-c', 'dummy'],
      ['-c', 'long'],
      ['-2', '-c', 'long'],
      ['-2', '-c', 'nope'],
      ['-c', 'slow'],
    ];
    for (const args of cases) {
      const [ours, theirs] = await Promise.all([checkNrpe(agent.port, args), checkNrpe(stock.port, args)]);
      expect({ code: ours.code, stdout: ours.stdout }, args.join(' ')).toEqual({ code: theirs.code, stdout: theirs.stdout });
    }
  });

  it('answers _NRPE_CHECK like nrpe 4.1.0, marked as hawatch', async () => {
    const [ours, theirs] = await Promise.all([checkNrpe(agent.port, []), checkNrpe(stock.port, [])]);
    expect(theirs).toMatchObject({ code: 0, stdout: 'NRPE v4.1.0\n' });
    expect(ours.code).toBe(0);
    expect(ours.stdout.startsWith('NRPE v4.1.0')).toBe(true);
    expect(ours.stdout).toMatch(/^NRPE v(\d+\.\d+\.\d+)/);
  });

  it('refuses arguments the same way (no answer) when they are not allowed', async () => {
    const [ours, theirs] = await Promise.all([checkNrpe(agent.port, ['-c', 'hello', '-a', 'x']), checkNrpe(stock.port, ['-c', 'hello', '-a', 'x'])]);
    expect(ours.code).toBe(theirs.code);
    expect(ours.stdout).toBe(theirs.stdout);
  });
});
