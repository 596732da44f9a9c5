/**
 * The NRPE-compatible daemon: listeners, allowed_hosts right after accept, TLS (or plain
 * TCP), one request per connection answered in the version it was asked in, invalid
 * requests closed without an answer (as NRPE does), commands run concurrently.
 *
 * Everything a connection needs (config, command plans, TLS, allowed hosts) lives in one
 * immutable "generation". A reload (SIGHUP) builds a new generation and swaps it in; each
 * connection keeps the generation it was accepted with, so nothing in flight is dropped.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { containsNastyMetachars, decodePacket, encodePacket, expectedPacketLength, NrpeDecodeError, PacketType, parseQuery, type NrpeVersion } from '../nagios/nrpe.ts';
import type { PluginDescriptor } from '../nagios/plugin.ts';
import { planCommands, refuseArguments, type CommandPlan } from './commands.ts';
import { configProblems, type AgentConfig } from './config.ts';
import { buildAllowedHosts, normalizeAddress, type AllowedHosts } from './hosts.ts';
import type { Logger } from './log.ts';
import { runPlan, type RunOutcome } from './run.ts';
import { buildTls, type TlsSetup } from './tls.ts';
import { Pusher, type PushSettings } from './push.ts';
import { Coalescer, describeSpec, WatchSet } from './watch.ts';

/** What `_NRPE_CHECK` answers: the NRPE version whose protocol we speak, and who we are. */
export const NRPE_COMPAT_VERSION = '4.1.0';
export const HELLO_TEXT = `NRPE v${NRPE_COMPAT_VERSION}-hawatch`;
const HELLO_COMMAND = '_NRPE_CHECK';
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** After the answer is written, a client that does not close is cut off after this long. */
const LINGER_MS = 5000;

interface Generation {
  readonly id: number;
  readonly config: AgentConfig;
  readonly plans: ReadonlyMap<string, CommandPlan>;
  readonly allowed: AllowedHosts;
  readonly tls: TlsSetup | undefined;
  /** Connections handed to the TLS server, waiting for their handshake, by socket key. */
  readonly handshaking: Map<string, (t: TLSSocket) => void>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly limiter: Limiter;
  /** Push settings with the token and CA read (at start as root, like the TLS files). */
  readonly push: PushSettings | undefined;
}

/** Human text for Nagios: without the characters it mangles. */
function plain(s: string): string {
  return s.replace(/[;`~$&|'"<>\n\r]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);
}

async function readPushSettings(c: AgentConfig): Promise<PushSettings | undefined> {
  const p = c.push;
  if (!p.url || !p.tokenFile) return undefined;
  const read = async (what: string, file: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (e) {
      throw new Error(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; make it readable by the agent user`);
    }
  };
  const token = (await read('hawatch_push_token_file', p.tokenFile)).split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (!token) throw new Error(`hawatch_push_token_file ${p.tokenFile} holds no token`);
  return {
    url: new URL(p.url),
    ca: p.caFile ? await read('hawatch_push_ca_file', p.caFile) : undefined,
    fingerprint: p.fingerprint,
    token,
    host: p.host ?? hostname().split('.')[0]!,
    services: p.services,
    queueSize: p.queueSize,
    retryMaxMs: p.retryMaxS * 1000,
  };
}

/** max_commands: at most n commands at once (0 = no limit); the rest wait their turn. */
class Limiter {
  readonly max: number;
  running = 0;
  private readonly queue: (() => void)[] = [];
  constructor(max: number) {
    this.max = max;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.max > 0 && this.running >= this.max) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }
}

export interface AgentOptions {
  /** Loads the config: called at start and on every reload. */
  readonly load: () => Promise<AgentConfig>;
  /** false: plain TCP (`-n`). */
  readonly useTls: boolean;
  readonly plugins: readonly PluginDescriptor[];
  readonly logger: Logger;
  /** The environment commands inherit PATH and keep_env_vars from (default process.env). */
  readonly baseEnv?: Readonly<Record<string, string | undefined>>;
  /**
   * Never run a command while the process is root (the daemon sets it: it drops to
   * nrpe_user before serving, and this is the last line if that order were ever broken).
   */
  readonly refuseRoot?: boolean;
}

export interface Agent {
  /**
   * Loads the config, builds everything and binds the listeners. Throws on a bad config.
   * Connections are held (not read, not answered) until serve(): the daemon drops its
   * privileges in between.
   */
  start(): Promise<void>;
  /** Starts answering, beginning with the connections held since start(). */
  serve(): void;
  /** Re-reads the config; on any problem keeps the running one and returns false. */
  reload(): Promise<boolean>;
  /** Stops listening, waits up to `graceMs` for requests in flight, then closes the rest. */
  close(graceMs?: number): Promise<void>;
  addresses(): AddressInfo[];
  readonly config: AgentConfig | undefined;
  /** Connections open right now. */
  readonly connections: number;
  /** Pushes results of watched commands (tests look at its queue). */
  readonly pusher: Pusher;
}

function socketKey(s: { remoteAddress?: string | undefined; remotePort?: number | undefined; localPort?: number | undefined }): string {
  return `${s.remoteAddress}|${s.remotePort}|${s.localPort}`;
}

/** From accept to a complete request (TLS handshake included). */
function requestTimeoutMs(c: AgentConfig): number {
  return Math.min(c.handshakeTimeoutS, c.connectionTimeoutS) * 1000;
}

/** Says something at most once per interval per key, with the count of what it kept quiet. */
class QuietLog {
  private readonly last = new Map<string, { at: number; quiet: number }>();
  private readonly everyMs: number;
  constructor(everyMs: number) {
    this.everyMs = everyMs;
  }
  /** The number of events since the last time, or undefined to stay quiet now. */
  due(key: string): number | undefined {
    const now = Date.now();
    const e = this.last.get(key);
    if (e && now - e.at < this.everyMs) {
      e.quiet++;
      return undefined;
    }
    if (this.last.size > 10_000) this.last.clear();
    this.last.set(key, { at: now, quiet: 0 });
    return (e?.quiet ?? 0) + 1;
  }
}

function childEnv(cfg: AgentConfig, base: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    PATH: base.PATH ?? DEFAULT_PATH,
    NRPE_MULTILINESUPPORT: '1',
    NRPE_PROGRAMVERSION: NRPE_COMPAT_VERSION,
  };
  for (const k of cfg.keepEnvVars) if (base[k] !== undefined) env[k] = base[k];
  return env;
}

export function createAgent(opts: AgentOptions): Agent {
  const log = opts.logger;
  let gen: Generation | undefined;
  let generationCounter = 0;
  let listeners: Server[] = [];
  let listenKey = '';
  let closing = false;
  const sockets = new Set<Socket>();
  /** Open connections per source address, for hawatch_max_connections_per_host. */
  const perSource = new Map<string, number>();
  /** Connections still waiting for their request, oldest first: evicted first when all slots are taken. */
  const waiting = new Map<Socket, string>();
  /** Connections accepted before serve(), as what starts serving each. */
  let held: (() => void)[] | undefined = [];
  const quiet = new QuietLog(10_000);
  let inFlight = 0;
  const pusher = new Pusher(log);
  /** The last result of each watched command, as pushed: only changes are sent. */
  const lastResult = new Map<string, string>();
  let watching: { set: WatchSet; runners: Map<string, Coalescer> } | undefined;
  let serving = false;

  function record(command: string, code: number, output: string, why: string): void {
    // When the result was seen: before the log line (a reader of the log must never see a
    // result whose observation time is later than the line announcing it; CI once did, by 1 ms).
    const observedAt = Date.now();
    const key = `${code}\n${output}`;
    if (lastResult.get(command) === key) return;
    lastResult.set(command, key);
    log.info('watched result changed', { command, code, why, output: output.split('\n')[0]!.slice(0, 200) });
    pusher.enqueue({ command, state: code, output, observedAt });
  }

  function startWatching(g: Generation): void {
    stopWatching();
    pusher.configure(g.push);
    if (g.config.watches.size === 0) return;
    const runners = new Map<string, Coalescer>();
    const reasons = new Map<string, string>();
    for (const w of g.config.watches.values()) {
      const plan = g.plans.get(w.command);
      if (!plan) continue;
      const c = new Coalescer(async () => {
        const asRoot = opts.refuseRoot === true && typeof process.getuid === 'function' && process.getuid() === 0;
        if (asRoot) return;
        const started = performance.now();
        const reason = reasons.get(w.command) ?? 'start';
        const r = await g.limiter.run(() => runPlan({ plan, args: [], timeoutS: g.config.commandTimeoutS, maxOutputBytes: 65535, answerBytes: 8192, env: g.env }));
        log.debug('watched command ran', { command: w.command, code: r.code, ms: Math.round(performance.now() - started), why: reason });
        if (watching?.runners !== runners) return; // reloaded meanwhile
        record(w.command, r.code, r.output.toString('utf8'), reason);
      }, g.config.watchMinIntervalS * 1000);
      runners.set(w.command, c);
    }
    const set = new WatchSet([...g.config.watches.values()].filter((w) => runners.has(w.command)), {
      env: g.env,
      backoffMaxMs: g.config.watchBackoffMaxS * 1000,
      statPollMs: g.config.watchStatIntervalS * 1000,
      change: (command, reason) => {
        const c = runners.get(command);
        if (!c) return;
        reasons.set(command, reason);
        c.fire();
      },
      down: (command, reason, retryMs) => {
        const w = g.config.watches.get(command)!;
        log.warn('watcher down; restarting', { command, watcher: describeSpec(w.spec), reason, retry_s: retryMs / 1000 });
        record(command, 3, `WATCH UNKNOWN - the watcher of ${command} is down, ${plain(reason)}, restarting in ${retryMs / 1000} s`, 'watcher down');
      },
      up: (command) => log.info('watcher running again', { command }),
    });
    watching = { set, runners };
    set.start();
    // The first result of every watched command is news: the server learns the state now.
    for (const c of runners.values()) c.fire();
    log.info('watchers started', { watchers: [...g.config.watches.values()].map((w) => `${w.command}=${describeSpec(w.spec)}`).join(', ') });
  }

  function stopWatching(): void {
    if (!watching) return;
    watching.set.stop();
    for (const c of watching.runners.values()) c.close();
    watching = undefined;
  }

  async function buildGeneration(config: AgentConfig): Promise<Generation> {
    const problems = configProblems(config, opts.useTls);
    if (problems.length) throw new Error(problems.join('; '));
    const allowed = await buildAllowedHosts(config.allowedHosts);
    const tls = opts.useTls ? await buildTls(config.ssl, requestTimeoutMs(config)) : undefined;
    const plans = planCommands(config.commands, opts.plugins, config.commandPrefix, { builtinBasics: config.builtinBasics });
    const handshaking = new Map<string, (t: TLSSocket) => void>();
    if (tls) {
      tls.server.on('secureConnection', (t: TLSSocket) => {
        const key = socketKey(t);
        const next = handshaking.get(key);
        handshaking.delete(key);
        if (next) next(t);
        else t.destroy();
      });
      tls.server.on('tlsClientError', (e: Error, t: TLSSocket) => {
        handshaking.delete(socketKey(t));
        const reason = (e as Error & { reason?: string }).reason ?? e.message.trim();
        const remote = normalizeAddress(t.remoteAddress ?? '');
        // A flood of broken handshakes must not become a flood of log lines: once per 10 s per source and reason.
        const n = quiet.due(`tls|${remote}|${reason}`);
        if (n !== undefined) log.info('TLS handshake failed; closed', { remote, error: reason, code: (e as NodeJS.ErrnoException).code, ...(n > 1 ? { times: n } : {}) });
      });
    }
    const push = await readPushSettings(config);
    generationCounter++;
    return { id: generationCounter, config, plans, allowed, tls, handshaking, env: childEnv(config, opts.baseEnv ?? process.env), limiter: new Limiter(config.maxCommands), push };
  }

  function describeGeneration(g: Generation): void {
    for (const w of g.config.warnings) log.warn('config', { detail: w });
    for (const n of g.allowed.notes) log.info('config', { detail: n });
    const kinds = { inproc: 0, exec: 0, shell: 0 };
    for (const p of g.plans.values()) {
      kinds[p.kind]++;
      log.debug('command', { command: p.name, mode: p.kind, ...(p.kind === 'shell' ? { why: p.reason } : {}) });
    }
    log.info('config loaded', {
      files: g.config.files.join(', '),
      commands: g.plans.size,
      inproc: kinds.inproc,
      exec: kinds.exec,
      shell: kinds.shell,
      tls: g.tls ? g.tls.describe : 'off (plain TCP)',
      allowed_hosts: g.config.allowedHosts.join(','),
      arguments: g.config.dontBlameNrpe ? 'allowed' : 'refused',
    });
  }

  function keyOf(c: AgentConfig): string {
    return `${c.serverAddress ?? '*'}|${c.serverPort}|${c.listenQueueSize}`;
  }

  async function listen(c: AgentConfig): Promise<Server[]> {
    const hosts = c.serverAddress ? [c.serverAddress] : ['::', '0.0.0.0'];
    let lastError: Error | undefined;
    for (const host of hosts) {
      // No allowHalfOpen: a client that closes before its request is complete (e.g. during
      // the TLS handshake) is closed at once instead of sitting in CLOSE-WAIT holding a slot.
      // Once the request is complete, half-close is allowed again (see readRequest), so a
      // client that shuts down its sending side after the query still gets the answer.
      // The connection caps are counted in onConnection (per source, with eviction), not
      // with server.maxConnections, which would let one source take every slot.
      const server = createServer({ noDelay: true, allowHalfOpen: false });
      server.on('connection', onConnection);
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host, port: c.serverPort, backlog: c.listenQueueSize }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        server.on('error', (e) => log.error('listener error', { error: e.message }));
        return [server];
      } catch (e) {
        lastError = e as Error;
        const code = (e as NodeJS.ErrnoException).code;
        // '::' fails on hosts without IPv6: fall back to IPv4 only.
        if (!(host === '::' && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL'))) break;
      }
    }
    const code = (lastError as NodeJS.ErrnoException | undefined)?.code;
    const hint = code === 'EADDRINUSE' ? ' (another nrpe or agent is listening there?)' : code === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : '';
    throw new Error(`cannot listen on ${c.serverAddress ?? '*'}:${c.serverPort}: ${lastError?.message}${hint}`);
  }

  /** Frees a connection's slot, once, right away (its 'close' event comes later). */
  function release(raw: Socket, remote: string): void {
    if (!sockets.delete(raw)) return;
    waiting.delete(raw);
    const left = (perSource.get(remote) ?? 1) - 1;
    if (left > 0) perSource.set(remote, left);
    else perSource.delete(remote);
  }

  function evict(raw: Socket): void {
    release(raw, waiting.get(raw) ?? normalizeAddress(raw.remoteAddress ?? ''));
    raw.destroy();
  }

  function onConnection(raw: Socket): void {
    const g = gen;
    const remote = normalizeAddress(raw.remoteAddress ?? '');
    raw.on('error', (e) => log.debug('socket error', { remote, error: e.message }));
    if (!g || closing) {
      raw.destroy();
      return;
    }
    if (!g.allowed.allows(remote)) {
      const n = quiet.due(`denied|${remote}`);
      if (n !== undefined) log.warn('host not allowed', { remote, ...(n > 1 ? { times: n } : {}) });
      raw.destroy();
      return;
    }
    // A full table makes room by closing the oldest connection still waiting for its
    // request (an idle one: check_nrpe sends its query within milliseconds of connecting),
    // so idle clients cannot lock legitimate checks out until their timeout. Per source
    // first (a flood from one address only ever evicts its own), then over all sources.
    const perHost = Math.min(g.config.maxConnectionsPerHost, g.config.maxConnections);
    let mine = perSource.get(remote) ?? 0;
    if (mine >= perHost) {
      let oldest: Socket | undefined;
      for (const [s, from] of waiting) {
        if (from === remote) {
          oldest = s;
          break;
        }
      }
      const n = quiet.due(`source|${remote}`);
      if (!oldest) {
        if (n !== undefined) log.warn('connection refused: too many open connections from this source', { remote, max_per_host: perHost, times: n });
        raw.destroy();
        return;
      }
      if (n !== undefined) log.warn('too many open connections from this source: closed its oldest one still waiting for its request', { remote, max_per_host: perHost, times: n });
      evict(oldest);
      mine = perSource.get(remote) ?? 0;
    }
    if (sockets.size >= g.config.maxConnections) {
      const oldest = waiting.keys().next().value as Socket | undefined;
      if (oldest) {
        const n = quiet.due('evict');
        if (n !== undefined) log.warn('all connection slots taken: closed the oldest connection still waiting for its request', { remote: waiting.get(oldest), max: g.config.maxConnections, times: n });
        evict(oldest);
      } else {
        const n = quiet.due('full');
        if (n !== undefined) log.warn('connection refused: too many open connections', { remote, max: g.config.maxConnections, times: n });
        raw.destroy();
        return;
      }
    }
    sockets.add(raw);
    perSource.set(remote, mine + 1);
    waiting.set(raw, remote);
    raw.once('close', () => release(raw, remote));
    // The clock runs from accept, also while the connection is held before serve().
    const timeoutMs = requestTimeoutMs(g.config);
    const timer = setTimeout(() => {
      const n = quiet.due(`timeout|${remote}`);
      if (n !== undefined) log.warn('connection timed out before a complete request', { remote, timeout_s: timeoutMs / 1000, ...(n > 1 ? { times: n } : {}) });
      raw.destroy();
    }, timeoutMs);
    raw.once('close', () => clearTimeout(timer));
    if (held) {
      // Not serving yet (privileges not dropped): do not read, do not start TLS.
      raw.pause();
      held.push(() => handleConnection(raw, g, remote, timer));
      return;
    }
    handleConnection(raw, g, remote, timer);
  }

  function handleConnection(raw: Socket, g: Generation, remote: string, timer: NodeJS.Timeout): void {
    if (raw.destroyed) return;
    if (!g.tls) {
      readRequest(raw, raw, g, remote, timer, undefined);
      return;
    }
    const tls = g.tls;
    const key = socketKey(raw);
    g.handshaking.set(key, (t: TLSSocket) => {
      if (tls.requestCert) {
        const cert = t.getPeerCertificate();
        const hasCert = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
        // ssl_client_certs=2 is enforced by Node (rejectUnauthorized); =1 refuses a bad one.
        if ((tls.requireClientCert || hasCert) && !t.authorized) {
          log.warn('client certificate refused', { remote, reason: t.authorizationError ? String(t.authorizationError) : 'no certificate' });
          t.destroy();
          return;
        }
      }
      if (g.config.ssl.logging & 0x0c) log.info('tls', { remote, protocol: t.getProtocol() ?? undefined, cipher: t.getCipher()?.name });
      readRequest(t, raw, g, remote, timer, t);
    });
    raw.once('close', () => {
      // Node closes a connection whose client certificate fails verification without an event.
      if (!g.handshaking.delete(key)) return;
      const n = quiet.due(`handshake-close|${remote}`);
      if (n !== undefined) log.info('closed during the TLS handshake', { remote, ...(tls.requireClientCert ? { hint: 'no valid client certificate?' } : {}), ...(n > 1 ? { times: n } : {}) });
    });
    tls.server.emit('connection', raw);
  }

  function readRequest(stream: Duplex, raw: Socket, g: Generation, remote: string, timer: NodeJS.Timeout, tlsSocket: TLSSocket | undefined): void {
    stream.resume();
    const chunks: Buffer[] = [];
    let total = 0;
    let need = 0;
    let done = false;
    const started = performance.now();
    const invalid = (reason: string): void => {
      done = true;
      clearTimeout(timer);
      log.warn('invalid request; closed without an answer', { remote, reason });
      stream.destroy();
      raw.destroy();
    };
    const onData = (c: Buffer): void => {
      if (done) return;
      if (!tlsSocket && total === 0 && c[0] === 0x16) {
        invalid('a TLS handshake reached the plain-TCP agent (check_nrpe needs -n, or start the agent without -n)');
        return;
      }
      chunks.push(c);
      total += c.length;
      if (need === 0) {
        try {
          need = expectedPacketLength(chunks.length === 1 ? c : Buffer.concat(chunks, total));
        } catch (e) {
          invalid((e as Error).message);
          return;
        }
      }
      if (need > 0 && total > need) {
        invalid(`${total} bytes arrived, the packet says ${need}`);
        return;
      }
      if (need > 0 && total === need) {
        done = true;
        clearTimeout(timer);
        waiting.delete(raw);
        // The request is complete: a client that now shuts down its sending side still gets the answer.
        raw.allowHalfOpen = true;
        stream.allowHalfOpen = true;
        stream.off('data', onData);
        const packet = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
        answer(packet, stream, raw, g, remote, started).catch((e: unknown) => {
          // answer() handles every expected failure; this is the last line against a bug.
          log.error('internal error while answering; connection closed', { remote, error: (e as Error).message });
          raw.destroy();
        });
      }
    };
    stream.on('data', onData);
    stream.on('error', (e) => {
      if (!done) log.debug('connection error before a complete request', { remote, error: e.message });
    });
    stream.once('end', () => {
      if (!done) invalid(total === 0 ? 'the client closed without sending anything' : `the client closed after ${total} of ${need || '?'} bytes`);
    });
  }

  async function answer(packet: Buffer, stream: Duplex, raw: Socket, g: Generation, remote: string, started: number): Promise<void> {
    let version: NrpeVersion;
    let text: string;
    const refuse = (reason: string, fields: Record<string, string | number> = {}): void => {
      log.warn('invalid request; closed without an answer', { remote, reason, ...fields });
      stream.destroy();
      raw.destroy();
    };
    try {
      const p = decodePacket(packet);
      if (p.type !== PacketType.QUERY) return refuse(`packet type ${p.type} is not a query`);
      version = p.version;
      text = p.text;
    } catch (e) {
      return refuse(e instanceof NrpeDecodeError ? e.message : `undecodable packet: ${(e as Error).message}`);
    }
    const cfg = g.config;
    if (text === '') return refuse('empty query');
    if (containsNastyMetachars(text, cfg.nastyMetachars)) return refuse('the query contains forbidden characters (nasty_metachars)', { version });
    const query = parseQuery(text);
    if (query.args.length > 0 || text.includes('!')) {
      if (!cfg.dontBlameNrpe) return refuse('the query has arguments but dont_blame_nrpe=0', { command: query.command, version });
    }
    if (query.extraArgsIgnored) log.warn('more than 16 arguments; the rest are ignored', { remote, command: query.command });

    let code: number;
    let output: Buffer | string;
    let mode = 'builtin';
    let problem: string | undefined;
    let stderr: string | undefined;
    if (query.command === HELLO_COMMAND) {
      code = 0;
      output = HELLO_TEXT;
    } else {
      const plan = g.plans.get(query.command);
      if (!plan) {
        code = 3;
        output = `NRPE: Command '${query.command}' not defined`;
        mode = 'undefined';
      } else {
        mode = plan.kind;
        const refused = query.args.length > 0 ? refuseArguments(plan, query.args) : undefined;
        const asRoot = opts.refuseRoot === true && typeof process.getuid === 'function' && (process.getuid() === 0 || process.geteuid?.() === 0);
        inFlight++;
        try {
          let r: RunOutcome;
          if (refused) {
            r = { code: 3, output: Buffer.from(`NRPE: arguments refused: ${refused}`), timedOut: false, problem: `arguments refused: ${refused}` };
          } else if (asRoot) {
            r = { code: 3, output: Buffer.from('NRPE: the agent still runs as root and refuses to run commands, check nrpe_user'), timedOut: false, problem: 'running as root' };
          } else {
            r = await g.limiter.run(() =>
              runPlan({ plan, args: query.args, timeoutS: cfg.commandTimeoutS, maxOutputBytes: version === 2 ? 1035 : 65535, answerBytes: version === 2 ? 1023 : 65535, env: g.env }),
            );
          }
          code = r.code;
          output = r.output;
          problem = r.problem ?? (r.timedOut ? 'timed out' : undefined);
          stderr = r.stderr;
        } catch (e) {
          // runPlan does not throw; never let a bug take the daemon down.
          code = 3;
          output = 'NRPE: Unable to read output';
          problem = `internal error: ${(e as Error).message}`;
        } finally {
          inFlight--;
        }
      }
    }
    const response = encodePacket({ version, type: PacketType.RESPONSE, resultCode: code, text: output });
    const ms = Math.round((performance.now() - started) * 10) / 10;
    log.info('request', {
      remote,
      version,
      command: query.command,
      args: query.args.length,
      mode,
      code,
      ms,
      bytes: response.length,
      ...(problem ? { problem } : {}),
      ...(stderr && cfg.debug ? { stderr: stderr.slice(0, 500) } : {}),
    });
    if (stream.destroyed) return;
    stream.end(response);
    const linger = setTimeout(() => raw.destroy(), LINGER_MS);
    linger.unref();
    raw.once('close', () => clearTimeout(linger));
  }

  const agent: Agent = {
    get config() {
      return gen?.config;
    },
    get connections() {
      return sockets.size;
    },
    pusher,
    async start() {
      const config = await opts.load();
      const g = await buildGeneration(config);
      listeners = await listen(config);
      listenKey = keyOf(config);
      gen = g;
      describeGeneration(g);
      for (const a of agent.addresses()) log.info('listening', { address: a.address, port: a.port, tls: Boolean(g.tls) });
    },
    serve() {
      const pending = held ?? [];
      held = undefined;
      for (const go of pending) go();
      // Watchers run commands: only now, after the privileges were dropped.
      serving = true;
      if (gen) startWatching(gen);
    },
    async reload() {
      let g: Generation;
      try {
        g = await buildGeneration(await opts.load());
      } catch (e) {
        log.error('reload failed; keeping the running configuration', { error: (e as Error).message });
        return false;
      }
      if (keyOf(g.config) !== listenKey) {
        let fresh: Server[];
        try {
          fresh = await listen(g.config);
        } catch (e) {
          log.error('reload failed; keeping the running configuration', { error: (e as Error).message });
          return false;
        }
        // Old listeners stop accepting; their connections in flight go on.
        for (const s of listeners) s.close();
        listeners = fresh;
        listenKey = keyOf(g.config);
      }
      gen = g;
      describeGeneration(g);
      if (serving) startWatching(g);
      log.info('reloaded', { generation: g.id, in_flight: inFlight, connections: sockets.size });
      return true;
    },
    async close(graceMs = 10_000) {
      closing = true;
      stopWatching();
      pusher.close();
      await Promise.all(listeners.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      const until = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      for (const s of sockets) s.destroy();
    },
    addresses() {
      return listeners.map((s) => s.address()).filter((a): a is AddressInfo => typeof a === 'object' && a !== null);
    },
  };
  return agent;
}
