import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commandLineToArgv } from '../../../nagios/commandline.ts';
import { State } from '../../../nagios/states.ts';
import { createExecutor, ExecutorPool, LocalExecutor, NrpeExecutor, SshExecutor } from '../../../server/executors/index.ts';
import { createLocalExecutor } from '../../../server/executors/local.ts';
import type { CheckRequest } from '../../../server/executors/types.ts';

const DUMMY = '/usr/lib/nagios/plugins/check_dummy';
const dir = mkdtempSync(join(tmpdir(), 'hawatch-local-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const request = (argv: [string, ...string[]], timeoutMs = 5000): CheckRequest => ({
  hostName: 'admin',
  address: '127.0.0.1',
  transport: { kind: 'local' },
  command: { kind: 'argv', argv },
  timeoutMs,
  timeoutState: State.CRITICAL,
});

describe('local executor', () => {
  const exec = createLocalExecutor({ maxOutputBytes: 64 * 1024 });

  it('runs a plugin without a shell and maps its exit code', async () => {
    expect(await exec.run(request([DUMMY, '0', 'fine']))).toMatchObject({ state: State.OK, output: 'OK: fine' });
    expect(await exec.run(request([DUMMY, '2', 'bad']))).toMatchObject({ state: State.CRITICAL, output: 'CRITICAL: bad' });
    const r = await exec.run(request(['/bin/sh', '-c', 'printf "x|a=1\\nlong\\n"; exit 4']));
    expect(r).toMatchObject({ state: State.UNKNOWN, output: 'x', longOutput: 'long', perfdataText: 'a=1' });
    expect(r.failure).toBeUndefined();
  });

  it('macro values never reach a shell', async () => {
    const marker = join(dir, 'pwned');
    const argv = commandLineToArgv('/bin/echo $ARG1$', { ARG1: `x; touch ${marker}` });
    expect(await exec.run(request(argv))).toMatchObject({ state: State.OK, output: `x; touch ${marker}` });
    expect(existsSync(marker)).toBe(false);
  });

  it('times out and kills the plugin, with the timeout state', async () => {
    const t0 = performance.now();
    const r = await exec.run(request(['/bin/sleep', '10'], 300));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r).toMatchObject({ state: State.CRITICAL, failure: 'timeout', output: "check timed out after 0.3 s: /bin/sleep was killed" });
  });

  it('says what failed for a missing or non-executable plugin and for too much output', async () => {
    expect(await exec.run(request(['/nonexistent/check_x']))).toMatchObject({ state: State.UNKNOWN, failure: 'spawn', output: "/nonexistent/check_x was not found: check the command path (is the plugin package installed?)" });
    const script = join(dir, 'noexec');
    writeFileSync(script, '#!/bin/sh\necho hi\n');
    chmodSync(script, 0o644);
    expect(await exec.run(request([script]))).toMatchObject({ state: State.UNKNOWN, failure: 'spawn' });
    expect(await exec.run(request(['/usr/bin/seq', '1', '100000']))).toMatchObject({ state: State.UNKNOWN, failure: 'protocol', output: '/usr/bin/seq printed more than 65536 bytes and was killed' });
  });

  it('explains an empty stdout with the stderr line', async () => {
    const r = await exec.run(request(['/bin/sh', '-c', 'echo "check_x: invalid option -- z" >&2; exit 3']));
    expect(r).toMatchObject({ state: State.UNKNOWN, output: '(No output on stdout) exit status 3, stderr: check_x: invalid option -- z' });
    const k = await exec.run(request(['/bin/sh', '-c', 'kill -SEGV $$']));
    expect(k).toMatchObject({ state: State.UNKNOWN, output: '(No output on stdout) killed by SIGSEGV' });
  });

  it('refuses an NRPE command and stops running checks on close', async () => {
    expect(await exec.run({ ...request([DUMMY]), command: { kind: 'nrpe', command: 'check_load', args: [] } })).toMatchObject({ state: State.UNKNOWN, failure: 'protocol' });
    const other = createLocalExecutor();
    const p = other.run(request(['/bin/sleep', '10']));
    await new Promise((r) => setTimeout(r, 100));
    await other.close();
    expect(await p).toMatchObject({ state: State.UNKNOWN, failure: 'aborted' });
  });
});

describe('createExecutor and ExecutorPool', () => {
  it('picks the executor by transport kind', async () => {
    expect(createExecutor({ kind: 'local' })).toBeInstanceOf(LocalExecutor);
    expect(createExecutor({ kind: 'nrpe', port: 5666, packetVersion: 4, unreachableState: State.CRITICAL, tls: { enabled: true, verify: false } })).toBeInstanceOf(NrpeExecutor);
    expect(createExecutor({ kind: 'ssh', port: 22, user: 'nagios', privateKeyFile: '/x', hostKey: 'SHA256:x', unreachableState: State.CRITICAL })).toBeInstanceOf(SshExecutor);
    const pool = new ExecutorPool();
    expect(await pool.run(request([DUMMY, '1', 'pooled']))).toMatchObject({ state: State.WARNING, output: 'WARNING: pooled' });
    expect(pool.executorFor('local')).toBe(pool.executorFor('local'));
    await pool.close();
    expect(await pool.run(request([DUMMY, '0']))).toMatchObject({ state: State.UNKNOWN, failure: 'aborted' });
  });
});

describe('local executor: what a plugin gets (issue 9 items 6 and 16)', () => {
  it('a clean environment like Nagios gives plugins, plus what the inventory names; no server secret', async () => {
    const { loadInventory } = await import('../../../server/inventory/load.ts');
    const { buildRequest } = await import('../../../server/scheduler/request.ts');
    const inv = loadInventory(`
server: { check_environment: { LANG: de_DE.UTF-8, ORACLE_HOME: /opt/oracle } }
hosts:
  admin: { local: true }
services:
  - { name: env, host: admin, command: /usr/bin/env }
`);
    const host = inv.hosts.get('admin');
    const svc = inv.services.get('admin/env');
    if (!host || !svc) throw new Error('inventory');
    const saved = { token: process.env.HAWATCH_API_TOKEN, smtp: process.env.SMTP_PASSWORD };
    process.env.HAWATCH_API_TOKEN = 'api-secret';
    process.env.SMTP_PASSWORD = 'smtp-secret';
    try {
      const r = await createLocalExecutor().run(buildRequest(inv, host, 'env', svc.command, 5000, {}));
      const env = [r.output, ...r.longOutput.split('\n')].filter(Boolean).sort();
      expect(env).toEqual(['LANG=de_DE.UTF-8', 'LC_ALL=C', 'ORACLE_HOME=/opt/oracle', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
      // Without an inventory entry: the Nagios defaults only.
      const plain = await createLocalExecutor().run(request(['/usr/bin/env']));
      expect([plain.output, ...plain.longOutput.split('\n')].filter(Boolean).sort()).toEqual(['LANG=C', 'LC_ALL=C', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    } finally {
      if (saved.token === undefined) delete process.env.HAWATCH_API_TOKEN;
      else process.env.HAWATCH_API_TOKEN = saved.token;
      if (saved.smtp === undefined) delete process.env.SMTP_PASSWORD;
      else process.env.SMTP_PASSWORD = saved.smtp;
    }
  });

  it('a hanging check that started a grandchild leaves no process behind after the timeout', async () => {
    const marker = `hawatch-orphan-${process.pid}-${Date.now()}`;
    const script = join(dir, 'hang.sh');
    // The grandchildren are sleeps under a name pgrep can find, as a wrapper script or sudo leaves them.
    const sleeper = join(dir, marker);
    copyFileSync('/bin/sleep', sleeper);
    chmodSync(sleeper, 0o755);
    writeFileSync(script, `#!/bin/sh\n${sleeper} 300 &\n${sleeper} 301\n`, { mode: 0o755 });
    const leftovers = async () => {
      const { execFileSync } = await import('node:child_process');
      let out = '';
      try {
        out = execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' });
      } catch {
        /* pgrep exits 1 when nothing matches */
      }
      return out.split('\n').filter(Boolean).map(Number);
    };
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 4 }, () => createLocalExecutor().run(request(['/bin/sh', script], 400))));
    expect(results.map((r) => r.failure)).toEqual(['timeout', 'timeout', 'timeout', 'timeout']);
    expect(Date.now() - started).toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 300));
    const left = await leftovers();
    for (const pid of left) process.kill(pid, 'SIGKILL'); // clean up before failing
    expect(left).toEqual([]);
  });
});
