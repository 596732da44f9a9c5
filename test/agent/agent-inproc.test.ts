/**
 * In-process execution of check_ha_* plugins: the agent library runs in this process with a
 * test-only plugin descriptor, and the stock check_nrpe asks it. The answer must equal what
 * runPlugin (the standalone executable's code path) gives.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../agent/config.ts';
import { createLogger } from '../../agent/log.ts';
import { createAgent, type Agent } from '../../agent/server.ts';
import { runPlugin } from '../../nagios/plugin.ts';
import { freePort } from '../support/ports.ts';
import { checkNrpe, cleanup, expectCleanCut, onCleanup, requireTools, tempDir } from './helpers.ts';
import { sleepsAborted, testPlugin } from './fixtures/test-plugin.ts';

let agent: Agent;
let port: number;
let dir: string;
const logLines: string[] = [];

beforeAll(async () => {
  requireTools();
  dir = await tempDir();
  await writeFile(join(dir, 'value.txt'), '15\n');
  port = await freePort();
  const text = [
    `server_port=${port}`,
    'server_address=127.0.0.1',
    'allowed_hosts=127.0.0.1',
    'dont_blame_nrpe=1',
    'command_timeout=2',
    `command[test_file]=/usr/local/bin/check_ha_test -w 10 -c 20 --input-file ${join(dir, 'value.txt')}`,
    'command[test_args]=/opt/hawatch/dist/bin/check_ha_test.cjs --value $ARG1$ -w $ARG2$',
    'command[test_long]=check_ha_test --value 1 --lines $ARG1$',
    'command[test_sleep]=check_ha_test --value 1 --sleep $ARG1$ -t 30',
    'command[test_missing]=check_ha_test --input-file /nonexistent/file',
    'command[test_help]=check_ha_test --bogus',
    'command[test_perf]=check_ha_test --value 1 --perf $ARG1$',
    'command[test_prog]=check_ha_test --value 1 --program $ARG1$',
  ].join('\n');
  agent = createAgent({ load: () => parseConfigText(text, join(dir, 'agent.cfg')), useTls: true, plugins: [testPlugin], logger: createLogger('debug', (l) => logLines.push(l)) });
  await agent.start();
  agent.serve();
  onCleanup(() => agent.close(1000));
});
afterAll(cleanup);

async function standalone(argv: string[]): Promise<{ code: number; stdout: string }> {
  const r = await runPlugin(testPlugin, argv);
  return { code: r.exitCode, stdout: r.text };
}

describe('check_ha_* plugins run inside the agent', () => {
  it('plans the plugin command lines as in-process', () => {
    const rec = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.msg === 'config loaded');
    expect(rec).toMatchObject({ inproc: 8, exec: 0, shell: 0 });
  });

  it('gives the same output and exit code as the standalone plugin', async () => {
    const viaAgent = await checkNrpe(port, ['-c', 'test_file']);
    const direct = await standalone(['-w', '10', '-c', '20', '--input-file', join(dir, 'value.txt')]);
    expect(direct.code).toBe(1);
    expect(viaAgent).toMatchObject({ code: direct.code, stdout: direct.stdout });
    expect(viaAgent.stdout).toMatch(/^HATEST WARNING - value: value is 15 \| value=15;10;20\n/);
    for (const [args, argv] of [
      [['25', '30'], ['--value', '25', '-w', '30']],
      [['5', '3'], ['--value', '5', '-w', '3']],
    ] as const) {
      const a = await checkNrpe(port, ['-c', 'test_args', '-a', ...args]);
      const d = await standalone([...argv]);
      expect(a).toMatchObject({ code: d.code, stdout: d.stdout });
    }
    expect(await checkNrpe(port, ['-c', 'test_missing'])).toMatchObject(await standalone(['--input-file', '/nonexistent/file']));
    expect(await checkNrpe(port, ['-c', 'test_help'])).toMatchObject(await standalone(['--bogus']));
  });

  it('keeps an argument one word: it cannot inject options', async () => {
    const r = await checkNrpe(port, ['-c', 'test_args', '-a', '5 --sleep 99999', '10']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('HATEST UNKNOWN - not a number: 5 --sleep 99999\n');
  });

  it('passes long output over 1 KiB on v4 and truncates it cleanly on v2', async () => {
    const direct = await standalone(['--value', '1', '--lines', '40']);
    expect(direct.stdout.length).toBeGreaterThan(2048);
    expect(await checkNrpe(port, ['-c', 'test_long', '-a', '40'])).toMatchObject({ code: 0, stdout: direct.stdout });
    const v2 = await checkNrpe(port, ['-2', '-c', 'test_long', '-a', '40']);
    expect(v2.code).toBe(0);
    expectCleanCut(v2.stdout, direct.stdout, 1023);
  });

  it('cuts perfdata over 1 KiB at an item boundary on v2 (check_nrpe -2), whole on v4', async () => {
    const direct = await standalone(['--value', '1', '--perf', '40']);
    expect(direct.stdout.split('\n')).toHaveLength(3); // first line with perfdata, one long-output line, end
    expect(Buffer.byteLength(direct.stdout.split('|')[1]!)).toBeGreaterThan(2048);
    expect(await checkNrpe(port, ['-c', 'test_perf', '-a', '40'])).toMatchObject({ code: 0, stdout: direct.stdout });
    const v2 = await checkNrpe(port, ['-2', '-c', 'test_perf', '-a', '40']);
    expect(v2.code).toBe(0);
    expectCleanCut(v2.stdout, direct.stdout, 1023);
    // as many whole items as fit, the quoted labels with spaces among them
    expect(v2.stdout).toMatch(/'disk 2 used'=2048B;5242880;31457280;0;8589635584 /);
    const kept = v2.stdout.split('|')[1]!.trim().split(/ (?=res|'|value)/);
    expect(kept.length).toBeGreaterThan(5);
    expect(Buffer.byteLength(v2.stdout)).toBeGreaterThan(1023 - 80);
  });

  it('refuses a restricted option of the check from an argument, with one UNKNOWN line', async () => {
    const r = await checkNrpe(port, ['-c', 'test_prog', '-a', '/usr/bin/id']);
    expect(r).toMatchObject({ code: 3, stdout: 'NRPE: arguments refused: option --program names a program and cannot be set through arguments (write it in the command line of the agent configuration)\n' });
  });

  it('answers NRPE’s timeout text when the plugin outlives command_timeout, without blocking others', async () => {
    const slow = checkNrpe(port, ['-c', 'test_sleep', '-a', '5000']);
    await sleep(100);
    const fast = await Promise.all(Array.from({ length: 5 }, () => checkNrpe(port, ['-c', 'test_sleep', '-a', '300'])));
    for (const f of fast) {
      expect(f.code).toBe(0);
      expect(f.ms).toBeLessThan(1500);
    }
    const abortedBefore = sleepsAborted.count;
    const s = await slow;
    expect(s).toMatchObject({ code: 3, stdout: 'NRPE: Command timed out after 2 seconds\n' });
    // The check itself was stopped (its timers and reads released), not only the answer sent.
    expect(sleepsAborted.count).toBe(abortedBefore + 1);
    expect(s.ms).toBeLessThan(3500);
  });

  it('logs in-process requests with mode inproc', async () => {
    await checkNrpe(port, ['-c', 'test_file']);
    const rec = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === 'request' && r.command === 'test_file').at(-1);
    expect(rec).toMatchObject({ mode: 'inproc', code: 1, remote: '127.0.0.1' });
  });
});
