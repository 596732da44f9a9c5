import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { State } from '../../../nagios/states.ts';
import { createSshExecutor, parseHostKeyPin, shellQuote, sshFingerprint } from '../../../server/executors/ssh.ts';
import type { CheckRequest, SshTransport } from '../../../server/executors/types.ts';
import { freePort, startSshd, type Sshd } from './daemons.ts';

const DUMMY = '/usr/lib/nagios/plugins/check_dummy';
const repoRoot = resolve(import.meta.dirname, '..', '..', '..');

describe('host key pins and quoting', () => {
  it('parses fingerprints and public key lines', () => {
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]);
    const line = `node1 ssh-ed25519 ${blob.toString('base64')} root@node1`;
    expect(parseHostKeyPin(line)).toEqual({ fingerprint: sshFingerprint(blob), keyType: 'ssh-ed25519' });
    expect(parseHostKeyPin(sshFingerprint(blob)).fingerprint).toBe(sshFingerprint(blob));
    expect(() => parseHostKeyPin('MD5:aa:bb')).toThrow(/expected a fingerprint like SHA256:/);
    expect(() => parseHostKeyPin(`ssh-rsa ${blob.toString('base64')}`)).toThrow(/not a valid ssh-rsa public key/);
  });

  it('quotes words for the remote shell', () => {
    expect(shellQuote('/usr/lib/nagios/plugins/check_load')).toBe('/usr/lib/nagios/plugins/check_load');
    expect(shellQuote('-w')).toBe('-w');
    expect(shellQuote("it's; rm -rf /")).toBe(`'it'\\''s; rm -rf /'`);
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('$(id)')).toBe("'$(id)'");
  });
});

describe('SSH executor against a real sshd', () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  const transport = (over: Partial<SshTransport> = {}): SshTransport => ({
    kind: 'ssh',
    port: sshd.port,
    user: sshd.user,
    privateKeyFile: sshd.userKey,
    hostKey: sshd.fingerprint,
    unreachableState: State.CRITICAL,
    ...over,
  });
  const request = (argv: [string, ...string[]], over: Partial<SshTransport> = {}, timeoutMs = 10_000): CheckRequest => ({
    hostName: 'node1',
    address: '127.0.0.1',
    transport: transport(over),
    command: { kind: 'argv', argv },
    timeoutMs,
    timeoutState: State.CRITICAL,
  });
  const sessions = (): number => (sshd.log().match(/Starting session: command/g) ?? []).length;
  const logins = (): number => (sshd.log().match(/Accepted publickey/g) ?? []).length;

  it('runs a plugin remotely and maps exit codes; several checks share one connection', async () => {
    const exec = createSshExecutor();
    try {
      const logins0 = logins();
      const sessions0 = sessions();
      expect(await exec.run(request([DUMMY, '0', 'all good']))).toMatchObject({ state: State.OK, output: 'OK: all good' });
      expect(await exec.run(request([DUMMY, '1', 'careful']))).toMatchObject({ state: State.WARNING, output: 'WARNING: careful' });
      expect(await exec.run(request([DUMMY, '2', 'broken']))).toMatchObject({ state: State.CRITICAL, output: 'CRITICAL: broken' });
      expect(await exec.run(request(['/bin/sh', '-c', 'echo "odd|x=1"; exit 9']))).toMatchObject({ state: State.UNKNOWN, output: 'odd', perfdataText: 'x=1' });
      // 12 at once: more than maxChannels (8), so some wait for a free channel.
      const many = await Promise.all(Array.from({ length: 12 }, (_, i) => exec.run(request([DUMMY, '0', `n${i}`]))));
      expect(many.map((r) => r.output)).toEqual(Array.from({ length: 12 }, (_, i) => `OK: n${i}`));
      expect(exec.connectionsOpened).toBe(1);
      // sshd's own log: one login, one session per check.
      await new Promise((r) => setTimeout(r, 200));
      expect(logins() - logins0).toBe(1);
      expect(sessions() - sessions0).toBe(16);
    } finally {
      await exec.close();
    }
  });

  it('passes arguments literally (no remote shell interpretation)', async () => {
    const exec = createSshExecutor();
    try {
      const r = await exec.run(request(['/usr/bin/printf', '%s|%s', "a b 'c' $(id) ;", 'n=1']));
      expect(r.output).toBe("a b 'c' $(id) ;");
      expect(r.perfdataText).toBe('n=1');
    } finally {
      await exec.close();
    }
  });

  it('accepts a pinned public key line and refuses a wrong pin with both fingerprints', async () => {
    const exec = createSshExecutor();
    try {
      expect(await exec.run(request([DUMMY, '0', 'pinned'], { hostKey: sshd.hostPublicKey }))).toMatchObject({ state: State.OK });
      const wrong = 'SHA256:' + 'A'.repeat(43);
      const r = await exec.run(request([DUMMY, '0', 'x'], { hostKey: wrong }));
      expect(r).toMatchObject({ state: State.CRITICAL, failure: 'hostkey' });
      expect(r.output).toBe(
        `SSH: host key mismatch for ${sshd.user}@127.0.0.1:${sshd.port}: the pinned key is ${wrong} but the host showed ${sshd.fingerprint}, refusing to connect (if the host was reinstalled, pin the new key)`,
      );
      // The client never authenticated: sshd saw no login for it.
      expect(sshd.log()).not.toMatch(/Accepted publickey[^\n]*\n[^\n]*mismatch/);
    } finally {
      await exec.close();
    }
  });

  it('uses an encrypted key with a passphrase file or the environment, and says when it cannot', async () => {
    const exec = createSshExecutor({ env: {} });
    try {
      const none = await exec.run(request([DUMMY, '0', 'x'], { privateKeyFile: sshd.encryptedUserKey }));
      expect(none).toMatchObject({ state: State.UNKNOWN, failure: 'auth' });
      expect(none.output).toMatch(/is encrypted and no passphrase was given \(set passphraseFile or HAWATCH_SSH_KEY_PASSPHRASE\)/);
      const missing = await exec.run(request([DUMMY, '0', 'x'], { privateKeyFile: `${sshd.dir}/nope` }));
      expect(missing.output).toMatch(/cannot read the private key .*nope: no such file/);
      expect(await exec.run(request([DUMMY, '0', 'enc'], { privateKeyFile: sshd.encryptedUserKey, passphraseFile: sshd.passphraseFile }))).toMatchObject({ state: State.OK, output: 'OK: enc' });
    } finally {
      await exec.close();
    }
    const envExec = createSshExecutor({ env: { HAWATCH_SSH_KEY_PASSPHRASE: 'correct horse battery' } });
    try {
      expect(await envExec.run(request([DUMMY, '0', 'env'], { privateKeyFile: sshd.encryptedUserKey }))).toMatchObject({ state: State.OK });
    } finally {
      await envExec.close();
    }
  });

  it('reports a key the server does not accept', async () => {
    const exec = createSshExecutor();
    try {
      const r = await exec.run(request([DUMMY, '0', 'x'], { user: 'nagios' }));
      expect(r).toMatchObject({ state: State.CRITICAL, failure: 'auth' });
      expect(r.output).toMatch(/^SSH: authentication as nagios@127\.0\.0\.1:\d+ with key .* failed: is its public key in the authorized_keys of that user\?$/);
    } finally {
      await exec.close();
    }
  });

  it('an empty stdout with stderr gives a helpful line; a missing plugin says so', async () => {
    const exec = createSshExecutor();
    try {
      const r = await exec.run(request(['/usr/lib/nagios/plugins/check_nonexistent', '-w', '1']));
      expect(r.state).toBe(State.UNKNOWN);
      expect(r.output).toMatch(/^\(No output on stdout\) exit status 127, stderr: .*check_nonexistent.*(No such file or directory|not found) \(command not found: check the plugin path\)$/);
    } finally {
      await exec.close();
    }
  });

  it('times out a hanging plugin with the timeout state, asks sshd to kill it; the connection stays usable', async () => {
    const exec = createSshExecutor();
    try {
      const t0 = performance.now();
      // sleep 4.31 (a duration no other test uses, so pgrep finds only this one); if sshd
      // does not kill it, it ends by itself soon after.
      const r = await exec.run(request(['/bin/sleep', '4.31'], {}, 1000));
      expect(performance.now() - t0).toBeLessThan(2500);
      expect(r).toMatchObject({ state: State.CRITICAL, failure: 'timeout' });
      expect(r.output).toBe(`SSH: check timed out after 1 s running /bin/sleep on ${sshd.user}@127.0.0.1:${sshd.port}`);
      // We asked sshd to kill the plugin (a signal request); for an unprivileged login (as
      // here) sshd delivers it. As root it would refuse ("session signalling requires
      // privilege separation") and the plugin would linger until it writes.
      const lingering = (): boolean => spawnSync('pgrep', ['-u', sshd.user, '-f', '^/bin/sleep 4\\.31$']).status === 0;
      const until = Date.now() + 1500;
      while (lingering() && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
      expect(lingering()).toBe(false);
      expect(await exec.run(request([DUMMY, '0', 'after']))).toMatchObject({ state: State.OK });
      expect(exec.connectionsOpened).toBe(1);
    } finally {
      await exec.close();
    }
  });

  it('works from an esbuild CJS bundle, as in dist/bin/hawatch-server.cjs (ssh2 loaded lazily)', async () => {
    // Bundled next to node_modules so that the external ssh2 resolves as in dist/bin.
    const cache = join(repoRoot, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    const out = mkdtempSync(join(cache, 'hawatch-ssh-bundle-'));
    try {
      await build({
        stdin: {
          contents: `import { createExecutor } from './server/executors/index.ts';
            const req = JSON.parse(process.argv[2]);
            const e = createExecutor(req.transport);
            e.run(req).then(async (r) => { process.stdout.write(JSON.stringify(r)); await e.close(); });`,
          resolveDir: repoRoot,
          loader: 'ts',
        },
        bundle: true,
        platform: 'node',
        format: 'cjs',
        packages: 'external',
        outfile: join(out, 'run.cjs'),
        logLevel: 'silent',
      });
      const r = spawnSync(process.execPath, [join(out, 'run.cjs'), JSON.stringify(request([DUMMY, '1', 'bundled']))], { encoding: 'utf8', timeout: 20_000 });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toMatchObject({ state: State.WARNING, output: 'WARNING: bundled' });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('connection refused is the unreachable state', async () => {
    const exec = createSshExecutor();
    const port = await freePort();
    const r = await exec.run({ ...request([DUMMY, '0', 'x'], { port, unreachableState: State.UNKNOWN }) });
    expect(r).toMatchObject({ state: State.UNKNOWN, failure: 'connect' });
    expect(r.output).toBe(`SSH: could not connect to ${sshd.user}@127.0.0.1:${port}: Connection refused`);
    await exec.close();
  });

  it('closes an idle connection and reconnects for the next check', async () => {
    const exec = createSshExecutor({ idleMs: 200 });
    try {
      await exec.run(request([DUMMY, '0', 'a']));
      await new Promise((r) => setTimeout(r, 600));
      expect(await exec.run(request([DUMMY, '0', 'b']))).toMatchObject({ output: 'OK: b' });
      expect(exec.connectionsOpened).toBe(2);
    } finally {
      await exec.close();
    }
  });
});

describe('SSH executor when sshd dies', () => {
  it('a check running when sshd is killed ends UNKNOWN at once with a clear line, and the next one reconnects', async () => {
    const sshd = await startSshd();
    const exec = createSshExecutor();
    try {
      const req = (argv: [string, ...string[]]): CheckRequest => ({
        hostName: 'node1',
        address: '127.0.0.1',
        transport: { kind: 'ssh', port: sshd.port, user: sshd.user, privateKeyFile: sshd.userKey, hostKey: sshd.fingerprint, unreachableState: State.UNKNOWN },
        command: { kind: 'argv', argv },
        timeoutMs: 15_000,
        timeoutState: State.CRITICAL,
      });
      expect(await exec.run(req([DUMMY, '0', 'before']))).toMatchObject({ state: State.OK });
      const running = exec.run(req(['/bin/sleep', '20']));
      await new Promise((r) => setTimeout(r, 500));
      const t0 = performance.now();
      sshd.killAll();
      const r = await running;
      expect(performance.now() - t0).toBeLessThan(3000);
      expect(r).toMatchObject({ state: State.UNKNOWN, failure: 'connect' });
      expect(r.output).toMatch(new RegExp(`^SSH: the connection to ${sshd.user}@127\\.0\\.0\\.1:${sshd.port} was lost \\(.+\\) while /bin/sleep ran$`));
      const after = await exec.run(req([DUMMY, '0', 'x']));
      expect(after).toMatchObject({ state: State.UNKNOWN, failure: 'connect' });
      expect(after.output).toMatch(/could not connect to .*Connection refused/);
    } finally {
      await exec.close();
      await sshd.stop();
    }
  });
});
