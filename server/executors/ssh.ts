/**
 * Runs plugins on a remote host over SSH, like check_by_ssh, with the ssh2 library.
 *
 * - Key authentication only. The key is read from `privateKeyFile`; an encrypted key's
 *   passphrase comes from `passphraseFile` (first line) or, without one, from the
 *   environment variable HAWATCH_SSH_KEY_PASSPHRASE. Never from argv.
 * - The host key is pinned (transport.hostKey): an OpenSSH fingerprint `SHA256:...` as
 *   `ssh-keygen -lf` prints it, or the public key itself (`ssh-ed25519 AAAA...`). It is
 *   checked in ssh2's hostVerifier, before authentication; a mismatch refuses the
 *   connection and the check says which fingerprint the host showed.
 * - One connection per user@host:port, several exec channels on it (at most
 *   `maxChannels` at once, sshd's MaxSessions is 10), reconnect after a failure, closed
 *   after `idleMs` without checks. Keepalives find a dead peer while idle.
 * - The remote command is the argv, each word single-quoted for the remote POSIX shell,
 *   so no word is interpreted there. Exit status -> state (0..3, anything else UNKNOWN);
 *   stdout is the plugin output; stderr is ignored unless stdout is empty.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { State, type StateCode } from '../../nagios/states.ts';
import { describeSocketError, errorText, explainEmptyStdout, failureOutcome, pluginOutcome, seconds } from './outcome.ts';
import type { CheckOutcome, CheckRequest, Executor, ExecutorFailure, SshTransport } from './types.ts';

export const PASSPHRASE_ENV = 'HAWATCH_SSH_KEY_PASSPHRASE';

type Ssh2 = typeof import('ssh2');
let ssh2Module: Promise<Ssh2> | undefined;
/** ssh2 is loaded on the first SSH check: a server without SSH hosts never pays for it. */
function loadSsh2(): Promise<Ssh2> {
  // ssh2 is CommonJS: Node's import() gives its module.exports as `default` (the named
  // exports cjs-module-lexer finds do not include `utils`).
  ssh2Module ??= import('ssh2').then((m) => (m as unknown as { default?: Ssh2 }).default ?? m);
  return ssh2Module;
}

export interface SshExecutorOptions {
  /** Concurrent exec channels per connection; more checks wait. Default 8 (sshd allows 10). */
  readonly maxChannels?: number;
  /** Close a connection after this long without a running check. Default 5 minutes. */
  readonly idleMs?: number;
  /** Longest time for TCP connect + SSH handshake + authentication. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Bytes of stdout + stderr accepted from one check. Default 1 MiB. */
  readonly maxOutputBytes?: number;
  /** Keepalive probe interval; 3 unanswered probes drop the connection. Default 15 s. */
  readonly keepaliveMs?: number;
  /** Environment for HAWATCH_SSH_KEY_PASSPHRASE (tests). Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Thrown inside the executor, turned into a CheckOutcome at the edge. */
class SshFailure extends Error {
  readonly failure: ExecutorFailure;
  readonly state: StateCode;
  constructor(failure: ExecutorFailure, state: StateCode, message: string) {
    super(message);
    this.failure = failure;
    this.state = state;
  }
}

/** OpenSSH's fingerprint: SHA256 of the public key blob, base64 without padding. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export interface HostKeyPin {
  readonly fingerprint: string;
  /** The key type when the pin is a public key (`ssh-ed25519`), to ask the server for that key. */
  readonly keyType?: string;
}

/** Parses a pin: `SHA256:...`, or a public key line (`[host] ssh-ed25519 AAAA... [comment]`). */
export function parseHostKeyPin(pin: string): HostKeyPin {
  const text = pin.trim();
  const fp = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(text);
  if (fp) return { fingerprint: `SHA256:${fp[1]}` };
  const words = text.split(/\s+/);
  for (let i = 0; i + 1 < words.length; i++) {
    const type = words[i]!;
    if (!/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/.test(type)) continue;
    const blob = Buffer.from(words[i + 1]!, 'base64');
    // The blob starts with its own type name: a cheap check that this is really that key.
    if (blob.length > 4 && blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1') === type) {
      return { fingerprint: sshFingerprint(blob), keyType: type };
    }
    throw new Error(`the pinned host key's ${type} data is not a valid ${type} public key`);
  }
  throw new Error(`invalid pinned host key '${text.slice(0, 40)}': expected a fingerprint like SHA256:... (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) or a public key line like 'ssh-ed25519 AAAA...'`);
}

function hostKeyAlgorithms(keyType: string | undefined): string[] | undefined {
  if (!keyType) return undefined;
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return [keyType];
}

/** Quotes one word for a POSIX shell: left alone when safe, single-quoted otherwise. */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_/.,:=+@%^-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function peerName(user: string, address: string, port: number): string {
  return `${user}@${isIP(address) === 6 ? `[${address}]` : address}:${port}`;
}

interface ConnectionOptions {
  readonly idleMs: number;
  readonly maxChannels: number;
  readonly describeFailure: (e: unknown) => SshFailure;
  readonly onDead: (c: Connection) => void;
}

/** One SSH connection and the checks running on it. */
class Connection {
  readonly client: Client;
  readonly ready: Promise<void>;
  active = 0;
  dead = false;
  /** Why the connection ended, for the checks that were running on it. */
  endReason = '';
  /** A check has run on it: a failure to open a channel may mean it died silently. */
  used = false;
  private readonly waiters: (() => void)[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly opts: ConnectionOptions;

  constructor(ssh2: Ssh2, config: ConnectConfig, opts: ConnectionOptions) {
    this.client = new ssh2.Client();
    this.opts = opts;
    this.ready = new Promise<void>((resolve, reject) => {
      let isReady = false;
      let isGone = false;
      const gone = (): void => {
        if (isGone) return;
        isGone = true;
        this.dead = true;
        this.endReason ||= 'the connection was closed';
        clearTimeout(this.idleTimer);
        for (const w of this.waiters.splice(0)) w();
        this.opts.onDead(this);
      };
      this.client.once('ready', () => {
        isReady = true;
        resolve();
      });
      this.client.on('error', (e) => {
        if (!isReady) {
          reject(this.opts.describeFailure(e));
          this.endReason = errorText(e);
          gone();
          this.client.destroy();
        } else {
          this.endReason ||= describeSocketError(e);
        }
      });
      this.client.on('close', () => {
        if (!isReady) reject(new SshFailure('connect', State.UNKNOWN, 'the connection was closed during the SSH handshake'));
        gone();
      });
    });
    // ready may reject before anyone awaits it (a refused connection); the awaiting run reports it.
    this.ready.catch(() => undefined);
    this.client.connect(config);
  }

  /** Waits for a free channel slot; false when the connection died meanwhile. */
  async acquire(signal: AbortSignal): Promise<boolean> {
    clearTimeout(this.idleTimer);
    while (!this.dead && this.active >= this.opts.maxChannels) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.push(done);
        signal.addEventListener('abort', done, { once: true });
      });
      if (signal.aborted) return false;
    }
    if (this.dead) return false;
    this.active++;
    this.used = true;
    return true;
  }

  release(): void {
    this.active--;
    this.waiters.shift()?.();
    if (this.active === 0 && !this.dead) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => this.end('idle'), this.opts.idleMs);
      this.idleTimer.unref();
    }
  }

  end(reason: string): void {
    if (this.dead) return;
    this.endReason ||= reason;
    this.dead = true;
    this.client.end();
    // end() waits for the peer; a dead peer never answers.
    setTimeout(() => this.client.destroy(), 1000).unref();
  }
}

export class SshExecutor implements Executor {
  private readonly connections = new Map<string, Connection>();
  private readonly maxChannels: number;
  private readonly idleMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxOutputBytes: number;
  private readonly keepaliveMs: number;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private closed = false;
  /** Connections opened so far (for tests and metrics). */
  connectionsOpened = 0;

  constructor(options: SshExecutorOptions = {}) {
    this.maxChannels = options.maxChannels ?? 8;
    this.idleMs = options.idleMs ?? 5 * 60_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.maxOutputBytes = options.maxOutputBytes ?? 1024 * 1024;
    this.keepaliveMs = options.keepaliveMs ?? 15_000;
    this.env = options.env ?? process.env;
  }

  async run(req: CheckRequest): Promise<CheckOutcome> {
    const startedAt = Date.now();
    const mono = performance.now();
    const t = req.transport;
    const fail = (failure: ExecutorFailure, state: StateCode, message: string): CheckOutcome => failureOutcome(failure, state, `SSH: ${message}`, startedAt, mono);
    if (t.kind !== 'ssh') return fail('protocol', State.UNKNOWN, `the SSH executor got a '${t.kind}' transport for ${req.hostName} (internal error, please report it)`);
    if (req.command.kind !== 'argv') return fail('protocol', State.UNKNOWN, `${req.hostName} uses SSH but the check names an NRPE command (${req.command.command}), give it a command line`);
    if (this.closed) return fail('aborted', State.UNKNOWN, 'check not run: the server is shutting down');
    const argv = req.command.argv;
    const remote = argv.map(shellQuote).join(' ');
    const peer = peerName(t.user, req.address, t.port);
    const program = argv[0];

    // One controller for the whole check: the request's timeout, its abort signal.
    const ac = new AbortController();
    let why: 'timeout' | 'aborted' | undefined;
    const timer = setTimeout(() => {
      why = 'timeout';
      ac.abort();
    }, req.timeoutMs);
    const onAbort = (): void => {
      why ??= 'aborted';
      ac.abort();
    };
    if (req.signal?.aborted) onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    let stage: 'connect' | 'run' = 'connect';
    try {
      const ssh2 = await loadSsh2();
      // A reused connection may turn out dead only when we open a channel: then one retry on a new one.
      for (let attempt = 0; ; attempt++) {
        stage = 'connect';
        const conn = this.connection(ssh2, req, t, peer);
        const fresh = !conn.used;
        await raceAbort(conn.ready, ac.signal);
        if (!(await conn.acquire(ac.signal))) {
          if (ac.signal.aborted) throw new Error('aborted');
          if (attempt === 0) continue;
          throw new SshFailure('connect', t.unreachableState, `connection to ${peer} lost before ${program} could start: ${conn.endReason}`);
        }
        stage = 'run';
        try {
          const result = await this.exec(conn, remote, ac.signal, peer, program!, t);
          if (result === 'retry' && attempt === 0 && !fresh) continue;
          if (result === 'retry') throw new SshFailure('protocol', State.UNKNOWN, `${peer} refused to open a session channel for ${program} (sshd MaxSessions?)`);
          const { code, signal, stdout, stderr } = result;
          if (code === null) {
            const lost = conn.dead ? `the connection to ${peer} was lost (${conn.endReason}) while ${program} ran` : `${program} on ${peer} ended without an exit status${signal ? ` (killed by SIG${signal})` : ''}`;
            throw new SshFailure(conn.dead ? 'connect' : 'protocol', conn.dead ? t.unreachableState : State.UNKNOWN, lost);
          }
          return explainEmptyStdout(pluginOutcome(code, stdout, startedAt, mono), code, stderr);
        } finally {
          conn.release();
        }
      }
    } catch (e) {
      if (why === 'timeout') {
        return stage === 'connect'
          ? fail('timeout', t.unreachableState, `no connection to ${peer} within ${seconds(req.timeoutMs)} (connect, handshake or authentication did not complete)`)
          : fail('timeout', req.timeoutState, `check timed out after ${seconds(req.timeoutMs)} running ${program} on ${peer}`);
      }
      if (why === 'aborted') return fail('aborted', State.UNKNOWN, 'check aborted: the server is shutting down');
      if (e instanceof SshFailure) return fail(e.failure, e.failure === 'connect' ? t.unreachableState : e.state, e.message);
      return fail('protocol', State.UNKNOWN, `${peer}: ${errorText(e)}`);
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(
      all.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.dead) return resolve();
            c.client.once('close', () => resolve());
            c.end('the server is shutting down');
            setTimeout(resolve, 1500).unref();
          }),
      ),
    );
  }

  private connection(ssh2: Ssh2, req: CheckRequest, t: SshTransport, peer: string): Connection {
    const key = `${peer} ${t.privateKeyFile} ${t.hostKey}`;
    const existing = this.connections.get(key);
    if (existing && !existing.dead) return existing;
    const conn = this.open(ssh2, req, t, peer, key);
    this.connections.set(key, conn);
    return conn;
  }

  private open(ssh2: Ssh2, req: CheckRequest, t: SshTransport, peer: string, key: string): Connection {
    let config: ConnectConfig;
    let pin: HostKeyPin;
    const seen: { fingerprint?: string } = {};
    const describeFailure = (e: unknown): SshFailure => {
      const err = e as Error & { level?: string; code?: string };
      if (seen.fingerprint !== undefined && seen.fingerprint !== pin.fingerprint) {
        return new SshFailure('hostkey', t.unreachableState,
          `host key mismatch for ${peer}: the pinned key is ${pin.fingerprint} but the host showed ${seen.fingerprint}, refusing to connect (if the host was reinstalled, pin the new key)`);
      }
      if (err.level === 'client-authentication') {
        return new SshFailure('auth', t.unreachableState, `authentication as ${peer} with key ${t.privateKeyFile} failed: is its public key in the authorized_keys of that user?`);
      }
      if (err.level === 'client-timeout') return new SshFailure('timeout', t.unreachableState, `no SSH handshake with ${peer} within ${seconds(this.connectTimeoutMs)}`);
      if (err.level === 'client-socket' || err.code) return new SshFailure('connect', t.unreachableState, `could not connect to ${peer}: ${describeSocketError(e)}`);
      return new SshFailure('protocol', t.unreachableState, `SSH handshake with ${peer} failed: ${errorText(e)}`);
    };
    try {
      pin = parseHostKeyPin(t.hostKey);
    } catch (e) {
      throw new SshFailure('hostkey', State.UNKNOWN, `${errorText(e)} (host ${req.hostName})`);
    }
    try {
      config = this.config(ssh2, req, t, pin, seen);
    } catch (e) {
      throw new SshFailure('auth', State.UNKNOWN, errorText(e));
    }
    this.connectionsOpened++;
    return new Connection(ssh2, config, {
      idleMs: this.idleMs,
      maxChannels: this.maxChannels,
      describeFailure,
      onDead: (c) => {
        if (this.connections.get(key) === c) this.connections.delete(key);
      },
    });
  }

  private config(ssh2: Ssh2, req: CheckRequest, t: SshTransport, pin: HostKeyPin, seen: { fingerprint?: string }): ConnectConfig {
    let privateKey: Buffer;
    try {
      privateKey = readFileSync(t.privateKeyFile);
    } catch (e) {
      throw new Error(`cannot read the private key ${t.privateKeyFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorText(e)}`);
    }
    let passphrase: string | undefined;
    if (t.passphraseFile) {
      try {
        passphrase = readFileSync(t.passphraseFile, 'utf8').split(/\r?\n/)[0];
      } catch (e) {
        throw new Error(`cannot read the key passphrase file ${t.passphraseFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorText(e)}`);
      }
    } else {
      passphrase = this.env[PASSPHRASE_ENV];
    }
    const parsed = ssh2.utils.parseKey(privateKey, passphrase);
    if (parsed instanceof Error) {
      const encrypted = /encrypted|passphrase/i.test(parsed.message);
      throw new Error(
        encrypted
          ? `the private key ${t.privateKeyFile} is encrypted and ${passphrase === undefined ? `no passphrase was given (set passphraseFile or ${PASSPHRASE_ENV})` : 'the passphrase does not open it'}`
          : `cannot use the private key ${t.privateKeyFile}: ${parsed.message}`,
      );
    }
    const algorithms = hostKeyAlgorithms(pin.keyType);
    return {
      host: req.address,
      port: t.port,
      username: t.user,
      privateKey,
      ...(passphrase !== undefined ? { passphrase } : {}),
      readyTimeout: Math.max(1, Math.min(this.connectTimeoutMs, req.timeoutMs)),
      keepaliveInterval: this.keepaliveMs,
      keepaliveCountMax: 3,
      ...(algorithms ? { algorithms: { serverHostKey: algorithms as never } } : {}),
      hostVerifier: (key: Buffer): boolean => {
        seen.fingerprint = sshFingerprint(key);
        return seen.fingerprint === pin.fingerprint;
      },
    };
  }

  /** Runs one command on an open connection. 'retry' when the channel could not be opened. */
  private exec(conn: Connection, command: string, signal: AbortSignal, peer: string, program: string, t: SshTransport): Promise<{ code: number | null; signal: string | undefined; stdout: string; stderr: string } | 'retry'> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let channel: ClientChannel | undefined;
      const onAbort = (): void => {
        if (channel) {
          try {
            // Stop the remote plugin (sshd honours signal requests) and drop the channel.
            channel.signal('KILL');
            channel.close();
          } catch {
            /* the connection may be gone already */
          }
        }
        done(() => reject(new Error('aborted')));
      };
      const done = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        conn.client.removeListener('close', onConnClose);
        fn();
      };
      const onConnClose = (): void => done(() => resolve({ code: null, signal: undefined, stdout: '', stderr: '' }));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      conn.client.once('close', onConnClose);
      try {
        conn.client.exec(command, (err, ch) => {
          if (err) return done(() => resolve('retry'));
          if (settled) {
            ch.close();
            return;
          }
          channel = ch;
          const out: Buffer[] = [];
          const errs: Buffer[] = [];
          let bytes = 0;
          let code: number | null = null;
          let sig: string | undefined;
          const take = (into: Buffer[]) => (d: Buffer): void => {
            bytes += d.length;
            if (bytes > this.maxOutputBytes) {
              ch.close();
              done(() => reject(new SshFailure('protocol', State.UNKNOWN, `${program} on ${peer} printed more than ${this.maxOutputBytes} bytes; stopped`)));
              return;
            }
            into.push(d);
          };
          ch.on('data', take(out));
          ch.stderr.on('data', take(errs));
          ch.on('exit', (c: number | null, s?: string) => {
            code = c;
            sig = s;
          });
          ch.on('close', () => done(() => resolve({ code, signal: sig, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errs).toString('utf8') })));
        });
      } catch (e) {
        // ssh2 throws when the connection is not usable any more.
        done(() => (conn.dead ? resolve({ code: null, signal: undefined, stdout: '', stderr: '' }) : reject(new SshFailure('connect', t.unreachableState, `${peer}: ${errorText(e)}`))));
      }
    });
  }
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export function createSshExecutor(options?: SshExecutorOptions): SshExecutor {
  return new SshExecutor(options);
}
