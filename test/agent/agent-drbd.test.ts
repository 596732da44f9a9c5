/**
 * The real check_ha_drbd inside the built agent, asked by the stock check_nrpe, against the
 * standalone executable on the same captured /proc/drbd and drbdsetup outputs.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plugins } from '../../plugins/registry.ts';
import { planCommand } from '../../agent/commands.ts';
import { binPath } from '../support/bin.ts';
import { fixturesDir } from '../support/paths.ts';
import { checkNrpe, cleanup, expectCleanCut, run, startAgent, type Daemon } from './helpers.ts';

const FIXTURES = fixturesDir('drbd');
const CASES = ['proc-8.4-healthy.txt', 'proc-8.4-resync-7GiB.txt', 'proc-8.4-standalone.txt', 'proc-8.3-healthy.txt', 'status-9-multi-volume-multi-peer.json', 'events2-9-split-brain.txt'];

let agent: Daemon;
let HA_DRBD: string;
beforeAll(async () => {
  HA_DRBD = binPath('check_ha_drbd');
  const commands = CASES.map((f, i) => `command[drbd${i}]=/usr/local/bin/check_ha_drbd -w 5 -c 30 --input-file ${join(FIXTURES, f)}`);
  agent = await startAgent({ config: ['allowed_hosts=127.0.0.1', 'dont_blame_nrpe=1', ...commands, `command[drbd_args]=/usr/local/bin/check_ha_drbd.cjs --input-file ${join(FIXTURES, 'proc-8.4-standalone.txt')} -w $ARG1$ -c $ARG2$`].join('\n') });
});
afterAll(cleanup);

describe('check_ha_drbd in the agent', () => {
  it('plans every built-in check in the registry as in-process', () => {
    for (const p of plugins) expect(planCommand('x', `/usr/local/bin/${p.name} -h`, plugins).kind, p.name).toBe('inproc');
    expect(agent.records().find((r) => r.msg === 'config loaded')).toMatchObject({ inproc: CASES.length + 1, exec: 0 });
  });

  it('answers exactly what the standalone executable prints, with its exit code', async () => {
    for (const [i, f] of CASES.entries()) {
      const direct = await run(process.execPath, [HA_DRBD, '-w', '5', '-c', '30', '--input-file', join(FIXTURES, f)]);
      const viaAgent = await checkNrpe(agent.port, ['-c', `drbd${i}`]);
      expect(direct.stdout.length, f).toBeGreaterThan(0);
      expect({ code: viaAgent.code, stdout: viaAgent.stdout }, f).toEqual({ code: direct.code, stdout: direct.stdout });
    }
    const mode = agent.records().filter((r) => r.msg === 'request').map((r) => r.mode);
    expect(new Set(mode)).toEqual(new Set(['inproc']));
  });

  it('carries output over 1 KiB whole on v4 and cut cleanly at 1023 bytes on v2', async () => {
    const i = CASES.indexOf('status-9-multi-volume-multi-peer.json');
    const direct = await run(process.execPath, [HA_DRBD, '-w', '5', '-c', '30', '--input-file', join(FIXTURES, CASES[i]!)]);
    expect(Buffer.byteLength(direct.stdout)).toBeGreaterThan(1024);
    expect((await checkNrpe(agent.port, ['-c', `drbd${i}`])).stdout).toBe(direct.stdout);
    const v2 = await checkNrpe(agent.port, ['-2', '-c', `drbd${i}`]);
    // Never cut inside a perfdata item: the text is kept, whole perfdata items as room allows.
    expectCleanCut(v2.stdout, direct.stdout, 1023);
  });

  it('takes thresholds as arguments, one word each', async () => {
    const f = join(FIXTURES, 'proc-8.4-standalone.txt');
    for (const [w, c] of [['5', '30'], ['1', '4'], ['10', '20']] as const) {
      const direct = await run(process.execPath, [HA_DRBD, '--input-file', f, '-w', w, '-c', c]);
      expect(await checkNrpe(agent.port, ['-c', 'drbd_args', '-a', w, c])).toMatchObject({ code: direct.code, stdout: direct.stdout });
    }
    const injected = await checkNrpe(agent.port, ['-c', 'drbd_args', '-a', '5 --resource nosuch', '30']);
    expect(injected.code).toBe(3);
    expect(injected.stdout).toMatch(/^DRBD UNKNOWN - /);
    expect(injected.stdout).not.toMatch(/nosuch.*does not exist/);
  });
});
