/**
 * Real daemons for the executor tests: stock nrpe (nagios-nrpe-server), sshd
 * (openssh-server), a CA made with openssl. Each on a free loopback port in its own temp
 * dir, cleaned up by stop(). A missing binary throws with the Debian package to install.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function requireBinary(path: string, pkg: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`${path} is missing: install the Debian package ${pkg} (apt-get install ${pkg})`);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (!isAlive()) throw new Error(`the daemon exited before listening on port ${port}`);
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A temp dir the nagios user (nrpe drops to it) can read. */
export function readableTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
}

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A second CA that signed nothing we use: for "wrong CA" tests. */
  readonly otherCaCert: string;
}

/** A CA, a server certificate for `localhost`/127.0.0.1 and a client certificate, with openssl. */
export function makePki(dir: string): Pki {
  requireBinary('/usr/bin/openssl', 'openssl');
  mkdirSync(dir, { recursive: true });
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, 'subjectAltName=DNS:localhost,DNS:agent.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  const cext = join(dir, 'client.ext');
  writeFileSync(cext, 'extendedKeyUsage=clientAuth\n');
  const days = ['-days', '2'];
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=hawatch test CA', ...days], dir);
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-subj', '/CN=other CA', ...days], dir);
  for (const [name, extFile] of [['server', ext], ['client', cext]] as const) {
    run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? 'agent.test' : 'hawatch-server'}`], dir);
    run('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-extfile', extFile, ...days], dir);
    chmodSync(join(dir, `${name}.key`), 0o644);
  }
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    otherCaCert: join(dir, 'other.crt'),
  };
}

export interface Daemon {
  readonly port: number;
  readonly dir: string;
  readonly child: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess, cleanup: () => void): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      // The daemon leads its own process group: its forked children go with it.
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* already gone */
      }
      await Promise.race([gone, new Promise((r) => setTimeout(r, 2000))]);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    cleanup();
  };
}

export type NrpeTlsMode = 'adh' | 'plain' | 'cert';

export interface NrpeOptions {
  readonly tls: NrpeTlsMode;
  readonly pki?: Pki;
  /** nrpe.cfg command table: name -> command line. */
  readonly commands: Readonly<Record<string, string>>;
  readonly extra?: readonly string[];
}

/** Stock /usr/sbin/nrpe 4.1 in the foreground (-f) on a free loopback port. */
export async function startNrpe(o: NrpeOptions): Promise<Daemon> {
  requireBinary('/usr/sbin/nrpe', 'nagios-nrpe-server');
  const dir = readableTempDir('hawatch-nrpe-');
  const port = await freePort();
  const lines = [
    `log_file=${join(dir, 'nrpe.log')}`,
    'debug=1',
    `pid_file=${join(dir, 'nrpe.pid')}`,
    `server_port=${port}`,
    'server_address=127.0.0.1',
    'allowed_hosts=127.0.0.1',
    'nrpe_user=nagios',
    'nrpe_group=nagios',
    'dont_blame_nrpe=1',
    'command_timeout=20',
    'connection_timeout=30',
    'listen_queue_size=64',
  ];
  if (o.tls === 'cert') {
    if (!o.pki) throw new Error('cert mode needs a PKI');
    lines.push(`ssl_cert_file=${o.pki.serverCert}`, `ssl_privatekey_file=${o.pki.serverKey}`, `ssl_cacert_file=${o.pki.caCert}`, 'ssl_client_certs=2', 'ssl_use_adh=0');
  }
  for (const [name, cmd] of Object.entries(o.commands)) lines.push(`command[${name}]=${cmd}`);
  lines.push(...(o.extra ?? []));
  const cfg = join(dir, 'nrpe.cfg');
  writeFileSync(cfg, lines.join('\n') + '\n');
  chmodSync(cfg, 0o644);
  const args = ['-c', cfg, '-f', ...(o.tls === 'plain' ? ['-n'] : [])];
  const child = spawn('/usr/sbin/nrpe', args, { detached: true, stdio: 'ignore' });
  const log = (): string => {
    try {
      return readFileSync(join(dir, 'nrpe.log'), 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await waitForPort(port, 10_000, () => child.exitCode === null);
  } catch (e) {
    await stopper(child, () => rmSync(dir, { recursive: true, force: true }))();
    throw new Error(`nrpe did not start: ${(e as Error).message}; its log: ${log().slice(-800)}`);
  }
  return { port, dir, child, log, stop: stopper(child, () => rmSync(dir, { recursive: true, force: true })) };
}

/** Pids of the processes whose parent is `pid` (from /proc), recursively. */
export function descendants(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 (ppid) comes after the command name, which is in parentheses and may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = byParent.get(ppid) ?? [];
      list.push(Number(name));
      byParent.set(ppid, list);
    } catch {
      /* the process ended meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of byParent.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

export interface Sshd extends Daemon {
  /** The host key's fingerprint, as `ssh-keygen -lf` prints it. */
  readonly fingerprint: string;
  /** The host public key line (`ssh-ed25519 AAAA... comment`). */
  readonly hostPublicKey: string;
  readonly userKey: string;
  /** An encrypted copy of the user key and its passphrase file. */
  readonly encryptedUserKey: string;
  readonly passphraseFile: string;
  /** The unprivileged login the key is accepted for (shell /bin/sh, no rc files). */
  readonly user: string;
  /** Kills sshd and every session process it forked (they call setsid, so not by group). */
  killAll(): void;
}

/**
 * The account the test sshd accepts: unprivileged, as a monitoring login is, with /bin/sh as
 * its shell. Logging in as root ran root's ~/.bashrc for every command; on a machine whose
 * .bashrc runs `pyenv init` (which waits on a lock file that a killed session leaves behind)
 * every check then hung until its timeout.
 */
export const SSH_TEST_USER = 'hawatch-sshtest';
// Password '*', not the '!' useradd gives: sshd without PAM refuses a locked account even
// for key logins.

function ensureSshUser(): void {
  if (spawnSync('id', ['-u', SSH_TEST_USER]).status === 0) return;
  const r = spawnSync('useradd', ['--system', '--password', '*', '--shell', '/bin/sh', '--home-dir', '/', '--no-create-home', SSH_TEST_USER], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot create the test login ${SSH_TEST_USER} (useradd, run the tests as root): ${r.stderr || r.error?.message}`);
}

/** A real OpenSSH sshd in the foreground on a free loopback port, accepting a generated key for SSH_TEST_USER. */
export async function startSshd(): Promise<Sshd> {
  requireBinary('/usr/sbin/sshd', 'openssh-server');
  requireBinary('/usr/bin/ssh-keygen', 'openssh-client');
  // sshd's privilege separation directory; the Debian unit creates it at boot.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  ensureSshUser();
  const dir = mkdtempSync(join(tmpdir(), 'hawatch-sshd-'));
  // sshd reads authorized_keys as the user logging in.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const keygen = (args: string[]): void => run('ssh-keygen', ['-q', ...args], dir);
  keygen(['-t', 'ed25519', '-N', '', '-C', 'hawatch-test-host', '-f', 'host_key']);
  keygen(['-t', 'ed25519', '-N', '', '-C', 'hawatch-test-user', '-f', 'user_key']);
  const passphrase = 'correct horse battery';
  keygen(['-t', 'ed25519', '-N', passphrase, '-C', 'hawatch-test-user-enc', '-f', 'user_key_enc']);
  writeFileSync(join(dir, 'passphrase'), `${passphrase}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user_key.pub'), 'utf8') + readFileSync(join(dir, 'user_key_enc.pub'), 'utf8'), { mode: 0o644 });
  const fp = spawnSync('ssh-keygen', ['-lf', join(dir, 'host_key.pub')], { encoding: 'utf8' }).stdout.split(' ')[1] ?? '';
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      'ListenAddress 127.0.0.1',
      `Port ${port}`,
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'MaxSessions 10',
      'LogLevel VERBOSE',
    ].join('\n') + '\n',
  );
  const child = spawn('/usr/sbin/sshd', ['-D', '-f', join(dir, 'sshd_config'), '-E', join(dir, 'sshd.log')], { detached: true, stdio: 'ignore' });
  const log = (): string => {
    try {
      return readFileSync(join(dir, 'sshd.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const killAll = (): void => {
    for (const pid of [child.pid!, ...descendants(child.pid!)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  const cleanup = (): void => {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, 10_000, () => child.exitCode === null);
  } catch (e) {
    cleanup();
    throw new Error(`sshd did not start: ${(e as Error).message}; its log: ${log().slice(-800)}`);
  }
  return {
    port,
    dir,
    child,
    log,
    fingerprint: fp,
    hostPublicKey: readFileSync(join(dir, 'host_key.pub'), 'utf8').trim(),
    user: SSH_TEST_USER,
    userKey: join(dir, 'user_key'),
    encryptedUserKey: join(dir, 'user_key_enc'),
    passphraseFile: join(dir, 'passphrase'),
    killAll,
    stop: async () => {
      killAll();
      await stopper(child, () => rmSync(dir, { recursive: true, force: true }))();
    },
  };
}
