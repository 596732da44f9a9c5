/**
 * Operations: command line, privileges, log file and its reopening, max_commands.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_BIN, checkNrpe, cleanup, freePort, requireTools, run, startAgent, tempDir } from './helpers.ts';

afterAll(cleanup);

describe('command line', () => {
  it('--check-config reports problems with file and line, and the sample as fine', async () => {
    requireTools();
    const dir = await tempDir();
    const good = await run(process.execPath, [AGENT_BIN, '-c', new URL('../../agent/agent.cfg.sample', import.meta.url).pathname, '--check-config']);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/commands, fine/);
    await writeFile(join(dir, 'bad.cfg'), 'server_port=5666\ncommand_timeout=soon\n');
    const bad = await run(process.execPath, [AGENT_BIN, '-c', join(dir, 'bad.cfg'), '--check-config']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`hawatch-agent: ${join(dir, 'bad.cfg')}:2: command_timeout must be a whole number, not 'soon'\n`);
    await writeFile(join(dir, 'odd.cfg'), 'ssl_client_certs=2\nwhatever=1\n');
    const odd = await run(process.execPath, [AGENT_BIN, '-c', join(dir, 'odd.cfg'), '--check-config']);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toMatch(/warning: .*unknown key 'whatever' ignored/);
    expect(odd.stderr).toMatch(/error: ssl_client_certs=2 needs ssl_cacert_file/);
    const none = await run(process.execPath, [AGENT_BIN]);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/no configuration given: use -c/);
    const unknown = await run(process.execPath, [AGENT_BIN, '--bogus']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/^hawatch-agent: .*bogus.*; see 'hawatch-agent --help'\n$/);
    const version = await run(process.execPath, [AGENT_BIN, '-V']);
    expect(version.stdout).toMatch(/^hawatch-agent \d+\.\d+\.\d+ \(NRPE v4\.1\.0-hawatch\)\n$/);
  });

  it('refuses to run commands as root without nrpe_user, and says what to do', async () => {
    const dir = await tempDir();
    const port = await freePort();
    await writeFile(join(dir, 'root.cfg'), `server_port=${port}\nserver_address=127.0.0.1\ncommand[x]=/bin/true\n`);
    const r = await run(process.execPath, [AGENT_BIN, '-c', join(dir, 'root.cfg')], 10_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to run commands as root: set nrpe_user/);
  });

  it('reports a port in use clearly', async () => {
    const first = await startAgent({ config: 'command[x]=/bin/true' });
    const dir = await tempDir();
    await writeFile(join(dir, 'dup.cfg'), `server_port=${first.port}\nserver_address=127.0.0.1\nnrpe_user=nagios\ncommand[x]=/bin/true\n`);
    const r = await run(process.execPath, [AGENT_BIN, '-c', join(dir, 'dup.cfg')], 10_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`cannot listen on 127.0.0.1:${first.port}: .*EADDRINUSE.*another nrpe or agent is listening there`));
  });
});

describe('privileges, logs, limits', () => {
  it('drops to nrpe_user after binding; commands run as that user', async () => {
    const agent = await startAgent({ config: 'allowed_hosts=127.0.0.1\ncommand[who]=/usr/bin/id -un' });
    expect(await checkNrpe(agent.port, ['-c', 'who'])).toMatchObject({ code: 0, stdout: 'nagios\n' });
    const started = agent.records().find((r) => r.msg === 'started');
    expect(started?.uid).not.toBe(0);
    expect(readFileSync(`/proc/${agent.proc.pid}/status`, 'utf8')).toMatch(/^Uid:\s+(\d+)\s+\1\s+\1\s+\1$/m);
    expect(readFileSync(`/proc/${agent.proc.pid}/status`, 'utf8')).not.toMatch(/^Uid:\s+0\s/m);
  });

  it('writes JSON lines to log_file and reopens it on SIGHUP (logrotate)', async () => {
    const dir = await tempDir();
    const { chmod } = await import('node:fs/promises');
    await chmod(dir, 0o777);
    const log = join(dir, 'agent.log');
    const agent = await startAgent({ config: `allowed_hosts=127.0.0.1\nlog_file=${log}\ncommand[hello]=/bin/echo hi`, logFile: log });
    await checkNrpe(agent.port, ['-c', 'hello']);
    await new Promise((r) => setTimeout(r, 100));
    const before = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(before.some((r) => r.msg === 'request' && r.command === 'hello')).toBe(true);
    await rename(log, `${log}.1`);
    agent.proc.kill('SIGHUP');
    await agent.waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('"msg":"reloaded"'));
    expect(readFileSync(`${log}.1`, 'utf8')).not.toMatch(/reloaded/);
    await checkNrpe(agent.port, ['-c', 'hello']);
    await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(log, 'utf8')).toMatch(/"msg":"request".*"command":"hello"/);
  });

  it('max_commands=1 runs commands one after the other', async () => {
    const agent = await startAgent({ config: `allowed_hosts=127.0.0.1\nmax_commands=1\ncommand[nap]=/bin/sh -c 'sleep 0.7; echo up'` });
    const t0 = performance.now();
    const rs = await Promise.all([checkNrpe(agent.port, ['-c', 'nap']), checkNrpe(agent.port, ['-c', 'nap'])]);
    for (const r of rs) expect(r).toMatchObject({ code: 0, stdout: 'up\n' });
    expect(performance.now() - t0).toBeGreaterThan(1350);
  });
});
