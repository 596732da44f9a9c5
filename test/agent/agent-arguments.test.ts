/**
 * Issue 9 item 4: with dont_blame_nrpe=1, arguments cannot add options, and options that name
 * a file or a program are never set through arguments. Real requests through the stock
 * check_nrpe -a against the built agent running the real checks in-process.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../support/paths.ts';
import { checkNrpe, cleanup, startAgent, type Daemon } from './helpers.ts';

const PROC = join(fixturesDir('drbd'), 'proc-8.4-healthy.txt');
let agent: Daemon;

beforeAll(async () => {
  agent = await startAgent({
    config: [
      'allowed_hosts=127.0.0.1',
      'dont_blame_nrpe=1',
      'command[drbd_file]=/usr/local/bin/check_ha_drbd --input-file $ARG1$',
      'command[drbd_eq]=/usr/local/bin/check_ha_drbd --input-file=$ARG1$',
      'command[drbd_any]=/usr/local/bin/check_ha_drbd $ARG1$ $ARG2$',
      `command[drbd_w]=/usr/local/bin/check_ha_drbd --input-file ${PROC} -w $ARG1$ -c $ARG2$`,
      `command[drbd_weq]=/usr/local/bin/check_ha_drbd --input-file ${PROC} --warning=$ARG1$`,
      `command[drbd_r]=/usr/local/bin/check_ha_drbd --input-file ${PROC} -r$ARG1$`,
      'command[drbd_setup]=/usr/local/bin/check_ha_drbd --source status-json --drbdsetup $ARG1$',
      'command[crm_mon]=/usr/local/bin/check_ha_crm --crm-mon=$ARG1$',
      'command[haproxy_s]=/usr/local/bin/check_ha_haproxy -S$ARG1$',
      'command[haproxy_s2]=/usr/local/bin/check_ha_haproxy -S $ARG1$',
      'command[ipt_b]=/usr/local/bin/check_ha_iptables -b $ARG1$',
      'command[pg_pw]=/usr/local/bin/check_ha_pgsql -H 127.0.0.1 --password-file $ARG1$',
      'command[echo]=/bin/echo $ARG1$',
      'command[echo_w]=/bin/echo -w $ARG1$',
      'command[echo_eq]=/bin/echo --x=$ARG1$',
      'command[echo_two]=/bin/echo -w $ARG1$ $ARG2$',
      'command[sh_echo]=/bin/echo $ARG1$ | /bin/cat',
    ].join('\n'),
  });
});
afterAll(cleanup);

const REFUSED = /^NRPE: arguments refused: [^\n]+\n$/;

async function refused(command: string, args: readonly string[], why: RegExp): Promise<void> {
  const r = await checkNrpe(agent.port, ['-c', command, '-a', ...args]);
  expect({ code: r.code, stdout: r.stdout }, `${command} ${args.join(' ')}`).toMatchObject({ code: 3, stdout: expect.stringMatching(REFUSED) });
  expect(r.stdout, `${command} ${args.join(' ')}`).toMatch(why);
  // One line, none of the characters Nagios mangles.
  expect(r.stdout.trimEnd()).not.toMatch(/[;`~$&|'"<>\n]/);
}

describe('options that name files or programs', () => {
  it('are never set through an argument, in any form', async () => {
    await refused('drbd_file', ['/etc/passwd'], /option --input-file names a file/);
    await refused('drbd_eq', ['/etc/passwd'], /option --input-file names a file/);
    await refused('drbd_setup', ['/usr/bin/id'], /option --drbdsetup names a program/);
    await refused('crm_mon', ['/usr/bin/id'], /option --crm-mon names a program/);
    await refused('haproxy_s', ['/etc/passwd'], /option --socket names a file/);
    await refused('haproxy_s2', ['/etc/passwd'], /option --socket names a file/);
    await refused('ipt_b', ['/tmp/x'], /option --baseline names a file/);
    await refused('pg_pw', ['/etc/shadow'], /option --password-file names a file/);
  });

  it('cannot be added by an argument starting with a dash (long, =value, short, grouped)', async () => {
    for (const a of ['--input-file=/etc/passwd', '--input-file', '-vvv', '-t5', '--']) {
      await refused('drbd_any', [a, PROC], /may not start with a dash/);
    }
    await refused('drbd_any', ['-w', '--crm-mon=/usr/bin/id'], /may not start with a dash/);
    // -r takes a value: what follows in the same word is that value, not more options
    const r = await checkNrpe(agent.port, ['-c', 'drbd_r', '-a', 'vw--input-file=/etc/passwd']);
    expect(r.stdout).not.toMatch(/^NRPE: arguments refused/);
    expect(r.stdout).not.toMatch(/root:/);
  });

  it('logs each refusal once, without the argument values', async () => {
    await refused('crm_mon', ['/usr/bin/secret-value-x'], /crm-mon/);
    const rec = agent.records().filter((x) => x.msg === 'request' && x.command === 'crm_mon').at(-1);
    expect(rec).toMatchObject({ code: 3, mode: 'inproc', problem: expect.stringMatching(/^arguments refused: option --crm-mon names a program/) });
    expect(agent.output()).not.toMatch(/secret-value-x/);
  });
});

describe('values after an option that takes one', () => {
  it('may start with a dash or be ranges (in-process checks)', async () => {
    for (const [w, c] of [['~:5', '30'], ['5:', '@10:20'], ['-5:', '30']] as const) {
      const r = await checkNrpe(agent.port, ['-c', 'drbd_w', '-a', w, c]);
      expect(r.stdout, `${w} ${c}`).not.toMatch(/^NRPE: arguments refused/);
      expect(r.stdout).toMatch(/^DRBD /);
    }
    const eq = await checkNrpe(agent.port, ['-c', 'drbd_weq', '-a', '-1:']);
    expect(eq.stdout).toMatch(/^DRBD OK/);
  });

  it('external programs: a dashed value only right after an option of the command line', async () => {
    expect(await checkNrpe(agent.port, ['-c', 'echo_w', '-a', '-5:'])).toMatchObject({ code: 0, stdout: '-w -5:\n' });
    expect(await checkNrpe(agent.port, ['-c', 'echo_eq', '-a', '-5'])).toMatchObject({ code: 0, stdout: '--x=-5\n' });
    expect(await checkNrpe(agent.port, ['-c', 'echo', '-a', 'plain'])).toMatchObject({ code: 0, stdout: 'plain\n' });
    await refused('echo', ['-n'], /may not start with a dash/);
    await refused('echo_two', ['5', '-e'], /argument 2 may not start with a dash/);
  });

  it('shell lines: no white space (it would add words), dashes as for external programs', async () => {
    expect(await checkNrpe(agent.port, ['-c', 'sh_echo', '-a', 'plain'])).toMatchObject({ code: 0, stdout: 'plain\n' });
    await refused('sh_echo', ['a -n'], /white space/);
    await refused('sh_echo', ['-n'], /may not start with a dash/);
  });
});
